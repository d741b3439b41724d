#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless with the real Jupyter (nbconvert) and the
# evcxr Rust kernel, and fails on any error: a compile error, an `Err` from `?`, a panic, or
# anything written to standard error. (nbconvert exits 0 after a cell panics: evcxr reports
# the panic as stderr text, so the outputs are scanned as well.)
#
# Usage: bash scripts/notebooks.sh [--check] [NOTEBOOK.ipynb ...]
#   default   run every notebooks/*.ipynb and tests/notebooks/*.ipynb and, when all of a
#             notebook's cells are clean, write the outputs of those under notebooks/ back
#             into them (the saved notebooks carry a real run; the test notebooks under
#             tests/notebooks/ assert things and are never saved)
#   --check   run and scan only; leave the saved notebooks untouched (what CI does)
#   A failed notebook's outputs are kept in notebooks/out/failed/ for reading.
#
# What it installs when missing (nothing else), all under ~/.cache/phystok (or $PHYSTOK_CACHE):
#   evcxr/            evcxr_jupyter 0.22 (`cargo install --locked`, ~11 min on 2 cores)
#   jupyter-venv/     nbconvert, nbclient, jupyter_client from PyPI, and the `rust` kernelspec
#   evcxr-build/      evcxr's compile directory, kept between runs (EVCXR_TMPDIR): phystok and
#                     its dependencies are compiled once (opt-level 2), so a repeat run only
#                     compiles the cells. `:cache` in each notebook's first cell also keeps
#                     compiled registry crates in ~/.cache/evcxr.
# Jupyter runs under scripts/env.sh, so the kernel's build of phystok (HDF5 from source) finds
# cmake >= 3.26 as `cargo build` does. Timings of each notebook and the total are printed.
#
# What evcxr 0.22 does that the notebooks are written around (checked here, rustc 1.95):
# - every cell is its own library, with its dependencies linked in statically: each cell would
#   carry its own candle, whose tensor ids restart at 1 (backprop tells tensors apart by id).
#   The notebooks load phystok through notebooks/phystok-nb, a `dylib` crate that holds phystok
#   and candle once for every cell, so a model built in one cell trains in the next
#   (tests/notebooks/cross-cell.ipynb checks it). `:allow_static_linking 0` cannot build on
#   Rust 1.95 (evcxr passes `core` as libstd's .so, which holds only a metadata stub).
# - only the last display block of each MIME type a cell prints is shown, at the end of the
#   cell; plain stdout lines stream while it runs.
# - a top-level variable moved inside a cell makes the cell fail to compile when evcxr tries
#   to keep it: build figures inside a block or from clones.
# - the default optimisation level is 2 for the whole build (what the notebooks use).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

check_only=0
notebooks=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    -h|--help) sed -n "2,32p" "$0"; exit 0 ;;
    *) notebooks+=("$arg") ;;
  esac
done
if [ "${#notebooks[@]}" -eq 0 ]; then
  notebooks=(notebooks/*.ipynb tests/notebooks/*.ipynb)
fi

cache="${PHYSTOK_CACHE:-$HOME/.cache/phystok}"
evcxr_root="$cache/evcxr"
venv="$cache/jupyter-venv"
evcxr_version="0.22"
start_all=$SECONDS

stamp() { printf 'notebooks: %s (%ds)\n' "$1" "$((SECONDS - start_all))"; }

# 1. The evcxr kernel.
evcxr="$evcxr_root/bin/evcxr_jupyter"
if ! [ -x "$evcxr" ] || ! grep -q "\"evcxr_jupyter $evcxr_version\." "$evcxr_root/.crates2.json" 2>/dev/null; then
  stamp "installing evcxr_jupyter $evcxr_version into $evcxr_root (about 11 minutes on 2 cores)"
  cargo install --locked evcxr_jupyter --version "~$evcxr_version" --root "$evcxr_root"
fi

# 2. Jupyter (only what headless execution needs) and the kernelspec pointing at our binary.
#    Without Python's venv module (Debian without python3-venv), a plain pip target folder.
jupyter_pkgs=('nbconvert>=7,<8' 'nbclient>=0.10' 'jupyter_client>=8' 'jupyter_core>=5')
py="$venv/bin/python"
if [ -d "$venv/lib-target" ]; then py=python3; export PYTHONPATH="$venv/lib-target"; fi
if ! "$py" -c 'import nbconvert, nbclient, nbformat' 2>/dev/null; then
  stamp "creating $venv (nbconvert, nbclient, jupyter_client from PyPI)"
  rm -rf "$venv"
  if python3 -m venv "$venv" 2>/dev/null; then
    py="$venv/bin/python"
    "$py" -m pip install --quiet --disable-pip-version-check "${jupyter_pkgs[@]}"
  else
    python3 -m pip install --quiet --disable-pip-version-check --target "$venv/lib-target" \
      "${jupyter_pkgs[@]}"
    py=python3
    export PYTHONPATH="$venv/lib-target"
  fi
fi
kernel_dir="$venv/share/jupyter/kernels/rust"
mkdir -p "$kernel_dir"
cat > "$kernel_dir/kernel.json" <<EOF
{
  "argv": ["$evcxr", "--control_file", "{connection_file}"],
  "display_name": "Rust",
  "language": "rust",
  "interrupt_mode": "message"
}
EOF

# 3. Run each notebook into a scratch directory, scan it, and save it back when clean.
export EVCXR_TMPDIR="$cache/evcxr-build"
# The cells' libraries find libstd through a runpath relative to target/…/deps, but evcxr
# loads them from target/…/debug, one level up: with a compile directory that shares a parent
# with the toolchain (both under $HOME) the relative path misses. Name the directory outright.
host=$(rustc -vV | sed -n 's/^host: //p')
export LD_LIBRARY_PATH="$(rustc --print sysroot)/lib/rustlib/$host/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export EVCXR_CONFIG_DIR="$cache/evcxr-config" # no user init.evcxr / prelude.rs
export JUPYTER_PATH="$venv/share/jupyter"
export JUPYTER_PLATFORM_DIRS=1
mkdir -p "$EVCXR_TMPDIR" "$EVCXR_CONFIG_DIR"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
stamp "ready; running ${#notebooks[@]} notebook(s)"

failed=()
timings=()
for nb in "${notebooks[@]}"; do
  name=$(basename "$nb")
  t0=$SECONDS
  status=ok
  # a cell may compile phystok from scratch on a cold cache: allow 40 minutes per cell.
  # --allow-errors keeps going after a failing cell so that the scan below shows every error
  # with its message; nbconvert itself then fails only when the kernel dies or times out.
  case "$nb" in notebooks/*) saved=1 ;; *) saved=0 ;; esac
  if ! bash scripts/env.sh "$py" -m nbconvert --to notebook --execute \
      --ExecutePreprocessor.kernel_name=rust --allow-errors \
      --ExecutePreprocessor.timeout=2400 \
      --ExecutePreprocessor.startup_timeout=120 \
      --output-dir "$scratch" --output "$name" "$nb" \
      > "$scratch/$name.log" 2>&1; then
    status="nbconvert failed"
    tail -n 40 "$scratch/$name.log" >&2
  elif ! "$py" - "$scratch/$name" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
problems = []
for i, cell in enumerate(nb.cells):
    if cell.cell_type != "code":
        continue
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        text = ""
        if kind == "error":
            text = out.get("ename", "") + ": " + out.get("evalue", "")
            problems.append((i, "error output", text))
            continue
        if kind == "stream":
            text = out.get("text", "")
            if out.get("name") == "stderr":
                problems.append((i, "stderr", text))
                continue
        else:
            text = "".join(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
        if "panicked at" in text or "Child process terminated" in text:
            problems.append((i, "panic", text))
for i, what, text in problems:
    print(f"  cell {i}: {what}: {text.strip()[:600]}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
  then
    status="errors in outputs"
  fi
  dt=$((SECONDS - t0))
  timings+=("$(printf '%-40s %5ds  %s' "$name" "$dt" "$status")")
  if [ "$status" = ok ]; then
    if [ "$check_only" = 0 ] && [ "$saved" = 1 ]; then
      cp "$scratch/$name" "$nb"
    fi
  else
    failed+=("$name")
    if [ -f "$scratch/$name" ]; then
      mkdir -p notebooks/out/failed
      cp "$scratch/$name" "notebooks/out/failed/$name"
      echo "notebooks: the failed run is in notebooks/out/failed/$name" >&2
    fi
  fi
  stamp "$name: $status in ${dt}s"
done

echo "notebooks: timings"
printf '  %s\n' "${timings[@]}"
printf '  %-40s %5ds\n' "total (with setup)" "$((SECONDS - start_all))"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "notebooks: FAILED: ${failed[*]}" >&2
  exit 1
fi
