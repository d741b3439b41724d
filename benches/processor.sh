#!/usr/bin/env bash
# One processor block, forward + backward, phystok (candle, CPU) vs PyTorch (CPU), same
# shapes, same thread count, one after the other in the same run.
#
# Usage: bash benches/processor.sh [threads]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
RAYON_NUM_THREADS="$threads" bash scripts/env.sh cargo bench --bench processor
"$python" benches/processor_pytorch.py "$threads"
