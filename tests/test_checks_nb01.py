"""The exercise checks of notebooks/01_fit_an_inr.ipynb (nint_lite/classroom/checks/nb01.py): each
passes on a solution, fails naming each plausible mistake, and rejects an answer that calls the
package."""
import math

import torch

import nint_lite as nl
from check_cases import *  # noqa: F401,F403  the reference helpers
from check_cases import make_tests


def _fit(model, x, y, steps, lr, zero=True, square_mean=False, new_opt=False, reduce=torch.mean):
    """The textbook full-batch loop and, through its flags, the mistakes fit_by_hand must name."""
    opt, losses = torch.optim.Adam(model.parameters(), lr=lr), []
    for _ in range(steps):
        if new_opt:
            opt = torch.optim.Adam(model.parameters(), lr=lr)
        err = model(x) - y
        loss = reduce(err) ** 2 if square_mean else reduce(err ** 2)
        if zero:
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _fit_with_nl(model, x, y, steps, lr):                # only calls the package's trainer
    sig = nl.Signal(kind="image", coords=x, values=y, shape=(x.shape[0],), name="check")
    nl.fit(model, sig, steps=steps, lr=lr, progress=False)
    return [0.0] * steps


def _fit_with_train_step(model, x, y, steps, lr):        # the package's step inside a hand loop
    opt, losses = torch.optim.Adam(model.parameters(), lr=lr), []
    for _ in range(steps):
        opt.zero_grad()
        losses.append(nl.train_step(model, x, y, torch.arange(x.shape[0])).item())
        opt.step()
    return losses


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "make_grid": (_grid, [(lambda s: _grid(s, "xy"), "indexing='xy'"),
                          (lambda s: _grid(s, centres=True), "pixel centres"),
                          (lambda s: _grid(s, dim=0), "last axis")]),
    "uniform_bound": (lambda n, w0, v, t=1.0: math.sqrt(3 * t / (n * v)) / w0,
                      [(lambda n, w0, v, t=1.0: math.sqrt(t / (n * v)) / w0, r"b²/3, not b²"),
                       (lambda n, w0, v, t=1.0: math.sqrt(3 * t / (n * v)), "divide by w0"),
                       (lambda n, w0, v, t=1.0: math.sqrt(3 * t / (n * v)) / w0 ** 2, "not 1/w0²"),
                       (lambda n, w0, v, t=1.0: 3 * t / (n * v) / w0 ** 2, "take the square root"),
                       (lambda n, w0, v, t=1.0: math.sqrt(3 * t * v / n) / w0, "divide by the input variance"),
                       (lambda n, w0, v, t=1.0: math.sqrt(3 / (n * v)) / w0, "use target_var"),
                       (lambda n, w0, v, t=1.0: math.sqrt(6 / n) / w0, "right only for input_var = 1/2")]),
    "fit_by_hand": (_fit, [(lambda *a: _fit(*a, zero=False), "zero_grad"),
                           (lambda *a: _fit(*a, square_mean=True), "squares the mean error"),
                           (lambda *a: _fit(*a, new_opt=True), "create the optimizer once"),
                           (lambda *a: _fit(*a, reduce=torch.sum), "not the sum")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "make_grid": lambda shape: nl.grid(shape),
    "uniform_bound": lambda n, w0, v, t=1.0: nl.make_model("siren", 2, 1, hidden=n, layers=2,
                                                           w0=w0).net[2].weight.abs().max().item(),
    "fit_by_hand": _fit_with_nl,
}


def test_fit_by_hand_also_forbids_the_package_step(capsys):
    import pytest
    from nint_lite.classroom import checks
    with pytest.raises(AssertionError, match="the package's own implementation"):
        checks.fit_by_hand(_fit_with_train_step)
    assert "nint_lite.train.train_step" in capsys.readouterr().out


def test_uniform_bound_reproduces_siren_init():
    # the bound with SIREN's numbers is the one nl.make_model draws its hidden weights from
    m = nl.make_model("siren", 2, 1, hidden=128, layers=3, seed=3)
    b = math.sqrt(3 * 1.0 / (128 * 0.5)) / 30.0
    assert math.isclose(b, math.sqrt(6 / 128) / 30.0)
    assert 0.95 * b <= m.net[2].weight.abs().max().item() <= b


globals().update(make_tests(CASES, PACKAGE))
