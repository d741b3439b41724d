#!/usr/bin/env bash
# Regenerates the README's benchmark table from runs of the current code: runs
# `benches/compare-pytorch.sh REPEATS THREADS` RUNS times (default 3; each run times phystok
# and PyTorch one after the other), keeps every run's table under target/compare-pytorch/,
# and rewrites the block between `<!-- compare:begin` and `<!-- compare:end -->` in README.md:
# per case the range of phystok's and PyTorch's medians over the runs, the range of the
# ratios and, in brackets, the median ratio; then the peak-memory rows the same way. The
# README's benchmark numbers are never edited by hand.
#
# Usage: bash scripts/bench-readme.sh [runs] [repeats] [threads]   (defaults 3, 5, 2)
#        bash scripts/bench-readme.sh --readme-only   (rewrite from the kept runs)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/compare-pytorch
if [ "${1:-}" != "--readme-only" ]; then
  runs="${1:-3}"
  repeats="${2:-5}"
  threads="${3:-2}"
  rm -rf "$dir"
  mkdir -p "$dir"
  for i in $(seq 1 "$runs"); do
    echo "bench-readme: run $i of $runs"
    PHYSTOK_COMPARE_OUT="$dir/run_$i.txt" bash benches/compare-pytorch.sh "$repeats" "$threads"
  done
  {
    echo "date $(date -u +%Y-%m-%d)"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "cores $(nproc)"
    echo "threads $threads"
    echo "repeats $repeats"
    echo "load_after $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  } > "$dir/meta.txt"
fi
python3 - "$dir" <<'PY'
import glob, re, statistics, sys
d = sys.argv[1]
meta = dict(l.rstrip("\n").split(" ", 1) for l in open(f"{d}/meta.txt"))
runs = sorted(glob.glob(f"{d}/run_*.txt"))
if not runs:
    raise SystemExit(f"bench-readme: no runs under {d}")
rows = {}
order = []
for path in runs:
    for line in open(path):
        f = line.split()
        if len(f) != 4 or f[0] == "name":
            continue
        name, a, b, _ = f
        try:
            a, b = float(a), float(b)
        except ValueError:
            continue
        if name not in rows:
            rows[name] = []
            order.append(name)
        rows[name].append((a, b))
def rng(xs, fmt):
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"
def fmt_of(xs):
    return "{:.0f}" if max(xs) >= 100 else "{:.1f}"
time_rows = ["| case | phystok ms | PyTorch ms | ratio |", "|---|---:|---:|---:|"]
mem_rows = ["| case | phystok MiB | PyTorch MiB | ratio |", "|---|---:|---:|---:|"]
for name in order:
    pairs = rows[name]
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    ratios = [x / y for x, y in pairs if y > 0]
    ratio = f"{rng(ratios, '{:.2f}')} ({statistics.median(ratios):.2f})" if ratios else "–"
    if name.startswith("peak_"):
        mem_rows.append(f"| {name} | {rng(a, '{:.0f}')} | {rng(b, '{:.0f}')} | {ratio} |")
    else:
        time_rows.append(f"| {name} | {rng(a, fmt_of(a))} | {rng(b, fmt_of(b))} | {ratio} |")
head = (f"`bash scripts/bench-readme.sh` on {meta['date']}: {len(runs)} run{'' if len(runs) == 1 else 's'} of "
        f"`benches/compare-pytorch.sh {meta['repeats']} {meta['threads']}` at commit {meta['commit']}, "
        f"{meta['cpu']} ({meta['cores']} cores), load average after the runs {meta['load_after']}; "
        "ranges over the runs, in brackets the median ratio (phystok / PyTorch; below 1 is faster).")
block = ("<!-- compare:begin (scripts/bench-readme.sh writes this block from its runs) -->\n" + head + "\n\n"
         + "\n".join(time_rows) + "\n\nPeak resident memory (`benches/memory.sh`: each case in its own process; "
         "`_runtime_alone` is the same process with no case selected, `_above_runtime` the difference):\n\n"
         + "\n".join(mem_rows) + "\n<!-- compare:end -->")
readme = open("README.md").read()
new, n = re.subn(r"<!-- compare:begin.*?<!-- compare:end -->", lambda m: block, readme, flags=re.S)
if n != 1:
    raise SystemExit("README.md: no compare markers")
open("README.md", "w").write(new)
print(f"README.md: benchmark block rewritten from {len(runs)} runs")
PY
