#!/usr/bin/env bash
# Runs a command with the CUDA 13.0 toolkit that phystok's `cuda`/`nccl` builds need, installing
# what is missing, on top of scripts/env.sh (which provides CMake for HDF5).
#
# Why CUDA 13.0: the project's GPU machines run driver 580, whose newest CUDA is 13.0. candle's
# kernels are compiled to PTX here and JIT-compiled by the driver there; PTX from a newer nvcc
# (13.1+) carries a PTX ISA the 580 driver rejects. So every package below is pinned to 13.0.
#
# Everything comes from PyPI (no system CUDA) into a virtual environment cached under
# ~/.cache/phystok/cuda (or $PHYSTOK_CACHE/cuda): nvcc + crt + nvvm (the compiler), cccl and the
# runtime (headers, libcudart), nvrtc, cuBLAS, cuRAND (cudarc links them dynamically) and NCCL
# 2.28 for linking the `nccl` build (cudarc's `nccl` feature binds NCCL 2.30's API; the calls
# phystok makes, ncclGetUniqueId, ncclCommInitRank and ncclAllReduce, are in both; on a GPU
# machine the NCCL that PyTorch's wheels ship is loaded). The wheels lay
# out one toolkit root, site-packages/nvidia/cu13/{bin,include,lib}; we add the unversioned
# `libX.so` links the linker wants, and NCCL's headers/library into the same root.
#
# libcuda.so is the driver and is not on PyPI. As the CUDA toolkit does (lib64/stubs/libcuda.so),
# we build a link-time stand-in, lib/stubs/libcuda.so with soname libcuda.so.1: every driver
# entry point cudarc declares, each returning CUDA_ERROR_STUB_LIBRARY (34) like NVIDIA's stub.
# It is only on the linker's search path, never on LD_LIBRARY_PATH, so a binary built here loads
# the real driver on a GPU machine. PHYSTOK_CUDA_STUB_RUN=1 also puts it on LD_LIBRARY_PATH, so
# that a CUDA binary can start here and find no GPU (every driver call fails with error 34).
#
# Sets CUDA_ROOT/CUDA_PATH/CUDA_HOME, NVCC, PATH, LIBRARY_PATH, LD_LIBRARY_PATH, NCCL_HOME,
# CUDA_COMPUTE_CAP=90 (H100/H200; there is no nvidia-smi to ask) unless already set, and
# CARGO_TARGET_DIR=target/cuda unless already set (the CPU build in target/ stays valid).
#
# Usage: bash scripts/cuda-env.sh cargo build --release --features cuda --lib --bins
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${PHYSTOK_CACHE:-$HOME/.cache/phystok}"
venv="$cache/cuda"
# Bump when the pins or the layout below change: the cached environment is rebuilt.
stamp="$venv/.phystok-cuda-13.0-v1"
pins=(
  'nvidia-cuda-nvcc==13.0.88'
  'nvidia-cuda-crt==13.0.88'
  'nvidia-nvvm==13.0.88'
  'nvidia-cuda-cccl==13.0.85'
  'nvidia-cuda-runtime==13.0.96'
  'nvidia-cuda-nvrtc==13.0.88'
  'nvidia-cublas==13.0.2.14'
  'nvidia-curand==10.4.0.35'
  'nvidia-nccl-cu13==2.28.9'
)

find_root() {
  local d
  for d in "$venv"/lib/python3*/site-packages/nvidia/cu13; do
    [ -x "$d/bin/nvcc" ] && { echo "$d"; return 0; }
  done
  return 1
}

if ! [ -f "$stamp" ] || ! root=$(find_root); then
  echo "phystok: installing the CUDA 13.0 toolkit from PyPI into $venv (once, ~1 GB)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${pins[@]}"
  root=$(find_root) || { echo "phystok: nvcc missing after installing ${pins[*]}" >&2; exit 1; }
  site="$(dirname "$(dirname "$root")")"
  # NCCL's wheel has its own prefix (nvidia/nccl); put it in the toolkit root.
  for f in "$site"/nvidia/nccl/include/*; do ln -sf "$f" "$root/include/"; done
  for f in "$site"/nvidia/nccl/lib/lib*.so*; do ln -sf "$f" "$root/lib/"; done
  # The linker's unversioned names.
  for f in "$root"/lib/lib*.so.[0-9]*; do
    base="${f##*/}"; base="${base%%.so.*}.so"
    [ -e "$root/lib/$base" ] || ln -sf "${f##*/}" "$root/lib/$base"
  done
  # The link-time libcuda stand-in (see the header), from the entry points cudarc binds.
  cudarc_src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys 2>/dev/null | tail -n1)
  [ -n "$cudarc_src" ] || { echo "phystok: cudarc sources not found; run 'cargo fetch' first" >&2; exit 1; }
  mkdir -p "$root/lib/stubs"
  {
    echo '/* link-time stand-in for the CUDA driver, like the toolkit'"'"'s stubs/libcuda.so */'
    grep -ohE '\bfn cu[A-Za-z0-9_]+' "$cudarc_src"/*.rs | sed 's/^fn //' | sort -u |
      sed 's/.*/int &(void) { return 34; \/* CUDA_ERROR_STUB_LIBRARY *\/ }/'
  } >"$root/lib/stubs/libcuda.c"
  cc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$root/lib/stubs/libcuda.so" "$root/lib/stubs/libcuda.c"
  ln -sf libcuda.so "$root/lib/stubs/libcuda.so.1"
  touch "$stamp"
fi

export CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_HOME="$root" NCCL_HOME="$root"
export NVCC="$root/bin/nvcc"
export PATH="$root/bin:$PATH"
export LIBRARY_PATH="$root/lib:$root/lib/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}"
if [ "${PHYSTOK_CUDA_STUB_RUN:-0}" = 1 ]; then
  export LD_LIBRARY_PATH="$root/lib:$root/lib/stubs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(dirname "$here")/target/cuda}"

[ "$#" -gt 0 ] || { echo "usage: bash scripts/cuda-env.sh COMMAND [ARGS...]" >&2; exit 2; }
exec bash "$here/env.sh" "$@"
