"""The exercise checks of notebooks/04_errors_to_scores.ipynb (nint_lite/classroom/checks/nb04.py):
each passes on a solution, fails naming each plausible mistake, and rejects an answer that calls
the package."""
import itertools
import math

import torch

import nint_lite as nl
from check_cases import make_tests
from nint_lite import ntk


def _official(model, x, r, mode="ok"):
    with torch.no_grad():
        f = model(x)
    if mode == "tangent":  # the correct score: the JVP's second element
        return ntk.matvec(model, x, r).norm(dim=1)
    return {"ok": f.pow(2).sum(1), "no_square": f.norm(dim=1), "residual": r.pow(2).sum(1)}[mode]


def _share_below(fraction, xi=0.7, lam=1.0, alpha=10, mode="ok"):
    one_minus = {"no_factor": 1.0, "xi": xi}.get(mode, 1.0 - xi)
    scale = lam / alpha if mode == "swapped" else alpha / lam
    bound = scale * math.log(one_minus / fraction)
    if mode == "float":
        return bound
    if mode == "last":
        return math.floor(bound)
    if mode != "negative" and bound < 0:
        return 0
    return math.floor(bound) + 1


def _int_package(r, B):
    s = nl.make_sampler("int", ratio=B / r.shape[0])
    s.bind(torch.nn.Identity(), r, torch.zeros_like(r))
    return s(0).indices


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "int_selection": (lambda r, B: torch.topk(r.abs().sum(1), B).indices,
                      [(lambda r, B: torch.topk(r.norm(dim=1), B).indices, "ℓ2"),
                       (lambda r, B: torch.topk(r.abs().sum(1), B, largest=False).indices, "SMALLEST"),
                       (lambda r, B: torch.topk(r.sum(1), B).indices, "absolute")]),
    "official_score": (_official, [(lambda *a: _official(*a, mode="tangent"), "tangent"),
                                   (lambda *a: _official(*a, mode="no_square"), "squares w"),
                                   (lambda *a: _official(*a, mode="residual"), "never sees r")]),
    "share_below": (_share_below, [(lambda *a, m=m: _share_below(*a, mode=m), hint) for m, hint in [
        ("last", "LAST step"), ("no_factor", "keep the factor"), ("xi", "RANDOM share"),
        ("swapped", "exponent is"), ("float", "whole step"), ("negative", "never negative")]]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "int_selection": _int_package,
    "official_score": lambda model, x, r: ntk.output_norm_scores(model, x, r),
    "share_below": lambda f, xi, lam, alpha: next(t for t in itertools.count()
                                                  if nl.schedules.nint_share(t, xi, lam, alpha) < f),
}

globals().update(make_tests(CASES, PACKAGE))
