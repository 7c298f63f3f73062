"""Self-checks for the exercises of notebooks/04_errors_to_scores.ipynb (see nint_lite.classroom.checks).

    int_selection(fn)    fn(residual (N, C), B) -> the B indices with the largest Σ_c |r_ic|
    official_score(fn)   fn(model, x, r) -> (N,) what the official NINT code's score returns
    share_below(fn)      fn(fraction, xi, lam, alpha) -> first step t with (1 − ξ)e^{−λt/α} < fraction
"""
from __future__ import annotations

import math

import torch

from ... import ntk, samplers, schedules
from ._common import _check_indices, _compare, _fail, _small, run_forbidden

__all__ = ["int_selection", "official_score", "share_below"]


def int_selection(fn, trials: int = 4):
    """fn(residual (N, C), B) must return the B indices with the largest Σ_c |r_ic| (any order),
    without the package's INT sampler."""
    name = "int_selection"
    for trial in range(trials):
        g = torch.Generator().manual_seed(200 + trial)
        n, c = 50 + 17 * trial, 1 + 2 * (trial % 2)
        r = torch.randn(n, c, generator=g)
        b = 5 + 3 * trial
        ref = set(torch.topk(r.abs().sum(1), b).indices.tolist())
        l2 = set(torch.topk(r.norm(dim=1), b).indices.tolist())
        low = set(torch.topk(r.abs().sum(1), b, largest=False).indices.tolist())
        signed = set(torch.topk(r.sum(1), b).indices.tolist())
        idx = run_forbidden(name, fn, r.clone(), b, forbidden=(samplers.INT, samplers.make_sampler))
        _check_indices(name, idx, n, b)
        got = set(idx.tolist())
        if got != ref:
            hint = (" — that is the ℓ2 norm; INT sums |r| over channels" if got == l2 and c > 1 else
                    " — those are the SMALLEST errors: topk takes the largest by default" if got == low else
                    " — rank by |r| (absolute values): a large negative error is a large error"
                    if got == signed else "")
            _fail(name, f"{len(got - ref)} of {b} indices are not among the top-B by Σ_c|r| "
                        f"(trial {trial + 1}, N={n}, C={c}){hint}")
    print(f"✓ {name}: picks exactly the top-B by Σ_c |r| on {trials} random residuals")


def official_score(fn, trials: int = 3):
    """fn(model, x (N, d), r (N, C)) must return (N,): what the official NINT code's score returns,
    `w, _ = torch.func.jvp(f, (params,), (v,))`, then Σ_c w_ic² — i.e. ‖f(x_i)‖², whatever r is.
    Each model is called with two different residuals."""
    name = "official_score"
    for trial in range(trials):
        n, c = 30 + 7 * trial, 1 + 2 * (trial % 2)
        model, x, r = _small(trial, n, c)
        r2 = torch.randn(n, c, generator=torch.Generator().manual_seed(700 + trial)) * 3
        with torch.no_grad():
            f = model(x)
        ref = f.pow(2).sum(1)
        kr = ntk.matvec(model, x, r)
        tangent = ("that is the correct NINT score — you kept the JVP's tangent J·v = K r; the "
                   "official line `w, _ = jvp(...)` keeps the FIRST element, the network output f(x)")
        hints = [(kr.norm(dim=1), tangent), (kr.pow(2).sum(1), tangent),
                 (f.norm(dim=1), "that is ‖f(x_i)‖: the official code squares w and sums over channels"),
                 (r.pow(2).sum(1), "that is ‖r_i‖²: the score never sees r — w is the network output"),
                 ((f - r).pow(2).sum(1), "w is f(x) itself, not f(x) − r")]
        for res, label in ((r, "r"), (r2, "a second residual")):
            out = run_forbidden(name, fn, model, x, res.clone(), forbidden=(ntk.output_norm_scores,))
            _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c}, with {label})")
    print(f"✓ {name}: your score is ‖f(x_i)‖² whatever the residual — it ranks coordinates by predicted "
          f"brightness (checked on {trials} models, two residuals each)")


_SHARE_CASES = [(1 / 1638, 0.7, 1.0, 10), (0.01, 0.7, 1.0, 10), (0.05, 0.5, 2.0, 25),
                (0.001, 0.9, 0.5, 7), (0.5, 0.7, 1.0, 10), (0.2, 0.6, 1.5, 3), (0.02, 0.3, 0.8, 12)]


def _first_below(fraction, xi, lam, alpha):
    """The reference, step by step (independent of the closed form the exercise asks for)."""
    t = 0
    while (1.0 - xi) * math.exp(-lam * t / alpha) >= fraction:
        t += 1
    return t


def share_below(fn):
    """fn(fraction, xi, lam, alpha) must return the first step t ≥ 0 (an int) at which NINT's NTK
    share (1 − ξ)·exp(−λ t / α) is strictly below `fraction`, without the package's schedule."""
    name = "share_below"
    forbidden = (schedules.nint_share, samplers.NINT, samplers.make_sampler)
    for fraction, xi, lam, alpha in _SHARE_CASES:
        ref = _first_below(fraction, xi, lam, alpha)
        out = run_forbidden(name, fn, fraction, xi, lam, alpha, forbidden=forbidden)
        if isinstance(out, bool) or not isinstance(out, (int, float)) and not (torch.is_tensor(out) and out.numel() == 1):
            _fail(name, f"expected a step number (int), got {type(out).__name__}")
        out = float(out)
        if out != ref:
            bound = alpha / lam * math.log((1.0 - xi) / fraction)
            hints = [(ref - 1, "that is the LAST step whose share is still ≥ the fraction; the first step "
                               "below it is one later (the smallest integer strictly above the bound)"),
                     (math.floor(alpha / lam * math.log(1.0 / fraction)) + 1,
                      "keep the factor (1 − ξ): the share starts at 1 − ξ, not at 1"),
                     (math.floor(alpha / lam * math.log(xi / fraction)) + 1,
                      "the NTK share starts at 1 − ξ (ξ is the RANDOM share)"),
                     (math.floor(lam / alpha * math.log((1.0 - xi) / fraction)) + 1,
                      "the exponent is −λt/α: the bound is (α/λ)·ln((1 − ξ)/fraction), not (λ/α)·…"),
                     (bound, "return a whole step: the smallest integer strictly above the bound"),
                     (math.floor(bound) + 1 if bound < 0 else math.nan,
                      "the share already starts below the fraction: the answer is step 0, never negative")]
            hint = next((f" — {m}" for v, m in hints if not math.isnan(v) and abs(out - v) < 1e-9), "")
            _fail(name, f"got {out:g}, expected {ref} for fraction={fraction:.6g}, xi={xi}, lam={lam}, "
                        f"alpha={alpha}{hint}")
        if not float(out).is_integer():
            _fail(name, f"expected a whole step, got {out}")
    print(f"✓ {name}: the first step below the fraction on {len(_SHARE_CASES)} schedules "
          f"(e.g. {_first_below(1 / 1638, 0.7, 1.0, 10)} for 1/(2B), B = 819, the paper's ξ, λ, α)")
