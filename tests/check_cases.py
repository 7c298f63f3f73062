"""Reference answers and wrong answers for the exercise checks, shared by tests/test_checks_nbNN.py.

Each test_checks_nbNN.py defines CASES = {check: (solution, [(wrong answer, expected hint), …])}
and PACKAGE = {check: an answer that only calls the package's own implementation}, then
`globals().update(make_tests(CASES, PACKAGE))` adds three parametrized tests: the solution passes,
each plausible mistake fails naming it, and the package-calling answer is rejected.
"""
import math

import pytest
import torch
from torch.func import functional_call, jvp, vjp

from nint_lite import ntk
from nint_lite.classroom import checks

# the reference helpers, for `from check_cases import *`
__all__ = ['_params', '_chunked', '_step', '_time_to', '_grid', '_block', '_si_snr', '_iou', '_sender']


def make_tests(cases, package):
    """The three tests over `cases` and `package` (see the module docstring), as a dict."""
    assert set(package) == set(cases), "every check needs a package-calling answer to reject"

    @pytest.mark.parametrize("name", list(cases))
    def test_check_passes_on_a_solution(name, capsys):
        getattr(checks, name)(cases[name][0])
        assert capsys.readouterr().out.startswith(f"✓ {name}")

    @pytest.mark.parametrize("name,k", [(n, k) for n, (_, wrong) in cases.items() for k in range(len(wrong))])
    def test_check_fails_on_a_plausible_mistake(name, k, capsys):
        fn, hint = cases[name][1][k]
        with pytest.raises(AssertionError, match=hint):
            getattr(checks, name)(fn)
        assert capsys.readouterr().out.startswith(f"✗ {name}")

    @pytest.mark.parametrize("name", list(package))
    def test_check_rejects_an_answer_that_calls_the_package(name, capsys):
        with pytest.raises(AssertionError, match="the package's own implementation"):
            getattr(checks, name)(package[name])
        assert capsys.readouterr().out.startswith(f"✗ {name}")

    return {f.__name__: f for f in (test_check_passes_on_a_solution, test_check_fails_on_a_plausible_mistake,
                                    test_check_rejects_an_answer_that_calls_the_package)}


def _params(model):
    return {k: p.detach() for k, p in model.named_parameters()}


def _chunked(model, x, v, chunk, mode="ok"):
    params = _params(model)
    u = {k: torch.zeros_like(p) for k, p in params.items()}
    outs = []
    for xc, vc in zip(x.split(chunk), v.split(chunk)):
        (g,) = vjp(lambda p: functional_call(model, p, (xc,)), params)[1](vc)
        u = g if mode == "no-accumulate" else {k: u[k] + g[k] for k in u}
        if mode == "block":
            outs.append(jvp(lambda p: functional_call(model, p, (xc,)), (params,), (g,))[1])
    if mode == "block":
        return torch.cat(outs)
    return torch.cat([jvp(lambda p: functional_call(model, p, (xc,)), (params,), (u,))[1] for xc in x.split(chunk)])


def _step(model, opt, x, y, idx, zero=True, full=False, reduce=torch.mean):
    """A textbook step and, with zero / full / reduce, the mistakes train_step must name."""
    sel = slice(None) if full else idx
    if zero:
        opt.zero_grad()
    reduce((model(x[sel]) - y[sel]) ** 2).backward()
    opt.step()


def _time_to(seconds, psnr, target, op=float.__ge__, last=False, index=False, missing=None):
    hits = [i for i, p in enumerate(psnr) if op(float(p), target)]
    if not hits:
        return missing
    i = hits[-1] if last else hits[0]
    return i if index else seconds[i]


def _grid(shape, ij="ij", dim=-1, centres=False):
    axes = [(torch.arange(n) + 0.5) / n * 2 - 1 if centres else torch.linspace(-1, 1, n) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing=ij), dim=dim).reshape(-1, len(shape))


def _block(n, b, g):                                     # a random contiguous block: not uniform
    s = int(torch.randint(0, n - b + 1, (1,), generator=g))
    return torch.arange(s, s + b)


def _si_snr(p, t, centre=True, power=2, scale=True):
    if centre:
        p, t = p - p.mean(), t - t.mean()
    s = (p @ t) / (t @ t) * t if scale else t
    return 10 * math.log10(float((s @ s) ** (power / 2)) / float(((p - s) @ (p - s)) ** (power / 2)))


def _iou(p, t, sign=1, denom="union"):
    a, b = sign * p < 0, sign * t < 0
    inter = (a & b).sum().item()
    d = {"union": (a | b).sum().item(), "target": b.sum().item(), "sum": (a.sum() + b.sum()).item()}[denom]
    return 1.0 if d == 0 else inter / d


def _sender(m, x, r, probes, g, mode="ok"):
    acc = torch.zeros(len(r))
    for _ in range(probes):
        z = torch.randint(0, 2, r.shape, generator=g).float() * 2 - 1
        kz = ntk.matvec(m, x, z)
        acc += {"ok": (r * kz).sum(1) ** 2, "no_square": (r * kz).sum(1),
                "norm": kz.pow(2).sum(1)}[mode if mode != "sqrt" else "ok"]
    out = acc / probes
    return out.clamp_min(0).sqrt() if mode == "sqrt" else out
