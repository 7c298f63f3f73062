"""The exercise checks of notebooks/08_*.ipynb (nint_lite/classroom/checks/nb08.py): each passes
on a solution, fails naming each plausible mistake, and rejects an answer that calls the package."""
import torch

import nint_lite as nl
from check_cases import *  # noqa: F401,F403  the reference helpers
from check_cases import make_tests
from nint_lite import ntk


def _sender_square_of_mean(m, x, r, probes, g):     # averages r_i·(K z)_i, then squares
    acc = torch.zeros(len(r))
    for _ in range(probes):
        z = torch.randint(0, 2, r.shape, generator=g).float() * 2 - 1
        acc += (r * ntk.matvec(m, x, z)).sum(1)
    return (acc / probes) ** 2


def _sender_gaussian(m, x, r, probes, g):           # other probes: still a correct estimate
    acc = torch.zeros(len(r))
    for _ in range(probes):
        acc += (r * ntk.matvec(m, x, torch.randn(r.shape, generator=g))).sum(1) ** 2
    return acc / probes


def test_sender_scores_accepts_other_probes(capsys):
    nl.checks.sender_scores(_sender_gaussian)
    assert "drawn differently" in capsys.readouterr().out


def _lookahead(m, x, r, idx, lr, mode="ok"):
    v = r if mode == "no_mask" else torch.zeros_like(r).index_copy(0, idx, r[idx])
    kv = ntk.matvec(m, x, v)
    if mode == "first_order":
        return lr * float((r * kv).sum())
    new = r - lr * kv
    keep = idx if mode == "batch_only" else slice(None)
    d = 0.5 * float(r[keep].pow(2).sum() - new[keep].pow(2).sum())
    return -d if mode == "sign" else d / r.numel() if mode == "mean" else d


def _lookahead_explicit(m, x, r, idx, lr):             # forms K: what the check forbids
    n, c = r.shape
    k = ntk.matrix(m, x).permute(0, 2, 1, 3).reshape(n * c, n * c)
    v = torch.zeros_like(r).index_copy(0, idx, r[idx]).reshape(-1)
    rr = r.reshape(-1)
    return 0.5 * float(rr @ rr - (rr - lr * k @ v) @ (rr - lr * k @ v))


def _ll_sender(m, x, r, mode="ok"):
    with torch.no_grad():
        h = m.net[:-1](x)
    a = h if mode == "no_bias" else torch.cat([h, torch.ones(len(h), 1)], 1)
    g = a.T @ a                                         # (h+1, h+1): Σ_j a_j a_jᵀ
    s = ((a @ g) * a).sum(1)                            # Σ_j (a_iᵀ a_j)²
    if mode == "self":
        s = (a * a).sum(1) ** 2
    if mode == "no_square":
        s = a @ a.sum(0)
    return s if mode == "no_r" else r.pow(2).sum(1) * s


def _ll_sender_package(m, x, r):                       # N one-hot products with the package's K_last
    n, c = r.shape
    out = torch.zeros(n)
    for i in range(n):
        e = torch.zeros(n, c)
        e[i] = r[i]
        out[i] = nl.beyond.last_layer_matvec(m, x, e).pow(2).sum()
    return out


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "sender_scores": (_sender, [(lambda m, x, r, p, g: ntk.matvec(m, x, r).pow(2).sum(1), "receiver"),
                                (lambda m, x, r, p, g: _sender(m, x, r, p, g, "sqrt"), "no square root"),
                                (_sender_square_of_mean, "square each probe"),
                                (lambda m, x, r, p, g: _sender(m, x, r, p, g, "norm"), "weight by the residual"),
                                (lambda m, x, r, p, g: _sender(m, x, r, p, g) * p, "divide the sum by `probes`")]),
    "lookahead_decrease": (_lookahead, [
        (lambda *a: _lookahead(*a, mode="no_mask"), "zero r outside idx"),
        (lambda *a: _lookahead(*a, mode="first_order"), "only the first-order term"),
        (lambda *a: _lookahead(*a, mode="sign"), "sign: return the decrease"),
        (lambda *a: _lookahead(*a, mode="batch_only"), "not only the batch"),
        (lambda *a: _lookahead(*a, mode="mean"), "not means")]),
    "last_layer_sender": (_ll_sender, [
        (lambda m, x, r: _ll_sender(m, x, r, "no_bias"), "the bias"),
        (lambda m, x, r: _ll_sender(m, x, r, "no_r"), "multiply by ‖r_i‖²"),
        (lambda m, x, r: _ll_sender(m, x, r, "self"), "only j = i"),
        (lambda m, x, r: _ll_sender(m, x, r, "no_square"), "square each coupling")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "sender_scores": lambda m, x, r, p, g: nl.beyond.sender_scores(m, x, r, p, g),
    "lookahead_decrease": _lookahead_explicit,
    "last_layer_sender": _ll_sender_package,
}

globals().update(make_tests(CASES, PACKAGE))
