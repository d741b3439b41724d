"""PyTorch twin of benches/baselines.rs: one training step (forward, backward, AdamW) of
The Well's own FNO (the_well.benchmark.models.FNO, wrapping neuraloperator's FNO, which is
built directly where the installed neuraloperator refuses the wrapper's arguments) and
UNetConvNext, same shapes and thread count. Prints `name median_ms min_ms params`.

Usage: python benches/baselines_pytorch.py [repeats] [threads]

the_well imports timm (for DropPath, unused at drop_path 0) and huggingface_hub (a mixin
for hub uploads) at package import; neither is installed with the-well's benchmark
dependencies here (timm needs torchvision), so both are stubbed before the import.
"""
import sys
import time
import types

import torch
import torch.nn as nn


def stub_optional_imports():
    layers = types.ModuleType("timm.models.layers")
    layers.DropPath = lambda p=0.0: nn.Identity()
    layers.trunc_normal_ = nn.init.trunc_normal_
    for name in ["timm", "timm.models"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules.setdefault("timm.models.layers", layers)
    sys.modules.setdefault("timm.layers", layers)
    hub = types.ModuleType("huggingface_hub")

    class PyTorchModelHubMixin:
        def __init_subclass__(cls, **kwargs):
            pass

    hub.PyTorchModelHubMixin = PyTorchModelHubMixin
    sys.modules.setdefault("huggingface_hub", hub)


repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
try:
    import huggingface_hub  # noqa: F401
    import timm  # noqa: F401
except ImportError:
    stub_optional_imports()
from the_well.benchmark.models import FNO, UNetConvNext  # noqa: E402

BATCH, IN, OUT, GRID = 4, 8, 2, 64
torch.manual_seed(0)
xs = torch.randn(BATCH, IN, GRID, GRID)
target = torch.randn(BATCH, OUT, GRID, GRID)


def time_steps(name, model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    params = sum(p.numel() for p in model.parameters())
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = ((model(xs) - target) ** 2).mean()
        loss.backward()
        opt.step()
        if i > 0:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"{name} {times[len(times) // 2]:.1f} {times[0]:.1f} {params}")


try:
    fno = FNO(dim_in=IN, dim_out=OUT, n_spatial_dims=2, spatial_resolution=(GRID, GRID),
              modes1=16, modes2=16, hidden_channels=32)
except TypeError:
    # the_well 1.2's wrapper passes `gradient_checkpointing` on to neuraloperator's FNO,
    # which neuraloperator 2.0 refuses: build the model it wraps, with the same arguments
    from neuralop.models import FNO as NeuralopFNO
    fno = NeuralopFNO(n_modes=(16, 16), in_channels=IN, out_channels=OUT, hidden_channels=32)
time_steps("fno_step", fno)
time_steps(
    "unet_convnext_step",
    UNetConvNext(dim_in=IN, dim_out=OUT, n_spatial_dims=2, spatial_resolution=(GRID, GRID),
                 stages=4, blocks_per_stage=1, blocks_at_neck=1, init_features=16),
)
