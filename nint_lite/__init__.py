"""nint_lite — learn and use NINT (NTK-guided implicit neural teaching).

The public API, flat: `import nint_lite as nl` then `nl.load_image`, `nl.make_model`, `nl.fit` …
See README.md for the notebook series that builds each piece.
"""
from . import checks, metrics, models, ntk, plots, samplers, schedules, signals, train, widgets
from .metrics import chamfer, iou, psnr, si_snr, ssim
from .models import RECOMMENDED_LR, make_model
from .samplers import make_sampler
from .signals import (Signal, grid, load_audio, load_image, load_shape, sample_signal, save_ply,
                      to_mesh, to_wav)
from .train import History, compare, fit, load_checkpoint, predict, resolve_device

__version__ = "0.1.0"

__all__ = ["Signal", "grid", "load_image", "load_audio", "load_shape", "to_wav", "to_mesh",
           "save_ply", "sample_signal", "make_model", "RECOMMENDED_LR",
           "psnr", "ssim", "si_snr", "iou", "chamfer", "make_sampler", "fit", "compare", "load_checkpoint", "History", "predict",
           "resolve_device", "checks", "metrics", "models", "ntk", "plots", "samplers", "schedules",
           "signals", "train", "widgets"]
