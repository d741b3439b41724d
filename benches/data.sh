#!/usr/bin/env bash
# Windows per second read, normalised and batched: phystok (benches/data.rs: WellDataset +
# Loader + Batch::to_tensor, or Batch::into_tensor in the last row, + SampleRms) vs The Well's WellDataset + torch DataLoader
# (benches/data_thewell.py), on the same 256x256, 4-channel Well file, in the same run.
#
# The rounds interleave the two sides (phystok, then the-well with 0, 1, 2 DataLoader
# workers), so load from other processes on the machine falls on both alike; each round
# times `windows` windows per side after `warmup` untimed batches, with the page cache
# warmed by reading the file once. The table holds medians over rounds; `ratio` is
# phystok / the-well, and `paired_ratio` the median of the per-round ratios.
#
# Usage: bash benches/data.sh [rounds] [windows] [threads]   (defaults 5, 400, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
windows="${2:-400}"
threads="${3:-2}"
warmup=4
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

export RAYON_NUM_THREADS="$threads" PHYSTOK_TORCH_THREADS="$threads"
# build once (the target dir may be shared and locked by other builds), then run the binary
exe="$(bash scripts/env.sh cargo bench --bench data --no-run --message-format=json 2>/dev/null \
  | "$python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "data" and m.get("executable"):
        print(m["executable"])')"
for r in $(seq "$rounds"); do
  "$exe" "$tmp" "$windows" 1 "$warmup" | tee -a "$tmp/results.txt"
  "$python" benches/data_thewell.py "$tmp" "$windows" 1 "$warmup" 0,1,2 | tee -a "$tmp/results.txt"
done

"$python" - "$tmp/results.txt" <<'EOF'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) > 2 and parts[1] == "windows_per_s":
        rates[parts[0]].append(float(parts[2]))
p = rates["phystok_to_tensor"]
workers = sorted(k for k in rates if k.startswith("thewell_workers"))
med = {k: statistics.median(v) for k, v in rates.items()}
best = max(workers, key=lambda k: med[k])
print(f"\n{len(p)} rounds, 256x256, 4 channels, 10-frame windows, batch 2")
print(f"{'name':<36} {'phystok_windows_per_s':>22} {'thewell_windows_per_s':>22} {'ratio':>7} {'paired_ratio':>13}")
rows = [(f"batch2_{k.removeprefix('thewell_')}", "phystok_to_tensor", k) for k in workers]
b = best.removeprefix("thewell_workers")
rows.append((f"batch2_best_of_workers({b})", "phystok_to_tensor", best))
rows.append((f"batch2_best_of_workers({b})_into_tensor", "phystok_into_tensor", best))
for name, ours, k in rows:
    paired = statistics.median(x / y for x, y in zip(rates[ours], rates[k]))
    print(f"{name:<36} {med[ours]:>22.1f} {med[k]:>22.1f} {med[ours] / med[k]:>7.2f} {paired:>13.2f}")
EOF
