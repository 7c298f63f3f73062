"""The exercise checks of notebooks/05_nint_trainer.ipynb (nint_lite/classroom/checks/nb05.py):
each passes on a solution, fails naming each plausible mistake, and rejects an answer that calls
the package."""
import math

import torch

import nint_lite as nl
from check_cases import _block, _time_to, make_tests


def _step(model, opt, x, y, idx, zero=True, full=False, reduce=torch.mean, out="detach"):
    """A textbook step and, with zero / full / reduce / out, the mistakes train_step must name."""
    sel = slice(None) if full else idx
    if zero:
        opt.zero_grad()
    loss = reduce((model(x[sel]) - y[sel]) ** 2)
    loss.backward()
    opt.step()
    return {"detach": loss.detach(), "item": loss.item(), "graph": loss}[out]


def _package_step(model, opt, x, y, idx):
    opt.zero_grad()
    loss = nl.train_step(model, x, y, idx)
    opt.step()
    return loss


def _refreshes(T, B, xi, lam, alpha, rnd=round, every=False, extra=0):
    return sum(1 for t in range(0, T + extra, alpha)
               if every or rnd((1 - xi) * math.exp(-lam * t / alpha) * B) > 0)


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "train_step": (_step, [(lambda *a: _step(*a, zero=False), "zero_grad"),
                           (lambda *a: _step(*a, full=True), "all coordinates"),
                           (lambda *a: _step(*a, reduce=torch.sum), "not the sum"),
                           (lambda *a: _step(*a, out="item"), "Python float"),
                           (lambda *a: _step(*a, out="graph"), "autograd graph")]),
    "score_refreshes": (_refreshes, [(lambda *a: _refreshes(*a, every=True), "every α-th step"),
                                     (lambda *a: _refreshes(*a, rnd=int), "does not truncate"),
                                     (lambda *a: _refreshes(*a, extra=1), "t = 0 … T−1")]),
    "uniform_indices": (lambda n, b, g: torch.randperm(n, generator=g)[:b],
                        [(lambda n, b, g: torch.randint(0, n, (b,), generator=g), "with replacement"),
                         (lambda n, b, g: torch.randperm(n)[:b], "generator"),
                         (lambda n, b, g: torch.randperm(b, generator=g), "randperm\\(B\\)"),
                         (_block, "not uniform")]),
    "time_to": (_time_to, [(lambda s, p, t: _time_to(s, p, t, op=float.__gt__), "use ≥"),
                           (lambda s, p, t: _time_to(s, p, t, last=True), "FIRST"),
                           (lambda s, p, t: _time_to(s, p, t, index=True), "index"),
                           (lambda s, p, t: _time_to(s, p, t, missing=float("nan")), "None")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "train_step": _package_step,
    "score_refreshes": lambda T, B, xi, lam, alpha: sum(
        1 for t in range(0, T, alpha) if round(nl.make_sampler("nint", xi=xi, lam=lam, alpha=alpha).share(t) * B) > 0),
    "uniform_indices": lambda n, b, g: nl.make_sampler("uniform", ratio=b / n).bind(
        torch.nn.Identity(), torch.zeros(n, 1), torch.zeros(n, 1))(0).indices,
    "time_to": lambda s, p, target: nl.History(steps=list(range(len(s))), train_seconds=s, psnr=p).time_to(target),
}

globals().update(make_tests(CASES, PACKAGE))
