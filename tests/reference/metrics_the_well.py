"""Expected numbers for tests/metrics.rs from The Well's own metric code.

Run:  ~/.cache/phystok/the-well-venv/bin/python tests/reference/metrics_the_well.py
Writes tests/reference/metrics_expected.json next to this file.

Fixture data is generated from a 32-bit LCG (exact integer arithmetic), so the Rust test
rebuilds bit-identical f32 inputs: value(seed, idx) for a flat index in the layout
(batch, time, channel, *spatial) row-major, i.e. idx = ((b*T + t)*C + c)*N + p.

  lcg(s) = (1664525*s + 1013904223) mod 2^32
  noise(seed, idx) = lcg(lcg(seed*2654435761 + idx mod 2^32)) / 2^32 - 0.5      (in [-0.5, 0.5))
  target = smooth(b, t, c, coords) + 0.3*noise(1, idx)     cast to f32
  pred   = target + 0.2*noise(2, idx) + 0.1*smooth2(...)   cast to f32

The metrics are evaluated in float64 (torch.float64) on those f32 values, the way
phystok evaluates them, with the_well.benchmark.metrics.VRMSE / MSE / MAE / NRMSE /
LInfinity / binned_spectral_mse.
"""

import json
import math
import os
import types

import sys

import numpy as np
import torch

# the_well.benchmark.metrics/__init__.py imports its plotting helpers, which need matplotlib
# (not installed in the reference venv). The metric code does not use them: stub them out.
_plots = types.ModuleType("the_well.benchmark.metrics.plottable_data")
for _name in ["field_histograms", "make_video", "plot_all_time_metrics", "plot_power_spectrum_by_field"]:
    setattr(_plots, _name, None)
sys.modules.setdefault("the_well.benchmark.metrics.plottable_data", _plots)

from the_well.benchmark.metrics import MAE, MSE, NRMSE, VRMSE, LInfinity, binned_spectral_mse

M32 = 2**32


def lcg(s):
    return (1664525 * s + 1013904223) % M32


def noise(seed, idx):
    return lcg(lcg((seed * 2654435761 + idx) % M32)) / M32 - 0.5


def fixture(batch, time, channels, spatial):
    n = int(np.prod(spatial))
    coords = np.stack(np.unravel_index(np.arange(n), spatial), axis=-1)  # (n, d)
    target = np.zeros((batch, time, channels, n), dtype=np.float64)
    pred = np.zeros_like(target)
    for b in range(batch):
        for t in range(time):
            for c in range(channels):
                for p in range(n):
                    idx = ((b * time + t) * channels + c) * n + p
                    phase = sum(
                        2 * math.pi * (1 + c + d) * coords[p, d] / spatial[d]
                        for d in range(len(spatial))
                    )
                    smooth = math.sin(phase + 0.3 * t + b) + 0.5 * c
                    smooth2 = math.cos(2 * math.pi * coords[p, 0] / spatial[0] + 0.1 * t)
                    y = np.float32(smooth + 0.3 * noise(1, idx))
                    x = np.float32(float(y) + 0.2 * noise(2, idx) + 0.1 * smooth2)
                    target[b, t, c, p] = y
                    pred[b, t, c, p] = x
    return pred, target


def edge_margin(spatial):
    """Smallest relative gap between any |k| (float32, as torch) and an inner band edge."""
    d = len(spatial)
    k2 = np.zeros(spatial, dtype=np.float32)
    for i, n in enumerate(spatial):
        wn = (2 * np.pi * np.fft.fftfreq(n)).astype(np.float32)
        shape = [1] * d
        shape[i] = n
        k2 += wn.reshape(shape) ** 2
    k = np.sqrt(k2).ravel().astype(np.float64)
    edges = np.logspace(np.log10(2 * np.pi / max(spatial)), np.log10(np.pi * np.sqrt(d) + 1e-6), 4)
    return float(min(np.min(np.abs(k - e) / e) for e in edges[1:3]))


CASES = [
    ("square_16x16", 2, 3, 2, (16, 16)),
    ("wide_10x24", 2, 2, 3, (10, 24)),
    ("tall_24x10", 1, 2, 2, (24, 10)),
    ("cube_8x6x10", 1, 2, 2, (8, 6, 10)),
]


def main():
    out = {"cases": []}
    for name, batch, time, channels, spatial in CASES:
        pred, target = fixture(batch, time, channels, spatial)
        # the_well layout: (batch, time, *spatial, channels)
        to_well = lambda a: torch.from_numpy(
            np.moveaxis(a.reshape(batch, time, channels, *spatial), 2, -1).copy()
        )
        x, y = to_well(pred), to_well(target)
        meta = types.SimpleNamespace(n_spatial_dims=len(spatial))
        spec = binned_spectral_mse.eval(x, y, meta)
        flat = lambda v: v.reshape(-1).tolist()  # (batch, time, channels) row-major
        out["cases"].append(
            {
                "name": name,
                "batch": batch,
                "time": time,
                "channels": channels,
                "spatial": list(spatial),
                "edge_margin": edge_margin(spatial),
                "vrmse": flat(VRMSE.eval(x, y, meta)),
                "mse": flat(MSE.eval(x, y, meta)),
                "mae": flat(MAE.eval(x, y, meta)),
                "nrmse": flat(NRMSE.eval(x, y, meta)),
                "linf": flat(LInfinity.eval(x, y, meta)),
                "mse_per_bin": [flat(spec[f"spectral_error_mse_per_bin_{i}"]) for i in range(3)],
                "nmse_per_bin": [flat(spec[f"spectral_error_nmse_per_bin_{i}"]) for i in range(3)],
            }
        )
        assert out["cases"][-1]["edge_margin"] > 1e-4, name
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_expected.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
