#!/usr/bin/env bash
# SOAP and AdamW step times on the paper tokeniser's parameters: phystok (candle + faer,
# CPU) vs PyTorch (CPU), same shapes, same thread count, one after the other.
#
# Usage: bash benches/train_optimisers.sh [threads]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
RAYON_NUM_THREADS="$threads" bash scripts/env.sh cargo bench --bench train_optimisers
"$python" benches/train_optimisers.py "$threads"
