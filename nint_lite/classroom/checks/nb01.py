"""Self-checks for the exercises of notebooks/01_fit_an_inr.ipynb (see nint_lite.classroom.checks).

    make_grid(fn)      §1: fn(shape) -> the (prod(shape), len(shape)) grid of [-1, 1]^d, row-major
    uniform_bound(fn)  §3: fn(fan_in, w0, input_var, target_var) -> the bound b of U(-b, b) weights
    fit_by_hand(fn)    §4: fn(model, x, y, steps, lr) -> the full-batch MSE before each Adam step
"""
from __future__ import annotations

import copy
import math

import torch

from ...signals import grid
from ...train import fit, train_step
from ...models import make_model
from ._common import _as_float, _compare, _fail, run_forbidden

__all__ = ["make_grid", "uniform_bound", "fit_by_hand"]


def make_grid(fn):
    """fn(shape) must return every node of [-1, 1]^d (d = len(shape)), both ends of each axis
    included, listed row-major (the last axis varies fastest): a (prod(shape), d) float tensor
    whose column k is the coordinate along axis k. nint_lite.signals.grid (nl.grid) is patched
    out while fn runs."""
    name = "make_grid"
    shapes = [(4, 5), (7,), (2, 3, 4), (1, 6)]
    for shape in shapes:
        d = len(shape)
        lin = [torch.linspace(-1, 1, n) for n in shape]
        mesh = lambda axes, ij="ij": torch.meshgrid(*axes, indexing=ij)  # noqa: E731
        ref = torch.stack(mesh(lin), -1).reshape(-1, d)                  # independent of nl.grid
        centres = [(torch.arange(n) + 0.5) / n * 2 - 1 for n in shape]
        hints = [(torch.stack(mesh(lin, "xy"), -1).reshape(-1, d),
                  "indexing='xy' swaps the first two axes: use indexing='ij' (row-major)"),
                 (ref.flip(1), "the columns are reversed: column k must vary along axis k"),
                 (torch.stack(mesh(lin), 0).reshape(-1, d),
                  "stack the meshes on the last axis (dim=-1), then reshape"),
                 (torch.stack(mesh(centres), -1).reshape(-1, d),
                  "these are pixel centres; the grid includes both ends −1 and 1 (torch.linspace)")]
        out = run_forbidden(name, fn, shape, forbidden=(grid,))
        _compare(name, out, ref, 1e-6, hints, f" for shape {shape}")
    print(f"✓ {name}: every node of [-1, 1]^d, row-major, for shapes {', '.join(map(str, shapes))}")


def uniform_bound(fn):
    """fn(fan_in, w0, input_var, target_var=1.0) must return the b > 0 for which
    w0 · Σ_j w_j x_j (j = 1 … fan_in) has variance target_var, when the w_j ~ U(−b, b) and the
    inputs x_j (zero mean, variance input_var) are all independent (SIREN's hidden layers:
    input_var = 1/2, target_var = 1). Checked against the analytic answer, then by sampling
    weights with your bound and measuring the variance.
    nl.make_model is patched out while fn runs (its weights would give the answer away)."""
    name = "uniform_bound"
    cases = [(128, 30.0, 0.5, 1.0), (64, 1.0, 0.5, 1.0), (256, 10.0, 1 / 3, 1.0), (2, 30.0, 1 / 3, 4.0),
             (100, 5.0, 2.0, 0.25)]
    for n, w0, v, t in cases:
        ref = math.sqrt(3 * t / (n * v)) / w0
        out = _as_float(name, run_forbidden(name, fn, n, w0, v, t, forbidden=(make_model,)))
        if math.isclose(out, ref, rel_tol=1e-6):
            continue
        hints = [(math.sqrt(6 / n) / w0, "that is SIREN's sqrt(6/fan_in)/w0, right only for input_var = 1/2 and "
                                         "target_var = 1: derive b from the arguments"),
                 (math.sqrt(t / (n * v)) / w0, "the variance of U(−b, b) is b²/3, not b²"),
                 (math.sqrt(12 * t / (n * v)) / w0, "U(−b, b) has width 2b: its variance is (2b)²/12 = b²/3"),
                 (math.sqrt(3 * t / (n * v)), "divide by w0: the pre-activation is w0 · Σ w_j x_j"),
                 (math.sqrt(3 * t / (n * v)) / w0 ** 2,
                  "w0 enters the variance squared, so b scales as 1/w0, not 1/w0²"),
                 (3 * t / (n * v) / w0 ** 2, "that is b²: take the square root"),
                 (math.sqrt(3 * t * v / n) / w0, "divide by the input variance, do not multiply"),
                 (math.sqrt(3 * t / v) / w0, "the sum has fan_in terms: its variance is fan_in times one term's"),
                 (math.sqrt(3 / (n * v)) / w0, "use target_var: the variance to reach is not always 1"),
                 (math.sqrt(3 * math.sqrt(t) / (n * v)) / w0,
                  "target_var is a variance, not a standard deviation")]
        hint = next((f" — {m}" for alt, m in hints if math.isclose(out, alt, rel_tol=1e-6)), "")
        _fail(name, f"got b = {out:.6g} for fan_in={n}, w0={w0}, input_var={v:.4g}, target_var={t}; "
                    f"expected {ref:.6g}{hint}")
    # the same bound, measured: SIREN's hidden layer (inputs sin(·), variance 1/2), 4,000 units
    g = torch.Generator().manual_seed(11)
    n, w0 = 128, 30.0
    b = _as_float(name, run_forbidden(name, fn, n, w0, 0.5, 1.0, forbidden=(make_model,)))
    w = (torch.rand(4000, n, generator=g, dtype=torch.float64) * 2 - 1) * b
    xs = torch.sin(math.pi * (torch.rand(n, 64, generator=g, dtype=torch.float64) * 2 - 1))  # arcsine, var 1/2
    var = (w0 * w @ xs).var().item()
    if not 0.9 <= var <= 1.1:
        _fail(name, f"sampled weights with your bound give a pre-activation variance of {var:.3f}, not 1")
    print(f"✓ {name}: b = sqrt(3·target_var / (fan_in·input_var)) / w0 on {len(cases)} cases; "
          f"SIREN's hidden layer (fan_in 128, w0 30, sine inputs) measured: variance {var:.3f} ≈ 1")


def _losses(model, x, y, steps, lr, *, zero=True, reduce=torch.mean, square_mean=False,
            opt_each_step=False, after=False, sgd=False):
    """The reference loop (defaults) and, through its flags, the mistakes fit_by_hand names."""
    make_opt = (lambda: torch.optim.SGD(model.parameters(), lr=lr)) if sgd else \
        (lambda: torch.optim.Adam(model.parameters(), lr=lr))
    opt, out = make_opt(), []
    for _ in range(steps):
        if opt_each_step:
            opt = make_opt()
        err = model(x) - y
        loss = reduce(err) ** 2 if square_mean else reduce(err ** 2)
        if zero:
            opt.zero_grad()
        loss.backward()
        opt.step()
        if after:
            with torch.no_grad():
                loss = reduce((model(x) - y) ** 2)
        out.append(loss.item())
    return torch.tensor(out, dtype=torch.float64)


def fit_by_hand(fn):
    """fn(model, x, y, steps, lr) must train `model` in place with full-batch Adam(lr) on the
    mean squared error over all of x (N, d) and y (N, C), `steps` steps, and return the list of
    `steps` losses (floats), each computed before its update. Compared with a reference loop on
    a copy of the same model; nl.fit and nint_lite.train.train_step are patched out while fn runs."""
    name = "fit_by_hand"
    mistakes = [(dict(zero=False), "the gradients accumulate: call opt.zero_grad() before every backward()"),
                (dict(square_mean=True),
                 "that squares the mean error, torch.mean(pred − y) ** 2; the loss is the mean of the squared errors"),
                (dict(opt_each_step=True),
                 "create the optimizer once, before the loop: a new Adam every step forgets its moment estimates"),
                (dict(reduce=torch.sum), "the loss is the MEAN squared error over all N·C values, not the sum"),
                (dict(sgd=True), "use torch.optim.Adam, not SGD"),
                (dict(after=True), "record each loss before its update (the loss you call backward() on)")]
    for trial, (n, c, steps, lr) in enumerate([(200, 1, 8, 1e-2), (150, 3, 6, 5e-3)]):
        g = torch.Generator().manual_seed(700 + trial)
        model = make_model("siren", 2, c, hidden=16, layers=2, seed=trial)
        x = torch.rand(n, 2, generator=g) * 2 - 1
        y = torch.rand(n, c, generator=g)
        ref = _losses(copy.deepcopy(model), x, y, steps, lr)
        hints = [(_losses(copy.deepcopy(model), x, y, steps, lr, **kw), msg) for kw, msg in mistakes]
        trained = copy.deepcopy(model)
        out = run_forbidden(name, fn, trained, x.clone(), y.clone(), steps, lr, forbidden=(fit, train_step))
        try:
            out = torch.tensor([float(v) for v in out], dtype=torch.float64)
        except (TypeError, ValueError):
            _fail(name, f"expected a list of {steps} floats (the losses), got {type(out).__name__}")
        _compare(name, out, ref, 1e-4, hints, f" (N={n}, C={c}, {steps} steps, lr={lr})")
        moved = max((p - q).abs().max().item() for p, q in zip(trained.parameters(), model.parameters()))
        if moved == 0:
            _fail(name, "the model passed in was not trained in place (its weights did not change)")
    print(f"✓ {name}: the same losses as a reference Adam loop, for C = 1 and C = 3 "
          f"(first {ref[0]:.4f} → last {ref[-1]:.4f})")
