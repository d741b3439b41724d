#!/usr/bin/env bash
# Regenerates the published results from the current code: runs the main job
# (`phystok reproduce --preset quick`), copies its outputs to docs/results/, and rewrites the
# README's Table 5 block (between the `<!-- table5:begin -->` and `<!-- table5:end -->`
# markers) and the rollout-horizon table with the harmonic-spike scores (between
# `<!-- horizons:begin` and `<!-- horizons:end -->`) from docs/results/results.json. The
# README's numbers are never edited by hand.
#
# Usage: bash scripts/results.sh [--readme-only]
#   --readme-only   skip the run; rewrite the README block from docs/results/results.json
set -euo pipefail
cd "$(dirname "$0")/.."
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
rows = ["| configuration | step 1 | step 2 | steps 3–6 | steps 7–18 | spike score |", "|---|---:|---:|---:|---:|---:|"]
for k in keys:
    a = r[k]
    spike = pm(a["spike_score"]) if a.get("spike_score") else "–"
    rows.append(f"| {k} | {pm(a['h1'])} | {pm(a['h2'])} | {pm(a['h3_6'])} | {pm(a['h7_18'])} | {spike} |")
block = "<!-- horizons:begin (scripts/results.sh writes this table from docs/results/results.json) -->\n" + "\n".join(rows) + "\n<!-- horizons:end -->"
new, n = re.subn(r"<!-- horizons:begin.*?<!-- horizons:end -->", lambda m: block, new, flags=re.S)
if n != 1:
    raise SystemExit("README.md: no horizons markers")
open("README.md", "w").write(new)
print("README.md: Table 5 and the horizon table rewritten from docs/results/results.json")
PY
