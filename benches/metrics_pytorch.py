"""The Well's torch metrics (VRMSE + binned spectral NMSE) on the benchmark data.

Usage: python benches/metrics_pytorch.py DATA_DIR [--write] [--repeats R]
  --write   first writes the data: DATA_DIR/{pred,target}.f32, little-endian f32 in
            phystok's layout (batch=CHUNK, channels=4, time=1, 128, 128), seeded.
The benchmark covers 4096 samples x 4 fields at 128x128 as N_CHUNKS chunks of CHUNK samples
(the same chunk each time; the torch code's one-hot binning needs ~1 GB per 64 samples).
Prints one JSON line: median seconds and the mean VRMSE / NEPS for a cross-check.
"""

import json
import os
import sys
import time
import types

import numpy as np
import torch

_plots = types.ModuleType("the_well.benchmark.metrics.plottable_data")
for _n in ["field_histograms", "make_video", "plot_all_time_metrics", "plot_power_spectrum_by_field"]:
    setattr(_plots, _n, None)
sys.modules.setdefault("the_well.benchmark.metrics.plottable_data", _plots)
from the_well.benchmark.metrics import VRMSE, binned_spectral_mse  # noqa: E402

CHUNK, N_CHUNKS, C, H, W = 64, 64, 4, 128, 128


def write(data_dir):
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    target = np.empty((CHUNK, C, 1, H, W), dtype=np.float32)
    for b in range(CHUNK):
        for c in range(C):
            kx, ky = rng.integers(1, 6, size=2)
            smooth = np.sin(2 * np.pi * (kx * xx / W + ky * yy / H) + rng.uniform(0, 6.3))
            target[b, c, 0] = smooth + 0.3 * rng.standard_normal((H, W))
    pred = target + 0.2 * rng.standard_normal(target.shape).astype(np.float32)
    os.makedirs(data_dir, exist_ok=True)
    target.astype("<f4").tofile(os.path.join(data_dir, "target.f32"))
    pred.astype("<f4").tofile(os.path.join(data_dir, "pred.f32"))


def main():
    data_dir = sys.argv[1]
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    if "--write" in sys.argv:
        write(data_dir)
    if repeats == 0:
        return
    torch.set_num_threads(2)
    load = lambda n: np.fromfile(os.path.join(data_dir, n), dtype="<f4").reshape(CHUNK, C, 1, H, W)
    # the_well's layout (batch, time, h, w, channels), made once outside the timing
    to_well = lambda a: torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, 1, -1)))
    x, y = to_well(load("pred.f32")), to_well(load("target.f32"))
    meta = types.SimpleNamespace(n_spatial_dims=2)
    times, result = [], None
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            vr, nl, nm, nh = 0.0, 0.0, 0.0, 0.0
            for _ in range(N_CHUNKS):
                v = VRMSE.eval(x, y, meta)
                s = binned_spectral_mse.eval(x, y, meta)
                vr += v.mean().item()
                nl += s["spectral_error_nmse_per_bin_0"].mean().item()
                nm += s["spectral_error_nmse_per_bin_1"].mean().item()
                nh += s["spectral_error_nmse_per_bin_2"].mean().item()
            times.append(time.perf_counter() - t0)
            result = [r / N_CHUNKS for r in (vr, nl, nm, nh)]
    print(json.dumps({
        "impl": "the_well torch", "threads": torch.get_num_threads(),
        "frames": CHUNK * N_CHUNKS * C, "median_s": float(np.median(times)), "times_s": times,
        "vrmse": result[0], "neps_low": result[1], "neps_mid": result[2], "neps_high": result[3],
    }))


if __name__ == "__main__":
    main()
