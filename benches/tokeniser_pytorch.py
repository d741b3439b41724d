"""The same tokeniser step in PyTorch (CPU), for benches/tokeniser.sh.

Mirrors phystok's architecture exactly (src/tokeniser, src/nn): causal 3x3x3 convs (k_t - 1
leading zero frames, symmetric spatial padding), pre-activation residual blocks
x + conv2(silu(norm(conv1(silu(norm(x)))))) (the norm a per-frame group norm in the paper
preset, none in small), adaptive field heads (columns selected and scaled by
sqrt(c_total / c_active); decoder rows selected), flexible strided downsampling with the
base kernel resized by A^T (linear interpolation with extrapolation), depth-to-space
upsampling with the kept channels of the base kernel, discarding the first s_t - 1 frames.
Times one training step (forward, MSE, backward) at 9 frames, 64x64, batch 2, 4 active
fields, validation compression (1,2),(2,2),(2,2); and the 16->16 3x3x3 conv alone.

Run: ~/.cache/phystok/the-well-venv/bin/python benches/tokeniser_pytorch.py [repeats]
"""
import math
import os
import statistics
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
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


def causal_conv(x, w, b, st=1, ss=1, pad=True):
    kt, ks = w.shape[2], w.shape[3]
    p = ks // 2 if pad else 0
    x = F.pad(x, (p, p, p, p, kt - 1, 0))
    return F.conv3d(x, w, b, stride=(st, ss, ss))


def conv_param(cout, cin, kt, ks):
    fan = cin * kt * ks * ks
    bound = 1 / math.sqrt(fan)
    w = nn.Parameter(torch.empty(cout, cin, kt, ks, ks).uniform_(-bound, bound))
    b = nn.Parameter(torch.empty(cout).uniform_(-bound, bound))
    return w, b


class Conv(nn.Module):
    def __init__(self, cin, cout, k=3):
        super().__init__()
        self.w, self.b = conv_param(cout, cin, k, k)

    def forward(self, x):
        return causal_conv(x, self.w, self.b)


class FrameGroupNorm(nn.Module):
    """phystok's ResidualNorm::GroupPerFrame: a group norm over each frame's (C/G, H, W)."""

    def __init__(self, c, groups):
        super().__init__()
        self.groups = groups
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        b, c, t, h, w = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        y = F.group_norm(y, self.groups, self.weight, self.bias, eps=1e-6)
        return y.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)


class Res(nn.Module):
    def __init__(self, c, groups=None):
        super().__init__()
        self.c1, self.c2 = Conv(c, c), Conv(c, c)
        self.n1 = FrameGroupNorm(c, groups) if groups else nn.Identity()
        self.n2 = FrameGroupNorm(c, groups) if groups else nn.Identity()

    def forward(self, x):
        return x + self.c2(F.silu(self.n2(self.c1(F.silu(self.n1(x))))))


def interp(base_n, new_n, corners):
    a = torch.zeros(base_n, new_n)
    for i in range(base_n):
        if new_n == 1:
            a[i, 0] = 1
            continue
        u = i * (new_n - 1) / (base_n - 1) if corners else (i + 0.5) * new_n / base_n - 0.5
        j0 = min(max(int(math.floor(u)), 0), new_n - 2)
        f = u - j0
        a[i, j0], a[i, j0 + 1] = 1 - f, f
    return a


def kt_of(st):
    return 1 + st if st > 1 else 1


class Down(nn.Module):
    def __init__(self, cin, cout, base):
        super().__init__()
        self.base = base
        self.w, self.b = conv_param(cout, cin, kt_of(base[0]), base[1])

    def forward(self, x, f):
        w = self.w
        if f != self.base:
            a_t = interp(kt_of(self.base[0]), kt_of(f[0]), True)
            a_s = interp(self.base[1], f[1], False)
            w = torch.einsum("oityx,tu,yv,xw->oiuvw", w, a_t, a_s, a_s)
        return causal_conv(x, w, self.b, f[0], f[1], pad=False)


class Up(nn.Module):
    def __init__(self, cin, cout, base):
        super().__init__()
        self.base, self.cout = base, cout
        self.w, self.b = conv_param(cout * base[0] * base[1] ** 2, cin, 3, 3)

    def forward(self, x, f):
        st, ss = self.base
        et, es = st // f[0], ss // f[1]
        keep = [((o * st + a) * ss + b) * ss + c for o in range(self.cout) for a in range(et - 1, st, et)
                for b in range(0, ss, es) for c in range(0, ss, es)]
        keep = torch.tensor(keep)
        y = causal_conv(x, self.w[keep], self.b[keep])
        bsz, _, t, h, w = y.shape
        y = y.reshape(bsz, self.cout, f[0], f[1], f[1], t, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
        y = y.reshape(bsz, self.cout, t * f[0], h * f[1], w * f[1])
        return y[:, :, f[0] - 1:]


class Tokeniser(nn.Module):
    def __init__(self, total_fields, channels, latent, res_blocks, bases, groups=None):
        super().__init__()
        self.total = total_fields
        self.enc_head = Conv(total_fields, channels[0])
        self.enc_levels = nn.ModuleList()
        cin = channels[0]
        for d, cout in enumerate(channels):
            self.enc_levels.append(nn.ModuleList([nn.Sequential(*[Res(cin, groups) for _ in range(res_blocks)]), Down(cin, cout, bases[d])]))
            cin = cout
        self.enc_mid = nn.Sequential(*[Res(cin, groups) for _ in range(res_blocks)])
        self.enc_bottleneck = Conv(cin, latent, 1)
        self.dec_bottleneck = Conv(latent, cin)
        self.dec_mid = nn.Sequential(*[Res(cin, groups) for _ in range(res_blocks)])
        self.dec_levels = nn.ModuleList()
        for d in range(len(channels)):
            cout = channels[0] if d == 0 else channels[d - 1]
            self.dec_levels.append(nn.ModuleList([Up(channels[d], cout, bases[d]), nn.Sequential(*[Res(cout, groups) for _ in range(res_blocks)])]))
        self.dec_head = Conv(channels[0], total_fields)

    def forward(self, x, fields, comp):
        idx = torch.tensor(fields)
        scale = math.sqrt(self.total / len(fields))
        h = causal_conv(x, self.enc_head.w[:, idx] * scale, self.enc_head.b)
        for (blocks, down), f in zip(self.enc_levels, comp):
            h = down(blocks(h), f)
        z = self.enc_bottleneck(self.enc_mid(h))
        h = self.dec_mid(self.dec_bottleneck(z))
        for (up, blocks), f in reversed(list(zip(self.dec_levels, comp))):
            h = blocks(up(h, f))
        return causal_conv(h, self.dec_head.w[idx], self.dec_head.b[idx])


def timed(repeats, fn):
    fn()
    sync()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    use_device()
    print(f"# pytorch {torch.__version__} {DEVICE}, threads {torch.get_num_threads()}")
    # PHYSTOK_BENCH_CONV=0 skips the convolution alone (as benches/tokeniser.rs)
    if os.environ.get("PHYSTOK_BENCH_CONV", "1") != "0":
        x = torch.sin(0.013 * torch.arange(2 * 16 * 9 * 64 * 64, dtype=torch.float32)).reshape(2, 16, 9, 64, 64).requires_grad_()
        w = (0.05 * torch.sin(0.013 * torch.arange(16 * 16 * 27, dtype=torch.float32))).reshape(16, 16, 3, 3, 3).requires_grad_()
        b = torch.zeros(16, requires_grad=True)
        with torch.no_grad():
            fwd, _ = timed(repeats, lambda: causal_conv(x, w, b))
        med, mn = timed(repeats, lambda: causal_conv(x, w, b).square().mean().backward())
        print(f"conv3x3x3_16to16_torch fwd {fwd:.1f} fwd+bwd {med:.1f} min {mn:.1f} n {repeats}")
    presets = {
        # (fields, channels, latent, residual blocks, per-frame norm groups), as
        # TokeniserConfig::small() and ::paper() (the paper's blocks keep a plain group norm)
        "small": (4, [8, 16, 32], 8, 1, None),
        "paper": (18, [16, 32, 64], 18, 4, 8),
    }
    bases = [(1, 2), (2, 4), (2, 4)]
    comp = [(1, 2), (2, 2), (2, 2)]
    xs = torch.sin(0.013 * torch.arange(2 * 4 * 9 * 64 * 64, dtype=torch.float32)).reshape(2, 4, 9, 64, 64)
    wanted = os.environ.get("PHYSTOK_BENCH_PRESETS", "small,paper").split(",")
    for name, (total, channels, latent, res, groups) in presets.items():
        if name not in wanted:
            continue
        torch.manual_seed(0)
        model = Tokeniser(total, channels, latent, res, bases, groups)
        params = sum(p.numel() for p in model.parameters())
        fields = [0, 1, 2, 3]
        with torch.no_grad():
            fwd, _ = timed(repeats, lambda: model(xs, fields, comp))

        def step():
            model.zero_grad(set_to_none=True)
            with autocast():
                loss = ((model(xs, fields, comp) - xs) ** 2).mean()
            loss.backward()

        med, mn = timed(repeats, step)
        print(f"tokeniser_{name} params {params} fwd(no_grad) {fwd:.1f} fwd+bwd {med:.1f} min {mn:.1f} n {repeats}")
        peak_memory_line(f"tokeniser_{name}")


if __name__ == "__main__":
    main()
