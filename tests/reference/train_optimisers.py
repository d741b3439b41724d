"""Reference numbers for tests/train.rs: SOAP (re-stated from the algorithm of
nikhilvyas/SOAP soap.py, with torch.linalg.eigh / qr) and torch.optim.AdamW, on one small
deterministic problem.

Run: ~/.cache/phystok/the-well-venv/bin/python tests/reference/train_optimisers.py

Problem (full batch, float32): x (8, 4), y (8, 4) from sin/cos formulas (with an i*j term: sin(a_i + b_j) alone has rank 2); variables
W (4, 4), b (4,), T (2, 3, 2);  loss = mean((x W + b - y)^2) + 0.5 * sum(w * T^2).
W is square and T's unfoldings have full row rank so every Shampoo statistic is full rank
(a rank-deficient one has a null direction whose Adam update is decided by rounding).
"""
import math
import torch

torch.set_default_dtype(torch.float32)


def problem():
    x = torch.tensor([[math.sin(0.7 * i + 1.3 * j + 0.4 * i * j + 0.1) for j in range(4)] for i in range(8)])
    y = torch.tensor([[math.cos(0.5 * i - 0.9 * j + 0.3 * i * j) for j in range(4)] for i in range(8)])
    w0 = torch.tensor([[0.1 * (j - k) + 0.05 * math.sin(j * 4 + k) for k in range(4)] for j in range(4)])
    b0 = torch.tensor([0.01 * k for k in range(4)])
    t0 = torch.tensor([0.2 * math.sin(0.9 * n + 0.3) for n in range(12)]).reshape(2, 3, 2)
    wt = torch.tensor([1.0 + 0.1 * n for n in range(12)]).reshape(2, 3, 2)
    return x, y, w0, b0, t0, wt


def loss_fn(params, x, y, wt):
    w, b, t = params
    return ((x @ w + b - y) ** 2).mean() + 0.5 * (wt * t * t).sum()


# ---- SOAP, restated: per-dimension Shampoo statistics, Adam in the eigenbasis ----------
class SoapRef:
    def __init__(self, params, lr, b1, b2, eps, wd, freq, max_dim=10000):
        self.params, self.lr, self.b1, self.b2, self.eps, self.wd, self.freq = params, lr, b1, b2, eps, wd, freq
        self.max_dim = max_dim
        self.state = [None] * len(params)

    def rotate(self, x, qs, back):
        for q in qs:
            if q is None:
                x = x.permute(*range(1, x.dim()), 0)
            else:  # contract axis 0 with q (or q^T), new axis last
                x = torch.tensordot(x, q, dims=([0], [1] if back else [0]))
        return x

    def outer(self, g, i):
        gi = g.movedim(i, 0).reshape(g.shape[i], -1)
        return gi @ gi.T

    def update_gg(self, st, g):
        for i, m in enumerate(st["gg"]):
            if m is not None:
                m.lerp_(self.outer(g, i), 1 - self.b2)

    @torch.no_grad()
    def step(self):
        for k, p in enumerate(self.params):
            g = p.grad
            st = self.state[k]
            if st is None:
                pre = [g.dim() > 1 and d <= self.max_dim for d in g.shape]
                st = {"step": 0, "m": torch.zeros_like(g), "v": torch.zeros_like(g),
                      "gg": [torch.zeros(d, d) if c else None for d, c in zip(g.shape, pre)]}
                self.update_gg(st, g)
                st["q"] = [None if m is None else torch.flip(torch.linalg.eigh(m + 1e-30 * torch.eye(m.shape[0]))[1], [1])
                           for m in st["gg"]]
                self.state[k] = st
                continue  # no update on the first step
            gr = self.rotate(g, st["q"], False)
            st["step"] += 1
            t = st["step"]
            st["m"].mul_(self.b1).add_(gr, alpha=1 - self.b1)
            st["v"].mul_(self.b2).add_(gr.square(), alpha=1 - self.b2)
            denom = st["v"].sqrt().add_(self.eps)
            step_size = self.lr * (1 - self.b2 ** t) ** 0.5 / (1 - self.b1 ** t)
            p.add_(self.rotate(st["m"] / denom, st["q"], True), alpha=-step_size)
            p.add_(p, alpha=-self.lr * self.wd)
            m_orig = self.rotate(st["m"], st["q"], True)
            self.update_gg(st, g)
            if t % self.freq == 0:
                v = st["v"]
                new_q = []
                for i, (m, q) in enumerate(zip(st["gg"], st["q"])):
                    if m is None:
                        new_q.append(None)
                        continue
                    order = torch.argsort(torch.diag(q.T @ m @ q), descending=True)
                    v = v.index_select(i, order)
                    new_q.append(torch.linalg.qr(m @ q[:, order])[0])
                st["v"], st["q"] = v, new_q
            st["m"] = self.rotate(m_orig, st["q"], False)


def run(make_opt, steps, clip=None):
    x, y, w0, b0, t0, wt = problem()
    params = [w0.clone().requires_grad_(), b0.clone().requires_grad_(), t0.clone().requires_grad_()]
    opt = make_opt(params)
    losses = []
    for _ in range(steps):
        for p in params:
            p.grad = None
        loss = loss_fn(params, x, y, wt)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        losses.append(loss.item())
        opt.step()
    return losses, params


def switching_gradients(steps):
    """Gradients M1 diag(d_s) M2 of the linear loss sum(C_s * P) whose spectrum reverses
    at step 6, so that the eigenvalue-estimate sort must permute the bases."""
    m1 = torch.tensor([[math.sin(1.1 * i + 0.7 * j + 0.5 * i * j + 0.2) for j in range(4)] for i in range(4)])
    m2 = torch.tensor([[math.cos(0.3 * i - 1.7 * j + 0.6 * i * j) for j in range(4)] for i in range(4)])
    out = []
    for s in range(steps):
        d = [1.0, 0.5, 0.25, 0.1] if s < 6 else [0.1, 0.25, 0.5, 1.0]
        out.append(m1 @ torch.diag(torch.tensor(d)) @ m2)
    return out


def run_switching(steps, freq):
    p = torch.tensor([[0.1 * (j - k) + 0.05 * math.sin(j * 4 + k) for k in range(4)] for j in range(4)])
    p.requires_grad_()
    opt = SoapRef([p], 0.05, 0.95, 0.95, 1e-4, 0.01, freq)
    for c in switching_gradients(steps):
        p.grad = c.clone()
        opt.step()
    return p


def show(name, losses, params):
    print(f"// {name}")
    print("losses:", ", ".join(f"{v:.8e}" for v in losses))
    for n, p in zip(["w", "b", "t"], params):
        print(f"{n}:", ", ".join(f"{v:.8e}" for v in p.detach().flatten().tolist()))


if __name__ == "__main__":
  # eps 1e-4: after the first step a matrix's rotated gradient is diagonal (its bases are
  # its singular vectors), so the off-diagonal entries are rounding noise (~1e-9) that
  # Adam with eps 1e-8 would turn into visible steps; a larger eps makes them negligible.
  show("soap lr 0.05 betas (0.95, 0.95) eps 1e-4 wd 0.01 freq 5, 16 steps",
     *run(lambda ps: SoapRef(ps, 0.05, 0.95, 0.95, 1e-4, 0.01, 5), 16))
  counted = []
  argsort = torch.argsort
  torch.argsort = lambda x, descending=False: counted.append(argsort(x, descending=descending)) or counted[-1]
  p = run_switching(20, 3)
  torch.argsort = argsort
  moved = sum(not torch.equal(o, torch.arange(len(o))) for o in counted)
  print(f"// soap on switching gradients, 20 steps, freq 3: {moved} of {len(counted)} sorts permuted")
  print("p:", ", ".join(f"{v:.8e}" for v in p.detach().flatten().tolist()))
  show("torch.optim.AdamW groups [w, b] lr 0.05 wd 0.01; [t] lr 0.025 wd 0.1; betas (0.9, 0.999) eps 1e-8; clip 0.5; 10 steps",
     *run(lambda ps: torch.optim.AdamW([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.025, "weight_decay": 0.1}],
                                       lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), 10, clip=0.5))
