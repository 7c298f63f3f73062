"""Self-checks for the exercises: nl.checks.<name>(my_fn) tests the learner's function.

Used by the exercises of notebooks 01–08 (as nl.checks, an alias of nint_lite.classroom.checks).

Each check runs the learner's function on fresh random inputs, compares it with an independent
reference (an analytic answer, an explicit kernel, a loop, or another package function, computed
before the learner's code runs), prints a short verdict, and raises AssertionError with what
differs on failure — naming the plausible mistake when the answer reproduces one. CI runs them on
the solutions.

    notebook 01  make_grid            fn(shape) -> (prod(shape), d) grid of [-1, 1]^d, row-major
                 uniform_bound        fn(fan_in, w0, input_var, target_var) -> the U(−b, b) bound b
                 fit_by_hand          fn(model, x, y, steps, lr) -> the losses of a full-batch Adam loop
    notebook 02  kernel_spectrum      fn(model, x) -> the N·C eigenvalues of K, from J, largest first
                 k_times_v_chunked    fn(model, x, v, chunk_size) -> K v, (N, C), memory bounded by chunks
                 leverage_closed_form fn(net, x) -> tr K_ii, (N,), by the per-layer formula
    notebook 03  last_layer_kernel    fn(model, x) -> the last layer's part of K, (N, N, C, C)
                 coupling_radius      fn(model, x, shape, queries) -> where the coupling row halves (pixels)
                 sgd_prediction       fn(model, x, y, lr) -> one SGD step's first-order Δf, (N, C)
    notebook 04  int_selection        fn(residual (N, C), B) -> the top-B indices by Σ_c |r|
                 official_score       fn(model, x, r) -> what the official code's score returns, (N,)
                 share_below          fn(fraction, xi, lam, alpha) -> first step the NTK share is below it
    notebook 05  train_step           fn(model, opt, x, y, indices) -> one step on the subset MSE (0-d loss)
                 score_refreshes      fn(T, B, xi, lam, alpha) -> how many times NINT computes K r
                 uniform_indices      fn(n, B, generator) -> B distinct uniform indices
                 time_to              fn(seconds, psnr, target) -> first time PSNR ≥ target, or None
    notebook 06  si_snr_by_hand       fn(pred (N,), target (N,)) -> SI-SNR in dB
                 iou_by_hand          fn(pred (N,), target (N,), field) -> IoU of the insides
                 fourier_kernel       fn(x1, x2, B) -> γ(x1)·γ(x2) of the Fourier-feature embedding
    notebook 07  paired_interval      fn(times, full_times, resamples, generator) -> (gmean, lo, hi)
                 time_to_interpolated fn(seconds, psnr, target) -> the interpolated time to target
                 evos_batch           fn(err, lap, ratio, generator) -> a non-key EVOS batch, (B,)
    notebook 08  sender_scores        fn(model, x, r, probes, generator) -> ≈ r_iᵀ (K²)_ii r_i, (N,)
                 lookahead_decrease   fn(model, x, r, idx, lr) -> the full loss's drop after a batch step
                 last_layer_sender    fn(model, x, r) -> the last-layer kernel's exact sender score, (N,)

Every call of the learner's function runs under `_common.forbid`, which patches out the package
function that is the answer (nl.ntk.matvec, nl.metrics.psnr, …) wherever it is bound, so an
answer that only calls it fails, naming it. The checks live one module per notebook
(nb01.py … nb08.py); tests/test_checks_nbNN.py test each on a solution, on plausible mistakes and
on a package-calling answer.

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
