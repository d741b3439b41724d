"""Reference numbers for phystok's causal 3D convolution (tests/tokeniser.rs).

Causal padding in PyTorch: k_t - 1 zero frames in front of time, none behind, symmetric
spatial padding p; then torch's conv3d with strides (s_t, s_s, s_s). Inputs are
deterministic formulas (the Rust test builds the same ones):
  x[i] = sin(0.37 i), w[i] = 0.1 cos(0.11 i), bias[o] = 0.01 (o + 1), over flat indices.
Prints, per case: output shape, sum, sum of y_i * ((i % 7) - 3), sum of squares, first 4.

Run: ~/.cache/phystok/the-well-venv/bin/python tests/reference/tokeniser_causal_conv.py
"""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

CASES = [
    # (name, c_in, c_out, T, H, W, k_t, k_s, s_t, s_s, pad)
    ("same_3x3x3", 2, 3, 5, 6, 7, 3, 3, 1, 1, 1),
    ("down_t2_s4", 3, 2, 5, 8, 8, 3, 4, 2, 4, 0),
    ("down_t1_s2", 2, 4, 3, 4, 6, 1, 2, 1, 2, 0),
    ("down_t2_s2", 2, 2, 9, 4, 4, 3, 2, 2, 2, 0),
]

for name, ci, co, t, h, w, kt, ks, st, ss, p in CASES:
    n = 2 * ci * t * h * w
    x = torch.sin(0.37 * torch.arange(n)).reshape(2, ci, t, h, w)
    nw = co * ci * kt * ks * ks
    wt = 0.1 * torch.cos(0.11 * torch.arange(nw)).reshape(co, ci, kt, ks, ks)
    b = 0.01 * (torch.arange(co) + 1.0)
    xp = F.pad(x, (p, p, p, p, kt - 1, 0))
    y = F.conv3d(xp, wt, b, stride=(st, ss, ss)).flatten()
    idx = torch.arange(y.numel())
    print(
        f'("{name}", {list(F.conv3d(xp, wt, b, stride=(st, ss, ss)).shape)}, '
        f"{y.sum().item():.8f}, {(y * ((idx % 7) - 3)).sum().item():.8f}, "
        f"{(y * y).sum().item():.8f}, {[round(v, 8) for v in y[:4].tolist()]}),"
    )
