"""The Well's twin of benches/data.rs: windows per second read, normalised and batched.

Reads the dataset written by benches/data.rs (DIR/bench_well) with the_well's
WellDataset(n_steps_input=9, n_steps_output=1, use_normalization=False), normalises each
sample by its samplewise RMS per field over all 10 time steps and pixels (clamped at 1e-7,
the paper's Appendix C, as phystok's SampleRms with RmsGrouping::PerField), and batches with
torch's DataLoader(batch_size=2, shuffled). The normalisation runs inside the dataset's
__getitem__, so DataLoader workers share it.

Usage: python benches/data_thewell.py DIR [windows] [repeats] [warmup] [workers,...]
Threads: torch.set_num_threads($PHYSTOK_TORCH_THREADS, default 2).
Prints one line per worker count: `thewell_workers{k} windows_per_s MEDIAN min MIN max MAX`.
"""

import os
import pathlib
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from the_well.data import WellDataset

NAME = "bench_well"
BATCH = 2
EPS = 1e-7


class RmsNormalised(Dataset):
    """A WellDataset sample as one (time, h, w, channels) window divided by its per-field RMS."""

    def __init__(self, inner, field_of_channel):
        self.inner = inner
        self.field_of_channel = torch.tensor(field_of_channel)
        n_fields = int(self.field_of_channel.max()) + 1
        # (channels, fields) averaging matrix: mean square of a field = mean over its channels
        g = torch.zeros(len(field_of_channel), n_fields)
        g[torch.arange(len(field_of_channel)), self.field_of_channel] = 1.0
        self.g = g / g.sum(0, keepdim=True)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        s = self.inner[i]
        x = torch.cat([s["input_fields"], s["output_fields"]], dim=0)  # (T, H, W, C)
        ms = x.square().mean(dim=(0, 1, 2))  # (C,)
        rms = (ms @ self.g).sqrt().clamp_min(EPS)[self.field_of_channel]  # per field -> (C,)
        return x / rms


def field_of_channel(ds):
    """Field index of each channel: metadata lists component names, D**order per field."""
    out = []
    for order, names in ds.metadata.field_names.items():
        per_field = ds.metadata.n_spatial_dims**order
        first = len(set(out))
        out.extend(first + c // per_field for c in range(len(names)))
    return out


def time_loader(ds, workers, seed, warmup, n_batches):
    g = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(ds, replacement=False, num_samples=(warmup + n_batches) * BATCH, generator=g)
    loader = DataLoader(ds, batch_size=BATCH, sampler=sampler, num_workers=workers)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    elapsed = time.perf_counter() - start
    del it
    return elapsed


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = pathlib.Path(args[0])
    windows = int(args[1]) if len(args) > 1 else 400
    repeats = int(args[2]) if len(args) > 2 else 5
    warmup = int(args[3]) if len(args) > 3 else 4
    worker_counts = [int(k) for k in args[4].split(",")] if len(args) > 4 else [0, 1, 2]
    torch.set_num_threads(int(os.environ.get("PHYSTOK_TORCH_THREADS", "2")))
    path = root / NAME
    for f in sorted((path / "data" / "train").glob("*.hdf5")):
        f.read_bytes()  # warm the page cache, as the Rust side does
    inner = WellDataset(path=str(path), well_split_name="train", n_steps_input=9, n_steps_output=1, use_normalization=False)
    ds = RmsNormalised(inner, field_of_channel(inner))
    n_batches = windows // BATCH
    for workers in worker_counts:
        rates = sorted(n_batches * BATCH / time_loader(ds, workers, r, warmup, n_batches) for r in range(repeats))
        print(
            f"thewell_workers{workers} windows_per_s {rates[len(rates) // 2]:.2f} min {rates[0]:.2f} "
            f"max {rates[-1]:.2f} ({n_batches * BATCH} windows x {repeats} repeats)",
            flush=True,
        )


if __name__ == "__main__":
    main()
