"""Self-checks for the exercises of notebooks/03_*.ipynb (see nint_lite.classroom.checks).

    last_layer_kernel(fn)   §2  the last Linear layer's share of K: δ_cd (h_iᵀh_j + 1), (N, N, C, C)
    coupling_radius(fn)     §4  the first ring (in pixels) where the normalised coupling row < 1/2
    sgd_prediction(fn)      §5  the linearized change −η (2/NC) K r of one full-batch SGD step

Each reference is computed before the learner's function runs (from nl.ntk.matrix or
nl.ntk.matvec, routes the learner may not take), and every call of the learner's function goes
through run_forbidden with the package's implementations that would make the exercise trivial
patched out.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ... import ntk, plots
from ...models import make_model
from ...signals import grid
from ._common import _as_float, _compare, _fail, _small, run_forbidden

__all__ = ["last_layer_kernel", "coupling_radius", "sgd_prediction"]

_KERNEL_FNS = (ntk.matrix, ntk.jacobian, ntk.matvec, ntk.diagonal, ntk.vjp_sum, ntk.jvp_chunks,
               ntk.nint_scores)


def _last_linear(model) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


# --------------------------------------------------------------------------- §2

def last_layer_kernel(fn):
    """fn(model, x) must return the part of the empirical NTK that comes from the last Linear
    layer's weight and bias, K_last(x_i, x_j)_cd = δ_cd (h_iᵀ h_j + 1) with h_i = the input of
    that layer at x_i (model.net[:-1](model.encoding(x))): (N, N, C, C).
    The reference is nl.ntk.matrix of a copy whose other parameters are frozen; nl.ntk's kernel
    functions (matrix, jacobian, matvec, diagonal, …) are patched out. Tolerance 1e-4 relative."""
    name = "last_layer_kernel"
    for trial, (n, c, family) in enumerate([(9, 1, "siren"), (8, 3, "relu"), (7, 2, "ffn")]):
        model, x, _ = _small(trial, n, c, family)
        frozen = copy.deepcopy(model)
        last = _last_linear(frozen)
        for p in frozen.parameters():
            p.requires_grad_(False)
        last.weight.requires_grad_(True)
        last.bias.requires_grad_(True)
        ref = ntk.matrix(frozen, x).detach()                          # (N, N, C, C), autograd route
        with torch.no_grad():
            h = model.net[:-1](model.encoding(x))
            pre = model.net[:-2](model.encoding(x))
        eye = torch.eye(c)
        hh = h @ h.T
        hints = [(hh[:, :, None, None] * eye, "the bias is missing: ∂f_c/∂b_c = 1 adds 1 to every "
                                              "same-channel entry (c = d)"),
                 ((hh[:, :, None, None] + 1) * eye + (1 - eye), "the bias's 1 appears only where c = d: "
                                                               "b_c moves output c alone"),
                 ((hh + 1)[:, :, None, None].expand(n, n, c, c), "cross-channel entries (c ≠ d) are 0: "
                                                                "row c of the weight only moves output c"),
                 ((pre @ pre.T + 1)[:, :, None, None] * eye, "h is the INPUT of the last Linear layer, "
                                                             "after the last activation (model.net[:-1])")]
        out = run_forbidden(name, fn, model, x, forbidden=_KERNEL_FNS)
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, {family}, N={n}, C={c})")
    print(f"✓ {name}: matches nl.ntk.matrix with every other layer frozen (SIREN, ReLU, FFN; C = 1, 2, 3)")


# --------------------------------------------------------------------------- §4

def _rows(model, x, i):
    """(trace row tr K(x_i, x_j), channel-0 row K(x_i, x_j)_00), both (N,), from ntk.matrix."""
    blocks = ntk.matrix(model, x[i:i + 1], x)[0].double()            # (N, C, C)
    return blocks.diagonal(dim1=-2, dim2=-1).sum(-1), blocks[:, 0, 0]


def _radius(row, shape, q, mode="ok"):
    """The reference (mode "ok") and the plausible mistakes, for one query pixel q = (row, col)."""
    h, w = shape
    rr, cc = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    d = torch.hypot((rr - q[0]).double(), (cc - q[1]).double()).flatten()
    if mode == "coords":                                  # distances between the [-1, 1] coordinates
        d = torch.hypot((rr - q[0]).double() * 2 / (h - 1), (cc - q[1]).double() * 2 / (w - 1)).flatten()
    p = row / row[q[0] * w + q[1]]
    if mode == "farthest":
        return d[p >= 0.5].max().item()
    if mode == "pixel":
        order = torch.argsort(d, stable=True)
        below = (p[order] < 0.5).nonzero()
        return d[order][below[0, 0]].item() if len(below) else math.nan
    k = torch.floor(d) if mode == "floor" else torch.round(d)
    for ring in range(1, int(k.max()) + 1):
        m = k == ring
        if m.any() and p[m].mean() < 0.5:
            return float(ring - 1) if mode == "last" else float(ring)
    return math.nan


_GENERIC = (" — check the query index (pixel (row, col) is coordinate row·W + col of x) and the "
            "ring definition (mean of the normalised row over distance round(d) = k)")


def coupling_radius(fn):
    """fn(model, x, shape, queries) must return the coupling radius in pixels averaged over the
    query pixels: for q = (row, col), normalise the coupling row tr K(x_q, x_j) by tr K(x_q, x_q),
    average it over each ring of pixels whose distance to q (in pixels, rounded to the nearest
    integer) is k = 1, 2, …, and take the first k whose ring mean is below 1/2. x: (H·W, 2) the
    row-major grid of shape (H, W); queries: a list of (row, col). Returns a float.
    The reference uses nl.ntk.matrix; nl.plots.coupling_row and coupling_map are patched out."""
    name = "coupling_radius"
    trials = [((14, 18), 1, [(3, 4), (7, 12), (10, 2)], 3),
              ((14, 18), 3, [(3, 4), (7, 12), (10, 2)], 3),
              ((18, 12), 1, [(4, 3), (12, 9), (9, 5)], 5)]
    for trial, (shape, c, queries, seed) in enumerate(trials):
        h, w = shape
        model = make_model("siren", 2, c, hidden=16, layers=2, seed=seed, first_w0=10.0)
        x = grid(shape)
        both = {q: _rows(model, x, q[0] * w + q[1]) for q in queries}
        rows, ch0 = {q: b[0] for q, b in both.items()}, {q: b[1] for q, b in both.items()}
        mean = lambda mode, rs=rows: sum(_radius(rs[q], shape, q, mode) for q in queries) / len(queries)  # noqa: E731
        ref = mean("ok")
        assert math.isfinite(ref), "check set-up: every ring profile must drop below 1/2"
        hints = [(mean("farthest"), "that is the farthest pixel still coupled at ≥ 1/2 (§4's R_1/2); the "
                                    "radius is the first RING whose mean coupling drops below 1/2"),
                 (mean("pixel"), "that is the first single pixel below 1/2; average the normalised row "
                                 "over each ring of equal rounded distance first"),
                 (mean("last"), "that is the last ring still ≥ 1/2; the radius is the first ring below 1/2"),
                 (mean("floor"), "round each distance to the nearest integer (torch.round), not down"),
                 (mean("coords"), "those are distances between the [-1, 1] coordinates; measure in pixels"),
                 (mean("ok") * len(queries), "average over the query pixels, do not sum"),
                 (sum(_radius(ch0[q], shape, q) for q in queries) / len(queries),
                  "that uses channel 0 only; the coupling row is the trace Σ_c K(x_q, x_j)_cc")]
        out = _as_float(name, run_forbidden(name, fn, model, x, shape, list(queries),
                                            forbidden=(plots.coupling_row, plots.coupling_map)))
        if abs(out - ref) <= 1e-6:
            continue
        hint = next((f" — {msg}" for alt, msg in hints if math.isfinite(alt) and abs(alt - ref) > 1e-6
                     and abs(out - alt) <= 1e-6), "")
        _fail(name, f"expected {ref:.4f} pixels, got {out:.4f} (trial {trial + 1}, {h}×{w} grid, C={c}, "
                    f"queries {queries}){hint or _GENERIC}")
    print(f"✓ {name}: matches the ring profile of rows of nl.ntk.matrix on 14×18 and 18×12 grids, C = 1 and 3")


# --------------------------------------------------------------------------- §5

def sgd_prediction(fn):
    """fn(model, x, y, lr) must return the first-order change of the predictions f(x): (N, C) that
    one full-batch SGD step θ ← θ − lr ∇θ L on L = mean over all N·C entries of (f(x) − y)²
    would make: Δf = −lr J ∇θL = −lr (2/(N C)) K r with r = f(x) − y, without changing the model.
    The reference uses nl.ntk.matvec; nl.ntk's kernel functions (matvec, matrix, jacobian,
    vjp_sum, jvp_chunks, nint_scores, diagonal) are patched out. Tolerance 1e-4 relative."""
    name = "sgd_prediction"
    for trial, (n, c, lr) in enumerate([(16, 1, 3.0), (12, 3, 3.0)]):
        model, x, y = _small(trial, n, c)
        before = {k: p.detach().clone() for k, p in model.named_parameters()}
        with torch.no_grad():
            r = model(x) - y
        kr = ntk.matvec(model, x, r)
        ref = -lr * 2 / (n * c) * kr
        diag = ntk.diagonal(model, x)[:, None]                     # C = 1 or trace: only a hint
        stepped = copy.deepcopy(model)
        opt = torch.optim.SGD(stepped.parameters(), lr=lr)
        ((stepped(x) - y) ** 2).mean().backward()
        with torch.no_grad():
            f0 = model(x)
        opt.step()
        with torch.no_grad():
            actual = stepped(x) - f0
        hints = [(-ref, "the sign: the step goes DOWN the gradient, so Δf = −lr J ∇θL"),
                 (ref / 2, "the factor 2 from d(r²)/dr = 2r is missing"),
                 (ref * n * c, "L is the MEAN over the N·C entries: ∇θL = (2/(N C)) Jᵀ r"),
                 (ref * c, "the mean runs over all N·C entries, not only N"),
                 (actual, "that is the actual change after a real step; the exercise asks for the "
                          "first-order (linear) prediction J·Δθ"),
                 (-lr * 2 / (n * c) * diag * r, "that keeps only the diagonal K_ii r_i; a step on every "
                                                "coordinate moves f(x_i) through the whole row of K")]
        out = run_forbidden(name, fn, model, x, y, lr, forbidden=_KERNEL_FNS)
        for k, p in model.named_parameters():
            if not torch.equal(p.detach(), before[k]):
                _fail(name, f"your function changed the model's parameter {k}: predict, do not step "
                            "(or step a copy.deepcopy of the model)")
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c}, lr={lr})")
    print(f"✓ {name}: matches −lr·(2/(NC))·K r from nl.ntk.matvec for C = 1 and 3")
