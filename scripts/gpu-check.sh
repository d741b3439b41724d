#!/usr/bin/env bash
# The GPU check: one prepared script for a GPU machine (nvcc, CUDA 13, PyTorch 2.11 cu130; no
# Rust, no network), in two halves.
#
#   bash scripts/gpu-check.sh pack   # here, on a CPU machine with Rust: builds the CUDA
#                                    # binaries (scripts/cuda-env.sh, CUDA 13.0, sm_90) and
#                                    # packs them, stripped and xz-compressed, into
#                                    # gpu-bundle/phystok-cuda.tar.xz (the carry limit is 64 MiB)
#   bash scripts/gpu-check.sh        # on the GPU machine, from the repository root: unpacks
#                                    # the bundle and runs the checks below (< 8 minutes on
#                                    # one H100/H200), printing a table at the end
#
# The checks: the CUDA halves of every `test_device!` test (the kernel-vs-primitive parity
# tests and the op/module tests; PHYSTOK_REQUIRE_CUDA=1 makes a missing GPU a failure, not a
# skip); `--gpus` naming a GPU that does not exist is refused; a paper-size tokeniser step and
# a paper-width processor block step (forward + backward, f32) against PyTorch on the same GPU
# in the same run (benches/*_pytorch.py, also in bf16 autocast for PyTorch), with each
# process's peak GPU memory (nvidia-smi samples for phystok, torch.cuda.max_memory_allocated
# for PyTorch); and 200 steps of the paper preset's tokeniser pretraining with its 8
# accumulated micro-batches.
#
# Never run yet: no GPU was lent while this was written (README, "GPU build").
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle
tarball="$bundle/phystok-cuda.tar.xz"

if [ "${1:-}" = pack ]; then
  set -e
  cargo_cuda() { bash scripts/cuda-env.sh cargo "$@" --release --features cuda --message-format=json; }
  exes() { grep '"executable":"' | sed -E 's/.*"executable":"([^"]+)".*/\1/'; }
  rm -rf "$bundle/bin"
  mkdir -p "$bundle/bin"
  lib_test=$(cargo_cuda test --lib --no-run | exes | head -n1)
  tok=$(cargo_cuda bench --bench tokeniser --no-run | exes | head -n1)
  proc=$(cargo_cuda bench --bench processor --no-run | exes | head -n1)
  cargo_cuda build --bin phystok >/dev/null
  cli="${CARGO_TARGET_DIR:-target/cuda}/release/phystok"
  for pair in "lib-tests:$lib_test" "bench-tokeniser:$tok" "bench-processor:$proc" "phystok:$cli"; do
    objcopy --strip-debug "${pair#*:}" "$bundle/bin/${pair%%:*}"
  done
  tar -C "$bundle" -cJf "$tarball" bin
  ls -l "$bundle/bin" "$tarball"
  echo "carry: $tarball, scripts/, benches/, tests/reference/ ($(du -m "$tarball" | cut -f1) MiB packed)"
  exit 0
fi

start=$(date +%s)
[ -f "$tarball" ] || { echo "no $tarball: run 'bash scripts/gpu-check.sh pack' on the build machine" >&2; exit 2; }
rm -rf "$bundle/bin" && tar -C "$bundle" -xJf "$tarball"
bin="$bundle/bin"
python="${PHYSTOK_PYTHON:-python3}"
# the CUDA 13 libraries phystok links (cudart, cuBLAS, cuRAND, NVRTC): PyTorch's cu130 wheels
# ship them under site-packages/nvidia; a system toolkit's lib64 as well
libs=$("$python" - <<'EOF' 2>/dev/null
import glob, os, site
dirs = set()
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for so in glob.glob(os.path.join(sp, "nvidia", "*", "lib", "lib*.so*")):
        dirs.add(os.path.dirname(so))
print(":".join(sorted(dirs)))
EOF
)
export LD_LIBRARY_PATH="${libs}${CUDA_HOME:+:$CUDA_HOME/lib64}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
results=()
note() { results+=("$1"); echo "== $1"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || status=1
nvcc --version | tail -n2 || true
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' || status=1
missing=$(ldd "$bin/lib-tests" | grep 'not found' || true)
[ -z "$missing" ] || { echo "missing libraries: $missing" >&2; exit 1; }

# peak GPU memory of a command: nvidia-smi sampled every 100 ms while it runs
peak_of() {
  local log; log=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log" 2>/dev/null &
  local smi=$!
  "$@"; local rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  echo "peak GPU memory (nvidia-smi, whole GPU) $(sort -n "$log" | tail -n1) MiB" >&2
  rm -f "$log"
  return $rc
}

# 1. every test_device! test's CUDA half
if PHYSTOK_REQUIRE_CUDA=1 timeout 240 "$bin/lib-tests" --test-threads 1 '::cuda' 2>&1 | tail -n 30; then
  note "test_device CUDA halves: passed"
else
  note "test_device CUDA halves: FAILED"; status=1
fi

# 2. a GPU that does not exist is refused before any work
out=$("$bin/phystok" reproduce --gpus 99 --data "$(mktemp -d)/d" --out "$(mktemp -d)/o" 2>&1)
if echo "$out" | grep -q 'GPU 99 does not exist'; then note "--gpus 99 refused: $out"; else note "--gpus 99: UNEXPECTED: $out"; status=1; fi

# 3. paper-size steps against PyTorch on the same GPU
export PHYSTOK_BENCH_DEVICE=cuda PHYSTOK_BENCH_PRESETS=paper
tok_rs=$(peak_of timeout 120 "$bin/bench-tokeniser" 5 2>&1 | tee /dev/stderr | awk '$1 == "tokeniser_paper" { for (i = 1; i < NF; i++) if ($i == "fwd+bwd") print $(i + 1) }')
tok_py=$(timeout 120 "$python" benches/tokeniser_pytorch.py 5 2>&1 | tee /dev/stderr | awk '$1 == "tokeniser_paper" { for (i = 1; i < NF; i++) if ($i == "fwd+bwd") print $(i + 1) }')
tok_bf=$(PHYSTOK_BENCH_DTYPE=bf16 timeout 120 "$python" benches/tokeniser_pytorch.py 5 2>&1 | tee /dev/stderr | awk '$1 == "tokeniser_paper" { for (i = 1; i < NF; i++) if ($i == "fwd+bwd") print $(i + 1) }')
proc_rs=$(peak_of timeout 120 "$bin/bench-processor" paper-width 1088 16 2 3 16 16 10 2>&1 | tee /dev/stderr | awk '{ for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }')
proc_py=$(timeout 120 "$python" benches/processor_pytorch.py 2>&1 | tee /dev/stderr | awk '$2 == "paper-width:" { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }')
proc_bf=$(PHYSTOK_BENCH_DTYPE=bf16 timeout 120 "$python" benches/processor_pytorch.py 2>&1 | tee /dev/stderr | awk '$2 == "paper-width:" { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
note "tokeniser paper step f32: phystok ${tok_rs:-n/a} ms, pytorch ${tok_py:-n/a} ms, ratio $(ratio "${tok_rs:-0}" "${tok_py:-0}") (pytorch bf16 autocast ${tok_bf:-n/a} ms)"
note "processor paper-width block f32: phystok ${proc_rs:-n/a} ms, pytorch ${proc_py:-n/a} ms, ratio $(ratio "${proc_rs:-0}" "${proc_py:-0}") (pytorch bf16 autocast ${proc_bf:-n/a} ms)"
unset PHYSTOK_BENCH_DEVICE PHYSTOK_BENCH_PRESETS

# 4. 200 steps of the paper preset's tokeniser pretraining (8 accumulated micro-batches of 2)
run=$(mktemp -d)
left=$(( 470 - ($(date +%s) - start) ))
if [ "$left" -gt 30 ]; then
  if peak_of timeout "$left" "$bin/phystok" reproduce --preset paper --device cuda --allow-simulated \
      --pretrain-steps 200 --rollout-steps 1 --seeds 0 --data "$run/data" --out "$run/out" 2>&1 | tail -n 15; then
    note "paper preset, 200 pretraining steps: finished"
  else
    note "paper preset, 200 pretraining steps: did not finish in ${left} s (or failed): see the log above"
  fi
else
  note "paper preset, 200 steps: skipped, no time left in the 8 minutes"
fi

echo
echo "== gpu-check summary ($(( $(date +%s) - start )) s)"
printf '%s\n' "${results[@]}"
exit $status
