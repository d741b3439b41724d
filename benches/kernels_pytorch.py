"""PyTorch twin of benches/kernels.rs (CPU): the causal 3x3x3 conv 16 -> 16 at 9x64x64,
batch 2 (F.conv3d after causal padding), attention (6, 16, 256, 68) through
F.scaled_dot_product_attention, and a 2048x1088x4352 matmul, each forward + backward.
Same inputs as the Rust bench (0.013·i sine ramps). Prints `name median_ms min_ms gflops`.

Run: ~/.cache/phystok/the-well-venv/bin/python benches/kernels_pytorch.py [repeats]
"""
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def wavy(shape, scale):
    n = math.prod(shape)
    return (scale * torch.sin(0.013 * torch.arange(n, dtype=torch.float32))).reshape(shape).requires_grad_(True)


def median_ms(repeats, f):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def report(name, times, flops):
    med, mn = times
    print(f"{name} {med:.1f} {mn:.1f} {flops / med / 1e6:.1f}")


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"# pytorch {torch.__version__} CPU, threads {torch.get_num_threads()}: name median_ms min_ms gflops")
    x, w, b = wavy((2, 16, 9, 64, 64), 1.0), wavy((16, 16, 3, 3, 3), 0.05), wavy((16,), 0.1)

    def conv():
        y = F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0)), w, b)
        (y ** 2).mean().backward()

    report("conv3x3x3_16to16", median_ms(repeats, conv), 3 * 2 * 16 * 432 * 4096 * 18)

    shape = (6, 16, 256, 68)
    q, k, v = wavy(shape, 1.0), wavy(shape, 0.7), wavy(shape, 0.5)

    def att():
        y = F.scaled_dot_product_attention(q, k, v)
        (y ** 2).mean().backward()

    report("attention_16x256", median_ms(repeats, att), 7 * 2 * 96 * 256 * 256 * 68)

    a, bm = wavy((2048, 1088), 0.1), wavy((1088, 4352), 0.1)

    def mm():
        (a @ bm).sum().backward()

    report("matmul_2048x1088x4352", median_ms(repeats, mm), 3 * 2 * 2048 * 1088 * 4352)


if __name__ == "__main__":
    main()
