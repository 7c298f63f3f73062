"""The baselines NINT is compared with, each behind the core Sampler interface.

    egra       EGRA: Canny edges shifted 6–9 pixels, weighted sampling (as in the EVOS/NINT tables)
    soft       Soft Mining (CVPR 2024): Langevin-moved positions + importance weights, grid-snapped
    evos       EVOS (CVPR 2025): key iterations on all N, error + Laplacian fitness, mutation
    expansive  Expansive Supervision (ICME 2025): edge anchors (half the budget) + uniform

Importing this package registers them with nint_lite.samplers.register, so
make_sampler("egra") works (nint_lite's __init__ imports it). Every baseline runs on any regular
grid — images, audio (N,), volumes (D, H, W); see edges.py for how the image methods generalise.

Built in notebooks/04_errors_to_scores.ipynb; compared in notebooks/07_benchmark.ipynb.
"""
from ..samplers import register
from .edges import canny_edges, gradient_magnitude
from .egra import EGRA
from .evos import EVOS, evos_is_key
from .expansive import Expansive
from .soft_mining import SoftMining, soft_exponent

for _cls in (EGRA, SoftMining, EVOS, Expansive):
    register(_cls)

__all__ = ["EGRA", "SoftMining", "EVOS", "Expansive", "canny_edges", "gradient_magnitude",
           "evos_is_key", "soft_exponent"]
