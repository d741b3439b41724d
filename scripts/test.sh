#!/usr/bin/env bash
# The test command: every Rust test (unit, integration, doc), then the check that
# phystok's Well files are what h5py and The Well's Python package expect.
#
# Usage: bash scripts/test.sh
# The real-client check with the-well (PyTorch, several GB) runs when its cached
# environment exists or PHYSTOK_FULL_COMPAT=1; otherwise the h5py structure check runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# benches are harness=false programs that would run whole workloads: test everything else
bash scripts/env.sh cargo test --release --lib --bins --tests --examples
bash scripts/env.sh cargo test --release --doc
cache="${PHYSTOK_CACHE:-$HOME/.cache/phystok}"
if [ "${PHYSTOK_FULL_COMPAT:-0}" = 1 ] || [ -x "$cache/the-well-venv/bin/python" ]; then
  bash tests/well_compat.sh
else
  bash tests/well_compat.sh --h5py-only
fi
