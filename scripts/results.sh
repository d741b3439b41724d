#!/usr/bin/env bash
# Regenerates the published results from the current code: runs the main job
# (`phystok reproduce --preset quick`), copies its outputs to docs/results/, and rewrites the
# README's Table 5 block (between the `<!-- table5:begin -->` and `<!-- table5:end -->`
# markers) and the rollout-horizon table with the harmonic-spike scores (between
# `<!-- horizons:begin` and `<!-- horizons:end -->`) from docs/results/results.json, and the
# tokeniser-ablation block (between `<!-- ablations:begin -->` and `<!-- ablations:end -->`)
# from docs/results/ablations/results.json. The README's numbers are never edited by hand.
#
# Usage: bash scripts/results.sh [--readme-only | --ablations]
#        bash scripts/results.sh physix [--readme-only]
#   --readme-only   skip the runs; rewrite the README blocks from the stored results
#   --ablations     run the ablation study only (`phystok reproduce ablations --preset quick`),
#                   copy its outputs to docs/results/ablations/, rewrite the README blocks
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
if [ "${1:-}" = "--ablations" ]; then
  start=$SECONDS
  bash scripts/env.sh cargo run --release -- reproduce ablations --preset quick --out out/ablations
  echo "results: the ablation study took $((SECONDS - start)) s"
  mkdir -p docs/results/ablations
  cp out/ablations/{results.json,tables.md,figure.svg} docs/results/ablations/
elif [ "${1:-}" != "--readme-only" ]; then
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
python3 - <<'PY'
import json, os, re
path = "docs/results/ablations/results.json"
if not os.path.exists(path):
    raise SystemExit(0)
r = json.load(open(path))
exp = r["config"]["experiment"]
def vs(row, base):
    if base is None or row["key"] == base["key"]:
        return "—"
    return f"{100 * (row['vrmse']['mean'] / base['vrmse']['mean'] - 1):+.1f} %".replace("-", "−")
bases = {}
for row in r["rows"]:
    bases.setdefault(row["metric"], row)
metric = {"Reconstruction": "reconstruction", "NextFrame": "next frame"}
lines = [
    f"Quick preset, {exp['pretrain']['steps']} in-domain pretraining steps per row and seed "
    f"(the main study: 1,500), {exp['rollout']['steps']} rollout steps for the rollout rows "
    f"(the main study: 400), mean ± std over {len(exp['seeds'])} seeds; the study took "
    f"{r['total_seconds']:.0f} s on {r['provenance'].get('threads', '?')} threads.",
    "",
    "| row | what it switches | VRMSE | metric | vs its baseline | parameters |",
    "|---|---|---:|---|---:|---:|",
]
for row in r["rows"]:
    s = row["vrmse"]
    lines.append(
        f"| {row['key']} | {row['description']} | {s['mean']:.4f} ± {s['std']:.4f} | "
        f"{metric.get(row['metric'], row['metric'])} | {vs(row, bases[row['metric']])} | {row['parameters']:,} |"
    )
block = ("<!-- ablations:begin (scripts/results.sh writes this table from docs/results/ablations/results.json) -->\n"
         + "\n".join(lines) + "\n<!-- ablations:end -->")
readme = open("README.md").read()
new, n = re.subn(r"<!-- ablations:begin.*?<!-- ablations:end -->", lambda m: block, readme, flags=re.S)
if n != 1:
    raise SystemExit("README.md: no ablations markers")
open("README.md", "w").write(new)
print("README.md: the ablation table rewritten from docs/results/ablations/results.json")
PY
