"""Self-checks for the exercises: nl.checks.<name>(my_fn) tests the learner's function.

Used by the exercises of notebooks 01–08 (as nl.checks, an alias of nint_lite.classroom.checks).

Each check runs the learner's function on fresh random inputs, compares it with an independent
reference (the package's function, an analytic answer, or an explicit kernel), prints a short
verdict, and raises AssertionError with what differs on failure — naming the plausible mistake
when the answer reproduces one. CI runs them on the solutions.

    make_grid(my_fn)          notebook 01: my_fn(shape) -> (prod(shape), len(shape)) grid in [-1, 1]
    psnr_by_hand(my_fn)       notebook 01: my_fn(pred, target, data_range=1.0) -> dB (float)
    siren_init_bounds(my_fn)  notebook 01: my_fn(fan_in, w0, first) -> SIREN weight bound
    k_times_v(my_fn)          notebook 02: my_fn(model, x, v) -> K v, (N, C)
    jacobian(my_fn)           notebook 02: my_fn(model, x) -> J, (N, C, P)
    k_times_v_chunked(my_fn)  notebook 02: my_fn(model, x, v, chunk_size) -> K v, (N, C)
    self_leverage(my_fn)      notebook 03: my_fn(model, x) -> tr K_ii, (N,)
    coupling_row(my_fn)       notebook 03: my_fn(model, x, q) -> tr K(x_q, x_j), (N,)
    int_selection(my_fn)      notebook 04: my_fn(residual (N, C), B) -> top-B indices by Σ_c |r|
    nint_mix(my_fn)           notebook 04: my_fn(score, error, B, n_ntk, n_rand, generator) -> indices
    train_step(my_fn)         notebook 05: my_fn(model, opt, x, y, indices): one step on the subset MSE
    uniform_indices(my_fn)    notebook 05: my_fn(n, B, generator) -> B distinct uniform indices
    time_to(my_fn)            notebook 05: my_fn(seconds, psnr, target) -> first time PSNR ≥ target, or None
    si_snr_by_hand(my_fn)     notebook 06: my_fn(pred (N,), target (N,)) -> SI-SNR in dB
    iou_by_hand(my_fn)        notebook 06: my_fn(pred_sdf (N,), target_sdf (N,)) -> IoU of the insides
    paired_ratio(my_fn)       notebook 07: my_fn(times, full_times) -> median per-seed ratio, or None
    sender_scores(my_fn)      notebook 08: my_fn(model, x, r, probes, generator) -> ≈ r_iᵀ (K²)_ii r_i

Only core modules are imported here (torch, no plotting); the 3D IoU comes from nint_lite.shapes
inside iou_by_hand.
"""
from __future__ import annotations

from .nb01 import *  # noqa: F401,F403
from .nb01 import __all__ as _a01
from .nb02 import *  # noqa: F401,F403
from .nb02 import __all__ as _a02
from .nb03 import *  # noqa: F401,F403
from .nb03 import __all__ as _a03
from .nb04 import *  # noqa: F401,F403
from .nb04 import __all__ as _a04
from .nb05 import *  # noqa: F401,F403
from .nb05 import __all__ as _a05
from .nb06 import *  # noqa: F401,F403
from .nb06 import __all__ as _a06
from .nb07 import *  # noqa: F401,F403
from .nb07 import __all__ as _a07
from .nb08 import *  # noqa: F401,F403
from .nb08 import __all__ as _a08

__all__ = _a01 + _a02 + _a03 + _a04 + _a05 + _a06 + _a07 + _a08
