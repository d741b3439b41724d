#!/usr/bin/env bash
# phystok (candle CPU + phystok's kernels) against PyTorch CPU, same shapes, same thread count,
# one after the other in the same run: the causal 3x3x3 conv layer and the attention op
# (benches/kernels.rs, kernels_pytorch.py), one tokeniser training step at 9x64x64 batch 2
# for TokeniserConfig::small and ::paper (tokeniser.rs, tokeniser_pytorch.py), one processor
# block step at both widths (processor.rs, processor_pytorch.py), the CKM patch encoder + decoder with a
# PI-resized kernel at p = 4, 8, 16 (patch.rs, patch_pytorch.py), the PhysiX AR model's
# training step and cached generation (physix.rs, physix_pytorch.py), and The Well's FNO and
# ConvNeXt U-Net training steps (baselines.rs, baselines_pytorch.py). Ends with a table
# `name phystok_ms pytorch_ms ratio` (ratio = phystok / pytorch: below 1 is faster) and the
# kernels' GFLOP/s against the measured matrix-product rate.
#
# Then the peak resident memory of the paper-size steps (benches/memory.sh).
#
# Usage: bash benches/compare-pytorch.sh [repeats] [threads]   (defaults 5 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-5}"
threads="${2:-2}"
python="${PHYSTOK_PYTHON:-$HOME/.cache/phystok/the-well-venv/bin/python}"
# candle 0.11 runs its element-wise ops on its own spinning barrier pool (CANDLE_NUM_THREADS,
# default RAYON_NUM_THREADS); on a shared machine its spin-waits more than double a tokeniser
# step (690 vs 300 ms measured here), so element-wise ops run on one thread by default while
# GEMMs and phystok's kernels use $threads rayon threads. Override with CANDLE_NUM_THREADS=2.
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
export CANDLE_NUM_THREADS="${CANDLE_NUM_THREADS:-1}"
# both tokeniser presets: the small step and the paper-size step a paper-preset user trains
export PHYSTOK_BENCH_PRESETS=small,paper
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

bash scripts/env.sh cargo bench --bench kernels -- "$repeats" | tee "$log/rs_kernels"
bash scripts/env.sh cargo bench --bench tokeniser -- "$repeats" | tee "$log/rs_tokeniser"
# the paper-size step again on the direct convolution's AVX2 path (what CPUs without AVX-512 run)
PHYSTOK_SIMD=avx2 PHYSTOK_BENCH_CONV=0 PHYSTOK_BENCH_PRESETS=paper \
  bash scripts/env.sh cargo bench --bench tokeniser -- "$repeats" | tee "$log/rs_tokeniser_avx2"
bash scripts/env.sh cargo bench --bench processor | tee "$log/rs_processor"
bash scripts/env.sh cargo bench --bench patch -- "$repeats" | tee "$log/rs_patch"
bash scripts/env.sh cargo bench --bench physix -- "$repeats" | tee "$log/rs_physix"
"$python" benches/kernels_pytorch.py "$repeats" | tee "$log/py_kernels"
"$python" benches/tokeniser_pytorch.py "$repeats" | tee "$log/py_tokeniser"
"$python" benches/processor_pytorch.py "$threads" | tee "$log/py_processor"
"$python" benches/patch_pytorch.py "$repeats" "$threads" | tee "$log/py_patch"
"$python" benches/physix_pytorch.py "$repeats" | tee "$log/py_physix"
bash scripts/env.sh cargo bench --bench baselines -- "$repeats" | tee "$log/rs_baselines"
"$python" benches/baselines_pytorch.py "$repeats" "$threads" | tee "$log/py_baselines"

# kernels: `name median min gflops`
kernel_ms() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }
kernel_gf() { awk -v n="$2" '$1 == n { print $4 }' "$1"; }
# tokeniser: `tokeniser_small ... fwd+bwd MS ...`
step_ms() { awk -v n="$2" '$1 == n { for (i = 1; i < NF; i++) if ($i == "fwd+bwd") print $(i + 1) }' "$1"; }
# processor: `phystok moderate: ... median MS ms`
block_ms() { awk -v n="$2:" '$2 == n { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }' "$1"; }
# physix: `physix_ar_step median_ms MS ...`
physix_ms() { awk -v n="$2" '$1 == n { print $3 }' "$1"; }

rows=()
for n in conv3x3x3_16to16 attention_16x256 matmul_2048x1088x4352; do
  rows+=("$n $(kernel_ms "$log/rs_kernels" "$n") $(kernel_ms "$log/py_kernels" "$n")")
done
rows+=("conv3x3x3_16to16_avx2 $(kernel_ms "$log/rs_kernels" conv3x3x3_16to16_avx2) $(kernel_ms "$log/py_kernels" conv3x3x3_16to16)")
for n in small paper; do
  rows+=("tokeniser_${n}_step $(step_ms "$log/rs_tokeniser" "tokeniser_$n") $(step_ms "$log/py_tokeniser" "tokeniser_$n")")
done
rows+=("tokeniser_paper_step_avx2 $(step_ms "$log/rs_tokeniser_avx2" tokeniser_paper) $(step_ms "$log/py_tokeniser" tokeniser_paper)")
for n in moderate paper-width; do
  rows+=("processor_block_$n $(block_ms "$log/rs_processor" "$n") $(block_ms "$log/py_processor" "$n")")
done
# CKM encoder + decoder fwd+bwd with the PI-resized kernel (patch.rs, patch_pytorch.py)
for p in 4 8 16; do
  rows+=("ckm_encoder_decoder_p$p $(kernel_ms "$log/rs_patch" "ckm_p$p") $(kernel_ms "$log/py_patch" "ckm_p$p")")
done
for n in physix_ar_step physix_generate; do
  rows+=("$n $(physix_ms "$log/rs_physix" "$n") $(physix_ms "$log/py_physix" "$n")")
done
# baselines: `name median min params` (The Well's FNO and ConvNeXt U-Net training steps)
for n in fno_step unet_convnext_step; do
  rows+=("baseline_$n $(kernel_ms "$log/rs_baselines" "$n") $(kernel_ms "$log/py_baselines" "$n")")
done

echo
echo "# phystok vs PyTorch CPU, $threads threads (CANDLE_NUM_THREADS=$CANDLE_NUM_THREADS), medians of $repeats (processor: repeats of processor.rs), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %12s %8s\n' name phystok_ms pytorch_ms ratio | tee "$log/table"
for row in "${rows[@]}"; do
  set -- $row
  awk -v n="$1" -v a="${2:-nan}" -v b="${3:-nan}" \
    'BEGIN { r = (b + 0 > 0) ? sprintf("%.2f", a / b) : "nan"; printf "%-34s %12s %12s %8s\n", n, a, b, r }'
done | tee -a "$log/table"
echo
echo "# GFLOP/s (phystok / pytorch)"
for n in conv3x3x3_16to16 attention_16x256 matmul_2048x1088x4352; do
  printf '%-34s %10s %10s\n' "$n" "$(kernel_gf "$log/rs_kernels" "$n")" "$(kernel_gf "$log/py_kernels" "$n")"
done
echo
bash benches/memory.sh "$threads" | tee "$log/memory"
# PHYSTOK_COMPARE_OUT=FILE keeps the time table and the memory rows (scripts/bench-readme.sh)
if [ -n "${PHYSTOK_COMPARE_OUT:-}" ]; then
  { cat "$log/table"; grep -v '^#\|^name' "$log/memory"; } > "$PHYSTOK_COMPARE_OUT"
fi
