#!/usr/bin/env bash
# Runs a command with everything phystok's build needs on PATH, installing what is missing.
#
# The HDF5 library is built from source and linked statically (hdf5-metno's `static` +
# `zlib` features), which needs CMake >= 3.26. Debian bookworm ships 3.25, so when no new
# enough cmake is found we install PyPI's `cmake` into a virtual environment cached under
# ~/.cache/phystok/tools (or $PHYSTOK_CACHE/tools). Nothing else is installed.
#
# Usage: bash scripts/env.sh cargo test --release
set -euo pipefail

cache="${PHYSTOK_CACHE:-$HOME/.cache/phystok}"
tools="$cache/tools"

cmake_ok() {
  local v
  v=$("$1" --version 2>/dev/null | head -n1 | sed -E 's/[^0-9]*([0-9]+)\.([0-9]+).*/\1 \2/') || return 1
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt 3 ] || { [ "$1" -eq 3 ] && [ "$2" -ge 26 ]; }
}

if ! { command -v cmake >/dev/null 2>&1 && cmake_ok cmake; }; then
  if ! [ -x "$tools/bin/cmake" ] || ! cmake_ok "$tools/bin/cmake"; then
    echo "phystok: installing cmake >= 3.26 from PyPI into $tools" >&2
    rm -rf "$tools"
    if python3 -m venv "$tools" 2>/dev/null; then
      "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'cmake>=3.26,<5'
    else
      # no venv module (Debian without python3-venv): a plain target directory
      python3 -m pip install --quiet --disable-pip-version-check --target "$tools/lib" 'cmake>=3.26,<5'
      mkdir -p "$tools/bin"
      ln -sf "$tools/lib/cmake/data/bin/cmake" "$tools/bin/cmake"
    fi
  fi
  export PATH="$tools/bin:$PATH"
fi

[ "$#" -gt 0 ] || { echo "usage: bash scripts/env.sh COMMAND [ARGS...]" >&2; exit 2; }
exec "$@"
