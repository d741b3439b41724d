"""PyTorch reference for one phystok processor block (tests/processor.rs, block parity test).

Re-implements one block (full spatial attention with parallel SwiGLU MLP, then causal
temporal attention with a T5 relative bias) with PyTorch's own primitives, following the
operation order of Walrus (walrus/models/spatial_blocks/full_attention.py,
temporal_blocks/axial_time_attention.py, shared_utils/normalization.py,
shared_utils/lr_rope_temporary.py, shared_utils/position_biases.py):
F.rms_norm for RMSGroupNorm, F.layer_norm for the QK norms, lucidrains' interleaved
`rotate_half` rope with "pixel" frequencies over linspace(-1, 1) positions, and
F.scaled_dot_product_attention. Only the block order (space then time, as the paper
says) and the tokens-last layout (batch, time, tokens, dim) are ours.

Weights are a deterministic function of each parameter's name (`weight_values`), which
the Rust test reproduces, so no file is exchanged. Run:

    ~/.cache/phystok/the-well-venv/bin/python tests/reference/processor_block.py

and paste the printed numbers into `block_matches_pytorch_reference`.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

B, T, GH, GW = 2, 5, 3, 2
N = GH * GW
DIM, HEADS, MLP = 64, 4, 256
HD = DIM // HEADS
BUCKETS, MAX_DISTANCE, MAX_FREQ = 32, 32, 256.0


def param_shapes():
    """Parameter shapes of one block at the current module-level sizes."""
    return {
        "spatial.norm.weight": (DIM,),
        "spatial.fused.weight": (MLP + 3 * DIM, DIM),
        "spatial.fused.bias": (MLP + 3 * DIM,),
        "spatial.q_norm.weight": (HD,),
        "spatial.q_norm.bias": (HD,),
        "spatial.k_norm.weight": (HD,),
        "spatial.k_norm.bias": (HD,),
        "spatial.attn_out.weight": (DIM, DIM),
        "spatial.ff_out.weight": (DIM, MLP // 2),
        "spatial.ff_out.bias": (DIM,),
        "temporal.norm.weight": (DIM,),
        "temporal.qkv.weight": (3 * DIM, DIM),
        "temporal.qkv.bias": (3 * DIM,),
        "temporal.q_norm.weight": (HD,),
        "temporal.q_norm.bias": (HD,),
        "temporal.k_norm.weight": (HD,),
        "temporal.out.weight": (DIM, DIM),
        "temporal.out.bias": (DIM,),
        "temporal.rel_pos.weight": (BUCKETS, HEADS),
    }


def weight_values(name, shape):
    """base + amp * sin(0.731 i + 0.01 * sum of the name's bytes), i the flat index."""
    n = int(np.prod(shape))
    phase = 0.01 * sum(name.encode())
    if name.endswith("norm.weight"):
        base, amp = 1.0, 0.2
    elif name.endswith("bias") and "rel_pos" not in name:
        base, amp = 0.0, 0.1
    elif "rel_pos" in name:
        base, amp = 0.0, 1.0
    else:
        base, amp = 0.0, 1.0 / math.sqrt(shape[1])
    i = np.arange(n, dtype=np.float64)
    return torch.tensor((base + amp * np.sin(0.731 * i + phase)).astype(np.float32).reshape(shape))


def rms_group_norm(x, weight):
    # x (b, t, n, d): statistics over tokens and the group's channels, per (b, t, group)
    b, t, n, d = x.shape
    g = x.reshape(b, t, n, HEADS, d // HEADS).permute(0, 1, 3, 2, 4)  # (b, t, G, n, d/G)
    g = F.rms_norm(g, normalized_shape=g.shape[-2:])
    return g.permute(0, 1, 3, 2, 4).reshape(b, t, n, d) * weight


def rotate_half(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def axial_freqs(h, w):
    nf = (HD // 4) // 2
    freqs = torch.linspace(1.0, MAX_FREQ / 2, nf, dtype=torch.float64) * math.pi
    per_axis = []
    for axis, size in enumerate((h, w)):
        pos = torch.linspace(-1, 1, size, dtype=torch.float64)
        f = torch.repeat_interleave(pos[:, None] * freqs[None, :], 2, dim=-1)  # (size, 2nf)
        f = f[:, None, :].expand(h, w, -1) if axis == 0 else f[None, :, :].expand(h, w, -1)
        per_axis.append(f)
    return torch.cat(per_axis, dim=-1).reshape(h * w, -1)  # (n, rot)


def apply_rope(t, freqs):
    rot = freqs.shape[-1]
    mid = t[..., :rot]
    mid = mid * freqs.cos().float() + rotate_half(mid) * freqs.sin().float()
    return torch.cat((mid, t[..., rot:]), dim=-1)


def spatial(x, p):
    b, t, n, d = x.shape
    h = rms_group_norm(x, p["spatial.norm.weight"])
    fused = F.linear(h, p["spatial.fused.weight"], p["spatial.fused.bias"])
    ff, q, k, v = fused.split((MLP, d, d, d), dim=-1)
    q, k, v = (z.reshape(b * t, n, HEADS, HD).transpose(1, 2) for z in (q, k, v))
    q = F.layer_norm(q, (HD,), p["spatial.q_norm.weight"], p["spatial.q_norm.bias"])
    k = F.layer_norm(k, (HD,), p["spatial.k_norm.weight"], p["spatial.k_norm.bias"])
    freqs = axial_freqs(GH, GW)
    q, k = apply_rope(q, freqs), apply_rope(k, freqs)
    att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, n, d)
    x_, gate = ff.chunk(2, dim=-1)
    mlp = F.silu(gate) * x_
    return F.linear(att, p["spatial.attn_out.weight"]) + F.linear(mlp, p["spatial.ff_out.weight"], p["spatial.ff_out.bias"])


def bucket(n_back):
    max_exact = BUCKETS // 2
    if n_back < max_exact:
        return n_back
    large = max_exact + int(math.log(n_back / max_exact) / math.log(MAX_DISTANCE / max_exact) * (BUCKETS - max_exact))
    return min(large, BUCKETS - 1)


def temporal(x, p):
    b, t, n, d = x.shape
    h = rms_group_norm(x, p["temporal.norm.weight"])
    qkv = F.linear(h, p["temporal.qkv.weight"], p["temporal.qkv.bias"])
    qkv = qkv.reshape(b, t, n, HEADS, 3 * HD).permute(0, 2, 3, 1, 4).reshape(b * n, HEADS, t, 3 * HD)
    q, k, v = qkv.tensor_split(3, dim=-1)
    q = F.layer_norm(q, (HD,), p["temporal.q_norm.weight"], p["temporal.q_norm.bias"])
    k = F.layer_norm(k, (HD,), p["temporal.k_norm.weight"], None)
    ids = torch.tensor([[bucket(qi - ki) if ki <= qi else 0 for ki in range(t)] for qi in range(t)])
    bias = p["temporal.rel_pos.weight"][ids].permute(2, 0, 1)  # (heads, t, t)
    future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    bias = bias.masked_fill(future, float("-inf"))
    att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[None])
    att = att.reshape(b, n, HEADS, t, HD).permute(0, 3, 1, 2, 4).reshape(b, t, n, d)
    return F.linear(att, p["temporal.out.weight"], p["temporal.out.bias"])


def main():
    torch.set_default_dtype(torch.float32)
    p = {name: weight_values(name, shape) for name, shape in param_shapes().items()}
    i = np.arange(B * T * N * DIM, dtype=np.float64)
    x = torch.tensor((np.sin(0.13 * i) + 0.5 * np.cos(0.07 * i)).astype(np.float32).reshape(B, T, N, DIM))
    y = x + spatial(x, p)
    y = y + temporal(y, p)
    flat = y.double().flatten()
    w = torch.cos(0.05 * torch.arange(flat.numel(), dtype=torch.float64))
    print(f"sum {flat.sum().item():.6f}")
    print(f"sum_sq {(flat ** 2).sum().item():.6f}")
    print(f"weighted {(flat * w).sum().item():.6f}")
    idx = [0, 77, 1234, 2999, 3840 - 1]
    print("values", [f"{flat[j].item():.6f}" for j in idx])


if __name__ == "__main__":
    main()
