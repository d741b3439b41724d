#!/usr/bin/env bash
# Regenerates the published results from the current code: runs the main job
# (`phystok reproduce --preset quick`), copies its outputs to docs/results/, and rewrites the
# README's Table 5 block (between the `<!-- table5:begin -->` and `<!-- table5:end -->`
# markers) from docs/results/results.json. The README's numbers are never edited by hand.
#
# Usage: bash scripts/results.sh [--readme-only]
#        bash scripts/results.sh physix [--readme-only]
#   --readme-only   skip the run; rewrite the README block from docs/results/results.json
#   physix          the PhysiX study instead (`phystok reproduce physix --preset quick`): copies
#                   its outputs to docs/results/physix/ (with the wall time in wall_time.txt) and
#                   rewrites the README's PhysiX block (between `<!-- physix:begin` and
#                   `<!-- physix:end -->`) from docs/results/physix/tables.md, which the study
#                   writes from its results.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "physix" ]; then
  if [ "${2:-}" != "--readme-only" ]; then
    start=$SECONDS
    bash scripts/env.sh cargo run --release -- reproduce physix --preset quick --out out/physix
    wall=$((SECONDS - start))
    echo "results: the PhysiX study took $wall s"
    mkdir -p docs/results/physix
    cp out/physix/{results.json,tables.md,figure3.svg} docs/results/physix/
    echo "$wall s wall time of \`bash scripts/results.sh physix\` (build included), load $(cut -d' ' -f1-3 /proc/loadavg) at its end" > docs/results/physix/wall_time.txt
  fi
  python3 - <<'PY'
import re
tables = open("docs/results/physix/tables.md").read()
# the first table of tables.md: its caption line, a blank line, the rows
parts = tables.strip().split("\n\n")
main = parts[0].strip() + "\n\n" + parts[1].strip()
block = "<!-- physix:begin (scripts/results.sh physix writes this table from docs/results/physix/tables.md) -->\n" + main + "\n<!-- physix:end -->"
readme = open("README.md").read()
new, n = re.subn(r"<!-- physix:begin.*?<!-- physix:end -->", lambda m: block, readme, flags=re.S)
if n != 1:
    raise SystemExit("README.md: no physix markers")
open("README.md", "w").write(new)
print("README.md: the PhysiX table rewritten from docs/results/physix/tables.md")
PY
  exit 0
fi
if [ "${1:-}" != "--readme-only" ]; then
  start=$SECONDS
  bash scripts/env.sh cargo run --release -- reproduce --preset quick --out out/reproduce
  echo "results: the main job took $((SECONDS - start)) s"
  mkdir -p docs/results
  cp out/reproduce/{results.json,tables.md,figure2.svg,figure3.svg} docs/results/
fi
python3 - <<'PY'
import json, re
r = json.load(open("docs/results/results.json"))
order = ["scratch", "in_domain_trainable", "in_domain_frozen", "out_of_domain_trainable", "out_of_domain_frozen"]
keys = [k for k in order if k in r] + [k for k in r if k not in order and isinstance(r[k], dict) and "vrmse" in r[k]]
def pm(s): return f"{s['mean']:.4f} ± {s['std']:.4f}"
base = r.get("scratch", {}).get("vrmse", {}).get("mean")
rows = ["| configuration | VRMSE | vs scratch | NEPS low | NEPS mid | NEPS high |", "|---|---:|---:|---:|---:|---:|"]
for k in keys:
    a = r[k]
    vs = "" if k == "scratch" or base is None else f"{100 * (a['vrmse']['mean'] / base - 1):+.0f} %".replace("-", "−")
    rows.append(f"| {k} | {pm(a['vrmse'])} | {vs} | {pm(a['neps_low'])} | {pm(a['neps_mid'])} | {pm(a['neps_high'])} |")
block = "<!-- table5:begin (scripts/results.sh writes this table from docs/results/results.json) -->\n" + "\n".join(rows) + "\n<!-- table5:end -->"
readme = open("README.md").read()
new, n = re.subn(r"<!-- table5:begin.*?<!-- table5:end -->", lambda m: block, readme, flags=re.S)
if n != 1:
    raise SystemExit("README.md: no table5 markers")
open("README.md", "w").write(new)
print("README.md: Table 5 rewritten from docs/results/results.json")
PY
