"""Self-checks for the exercises of notebooks/05_nint_trainer.ipynb (see nint_lite.classroom.checks).

    train_step(fn)       fn(model, opt, x, y, indices) -> the step's loss, a detached 0-d tensor
    score_refreshes(fn)  fn(T, B, xi, lam, alpha) -> how many times NINT computes the NTK score
    uniform_indices(fn)  fn(n, B, generator) -> B distinct indices drawn uniformly
    time_to(fn)          fn(seconds, psnr, target) -> training seconds at the first evaluation ≥ target, or None
"""
from __future__ import annotations

import copy
import math

import torch

from ... import samplers, train
from ._common import _check_indices, _compare, _fail, _small, run_forbidden

__all__ = ["train_step", "score_refreshes", "uniform_indices", "time_to"]


def _step(model, opt, x, y, idx, zero=True, full=False, reduce=torch.mean):
    """The reference for train_step, and (with zero / full / reduce) the mistakes it names.
    Written out on purpose rather than calling nl.train_step: the exercise is a textbook step
    (zero_grad, forward, backward, opt.step), while train.train_step only accumulates gradients
    chunk by chunk, so the check stays independent of the code it teaches."""
    sel = slice(None) if full else idx
    loss = reduce((model(x[sel]) - y[sel]) ** 2)
    if zero:
        opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.detach()


def train_step(fn):
    """fn(model, opt, x, y, indices) must take one optimizer step on the MSE over the selected
    coordinates (zero_grad, forward on x[indices], backward, step) and return the loss as a
    detached 0-d tensor (no .item(): that would wait for the device at every step). Two steps in
    a row are compared with a reference on a copy of the model, once with Adam, once with SGD."""
    name = "train_step"
    wrong = {"forgot opt.zero_grad(): gradients add up across steps": dict(zero=False),
             "trained on all coordinates: use only x[indices], y[indices]": dict(full=True),
             "the loss is the mean squared error, not the sum": dict(reduce=torch.sum)}
    forbidden = (train.train_step, train.fit)
    for trial, (make_opt, label) in enumerate([(lambda p: torch.optim.Adam(p, lr=1e-3), "Adam"),
                                               (lambda p: torch.optim.SGD(p, lr=0.05), "SGD")]):
        model, x, y = _small(trial, 40, 3 - 2 * trial, hidden=16)
        g = torch.Generator().manual_seed(600 + trial)
        steps = [torch.randperm(40, generator=g)[:8] for _ in range(2)]
        start = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        runs, ref_losses = {}, []
        for label_w, kw in [(None, {})] + list(wrong.items()):
            m = copy.deepcopy(model)
            opt = make_opt(m.parameters())
            for idx in steps:
                loss = _step(m, opt, x, y, idx, **kw)
                if label_w is None:
                    ref_losses.append(loss)
            runs[label_w] = torch.nn.utils.parameters_to_vector(m.parameters()).detach() - start
        opt = make_opt(model.parameters())
        for k, idx in enumerate(steps):
            out = run_forbidden(name, fn, model, opt, x.clone(), y.clone(), idx.clone(), forbidden=forbidden)
            if isinstance(out, (float, int)):
                _fail(name, f"returned a Python {type(out).__name__}: .item() / float() make the host wait "
                            "for the device at every step — return the loss tensor, loss.detach()")
            if not torch.is_tensor(out) or out.ndim != 0:
                _fail(name, f"expected the loss as a 0-d tensor, got {type(out).__name__}"
                            f"{'' if not torch.is_tensor(out) else ' of shape ' + str(tuple(out.shape))}")
            if out.requires_grad:
                _fail(name, "the returned loss still carries its autograd graph: return loss.detach()")
            if k == 0:  # the first step's loss depends only on the (shared) initial weights
                first = out
        out = torch.nn.utils.parameters_to_vector(model.parameters()).detach() - start
        hints = [(d, msg) for msg, d in runs.items() if msg is not None]
        _compare(name, out, runs[None], 1e-3, hints, f" (parameter change after 2 {label} steps)")
        as_sum = ref_losses[0].reshape(1) * steps[0].numel() * y.shape[1]
        _compare(name, first.reshape(1), ref_losses[0].reshape(1), 1e-4,
                 [(as_sum, "the loss is the mean squared error, not the sum")],
                 f" (the loss returned by the first {label} step: the mean squared error before the step)")
    print(f"✓ {name}: the same parameter updates as the reference step over 2 steps with Adam and with "
          "SGD, and the loss returned as a detached 0-d tensor")


def _refreshes(T, B, xi, lam, alpha, rnd=round, extra=0, every_due=False):
    """The reference (the sampler's rule, step by step), and with rnd / extra / every_due the
    mistakes score_refreshes names."""
    last, count = None, 0
    for t in range(T + extra):
        k = rnd((1.0 - xi) * math.exp(-lam * t / alpha) * B)
        if (every_due or k > 0) and (last is None or t - last >= alpha):
            last, count = t, count + 1
    return count


_REFRESH_CASES = [(5000, 819, 0.7, 1.0, 10), (50, 819, 0.7, 1.0, 10), (5000, 100, 0.7, 1.0, 10),
                  (1000, 4096, 0.5, 0.5, 20), (3, 819, 0.7, 1.0, 10), (400, 819, 1.0, 1.0, 10),
                  (2000, 16384, 0.7, 2.0, 25)]


def score_refreshes(fn):
    """fn(T, B, xi, lam, alpha) must return how many times NINT (paper schedule, constant batch B)
    computes the NTK score in a T-step run: at steps t = 0 … T−1 that are α or more steps after the
    last refresh (or the first), as long as the NTK part round((1 − ξ)e^{−λt/α}·B) is not empty."""
    name = "score_refreshes"
    forbidden = (samplers.NINT, samplers.make_sampler)
    for T, B, xi, lam, alpha in _REFRESH_CASES:
        ref = _refreshes(T, B, xi, lam, alpha)
        out = run_forbidden(name, fn, T, B, xi, lam, alpha, forbidden=forbidden)
        try:
            ok = float(out) == ref
        except (TypeError, ValueError):
            _fail(name, f"expected a count (int), got {type(out).__name__}")
        if not ok:
            hints = [(_refreshes(T, B, xi, lam, alpha, every_due=True),
                      "you counted every α-th step; the score is computed only while the NTK part has a "
                      "coordinate to rank, round(share·B) > 0"),
                     (_refreshes(T, B, xi, lam, alpha, rnd=int),
                      "the sampler rounds share·B to the nearest integer (round), it does not truncate (int)"),
                     (_refreshes(T, B, xi, lam, alpha, rnd=math.ceil),
                      "the sampler rounds share·B to the nearest integer (round), not up (ceil)"),
                     (_refreshes(T, B, xi, lam, alpha, extra=1), "a T-step run has steps t = 0 … T−1, not T")]
            hint = next((f" — {m}" for v, m in hints if v != ref and float(out) == v), "")
            _fail(name, f"got {out}, expected {ref} for T={T}, B={B}, xi={xi}, lam={lam}, alpha={alpha}{hint}")
    print(f"✓ {name}: the right number of NTK-score computations on {len(_REFRESH_CASES)} runs "
          f"(e.g. {_refreshes(5000, 819, 0.7, 1.0, 10)} in 5,000 steps at B = 819)")


def uniform_indices(fn):
    """fn(n, B, generator) must return B distinct indices drawn uniformly from 0..n−1 with
    `generator`, without the package's uniform sampler."""
    name = "uniform_indices"
    forbidden = (samplers.Uniform, samplers.make_sampler)

    def call(*args):
        return run_forbidden(name, fn, *args, forbidden=forbidden)

    for n, b in [(10, 3), (50, 50), (100, 1)]:
        idx = call(n, b, torch.Generator().manual_seed(1))
        if torch.is_tensor(idx) and torch.unique(idx).numel() < idx.numel():
            _fail(name, f"{idx.numel() - torch.unique(idx).numel()} repeated indices (n={n}, B={b}) — "
                        "torch.randint draws with replacement: use torch.randperm(n, generator=...)[:B]")
        _check_indices(name, idx, n, b)
    same = [call(20, 5, torch.Generator().manual_seed(3)).tolist() for _ in range(2)]
    if same[0] != same[1]:
        _fail(name, "the same generator seed gave different indices: draw with the `generator` argument, "
                    "not the global random state")
    if len({tuple(call(20, 5, torch.Generator().manual_seed(s)).tolist()) for s in range(5)}) == 1:
        _fail(name, "five generator seeds gave the same indices: the draw is not random")
    g, draws, n, b = torch.Generator().manual_seed(4), 3000, 12, 3
    # one forbidden block for all draws (patching the package out per call would be slow)
    drawn = run_forbidden(name, lambda: [fn(n, b, g) for _ in range(draws)], forbidden=forbidden)
    counts = torch.bincount(torch.cat(drawn), minlength=n).double()
    expected, sd = draws * b / n, math.sqrt(draws * (b / n) * (1 - b / n))
    if (counts - expected).abs().max() > 6 * sd:
        hint = " — randperm(B) only permutes 0..B−1: permute all n, then keep B" if counts[b:].sum() == 0 else ""
        _fail(name, f"not uniform: over {draws} draws index counts range {int(counts.min())}..{int(counts.max())}, "
                    f"expected {expected:.0f} ± {6 * sd:.0f}{hint}")
    print(f"✓ {name}: distinct, in range, reproducible with the generator and uniform over {draws} draws")


def time_to(fn):
    """fn(seconds, psnr, target) must return the training seconds at the FIRST evaluation whose
    PSNR is ≥ target, or None if none is — without the package's History. (Notebook 07
    interpolates between evaluations; this is the plain version.)"""
    name = "time_to"
    secs = [0.0, 1.5, 3.0, 4.5, 6.0]
    cases = [([10.0, 26.0, 20.0, 27.0, 29.0], 25.0), ([10.0, 20.0, 25.0, 24.0, 28.0], 25.0),
             ([10.0, 20.0, 25.0, 24.0, 28.0], 30.0), ([12.0, 20.0, 25.0, 24.0, 28.0], 5.0),
             ([10.0, 20.0, 23.0, 24.0, 24.5], 24.2)]
    for psnr_, target in cases:
        hit = [i for i, p in enumerate(psnr_) if p >= target]
        ref = secs[hit[0]] if hit else None
        out = run_forbidden(name, fn, list(secs), list(psnr_), target, forbidden=(train.History,))
        try:
            out = None if out is None else float(out)
        except (TypeError, ValueError):
            _fail(name, f"expected a number of seconds or None, got {type(out).__name__}")
        if (out is None) != (ref is None) or (ref is not None and not math.isclose(out, ref, abs_tol=1e-9)):
            strict = [i for i, p in enumerate(psnr_) if p > target]
            hints = [(secs[strict[0]] if strict else None, "PSNR equal to the target counts: use ≥, not >"),
                     (secs[hit[-1]] if hit else None, "return the FIRST time the target is reached, not the last"),
                     (hit[0] if hit else None, "return the training seconds, not the evaluation's index")]
            hint = next((f" — {m}" for v, m in hints if v is not None and out is not None
                         and math.isclose(out, v, abs_tol=1e-9)), "")
            if ref is None and out is not None:
                hint = " — return None when the target is never reached"
            _fail(name, f"got {out!r}, expected {ref!r} for target {target} dB with PSNR {psnr_}{hint}")
    print(f"✓ {name}: first time PSNR ≥ target, or None, on {len(cases)} histories")
