#!/usr/bin/env bash
# Peak resident memory of one paper-size training step, phystok against PyTorch, same shapes
# and threads, one process per case measured by `/usr/bin/time -v` ("Maximum resident set
# size"): the TokeniserConfig::paper step (9x64x64, batch 2; benches/tokeniser.rs,
# tokeniser_pytorch.py) and the paper-width processor block step (width 1088; processor.rs,
# processor_pytorch.py). Each process runs its warm-up and 2 timed steps; the baseline rows
# are the same processes with no case selected (the runtime alone: the Rust binary, or
# Python with PyTorch imported), so `peak − baseline` is what the step itself holds.
# Prints `name phystok_mib pytorch_mib ratio`.
#
# Usage: bash benches/memory.sh [threads]   (default 2; called by compare-pytorch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
export CANDLE_NUM_THREADS="${CANDLE_NUM_THREADS:-1}"
[ -x /usr/bin/time ] || { echo "memory.sh: /usr/bin/time is missing (apt install time)" >&2; exit 1; }

bash scripts/env.sh cargo bench --no-run --bench tokeniser --bench processor >/dev/null 2>&1
bin() { ls -t target/release/deps/"$1"-* | grep -v '\.d$' | head -n1; }
tok="$(bin tokeniser)"
proc="$(bin processor)"

# peak RSS in MiB of a command (its output discarded)
peak() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }'
}

rows=()
# one case: its peak, and its peak above the same process with nothing selected
measure() {
  local name="$1" var="$2" value="$3" rs_args="$4" py_script="$5" py_args="$6"
  local rs0 py0 rs py
  rs0=$(peak env "$var=none" $rs_args)
  py0=$(peak env "$var=none" "$python" "$py_script" $py_args)
  rs=$(peak env "$var=$value" $rs_args)
  py=$(peak env "$var=$value" "$python" "$py_script" $py_args)
  rows+=("${name}_runtime_alone $rs0 $py0" "$name $rs $py" "${name}_above_runtime $((rs - rs0)) $((py - py0))")
}
export PHYSTOK_BENCH_CONV=0
measure peak_tokeniser_paper_step PHYSTOK_BENCH_PRESETS paper "$tok --bench 2" benches/tokeniser_pytorch.py 2
measure peak_processor_block_paper_width PHYSTOK_BENCH_SHAPES paper-width "$proc --bench" benches/processor_pytorch.py "$threads"

echo "# peak resident memory (MiB), $threads threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s %12s %8s\n' name phystok_mib pytorch_mib ratio
for row in "${rows[@]}"; do
  set -- $row
  awk -v n="$1" -v a="${2:-nan}" -v b="${3:-nan}" \
    'BEGIN { r = (b + 0 > 0) ? sprintf("%.2f", a / b) : "nan"; printf "%-44s %12s %12s %8s\n", n, a, b, r }'
done
