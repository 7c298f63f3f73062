"""Unit tests for nint_lite.train (fit, History, predict) and nint_lite.device."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nint_lite as nl
from nint_lite.device import resolve as resolve_device
from nint_lite.train import History, fit, predict


@pytest.fixture(scope="module")
def camera16():
    return nl.sample_signal("camera", size=16)


def _model(name="relu", c=1, seed=0):
    return nl.make_model(name, 2, c, hidden=16, layers=2, seed=seed)


def _fit(model, signal, **kw):
    kw.setdefault("steps", 20)
    kw.setdefault("lr", 1e-3)
    kw.setdefault("device", "cpu")
    kw.setdefault("progress", False)
    return fit(model, signal, **kw)


# --------------------------------------------------------------------------- History from fit

def test_fit_history(camera16):
    h = _fit(_model(), camera16, steps=40, eval_every=10)
    assert isinstance(h, History)
    assert h.sampler == "full" and not h.interrupted
    assert h.steps == [0, 10, 20, 30, 40]
    assert len(h.train_seconds) == len(h.psnr) == len(h.steps)
    assert h.train_seconds[0] == 0.0
    assert all(b >= a for a, b in zip(h.train_seconds, h.train_seconds[1:]))
    assert h.train_seconds[-1] > 0
    assert h.psnr[-1] > h.psnr[0] + 1.0
    assert h.final["steps"] == 40 and h.final["psnr"] == h.psnr[-1]
    assert h.final["train_seconds"] == h.train_seconds[-1]
    assert -1.0 <= h.final["ssim"] <= 1.0


def test_fit_default_eval_every_and_last_step(camera16):
    h = _fit(_model(), camera16, steps=45)  # default: every steps // 20 = 2, plus the last
    assert h.steps[0] == 0 and h.steps[-1] == 45
    assert h.steps[1] == 2 and 44 in h.steps
    h = _fit(_model(), camera16, steps=7, eval_every=3)
    assert h.steps == [0, 3, 6, 7]


def test_fit_psnr_is_that_of_the_returned_model(camera16):
    m = _model()
    h = _fit(m, camera16, steps=15)
    with torch.no_grad():
        mse = torch.mean((m(camera16.coords) - camera16.values) ** 2).item()
    assert h.psnr[-1] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)


def test_fit_rgb_signal():
    sig = nl.sample_signal("astronaut", size=16)
    h = _fit(_model(c=3), sig, steps=20)
    assert h.psnr[-1] > h.psnr[0]


class _SlowEval(nn.Module):
    """Wraps a model; each forward pass in eval mode (fit's evaluation) sleeps."""

    def __init__(self, inner, delay):
        super().__init__()
        self.inner, self.delay, self.out_features = inner, delay, inner.out_features

    def forward(self, x):
        if not self.training:
            import time
            time.sleep(self.delay)
        return self.inner(x)


def test_eval_time_not_counted_as_training(camera16):
    m = _SlowEval(_model(), 0.05)
    h = _fit(m, camera16, steps=8, eval_every=2)
    assert len(h.steps) == 5
    assert h.eval_seconds >= 5 * 0.05
    assert h.train_seconds[-1] < 0.2  # would be >= 0.25 if evaluation were counted


# --------------------------------------------------------------------------- time_to / steps_to / to_dict

def _hist():
    return History(steps=[0, 10, 20, 30], train_seconds=[0.0, 1.5, 3.0, 4.5],
                   psnr=[5.0, 12.0, 20.0, 18.0], eval_seconds=0.4)


def test_time_to_and_steps_to_first_crossing():
    h = _hist()
    kw = {"interpolate": False}  # at the first evaluation at or above the target
    assert h.time_to(12.0, **kw) == 1.5 and h.steps_to(12.0, **kw) == 10  # reached exactly
    assert h.time_to(15.0, **kw) == 3.0 and h.steps_to(15.0, **kw) == 20
    assert h.time_to(18.0, **kw) == 3.0 and h.steps_to(18.0, **kw) == 20  # first, not the later 18.0
    assert h.time_to(-1.0, **kw) == 0.0 and h.steps_to(-1.0, **kw) == 0
    assert h.time_to(20.5, **kw) is None and h.steps_to(20.5, **kw) is None


def test_time_to_and_steps_to_interpolate_between_evaluations():
    h = _hist()  # 12 dB at (10 steps, 1.5 s), 20 dB at (20 steps, 3.0 s)
    assert h.time_to(12.0) == 1.5 and h.steps_to(12.0) == 10  # an evaluation exactly on it
    assert h.steps_to(16.0) == pytest.approx(15.0) and h.time_to(16.0) == pytest.approx(2.25)
    assert h.steps_to(18.0) == pytest.approx(17.5)  # the first crossing, not the later 18.0
    assert h.steps_to(5.5) == pytest.approx(5 / 7) and h.time_to(5.5) == pytest.approx(1.5 / 14)
    assert h.time_to(-1.0) == 0.0 and h.steps_to(-1.0) == 0  # already there at the start
    assert h.time_to(20.5) is None and h.steps_to(20.5) is None


def test_steps_to_on_real_fit(camera16):
    h = _fit(_model(), camera16, steps=20, eval_every=5)
    target = h.psnr[2]
    k = next(i for i, p in enumerate(h.psnr) if p >= target)
    assert h.steps_to(target, interpolate=False) == h.steps[k]
    assert h.time_to(target, interpolate=False) == h.train_seconds[k]
    assert h.steps[k - 1] < h.steps_to(target) <= h.steps[k]  # psnr[k − 1] < target
    assert h.steps_to(max(h.psnr) + 1) is None


def test_to_dict_is_json_serialisable(camera16):
    h = _fit(_model(), camera16, steps=10, eval_every=5)
    d = h.to_dict()
    back = json.loads(json.dumps(d))
    assert back["steps"] == [0, 5, 10]
    assert back["psnr"] == pytest.approx(h.psnr)
    assert back["final"]["psnr"] == pytest.approx(h.final["psnr"])
    assert set(back) == {"sampler", "precision", "steps", "train_seconds", "psnr", "metrics", "eval_seconds", "final",
                         "interrupted", "stopped_by", "selections"}


# --------------------------------------------------------------------------- argument errors

def test_out_features_mismatch(camera16):
    with pytest.raises(ValueError, match="out_features=1"):
        _fit(_model(c=3), camera16)


def test_unknown_sampler(camera16):
    with pytest.raises(ValueError, match="unknown sampler 'banana'.*full.*nint"):
        _fit(_model(), camera16, sampler="banana")


@pytest.mark.parametrize("steps", [0, -5, 2.5])
def test_bad_steps(camera16, steps):
    with pytest.raises(ValueError, match="steps must be a positive int"):
        _fit(_model(), camera16, steps=steps)


@pytest.mark.parametrize("lr", [0.0, -1e-3])
def test_bad_lr(camera16, lr):
    with pytest.raises(ValueError, match="lr must be positive"):
        _fit(_model(), camera16, lr=lr)


@pytest.mark.parametrize("device", ["tpu", "banana", "meta"])
def test_unknown_device(camera16, device):
    with pytest.raises(ValueError, match="device"):
        resolve_device(device)
    with pytest.raises(ValueError, match=repr(device)):
        _fit(_model(), camera16, device=device)


def test_resolve_device_valid():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_requested_but_unavailable(camera16, device):
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        _fit(_model(), camera16, device=device)


# --------------------------------------------------------------------------- interrupts, callbacks

def test_callbacks_see_each_evaluation(camera16):
    seen = []
    _fit(_model(), camera16, steps=6, eval_every=2,
         callbacks=[lambda step, h, m: seen.append((step, len(h.steps), h.psnr[-1]))])
    assert [s for s, _, _ in seen] == [0, 2, 4, 6]
    assert [n for _, n, _ in seen] == [1, 2, 3, 4]


@pytest.mark.parametrize("k", [0, 6])
def test_keyboard_interrupt_returns_history(camera16, k):
    def stop(step, hist, model):
        if step == k:
            raise KeyboardInterrupt

    m = _model()
    try:
        h = _fit(m, camera16, steps=20, eval_every=2, callbacks=[stop])
    except KeyboardInterrupt:  # don't let it stop the whole pytest session
        pytest.fail(f"fit let a KeyboardInterrupt at step {k} escape")
    assert h.interrupted
    assert h.steps == list(range(0, k + 1, 2))
    assert h.final["steps"] == k
    # final metrics belong to the model as it was when stopped
    assert h.final["psnr"] == h.psnr[-1]
    with torch.no_grad():
        pred = m(camera16.coords)
    mse = torch.mean((pred - camera16.values) ** 2).item()
    assert h.final["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)
    assert h.final["ssim"] == pytest.approx(
        nl.ssim(camera16.to_grid(pred), camera16.to_grid()), abs=1e-5)


# --------------------------------------------------------------------------- predict

def test_predict_matches_model():
    m = _model("siren", c=3)
    x = nl.grid((9, 7))
    with torch.no_grad():
        ref = m(x)
    for chunk in (1, 5, 63, 64, 1000):
        out = predict(m, x, chunk_size=chunk)
        assert out.shape == (63, 3)
        assert not out.requires_grad
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk", [0, -1])
def test_predict_bad_chunk(chunk):
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        predict(_model(), nl.grid((4, 4)), chunk_size=chunk)


# --------------------------------------------------------------------------- divergence

class _Constant(nn.Module):
    """A model (with one parameter) whose output is a constant, e.g. NaN."""

    out_features = 1

    def __init__(self, value):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.value = value

    def forward(self, x):
        return torch.full((x.shape[0], 1), self.value) + 0 * self.lin(x)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nonfinite_output_raises(camera16, value):
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        _fit(_Constant(value), camera16, steps=5)


def test_huge_lr_raises(camera16):
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        _fit(_model("relu"), camera16, steps=50, lr=1e6, eval_every=1)
