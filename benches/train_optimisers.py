"""PyTorch side of benches/train_optimisers.rs: the SOAP re-statement of
tests/reference/train_optimisers.py (same operations as nikhilvyas/SOAP soap.py) and
torch.optim.AdamW on the paper tokeniser's shapes, CPU, fixed gradients.

Usage: python benches/train_optimisers.py [threads]   (after the Rust bench wrote the shapes)
"""
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "reference"))
from train_optimisers import SoapRef  # noqa: E402

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
shapes = json.load(open(os.path.join(os.path.dirname(__file__), "..", "target", "train_optimisers_shapes.json")))
params = []
for i, shape in enumerate(shapes):
    n = math.prod(shape)
    p = torch.zeros(shape, requires_grad=True)
    p.grad = torch.sin(torch.arange(n, dtype=torch.float32) * 0.007 + i * 0.013).reshape(shape)
    params.append(p)


def timed(fn, n):
    out = []
    for _ in range(n):
        s = time.perf_counter()
        fn()
        out.append((time.perf_counter() - s) * 1e3)
    return out


adamw = torch.optim.AdamW(params, lr=5e-5, betas=(0.9, 0.999), eps=1e-10, weight_decay=1e-4, foreach=False)
adamw.step()
print(f"torch adamw step: median {statistics.median(timed(adamw.step, 7)):.1f} ms")
soap = SoapRef(params, 5e-4, 0.95, 0.95, 1e-8, 0.01, 10)
print(f"torch soap first step (eigh): {timed(soap.step, 1)[0]:.1f} ms")
plain, refresh = [], []
for call in range(1, 21):
    ms = timed(soap.step, 1)[0]
    (refresh if call % 10 == 0 else plain).append(ms)
print(f"torch soap step: median {statistics.median(plain):.1f} ms; with QR refresh: median {statistics.median(refresh):.1f} ms")
