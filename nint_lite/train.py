"""Fitting an INR to a Signal: `fit(...) -> History`.

Clocks are honest: `History.train_seconds` counts only optimisation steps; evaluation (a real
forward pass over every coordinate, in chunks, never the targets) is timed separately.

Built in notebooks/01_fit_an_inr.ipynb (full batch); samplers plug in through `sampler`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from .metrics import psnr as _psnr, ssim as _ssim
from .signals import Signal

__all__ = ["fit", "History", "predict", "resolve_device"]

SAMPLERS = ("full",)  # grows as samplers land; `None` means full batch


def resolve_device(device="auto") -> torch.device:
    """"auto" -> CUDA if available else CPU; "cpu", "cuda", "cuda:1", torch.device also accepted."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:k]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use 'auto', 'cpu' or 'cuda[:k]'")
    return dev


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def predict(model: torch.nn.Module, coords: torch.Tensor, chunk_size: int = 65536) -> torch.Tensor:
    """model(coords) for all N coordinates, chunk by chunk, without autograd. (N, d) -> (N, C)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return torch.cat([model(c) for c in coords.split(chunk_size)])


@dataclass
class History:
    """What happened during a fit. Lists are aligned: one entry per evaluation (step 0 first).

    steps: optimisation steps done; train_seconds: cumulative training time (evaluation
    excluded); psnr: dB over all coordinates. eval_seconds: total time spent evaluating.
    final: metrics of the final model (psnr, and ssim for images).
    """

    sampler: str = "full"
    steps: list = field(default_factory=list)
    train_seconds: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    eval_seconds: float = 0.0
    final: dict = field(default_factory=dict)
    interrupted: bool = False

    def time_to(self, target_psnr: float):
        """Training seconds until PSNR first reached `target_psnr` (at an evaluation), or None."""
        for t, p in zip(self.train_seconds, self.psnr):
            if p >= target_psnr:
                return t
        return None

    def steps_to(self, target_psnr: float):
        """Steps until PSNR first reached `target_psnr` (at an evaluation), or None."""
        for s, p in zip(self.steps, self.psnr):
            if p >= target_psnr:
                return s
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def fit(model: torch.nn.Module, signal: Signal, sampler=None, steps: int = 1000, lr: float = 1e-4,
        eval_every: int | None = None, device="auto", seed: int = 0, progress: bool = True,
        callbacks=(), eval_chunk_size: int = 65536) -> History:
    """Fit `model` to `signal` with Adam on the mean squared error; returns a `History`.

    sampler: None or "full" (every coordinate every step).
    steps: optimisation steps; eval_every: evaluate PSNR every k steps (default steps // 20).
    device: "auto" (CUDA if available), "cpu" or "cuda". The model is moved there in place.
    callbacks: functions cb(step, history, model) called after each evaluation.
    Ctrl-C (KeyboardInterrupt) stops early and returns the History so far.
    """
    name = "full" if sampler is None else sampler
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; valid names: {', '.join(SAMPLERS)}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    eval_every = eval_every or max(1, steps // 20)
    out_features = getattr(model, "out_features", None)
    with torch.no_grad():
        probe = model(signal.coords[:1].to(next(model.parameters()).device))
    if probe.shape[-1] != signal.channels:
        raise ValueError(
            f"model outputs {probe.shape[-1]} channels (out_features={out_features}) but the "
            f"signal has {signal.channels}; build the model with out_features={signal.channels}")

    dev = resolve_device(device)
    model.to(dev)
    x, y = signal.coords.to(dev), signal.values.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = History(sampler=name)
    train_time = 0.0
    pred, p = None, math.nan

    def evaluate(step):
        nonlocal pred, p  # set before callbacks run, so an interrupt there keeps them in step
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        pred = predict(model, x, eval_chunk_size)
        model.train(was_training)
        p = _psnr(pred, y)
        hist.eval_seconds += time.perf_counter() - t0
        if math.isnan(p) or p == -math.inf:
            raise FloatingPointError(
                f"the model's output became NaN or inf by step {step}; try a lower learning rate "
                f"(lr={lr})")
        hist.steps.append(step)
        hist.train_seconds.append(train_time)
        hist.psnr.append(p)
        for cb in callbacks:
            cb(step, hist, model)
        return pred, p

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc=f"fit[{name}]", leave=False)
    done = 0  # steps completed, so an interrupt mid-step is reported correctly
    try:
        evaluate(0)
        for step in range(1, steps + 1):
            t0 = time.perf_counter()
            loss = torch.mean((model(x) - y) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            _sync(dev)
            train_time += time.perf_counter() - t0
            done = step
            bar.update(1)
            if step % eval_every == 0 or step == steps:
                evaluate(step)
                bar.set_postfix(psnr=f"{p:.2f}")
    except KeyboardInterrupt:
        hist.interrupted = True
        if not hist.steps or hist.steps[-1] != done:
            evaluate(done)
    finally:
        bar.close()

    hist.final = {"psnr": p, "steps": hist.steps[-1], "train_seconds": hist.train_seconds[-1]}
    if signal.kind == "image" and min(signal.shape) >= 11:
        hist.final["ssim"] = _ssim(signal.to_grid(pred.cpu()), signal.to_grid(signal.values))
    return hist
