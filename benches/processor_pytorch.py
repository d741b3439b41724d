"""PyTorch twin of benches/processor.rs: one processor block, forward + backward, CPU.

Uses the block of tests/reference/processor_block.py (PyTorch primitives, fused
F.scaled_dot_product_attention) at the benchmark's shapes. Threads: torch.set_num_threads
from the first argument (default 2). Prints one line per shape: median and min in ms.
"""

import importlib.util
import os
import pathlib
import sys
import time

import torch


# PHYSTOK_BENCH_DEVICE=cuda (as scripts/gpu-check.sh sets): every tensor on the GPU, each timed
# call synchronised; PHYSTOK_BENCH_DTYPE=bf16 runs the step under bf16 autocast (GPU only).
DEVICE = os.environ.get("PHYSTOK_BENCH_DEVICE", "cpu")
BF16 = os.environ.get("PHYSTOK_BENCH_DTYPE", "f32") == "bf16"


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def autocast():
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=BF16 and DEVICE.startswith("cuda"))


def use_device():
    if DEVICE.startswith("cuda"):
        torch.set_default_device(DEVICE)
        torch.cuda.reset_peak_memory_stats()


def peak_memory_line(what):
    if DEVICE.startswith("cuda"):
        print(f"# {what} peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB ({'bf16 autocast' if BF16 else 'f32'})")

here = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("ref", here.parent / "tests" / "reference" / "processor_block.py")
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

SHAPES = [("moderate", 256, 4, 2, 3, 16, 16, 15), ("paper-width", 1088, 16, 2, 3, 16, 16, 3)]


def run(name, dim, heads, b, t, h, w, repeats):
    ref.DIM, ref.HEADS, ref.MLP, ref.HD, ref.GH, ref.GW = dim, heads, 4 * dim, dim // heads, h, w
    shapes = ref.param_shapes()
    p = {k: torch.randn(v) * 0.02 + (1.0 if k.endswith("norm.weight") else 0.0) for k, v in shapes.items()}
    for v in p.values():
        v.requires_grad_(True)
    x = torch.randn(b, t, h * w, dim, requires_grad=True)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        with autocast():
            y = x + ref.spatial(x, p)
            y = y + ref.temporal(y, p)
            loss = (y ** 2).mean()
        loss.backward()
        sync()
        if i > 0:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    n_params = sum(v.numel() for v in p.values())
    peak_memory_line(f"processor {name}")
    print(f"pytorch {name}: dim {dim} heads {heads} x ({b}, {t}, {h}x{w}) fwd+bwd median {times[len(times) // 2]:.1f} ms min {times[0]:.1f} ms ({len(times)} repeats, {n_params} params)")


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    use_device()
    # PHYSTOK_BENCH_SHAPES=paper-width (comma-separated) runs only those shapes
    wanted = os.environ.get("PHYSTOK_BENCH_SHAPES", ",".join(s[0] for s in SHAPES)).split(",")
    for shape in SHAPES:
        if shape[0] in wanted:
            run(*shape)
