"""Self-checks for the exercises: run the learner's function on fresh random inputs, compare it
with the package's reference (or an analytic answer), print a short verdict, and raise
AssertionError with what differs on failure. CI runs them on the solutions.

    nl.checks.k_times_v(my_fn)        notebook 02: my_fn(model, x, v) -> K v, (N, C)
    nl.checks.int_selection(my_fn)    notebook 04: my_fn(residual (N, C), B) -> top-B indices by Σ_c |r|
    nl.checks.nint_mix(my_fn)         notebook 04: my_fn(score, error, B, n_ntk, n_rand, generator) -> indices
"""
from __future__ import annotations

import torch

from . import ntk
from .models import make_model

__all__ = ["k_times_v", "int_selection", "nint_mix"]


def _fail(name: str, msg: str):
    print(f"✗ {name}: {msg}")
    raise AssertionError(f"{name}: {msg}")


def _check_indices(name, idx, n, count):
    if not torch.is_tensor(idx):
        _fail(name, f"expected a tensor of indices, got {type(idx).__name__}")
    if idx.ndim != 1:
        _fail(name, f"indices must be 1-D (B,), got shape {tuple(idx.shape)}")
    if idx.dtype not in (torch.int64, torch.int32):
        _fail(name, f"indices must be integers (torch.long), got {idx.dtype}")
    if idx.numel() != count:
        _fail(name, f"expected {count} indices, got {idx.numel()}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= n):
        _fail(name, f"indices must lie in [0, {n}), got range [{idx.min().item()}, {idx.max().item()}]")
    if torch.unique(idx).numel() != idx.numel():
        _fail(name, f"indices must be distinct; {idx.numel() - torch.unique(idx).numel()} repeated")


def k_times_v(fn, trials: int = 3):
    """fn(model, x, v) must return K v with K the empirical NTK: (N, C). Tolerance 1e-4 relative."""
    name = "k_times_v"
    for trial in range(trials):
        g = torch.Generator().manual_seed(100 + trial)
        n, c = (13, 3) if trial % 2 else (9, 1)
        model = make_model("siren", 2, c, hidden=16, layers=2, seed=trial)
        x = torch.rand(n, 2, generator=g) * 2 - 1
        v = torch.randn(n, c, generator=g)
        ref = ntk.matvec(model, x, v)
        out = fn(model, x, v)
        if not torch.is_tensor(out) or tuple(out.shape) != (n, c):
            got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            _fail(name, f"shape (N, C) = ({n}, {c}) expected, got {got}")
        out = out.detach()
        err = (out - ref).abs()
        rel = (err.max() / ref.abs().max()).item()
        if rel > 1e-4:
            i = int(err.amax(1).argmax())
            hint = ""
            if torch.allclose(out, model(x).detach(), atol=1e-5):
                hint = " — this is f(x): jvp returns (primal, tangent), keep the tangent"
            _fail(name, f"max relative error {rel:.1e} at coordinate {i} (trial {trial + 1}){hint}")
    print(f"✓ {name}: matches nl.ntk.matvec on {trials} random models and inputs (rel. error ≤ 1e-4)")


def int_selection(fn, trials: int = 4):
    """fn(residual (N, C), B) must return the B indices with the largest Σ_c |r_ic| (any order)."""
    name = "int_selection"
    for trial in range(trials):
        g = torch.Generator().manual_seed(200 + trial)
        n, c = 50 + 17 * trial, 1 + 2 * (trial % 2)
        r = torch.randn(n, c, generator=g)
        b = 5 + 3 * trial
        ref = set(torch.topk(r.abs().sum(1), b).indices.tolist())
        idx = fn(r.clone(), b)
        _check_indices(name, idx, n, b)
        got = set(idx.tolist())
        if got != ref:
            l2 = set(torch.topk(r.norm(dim=1), b).indices.tolist())
            hint = " — that is the ℓ2 norm; INT sums |r| over channels" if got == l2 and c > 1 else ""
            _fail(name, f"{len(got - ref)} of {b} indices are not among the top-B by Σ_c|r| "
                        f"(trial {trial + 1}, N={n}, C={c}){hint}")
    print(f"✓ {name}: picks exactly the top-B by Σ_c |r| on {trials} random residuals")


def nint_mix(fn, trials: int = 4):
    """fn(score (N,), error (N,), B, n_ntk, n_rand, generator) must return B distinct indices:
    the top n_ntk by score, then the top (B − n_ntk − n_rand) by error among the rest, then
    n_rand uniformly random among the remaining coordinates."""
    name = "nint_mix"
    for trial in range(trials):
        g = torch.Generator().manual_seed(300 + trial)
        n = 80 + 10 * trial
        score, error = torch.rand(n, generator=g), torch.rand(n, generator=g)
        b, n_ntk, n_rand = 20, [6, 0, 3, 20][trial], [10, 14, 0, 0][trial]
        idx = fn(score.clone(), error.clone(), b, n_ntk, n_rand, torch.Generator().manual_seed(trial))
        _check_indices(name, idx, n, b)
        got = set(idx.tolist())
        ntk_set = set(torch.topk(score, n_ntk).indices.tolist())
        if not ntk_set <= got:
            _fail(name, f"{len(ntk_set - got)} of the top-{n_ntk} NTK-score coordinates are missing (trial {trial + 1})")
        rest_err = error.clone()
        rest_err[list(ntk_set)] = -1
        n_err = b - n_ntk - n_rand
        err_set = set(torch.topk(rest_err, n_err).indices.tolist())
        if not err_set <= got:
            _fail(name, f"{len(err_set - got)} of the top-{n_err} error coordinates (outside the NTK set) "
                        f"are missing (trial {trial + 1}); pick errors among the coordinates not already taken")
    # the random part must actually be random: two generators, two different draws
    g_score, g_err = torch.rand(200, generator=torch.Generator().manual_seed(9)), torch.rand(200, generator=torch.Generator().manual_seed(10))
    a = set(fn(g_score, g_err, 40, 5, 30, torch.Generator().manual_seed(1)).tolist())
    c = set(fn(g_score, g_err, 40, 5, 30, torch.Generator().manual_seed(2)).tolist())
    if a == c:
        _fail(name, "the random part did not change with the generator: draw it with the `generator` argument")
    print(f"✓ {name}: NTK top, error top among the rest and a random remainder on {trials} cases")
