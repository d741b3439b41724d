"""PhysiX AR model in PyTorch, the shapes of benches/physix.rs: ArConfig::small() (width 96,
3 layers, 4 heads of 24, MLP ratio 4, vocabulary 1,000; pre-norm LayerNorm, qkv without
bias, interleaved 3-D RoPE (time 8, height 8, width 8 features per head), causal
attention, GELU), batch 8, a 3 x 8 x 8 token grid. One training step (cross-entropy,
forward + backward) and greedy generation of 64 tokens after a 128-token prompt with a KV
cache.

Prints `physix_ar_step median_ms M min_ms m` and `physix_generate median_ms M tokens_per_s T`.
Usage: python benches/physix_pytorch.py [repeats]   (threads from OMP_NUM_THREADS / RAYON_NUM_THREADS)
"""
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(os.environ.get("RAYON_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2")))
torch.set_num_threads(threads)
torch.manual_seed(0)

DIM, LAYERS, HEADS, VOCAB, GRID = 96, 3, 4, 1000, (3, 8, 8)
HD = DIM // HEADS


def rope_tables(grid, theta=10000.0):
    sp = 2 * (HD // 6)
    dims = [HD - 2 * sp, sp, sp]
    t, h, w = grid
    cos, sin = [], []
    for n in range(t * h * w):
        pos = [n // (h * w), (n // w) % h, n % w]
        ang = []
        for a in range(3):
            d = dims[a]
            ang += [pos[a] * theta ** (-(2.0 * i) / d) for i in range(d // 2)]
        ang = torch.tensor(ang)
        cos.append(torch.cos(ang))
        sin.append(torch.sin(ang))
    return torch.stack(cos), torch.stack(sin)


def rope(x, cos, sin):
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], -1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM)
        self.qkv = nn.Linear(DIM, 3 * DIM, bias=False)
        self.out = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, 4 * DIM)
        self.fc2 = nn.Linear(4 * DIM, DIM)

    def forward(self, x, cos, sin, cache=None):
        b, n, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(DIM, -1)
        q, k, v = (t.view(b, n, HEADS, HD).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        a = F.scaled_dot_product_attention(q, k, v, is_causal=(n > 1))
        x = x + self.out(a.transpose(1, 2).reshape(b, n, DIM))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Ar(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, VOCAB)
        self.cos, self.sin = rope_tables(GRID)

    def forward(self, tokens, start=0, caches=None):
        n = tokens.shape[1]
        cos, sin = self.cos[start:start + n], self.sin[start:start + n]
        x = self.embed(tokens)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, None if caches is None else caches[i])
        return self.head(self.norm(x))


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    model = Ar()
    b, n = 8, 192
    tokens = (torch.arange(b * n) * 7919 % 1000).view(b, n)

    def step():
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        model.zero_grad(set_to_none=True)
        loss.backward()

    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(f"physix_ar_step median_ms {times[len(times) // 2]:.2f} min_ms {times[0]:.2f}")

    prompt = tokens[:, :128]

    @torch.no_grad()
    def generate(k):
        caches = [dict() for _ in range(LAYERS)]
        logits = model(prompt, 0, caches)
        pos = 128
        out = []
        for i in range(k):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            if i + 1 == k:
                break
            logits = model(nxt, pos, caches)
            pos += 1
        return torch.cat(out, 1)

    generate(8)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        generate(64)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    med = times[len(times) // 2]
    print(f"physix_generate median_ms {med:.2f} tokens_per_s {b * 64 / (med / 1e3):.0f}")


if __name__ == "__main__":
    main()
