"""nint_lite — learn and use NINT (NTK-guided implicit neural teaching).

The public API, flat: `import nint_lite as nl`, then nl.load_image, nl.make_model, nl.fit …
The core (this folder's modules) is what notebooks 01–05 build; the extras are subpackages:
nl.baselines, nl.shapes, nl.beyond (light, imported here: they register their samplers, signals
and scores), and nl.classroom (nl.checks, nl.widgets) and nl.lab (nl.compare, benchmarks, CLI),
imported on first use so that `import nint_lite` stays quick. See README.md for the series,
which starts at notebooks/00_start_here.ipynb.
"""
import importlib

from . import device, metrics, models, ntk, plots, samplers, schedules, signals, train
from . import baselines, beyond, shapes  # the light extras: they register with the core
from .device import resolve as resolve_device
from .metrics import psnr, si_snr, ssim
from .models import DEFAULTS, RECOMMENDED_LR, make_model
from .samplers import Sampler, Selection, make_sampler
from .shapes import chamfer, iou, load_shape, save_ply, to_mesh
from .signals import Signal, grid, load_audio, load_image, sample_signal, to_wav
from .train import History, fit, load_checkpoint, predict, save_checkpoint, train_step

__version__ = "0.1.0"

# name -> module that defines it, imported on first use (they pull in ipywidgets, nbformat …)
_LAZY = {"checks": "nint_lite.classroom.checks", "widgets": "nint_lite.classroom.widgets",
         "classroom": "nint_lite.classroom", "lab": "nint_lite.lab",
         "compare": "nint_lite.lab.compare", "Comparison": "nint_lite.lab.compare",
         "results_path": "nint_lite.lab.compare"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'nint_lite' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = getattr(module, name) if module.__name__ == "nint_lite.lab.compare" else module
    globals()[name] = value  # cache: the next access is a plain attribute
    return value


__all__ = ["Signal", "grid", "load_image", "load_audio", "load_shape", "to_wav", "to_mesh",
           "save_ply", "sample_signal", "make_model", "DEFAULTS", "RECOMMENDED_LR", "psnr", "ssim",
           "si_snr", "iou", "chamfer", "make_sampler", "Sampler", "Selection", "fit", "train_step",
           "compare", "Comparison", "results_path", "save_checkpoint", "load_checkpoint", "History", "predict",
           "resolve_device", "device", "checks", "widgets", "classroom", "lab", "baselines",
           "beyond", "shapes", "metrics", "models", "ntk", "plots", "samplers", "schedules",
           "signals", "train"]
