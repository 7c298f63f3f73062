"""The exercise checks of notebooks/03_*.ipynb (nint_lite/classroom/checks/nb03.py): each passes
on a solution, fails naming each plausible mistake, and rejects an answer that calls the package."""
import copy

import torch
from torch import nn
from torch.func import functional_call, grad, jvp

import nint_lite as nl
from check_cases import make_tests
from nint_lite import ntk


# --------------------------------------------------------------------------- last_layer_kernel

def _features(m, x, pre=False):
    with torch.no_grad():
        return (m.net[:-2] if pre else m.net[:-1])(m.encoding(x))


def _last_kernel(m, x, mode="ok"):
    h = _features(m, x, pre=mode == "pre")
    C = m.net[-1].out_features
    eye = torch.eye(C)
    k = h @ h.T + (0.0 if mode == "no_bias" else 1.0)
    if mode == "dense":
        return k[:, :, None, None].expand(-1, -1, C, C).clone()
    return k[:, :, None, None] * eye


def _last_kernel_package(m, x):
    frozen = copy.deepcopy(m)
    for p in frozen.parameters():
        p.requires_grad_(False)
    frozen.net[-1].weight.requires_grad_(True)
    frozen.net[-1].bias.requires_grad_(True)
    return ntk.matrix(frozen, x)


# --------------------------------------------------------------------------- coupling_radius

def _radius_answer(m, x, shape, queries, mode="ok"):
    H, W = shape
    rr, cc = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    out = []
    for r0, c0 in queries:
        q = r0 * W + c0
        C = m(x[:1]).shape[1]
        row = torch.zeros(len(x))
        for c in range(1 if mode == "ch0" else C):         # one-hot matvec per channel, keep channel c
            v = torch.zeros(len(x), C)
            v[q, c] = 1.0
            row += ntk.matvec(m, x, v)[:, c].detach()
        p = row / row[q]
        d = torch.hypot((rr - r0).float(), (cc - c0).float()).flatten()
        if mode == "farthest":
            out.append(d[p >= 0.5].max().item())
            continue
        if mode == "pixel":                                # the first single pixel below 1/2
            order = torch.argsort(d, stable=True)
            out.append(d[order][(p[order] < 0.5).nonzero()[0, 0]].item())
            continue
        ring = torch.floor(d) if mode == "floor" else torch.round(d)
        k = 1
        while p[ring == k].mean() >= 0.5:
            k += 1
        out.append(k - 1 if mode == "last" else k)
    return (sum if mode == "sum" else lambda v: sum(v) / len(v))(out)


def _radius_package(m, x, shape, queries):
    H, W = shape
    rr, cc = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    out = []
    for r0, c0 in queries:
        row = nl.plots.coupling_row(m, x, r0 * W + c0)
        p, d = row / row[r0 * W + c0], torch.hypot((rr - r0).float(), (cc - c0).float()).round().flatten()
        k = 1
        while p[d == k].mean() >= 0.5:
            k += 1
        out.append(k)
    return sum(out) / len(out)


# --------------------------------------------------------------------------- sgd_prediction

def _sgd(m, x, y, lr, mode="ok"):
    params = {k: p.detach() for k, p in m.named_parameters()}
    f = lambda p: functional_call(m, p, (x,))                  # noqa: E731
    red = torch.sum if mode == "sum" else torch.mean
    g = grad(lambda p: red((f(p) - y) ** 2))(params)
    Jg = jvp(f, (params,), (g,))[1]
    return (1.0 if mode == "sign" else -1.0) * lr * Jg


def _sgd_real_step(m, x, y, lr):
    m2 = copy.deepcopy(m)
    opt = torch.optim.SGD(m2.parameters(), lr=lr)
    with torch.no_grad():
        f0 = m2(x)
    ((m2(x) - y) ** 2).mean().backward()
    opt.step()
    with torch.no_grad():
        return m2(x) - f0


def _sgd_in_place(m, x, y, lr):
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    out = _sgd(m, x, y, lr)
    ((m(x) - y) ** 2).mean().backward()
    opt.step()
    return out


def _sgd_over_n(m, x, y, lr):
    with torch.no_grad():
        N, C = y.shape
    return _sgd(m, x, y, lr) * C


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "last_layer_kernel": (_last_kernel,
                          [(lambda m, x: _last_kernel(m, x, "no_bias"), "bias is missing"),
                           (lambda m, x: _last_kernel(m, x, "dense"), "cross-channel entries"),
                           (lambda m, x: _last_kernel(m, x, "pre"), "INPUT of the last Linear"),
                           (lambda m, x: _last_kernel(m, x)[..., 0, 0], "shape")]),
    "coupling_radius": (_radius_answer,
                        [(lambda *a: _radius_answer(*a, mode="farthest"), "farthest pixel"),
                         (lambda *a: _radius_answer(*a, mode="pixel"), "first single pixel"),
                         (lambda *a: _radius_answer(*a, mode="last"), "last ring still"),
                         (lambda *a: _radius_answer(*a, mode="floor"), "nearest integer"),
                         (lambda *a: _radius_answer(*a, mode="sum"), "do not sum"),
                         (lambda *a: _radius_answer(*a, mode="ch0"), "channel 0 only")]),
    "sgd_prediction": (_sgd,
                       [(lambda *a: _sgd(*a, mode="sign"), "the sign"),
                        (lambda *a: _sgd(*a, mode="sum"), "MEAN over the N·C"),
                        (lambda *a: _sgd(*a) / 2, "factor 2"),
                        (_sgd_over_n, "not only N"),
                        (_sgd_real_step, "actual change after a real step"),
                        (_sgd_in_place, "changed the model")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "last_layer_kernel": _last_kernel_package,
    "coupling_radius": _radius_package,
    "sgd_prediction": lambda m, x, y, lr: -lr * 2 / y.numel() * ntk.matvec(m, x, m(x).detach() - y),
}

globals().update(make_tests(CASES, PACKAGE))
