"""Fitting an INR to a Signal: fit(...) -> History, one train_step, predict, checkpoints.

Clocks are honest: `History.train_seconds` counts only optimisation steps (selection, forward,
backward, Adam), synchronised on GPU at the end of every timed segment; evaluation — a real
forward pass over every coordinate, in chunks, never the targets — is timed separately.
The step loop does no host synchronisation (no .item(), no .cpu()) outside evaluations, so the
same code runs fast on a GPU. Training happens where the model's parameters are.

Built in notebooks/01_fit_an_inr.ipynb (full batch) and notebooks/05_nint_trainer.ipynb.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field

import torch

from . import device as _device
from .metrics import psnr as _psnr, ssim as _ssim
from .models import RECOMMENDED_LR, make_model
from .samplers import Sampler, Selection, View, make_sampler, mse
from .signals import Signal

__all__ = ["fit", "train_step", "History", "predict", "save_checkpoint", "load_checkpoint"]

LR_SCHEDULES = ("constant", "cosine")


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
    excluded); psnr: dB over all coordinates (peak-to-peak range signal.meta["data_range"],
    1 for images). metrics: the signal's own measures per evaluation (signal.metrics, e.g.
    {"si_snr": [...]} for audio, {"iou": [...]} for shapes, {} for images). eval_seconds: total
    time spent evaluating. final: metrics of the final model (psnr; ssim for images, si_snr /
    iou likewise). selections: {step: indices} recorded when fit(record_selections=...) asks.
    """

    sampler: str = "full"
    precision: str = "fp32"
    steps: list = field(default_factory=list)
    train_seconds: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    eval_seconds: float = 0.0
    final: dict = field(default_factory=dict)
    interrupted: bool = False
    stopped_by: str = ""
    selections: dict = field(default_factory=dict)

    def _curve(self, metric: str) -> list:
        if metric == "psnr":
            return self.psnr
        if metric not in self.metrics:
            raise ValueError(f"this history has no {metric!r}; it has psnr"
                             + "".join(f", {k}" for k in self.metrics))
        return self.metrics[metric]

    def _crossing(self, xs: list, target: float, metric: str, interpolate: bool):
        """xs (training seconds or steps) where `metric` first reached `target`: linearly
        interpolated between the evaluation before and the first at or above it (a first
        evaluation already there gives its own x), or that evaluation's x; None if never."""
        curve = self._curve(metric)
        for i, p in enumerate(curve):
            if p >= target:
                if not interpolate or i == 0:
                    return xs[i]
                p0, x0 = curve[i - 1], xs[i - 1]  # p0 < target <= p: the crossing lies between
                return x0 + (target - p0) / (p - p0) * (xs[i] - x0)
        return None

    def time_to(self, target: float, metric: str = "psnr", interpolate: bool = True):
        """Training seconds until `metric` (default PSNR) first reached `target`, or None.
        interpolate: linearly between the two evaluations around the crossing (default), so
        the answer does not depend on the evaluation cadence; False: at the first evaluation
        at or above the target."""
        return self._crossing(self.train_seconds, target, metric, interpolate)

    def steps_to(self, target: float, metric: str = "psnr", interpolate: bool = True):
        """Steps until `metric` (default PSNR) first reached `target` (a float when
        interpolated, as in time_to), or None."""
        return self._crossing(self.steps, target, metric, interpolate)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        d = dict(d)
        d["selections"] = {int(k): v for k, v in d.get("selections", {}).items()}
        return cls(**d)


def train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, sel, sampler=None,
               t: int = 0, chunk_size: int = 65536, total: int | None = None) -> torch.Tensor:
    """Forward and backward of one selection; gradients ACCUMULATE in .grad (no zero_grad, no
    optimizer step). Returns the loss, detached, 0-d, on the device (no host sync).

    x: (N, d), y: (N, C); sel: a Selection or a (B,) long tensor of rows of x.
    The mean squared error (weighted by sel.weights when set) is backpropagated chunk_size
    coordinates at a time: Σ_chunks backward(Σ_chunk w·mse / total) gives the same gradient as
    one pass, in memory for a chunk instead of B (≈ 1 KB per coordinate for SIREN 3×128).
    sampler: a Sampler with a loss() of its own that needs the whole batch (Soft Mining's batch
        statistics, EVOS's Laplacian over the grid). Up to chunk_size coordinates it runs in one
        pass; beyond, a forward without autograd gives all B predictions, the sampler's loss is
        differentiated with respect to them (a (B, C) cotangent), and the chunks are
        backpropagated with that cotangent: the same gradient, one extra forward, bounded memory.
    sel.coords / sel.targets, when set, replace x[indices] / y[indices]; gradients then also
        flow into them (Soft Mining reads its positions' .grad for the next Langevin step).
    A sampler whose `observes` is True (NINT's cached error modes) is shown each trained row's
        residual from this forward, for free: sampler.observe(rows (B,), f − y (B, C)).
    total: the count the mean is taken over (default B; nint_lite.lab.distributed passes the
        global B when each rank holds part of the selection).
    """
    sel = sel if isinstance(sel, Selection) else Selection(sel)
    b = x.shape[0] if sel.full else sel.indices.numel()
    own_loss = sampler is not None and type(sampler).loss is not Sampler.loss
    dense = sel.full or sel.coords is not None  # the batch is rows 0 … B−1 of x, y: no gather
    if sel.coords is not None:  # positions off the grid (Soft Mining), with their own targets
        x, y = sel.coords, sel.targets
    rows = (lambda s: slice(s, s + chunk_size)) if dense else (lambda s: sel.indices[s:s + chunk_size])
    if b <= chunk_size and total is None:  # one pass
        out, target = (model(x), y) if dense else (model(x[sel.indices]), y[sel.indices])
        if getattr(sampler, "observes", False) and not dense:  # NINT's cached errors, kept for free
            sampler.observe(sel.indices, out.detach() - target)
        loss = sampler.loss(out, target, sel, t, sampler.view) if own_loss else mse(out, target, sel.weights)
        loss.backward()
        return loss.detach()
    if own_loss:
        with torch.no_grad():
            pred = torch.cat([model(x[rows(s)]) for s in range(0, b, chunk_size)])
        pred.requires_grad_(True)
        target = y if dense else y[sel.indices]
        leaf = target.detach().requires_grad_(target.requires_grad)  # Soft Mining's interpolation
        with torch.enable_grad():
            loss = sampler.loss(pred, leaf, sel, t, sampler.view)
            cots = torch.autograd.grad(loss, [pred, leaf][:1 + leaf.requires_grad])  # (B, C) each
        if leaf.requires_grad:
            target.backward(cots[1])  # through the target's interpolation (into the positions)
        for s in range(0, b, chunk_size):
            model(x[rows(s)]).backward(cots[0][s:s + chunk_size])
        return loss.detach()
    total = total or b
    acc = torch.zeros((), device=x.device)
    for s in range(0, b, chunk_size):
        idx = rows(s)
        res = model(x[idx]) - y[idx]
        if getattr(sampler, "observes", False) and not dense:
            sampler.observe(idx, res.detach())
        per = torch.mean(res ** 2, dim=1)
        part = (per if sel.weights is None else sel.weights[s:s + chunk_size] * per).sum() / total
        part.backward()
        acc += part.detach()
    return acc


def _check_fit_args(steps, seconds, lr, target_psnr, lr_schedule, chunks=()):
    if any(not (isinstance(c, int) and c > 0) for c in chunks):
        raise ValueError(f"chunk sizes must be positive ints, got {chunks}")
    if steps is None and seconds is None:
        raise ValueError("give steps, seconds (a training-time budget), or both")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if target_psnr is not None and not target_psnr > 0:
        raise ValueError(f"target_psnr must be a positive number of dB, got {target_psnr!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; valid: {', '.join(LR_SCHEDULES)}")
    if lr_schedule == "cosine" and steps is None:
        raise ValueError("lr_schedule='cosine' needs steps (it anneals to 0 at the last step)")


def _default_lr(model) -> float:
    spec = getattr(model, "spec", None)
    if spec is None or spec.get("name") not in RECOMMENDED_LR:
        raise ValueError("lr=None takes the family's recommended lr from a model built by "
                         "nint_lite.make_model; for this model give lr= explicitly")
    return RECOMMENDED_LR[spec["name"]]


def fit(model: torch.nn.Module, signal: Signal, sampler=None, steps: int | None = None,
        seconds: float | None = None, lr: float | None = None, target_psnr: float | None = None,
        eval_every: int | None = None, device=None, seed: int = 0, progress: bool = True,
        callbacks=(), lr_schedule: str = "constant", record_selections=(),
        eval_chunk_size: int | None = None, train_chunk_size: int | None = None, save_to=None,
        checkpoint_every: int | None = None, resume_from=None, precision: str = "fp32",
        compile: bool | str = False) -> History:
    """Fit `model` to `signal` with Adam; returns a `History`.

    sampler: None / "full" (every coordinate every step), a sampler name ("uniform", "int",
        "nint", … — built with ratio 0.2 and `seed`), or a Sampler from make_sampler (used as
        it is: its own ratio, parameters and seed).
    Stops after `steps`, once `seconds` of training time are spent, or when an evaluation
    reaches `target_psnr` dB — whichever comes first (give steps or seconds or both).
    lr: Adam's learning rate; None = the model family's RECOMMENDED_LR (models from make_model).
    eval_every: evaluate every k steps (default steps // 20, or 25 with only a time budget).
    device: None (default) trains where the model's parameters are and moves the signal there;
        "cpu", "cuda", "cuda:1" or "auto" MOVES THE MODEL to that device, in place.
    lr_schedule: "constant" or "cosine" (to 0 at `steps`).
    callbacks: functions cb(step, history, model) called after each evaluation (see
        plots.LivePlot and plots.SaveReconstructions).
    record_selections: steps at which to store the selected indices in History.selections.
    save_to: a path; the final model, History and run state are saved there (load_checkpoint
        reads the model and History back; resume_from continues the run).
    checkpoint_every: with save_to, also save there every k steps (a multiple of eval_every),
        so that a crash at step 4,000 of 5,000 loses at most k steps.
    resume_from: a checkpoint written by fit(save_to=...): continue that run exactly — weights,
        Adam's state, the sampler's state and generator, the lr schedule, History and clock —
        up to `steps` in all (on CPU, 25 + 25 resumed steps equal 50 straight ones bit for bit).
        Pass the same model family, signal, sampler and settings as the original run.
    eval_chunk_size, train_chunk_size: coordinates per forward in evaluation / the residual pass,
        and per forward-backward in a training step (gradients accumulate over chunks), so the
        working set is bounded however large N and B are (default: device.default_chunk, 65,536
        on CPU, 262,144 on a GPU).
    precision: "fp32" (default: float32 throughout, TF32 off — SIREN's ω0 = 30 amplifies TF32's
        rounding), "tf32" (TF32 matmuls on NVIDIA GPUs) or "bf16" (autocast of the training
        step and the selection; evaluation stays float32). Recorded in History.precision.
    compile: run the forward passes through torch.compile (off by default: on the 2-core CPU it
        took ~50 s to compile SIREN 3×128, longer than the runs it would speed up); True, or a
        torch.compile mode such as "reduce-overhead" (CUDA graphs: for samplers whose batch
        shape is fixed — every sampler here but EVOS, which alternates N (key steps) and B).
    On CUDA, Adam is the fused kernel (one launch for all parameters).
    Ctrl-C (KeyboardInterrupt) stops early and returns the History so far.
    """
    lr = _default_lr(model) if lr is None else lr
    dev = next(model.parameters()).device if device is None else _device.resolve(device)
    eval_chunk_size = _device.default_chunk(dev) if eval_chunk_size is None else eval_chunk_size
    train_chunk_size = _device.default_chunk(dev) if train_chunk_size is None else train_chunk_size
    _check_fit_args(steps, seconds, lr, target_psnr, lr_schedule, (eval_chunk_size, train_chunk_size))
    if precision not in _device.PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(_device.PRECISIONS)}")
    if save_to is not None and getattr(model, "spec", None) is None:
        raise ValueError("save_to needs a model built by nint_lite.make_model (it records its spec)")
    resume = _load_run(resume_from) if resume_from is not None else None
    smp = make_sampler("full" if sampler is None else sampler, seed=seed)
    model.to(dev)  # a no-op unless device= was given: by default training follows the model
    with torch.no_grad():
        probe = model(signal.coords[:1].to(dev))
    if probe.shape[-1] != signal.channels:
        raise ValueError(
            f"model outputs {probe.shape[-1]} channels (out_features="
            f"{getattr(model, 'out_features', '?')}) but the signal has {signal.channels}; build "
            f"the model with out_features={signal.channels}")
    spec = getattr(model, "spec", {})
    if signal.kind == "audio" and spec.get("name") == "siren" and spec.get("first_w0", 30.0) < 300:
        warnings.warn(f"a SIREN with first_w0={spec.get('first_w0', 30.0):g} barely fits audio; "
                      "SIREN's paper uses 3000 (make_model('siren', signal) sets it)", stacklevel=2)

    x, y = signal.coords.to(dev), signal.values.to(dev)
    T = steps or 10**9  # schedules that depend on T treat a pure time budget as unbounded
    eval_every = eval_every or (max(1, steps // 20) if steps else 25)
    if checkpoint_every is not None and (save_to is None or checkpoint_every % eval_every):
        raise ValueError(f"checkpoint_every needs save_to and must be a multiple of eval_every "
                         f"({eval_every}), got {checkpoint_every!r}")
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=dev.type == "cuda")
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if lr_schedule == "cosine" else None
    mode = None if compile is True else compile or None
    if mode == "reduce-overhead" and not (smp.fixed_shape and smp.schedule == "constant"):
        # CUDA graphs replay fixed shapes; a batch that changes size would re-record every time
        warnings.warn(f"compile='reduce-overhead' needs a fixed batch shape, which {smp.name!r} "
                      "does not have; compiling with the default mode instead", stacklevel=2)
        mode = None
    net = torch.compile(model, mode=mode) if compile else model  # same parameters, compiled forward
    smp.setup(View(model, x, y, signal.shape, signal.kind, T, eval_chunk_size, forward=net, optimizer=opt))
    hist = History(sampler=smp.name, precision=precision)
    done = 0  # steps completed, so an interrupt mid-step is reported correctly
    train_time, pred, p = 0.0, None, math.nan
    if resume is not None:
        run = resume["run"]
        model.load_state_dict(resume["state_dict"])
        opt.load_state_dict(run["optimizer"])
        if sched is not None:
            sched.load_state_dict(run["scheduler"])
        smp.load_state_dict(run["sampler"])
        hist = History.from_dict(resume["history"])
        hist.stopped_by, hist.interrupted = "", False
        done, train_time, p = run["step"], run["train_seconds"], hist.psnr[-1]

    def save(path):
        save_checkpoint(path, model, hist, run={
            "step": done, "train_seconds": train_time, "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else None,
            "sampler": smp.state_dict()})
    record = set(record_selections)
    # first step whose loss was not finite, kept on the device: no host sync per step
    bad_step = torch.full((), -1, dtype=torch.long, device=dev)
    data_range = float(signal.meta.get("data_range", 1.0))

    def evaluate(step):
        nonlocal pred, p  # set before callbacks run, so an interrupt there keeps them in step
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        with torch.autocast(dev.type, enabled=False):  # evaluation is float32 under any policy
            pred = predict(net, x, eval_chunk_size)
        model.train(was_training)
        p = _psnr(pred, y, data_range)
        for name, fn in signal.metrics.items():
            hist.metrics.setdefault(name, []).append(fn(pred, y))
        first_bad = int(bad_step)
        hist.eval_seconds += time.perf_counter() - t0
        if first_bad >= 0 or math.isnan(p) or p == -math.inf:
            at = f"at step {first_bad}" if first_bad >= 0 else f"by step {step}"
            raise FloatingPointError(f"the loss became NaN or inf {at}; try a lower learning "
                                     f"rate (lr={lr:g}, e.g. lr={lr / 10:g})")
        hist.steps.append(step)
        hist.train_seconds.append(train_time)
        hist.psnr.append(p)
        for cb in callbacks:
            cb(step, hist, model)

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=done, disable=not progress, desc=f"fit[{smp.name}]", leave=False)
    with _device.precision(precision, dev):  # restores the global flags however the run ends
        try:
            if resume is None:
                evaluate(0)
            t_seg = time.perf_counter()  # a timed segment runs from one evaluation to the next
            while steps is None or done < steps:
                t = done  # samplers count steps t = 0 … T−1
                sel = smp(t)
                if t in record:  # a host copy, only at the steps asked for
                    hist.selections[t] = sel.indices.tolist()
                opt.zero_grad(set_to_none=True)
                loss = train_step(net, x, y, sel, smp, t, train_chunk_size)
                opt.step()
                if sched is not None:
                    sched.step()
                bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss), t + 1, bad_step)
                done += 1
                bar.update(1)
                over_time = seconds is not None and train_time + time.perf_counter() - t_seg >= seconds
                if done % eval_every == 0 or done == steps or over_time:
                    _device.sync(dev)
                    train_time += time.perf_counter() - t_seg
                    evaluate(done)
                    bar.set_postfix(psnr=f"{p:.2f}")
                    if checkpoint_every and done % checkpoint_every == 0:
                        save(save_to)
                    if target_psnr is not None and p >= target_psnr:
                        hist.stopped_by = "target_psnr"
                        break
                    if seconds is not None and train_time >= seconds:
                        hist.stopped_by = "seconds"
                        break
                    t_seg = time.perf_counter()
            else:
                hist.stopped_by = "steps"
        except KeyboardInterrupt:
            hist.interrupted, hist.stopped_by = True, "interrupted"
            if not hist.steps or hist.steps[-1] != done:
                _device.sync(dev)
                train_time += time.perf_counter() - t_seg if hist.steps else 0.0
                evaluate(done)
        finally:
            bar.close()

    if pred is None:  # a resumed run that had nothing left to do
        pred = predict(net, x, eval_chunk_size)
    hist.final = {"psnr": p, "steps": hist.steps[-1], "train_seconds": hist.train_seconds[-1]}
    if signal.kind == "image" and min(signal.shape) >= 11:
        hist.final["ssim"] = _ssim(signal.to_grid(pred.cpu()), signal.to_grid(signal.values))
    hist.final.update({k: v[-1] for k, v in hist.metrics.items()})
    if save_to is not None:
        save(save_to)
    return hist


# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(path, model: torch.nn.Module, history: History | None = None, run: dict | None = None) -> None:
    """Save a model built by make_model (its spec and weights), optionally its History and the
    state a resumed fit needs (`run`: step, clock, optimizer, scheduler, sampler; fit fills it).
    Written to a temporary file first, so a crash while saving keeps the previous checkpoint."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("save_checkpoint needs a model built by nint_lite.make_model (it records its spec)")
    tmp = f"{path}.tmp"
    torch.save({"spec": spec, "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "history": history.to_dict() if history is not None else None,
                "run": _to_cpu(run)}, tmp)
    os.replace(tmp, path)


def _to_cpu(obj):
    """A copy of nested dicts/lists with every tensor on the CPU (checkpoints load anywhere)."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _load_run(path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not ckpt.get("run") or not ckpt.get("history"):
        raise ValueError(f"{path} holds no run to resume; fit(save_to=...) writes resumable checkpoints")
    return ckpt


def load_checkpoint(path, device="cpu"):
    """(model, History or None) from save_checkpoint; the model reproduces its outputs exactly."""
    # weights_only: a checkpoint holds tensors and plain Python values, so nothing in the file
    # can run code when it is loaded
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = make_model(**ckpt["spec"])
    model.load_state_dict(ckpt["state_dict"])
    hist = History.from_dict(ckpt["history"]) if ckpt.get("history") else None
    return model.to(_device.resolve(device)), hist
