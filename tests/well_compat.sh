#!/usr/bin/env bash
# Real-client check: phystok's Well files against h5py and The Well's Python package.
#
# Usage: bash tests/well_compat.sh [--h5py-only]
# The full check needs `the-well` from PyPI, which pulls PyTorch (several GB with its CUDA
# wheels). Its virtual environment is cached outside the clone, in
# ${PHYSTOK_CACHE:-~/.cache/phystok}/the-well-venv; the h5py-only check uses a small one.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${PHYSTOK_CACHE:-$HOME/.cache/phystok}"
mode=full
[ "${1:-}" = "--h5py-only" ] && mode=h5py

if [ "$mode" = full ]; then venv="$cache/the-well-venv"; pkgs="the-well h5py"; else venv="$cache/h5py-venv"; pkgs="h5py numpy"; fi
py="$venv/bin/python"
if [ -d "$venv/lib-target" ]; then py=python3; export PYTHONPATH="$venv/lib-target"; fi
if ! "$py" -c "import h5py${mode/full/, the_well}" 2>/dev/null; then
  echo "well_compat: installing $pkgs into $venv" >&2
  rm -rf "$venv"
  if python3 -m venv "$venv" 2>/dev/null; then
    py="$venv/bin/python"
    "$py" -m pip install --quiet --disable-pip-version-check $pkgs
  else # no venv module: a plain target directory
    python3 -m pip install --quiet --disable-pip-version-check --target "$venv/lib-target" $pkgs
    py=python3
    export PYTHONPATH="$venv/lib-target"
  fi
fi

bash scripts/env.sh cargo build --release --quiet --example well_compat
exe="${CARGO_TARGET_DIR:-target}/release/examples/well_compat"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$exe" write "$tmp"
"$py" tests/reference/well_compat.py "$mode" "$tmp" "$exe" dump
echo "well_compat ($mode): 1 passed, 0 failed"
