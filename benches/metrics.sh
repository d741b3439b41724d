#!/usr/bin/env bash
# VRMSE + NEPS bands over 4096 samples x 4 fields at 128x128: phystok vs The Well's torch
# code, same data, same run, 2 threads each. Prints both JSON lines and the speed-up.
#
# Usage: bash benches/metrics.sh   (PYTHON=... to pick the venv with the-well installed)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
data="${PHYSTOK_BENCH_DATA:-/tmp/phystok-bench}"
export PHYSTOK_BENCH_DATA="$data"

"$python" benches/metrics_pytorch.py "$data" --write --repeats 0
[ -s "$data/pred.f32" ] || { echo "could not write $data" >&2; exit 1; }
bash scripts/env.sh cargo build --release --bench metrics
ours=$(RAYON_NUM_THREADS=2 bash scripts/env.sh cargo bench --bench metrics 2>/dev/null | grep '"impl"')
torch=$("$python" benches/metrics_pytorch.py "$data" --repeats "${TORCH_REPEATS:-3}")
echo "$ours"
echo "$torch"
"$python" - "$ours" "$torch" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"phystok {a['median_s']:.3f} s, the_well torch {b['median_s']:.3f} s: "
      f"{b['median_s'] / a['median_s']:.2f}x faster")
for k in ["vrmse", "neps_low", "neps_mid", "neps_high"]:
    print(f"  {k:10s} phystok {a[k]:.6f}  the_well {b[k]:.6f}  rel diff {abs(a[k]-b[k])/abs(b[k]):.1e}")
PY
