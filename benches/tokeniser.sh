#!/usr/bin/env bash
# Times one tokeniser training step in phystok (candle, CPU) and in PyTorch (CPU), same
# shapes, same threads, same session: 9 frames, 64x64, batch 2, small() and paper() presets.
# Usage: bash benches/tokeniser.sh [repeats]   (from the crate root)
set -euo pipefail
repeats="${1:-5}"
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
export RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=2 OMP_NUM_THREADS=2
bash scripts/env.sh cargo bench --bench tokeniser -- "$repeats"
"$python" benches/tokeniser_pytorch.py "$repeats"
