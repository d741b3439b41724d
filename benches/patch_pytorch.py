"""PyTorch twin of benches/patch.rs (CPU): the CKM patch encoder and decoder forward and
backward with a PI-resized kernel. Shear flow's 4 fields at 128x256, 6 frames, batch 1,
embedding 384, base kernel 16 resized to p = 4, 8 (and 16, no resize) by pinv(B^T) with B
the bilinear (half-pixel, clamped, no antialias) resize matrix, computed once per size; per
step: resize both kernels (W' = M W M^T), F.conv2d at stride p over every frame,
F.conv_transpose2d at stride p, mean square, backward. Same inputs (0.013·i sine ramp).
Prints `name median_ms min_ms`.

Run: ~/.cache/phystok/the-well-venv/bin/python benches/patch_pytorch.py [repeats] [threads]
"""
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def bilinear(n_in, n_out):
    b = torch.zeros(n_out, n_in, dtype=torch.float64)
    for j in range(n_out):
        src = min(max((j + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        i0 = math.floor(src)
        frac = src - i0
        i1 = min(i0 + 1, n_in - 1)
        b[j, i0] += 1 - frac
        b[j, i1] += frac
    return b


def median_ms(repeats, f):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    print(f"# pytorch {torch.__version__} CKM encoder+decoder fwd+bwd ({threads} threads): name median_ms min_ms")
    e, c, t, h, w, base = 384, 4, 6, 128, 256, 16
    bound = 1.0 / math.sqrt(c * base * base)
    w_enc = (torch.rand(e, c, base, base) * 2 - 1).mul_(bound).requires_grad_(True)
    b_enc = (torch.rand(e) * 2 - 1).mul_(bound).requires_grad_(True)
    w_dec = (torch.rand(e, c, base, base) * 2 - 1).mul_(bound).requires_grad_(True)
    b_dec = (torch.rand(c) * 2 - 1).mul_(bound).requires_grad_(True)
    n = c * t * h * w
    x = torch.sin(0.013 * torch.arange(n, dtype=torch.float32)).reshape(1, c, t, h, w)
    frames = x.permute(0, 2, 1, 3, 4).reshape(t, c, h, w).contiguous()
    pinvs = {p: torch.linalg.pinv(bilinear(base, p).T).float() for p in (4, 8)}
    for p in (4, 8, 16):
        def step():
            if p == base:
                we, wd = w_enc, w_dec
            else:
                m = pinvs[p]
                we = m @ w_enc @ m.T
                wd = m @ w_dec @ m.T
            z = F.conv2d(frames, we, b_enc, stride=p)
            y = F.conv_transpose2d(z, wd, b_dec, stride=p)
            loss = (y * y).mean()
            for v in (w_enc, b_enc, w_dec, b_dec):
                v.grad = None
            loss.backward()

        med, mn = median_ms(repeats, step)
        print(f"ckm_p{p} {med:.1f} {mn:.1f}")


if __name__ == "__main__":
    main()
