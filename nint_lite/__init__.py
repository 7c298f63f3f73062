"""nint_lite — learn and use NINT (NTK-guided implicit neural teaching).

The public API, flat: `import nint_lite as nl` then `nl.load_image`, `nl.make_model`, `nl.fit` …
See README.md for the notebook series that builds each piece.
"""
from . import checks, metrics, models, ntk, plots, samplers, schedules, signals, train, widgets
from .metrics import psnr, ssim
from .models import RECOMMENDED_LR, make_model
from .samplers import make_sampler
from .signals import Signal, grid, load_image, sample_signal
from .train import History, compare, fit, load_checkpoint, predict, resolve_device

__version__ = "0.1.0"

__all__ = ["Signal", "grid", "load_image", "sample_signal", "make_model", "RECOMMENDED_LR",
           "psnr", "ssim", "make_sampler", "fit", "compare", "load_checkpoint", "History", "predict",
           "resolve_device", "checks", "metrics", "models", "ntk", "plots", "samplers", "schedules",
           "signals", "train", "widgets"]
