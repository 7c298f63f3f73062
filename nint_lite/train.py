"""Fitting an INR to a Signal: `fit(...) -> History`, and `compare(...)` of several samplers.

Clocks are honest: `History.train_seconds` counts only optimisation steps (selection, forward,
backward, Adam), synchronised on GPU at the end of every timed segment; evaluation — a real
forward pass over every coordinate, in chunks, never the targets — is timed separately.
The step loop does no host synchronisation (no .item(), no .cpu()) outside evaluations, so the
same code runs fast on a GPU.

Built in notebooks/01_fit_an_inr.ipynb (full batch) and notebooks/05_nint_trainer.ipynb.
"""
from __future__ import annotations

import copy
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch

from .metrics import iou as _iou, psnr as _psnr, si_snr as _si_snr, ssim as _ssim
from .samplers import Sampler, View, make_sampler
from .signals import Signal

__all__ = ["fit", "compare", "summarise", "History", "predict", "resolve_device", "save_checkpoint",
           "load_checkpoint", "LivePlot", "SaveReconstructions"]

LR_SCHEDULES = ("constant", "cosine")


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
    excluded); psnr: dB over all coordinates (peak-to-peak range signal.meta["data_range"],
    1 for images). metrics: the signal kind's own measure per evaluation — {"si_snr": [...]} for
    audio, {"iou": [...]} for shapes, {} for images. eval_seconds: total time spent evaluating.
    final: metrics of the final model (psnr; ssim for images, si_snr / iou likewise).
    selections: {step: indices} recorded when fit(record_selections=...) asks for them.
    """

    sampler: str = "full"
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

    def time_to(self, target: float, metric: str = "psnr"):
        """Training seconds until `metric` (default PSNR) first reached `target` at an
        evaluation, or None."""
        for t, p in zip(self.train_seconds, self._curve(metric)):
            if p >= target:
                return t
        return None

    def steps_to(self, target: float, metric: str = "psnr"):
        """Steps until `metric` (default PSNR) first reached `target` at an evaluation, or None."""
        for s, p in zip(self.steps, self._curve(metric)):
            if p >= target:
                return s
        return None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        d = dict(d)
        d["selections"] = {int(k): v for k, v in d.get("selections", {}).items()}
        return cls(**d)

    def to_json(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f)


def _kind_metrics(signal: Signal) -> dict:
    """name -> fn(pred, target) of the measure each signal kind is judged by, besides PSNR."""
    if signal.kind == "audio":
        return {"si_snr": _si_snr}
    if signal.kind == "shape":
        inside = "above" if signal.meta.get("field") == "occupancy" else "below"
        level = float(signal.meta.get("level", 0.0))
        return {"iou": lambda p, t: _iou(p, t, level, inside)}
    return {}


def _forward_backward(net, x, y, sel, smp, t, view, chunk: int) -> torch.Tensor:
    """One step's forward and backward; returns the loss (detached, on the device, no sync).

    With the plain per-coordinate loss (every sampler but Soft Mining and EVOS, whose losses
    use batch statistics) a selection larger than `chunk` is backpropagated chunk by chunk:
    Σ_chunks backward(Σ_chunk w·mse / B) gives the same gradient as one pass, in memory for
    `chunk` coordinates instead of B (≈ 1 KB per coordinate for SIREN 3×128).
    """
    b = x.shape[0] if sel.full else sel.indices.numel()
    if b <= chunk or type(smp).loss is not Sampler.loss:
        out, target = (net(x), y) if sel.full else (net(x[sel.indices]), y[sel.indices])
        loss = smp.loss(out, target, sel, t, view)
        loss.backward()
        return loss.detach()
    total = torch.zeros((), device=x.device)
    for s in range(0, b, chunk):
        idx = slice(s, s + chunk) if sel.full else sel.indices[s:s + chunk]
        per = torch.mean((net(x[idx]) - y[idx]) ** 2, dim=1)
        part = (per if sel.weights is None else sel.weights[s:s + chunk] * per).sum() / b
        part.backward()
        total += part.detach()
    return total


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


def fit(model: torch.nn.Module, signal: Signal, sampler=None, steps: int | None = None,
        seconds: float | None = None, lr: float = 1e-4, target_psnr: float | None = None,
        eval_every: int | None = None, device="auto", seed: int = 0, progress: bool = True,
        callbacks=(), lr_schedule: str = "constant", record_selections=(),
        eval_chunk_size: int = 65536, train_chunk_size: int = 65536, save_to=None,
        compile: bool = False) -> History:
    """Fit `model` to `signal` with Adam; returns a `History`.

    sampler: None / "full" (every coordinate every step), a sampler name ("uniform", "int",
        "nint", … — built with ratio 0.2 and `seed`), or a Sampler from make_sampler.
    Stops after `steps`, once `seconds` of training time are spent, or when an evaluation
    reaches `target_psnr` dB — whichever comes first (give steps or seconds or both).
    eval_every: evaluate every k steps (default steps // 20, or 25 with only a time budget).
    device: "auto" (CUDA if available), "cpu" or "cuda"; the model is moved there in place.
    lr_schedule: "constant" or "cosine" (to 0 at `steps`).
    callbacks: functions cb(step, history, model) called after each evaluation.
    record_selections: steps at which to store the selected indices in History.selections.
    save_to: a path; the final model and History are saved there (see load_checkpoint).
    eval_chunk_size, train_chunk_size: coordinates per forward in evaluation / the residual pass,
        and per forward-backward in a training step (gradients accumulate over chunks), so the
        working set is bounded however large N and B are.
    compile: run the forward passes through torch.compile (off by default: on the 2-core CPU it
        took ~50 s to compile SIREN 3×128, longer than the runs it would speed up).
    Ctrl-C (KeyboardInterrupt) stops early and returns the History so far.
    """
    _check_fit_args(steps, seconds, lr, target_psnr, lr_schedule, (eval_chunk_size, train_chunk_size))
    smp = make_sampler("full" if sampler is None else sampler, seed=seed)
    dev = resolve_device(device)
    params = list(model.parameters())
    with torch.no_grad():
        probe = model(signal.coords[:1].to(params[0].device))
    if probe.shape[-1] != signal.channels:
        raise ValueError(
            f"model outputs {probe.shape[-1]} channels (out_features="
            f"{getattr(model, 'out_features', '?')}) but the signal has {signal.channels}; build "
            f"the model with out_features={signal.channels}")

    model.to(dev)
    x, y = signal.coords.to(dev), signal.values.to(dev)
    T = steps or 10**9  # schedules that depend on T treat a pure time budget as unbounded
    eval_every = eval_every or (max(1, steps // 20) if steps else 25)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if lr_schedule == "cosine" else None
    net = torch.compile(model) if compile else model  # same parameters, compiled forward
    view = View(model, x, y, signal.shape, signal.kind, T, eval_chunk_size, forward=net)
    view.optimizer = opt  # for samplers that use the optimiser's state (NINT score="adam")
    smp.setup(view)
    hist = History(sampler=smp.name)
    record = set(record_selections)
    # first step whose loss was not finite, kept on the device: no host sync per step
    bad_step = torch.full((), -1, dtype=torch.long, device=dev)
    train_time, pred, p = 0.0, None, math.nan

    data_range = float(signal.meta.get("data_range", 1.0))
    kind_metrics = _kind_metrics(signal)

    def evaluate(step):
        nonlocal pred, p  # set before callbacks run, so an interrupt there keeps them in step
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        pred = predict(net, x, eval_chunk_size)
        model.train(was_training)
        p = _psnr(pred, y, data_range)
        for name, fn in kind_metrics.items():
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

    bar = tqdm(total=steps, disable=not progress, desc=f"fit[{smp.name}]", leave=False)
    done = 0  # steps completed, so an interrupt mid-step is reported correctly
    try:
        evaluate(0)
        t_seg = time.perf_counter()  # a timed segment runs from one evaluation to the next
        while steps is None or done < steps:
            t = done  # samplers count steps t = 0 … T−1
            view.new_step()
            sel = smp.select(t, view)
            if t in record:  # a host copy, only at the steps asked for
                hist.selections[t] = sel.indices.tolist()
            opt.zero_grad(set_to_none=True)
            loss = _forward_backward(net, x, y, sel, smp, t, view, train_chunk_size)
            opt.step()
            if sched is not None:
                sched.step()
            bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss.detach()), t + 1, bad_step)
            done += 1
            bar.update(1)
            over_time = seconds is not None and train_time + time.perf_counter() - t_seg >= seconds
            if done % eval_every == 0 or done == steps or over_time:
                _sync(dev)
                train_time += time.perf_counter() - t_seg
                evaluate(done)
                bar.set_postfix(psnr=f"{p:.2f}")
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
            _sync(dev)
            train_time += time.perf_counter() - t_seg if hist.steps else 0.0
            evaluate(done)
    finally:
        bar.close()

    hist.final = {"psnr": p, "steps": hist.steps[-1], "train_seconds": hist.train_seconds[-1]}
    if signal.kind == "image" and min(signal.shape) >= 11:
        hist.final["ssim"] = _ssim(signal.to_grid(pred.cpu()), signal.to_grid(signal.values))
    hist.final.update({k: v[-1] for k, v in hist.metrics.items()})
    if save_to is not None:
        save_checkpoint(save_to, model, hist)
    return hist


# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(path, model: torch.nn.Module, history: History | None = None) -> None:
    """Save a model built by make_model (its spec and weights) and optionally its History."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("save_checkpoint needs a model built by nint_lite.make_model (it records its spec)")
    torch.save({"spec": spec, "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "history": history.to_dict() if history is not None else None}, path)


def load_checkpoint(path, device="cpu"):
    """(model, History or None) from save_checkpoint; the model reproduces its outputs exactly."""
    from .models import make_model

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = make_model(**ckpt["spec"])
    model.load_state_dict(ckpt["state_dict"])
    hist = History.from_dict(ckpt["history"]) if ckpt.get("history") else None
    return model.to(resolve_device(device)), hist


# --------------------------------------------------------------------------- compare

def compare(signal: Signal, samplers=("full", "uniform", "int", "nint"), model: str = "siren",
            hidden: int = 128, layers: int = 3, steps: int | None = None, seconds: float | None = None,
            lr: float | None = None, targets=(25.0, 30.0), seeds=(0,), ratio: float = 0.2,
            device="auto", progress: bool = True, stop_at_target: bool = False, save_dir=None,
            metric: str = "psnr", model_kw: dict | None = None, **fit_kw):
    """Fit the same model (same initial weights per seed) with each sampler.

    samplers: names, or {label: name or (name, params)} to compare configurations of one
        sampler, e.g. {"nint": "nint", "mix": ("nint", {"ntk_share": 0.0})}.
    targets are values of `metric`: "psnr" (dB), or the signal's own ("si_snr", "iou").
    model_kw: extra make_model keywords (e.g. first_w0 for audio).
    Returns (results, runs): results is the JSON-ready dict {"signal", "model", "protocol",
    "machine", "samplers": {label: {final_psnr, train_seconds, steps, time_to, steps_to, …}}}
    with medians over seeds; runs is {label: [History per seed]}.

    The sampler order alternates between seeds so load changes do not favour one sampler, and
    each sampler's code path is warmed up (2 untimed steps) before its first timed run.
    stop_at_target: stop each run once the highest target is reached.
    save_dir: if given, save each sampler's final reconstruction (first seed) there as a PNG.
    """
    from .models import RECOMMENDED_LR, make_model

    lr = lr or RECOMMENDED_LR[model]
    model_kw = dict(model_kw or {})
    configs = _sampler_configs(samplers)
    for name, params in configs.values():
        make_sampler(name, ratio=ratio, **params)  # validate names, params and ratio before any work
    if stop_at_target and metric != "psnr":
        raise ValueError("stop_at_target works with metric='psnr' only")
    dev = resolve_device(device)

    def build(seed):
        return make_model(model, signal.in_features, signal.channels, hidden, layers, seed=seed, **model_kw)

    labels = list(configs)
    runs = {k: [] for k in labels}
    for k in labels:  # warm-up: first calls (torch.func, allocator) are not any sampler's cost
        name, params = configs[k]
        fit(build(0), signal, make_sampler(name, ratio=ratio, **params), steps=2, lr=lr, device=dev,
            progress=False)
    for i, seed in enumerate(seeds):
        for k in (labels if i % 2 == 0 else labels[::-1]):
            name, params = configs[k]
            net = build(seed)
            h = fit(net, signal, make_sampler(name, ratio=ratio, seed=seed, **params), steps=steps,
                    seconds=seconds, lr=lr,
                    target_psnr=max(targets) if stop_at_target and targets else None,
                    device=dev, seed=seed, progress=progress, **fit_kw)
            h.sampler = k
            runs[k].append(h)
            if save_dir is not None and i == 0 and signal.kind == "image":
                _save_reconstruction(signal, net, h, save_dir)

    info = {"name": model, "hidden": hidden, "layers": layers, "lr": lr, **model_kw}
    protocol = {"steps": steps, "seconds": seconds, "ratio": ratio, "metric": metric,
                "samplers": {k: {"name": n, **p} for k, (n, p) in configs.items()}}
    return summarise(signal, info, runs, seeds, targets, protocol, dev, metric), runs


def _sampler_configs(samplers) -> dict:
    """names or {label: name | (name, params)} -> {label: (name, params)}."""
    if isinstance(samplers, dict):
        out = {}
        for k, v in samplers.items():
            name, params = (v, {}) if isinstance(v, str) else v
            out[str(k)] = (name, dict(params))
        return out
    names = [s if isinstance(s, str) else s.name for s in samplers]
    if len(set(names)) != len(names):
        raise ValueError(f"sampler names repeat in {names}; give a dict of labels to compare configurations")
    return {n: (n, {}) for n in names}


def _save_reconstruction(signal, model, hist, folder):
    import matplotlib.pyplot as plt
    from pathlib import Path

    from .plots import reconstruction

    Path(folder).mkdir(parents=True, exist_ok=True)
    dev = next(model.parameters()).device
    fig = reconstruction(signal, predict(model, signal.coords.to(dev)).cpu(),
                         f"{hist.sampler}: {hist.final['steps']} steps, {hist.final['train_seconds']:.1f} s training")
    fig.savefig(Path(folder) / f"reconstruction_{signal.name}_{hist.sampler}.png", dpi=90)
    plt.close(fig)


def summarise(signal: Signal, model_info: dict, runs: dict, seeds, targets, protocol: dict, device,
              metric: str = "psnr") -> dict:
    """The results dict (JSON layout shared by `compare` and the CLI) from {label: [History per
    seed]}; time_to / steps_to refer to `metric` ("psnr" or a History.metrics key)."""
    from .bench import machine_info

    def med(vals):
        vals = [v for v in vals if v is not None]
        return float(statistics.median(vals)) if vals else None

    def med_all(vals):  # a median only when every seed reached the target
        return med(vals) if all(v is not None for v in vals) else None

    res = {"signal": {"name": signal.name, "shape": list(signal.shape), "kind": signal.kind},
           "model": model_info, "protocol": {**protocol, "seeds": list(seeds), "targets": list(targets)},
           "machine": machine_info(device), "samplers": {}}
    for n, hs in runs.items():
        steps_to = {str(t): med_all([h.steps_to(t, metric) for h in hs]) for t in targets}
        res["samplers"][n] = {
            "final_psnr": med([h.final["psnr"] for h in hs]),
            "final_ssim": med([h.final.get("ssim") for h in hs]),
            **{f"final_{k}": med([h.final.get(k) for h in hs]) for k in hs[0].metrics},
            "train_seconds": med([h.final["train_seconds"] for h in hs]),
            "steps": int(med([h.final["steps"] for h in hs])),
            "time_to": {str(t): med_all([h.time_to(t, metric) for h in hs]) for t in targets},
            "steps_to": {k: (int(v) if v is not None else None) for k, v in steps_to.items()},
            "per_seed": [{"seed": sd, "final_psnr": h.final["psnr"], "train_seconds": h.final["train_seconds"],
                          "time_to": {str(t): h.time_to(t, metric) for t in targets}} for sd, h in zip(seeds, hs)],
            "history": hs[0].to_dict(),
        }
    return res


# --------------------------------------------------------------------------- callbacks

class LivePlot:
    """Callback for notebooks: PSNR vs step in ONE output that is updated in place at each
    evaluation (a display handle, so outputs do not pile up; nbval ignores clear_output)."""

    def __init__(self, title: str = "PSNR during training"):
        self.title, self.handle, self.updates = title, None, 0

    def __call__(self, step, hist, model):
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, ax = plt.subplots(figsize=(5, 3), constrained_layout=True)
        ax.plot(hist.steps, hist.psnr, marker=".")
        ax.set_xlabel("step")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"{self.title} — step {step}: {hist.psnr[-1]:.2f} dB")
        ax.grid(alpha=0.3)
        if self.handle is None:
            self.handle = display(fig, display_id=True)  # None outside IPython: then it just prints
        else:
            self.handle.update(fig)
        self.updates += 1
        plt.close(fig)


class SaveReconstructions:
    """Callback: save target | reconstruction | error as `folder/step_000123.png` at every
    evaluation (images only). Its time counts neither as training nor as evaluation."""

    def __init__(self, signal: Signal, folder):
        from pathlib import Path

        if signal.kind != "image":
            raise ValueError("SaveReconstructions draws images; use it with an image signal")
        self.signal, self.folder = signal, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.saved = []

    def __call__(self, step, hist, model):
        import matplotlib.pyplot as plt

        from .plots import reconstruction

        dev = next(model.parameters()).device
        fig = reconstruction(self.signal, predict(model, self.signal.coords.to(dev)).cpu(),
                             f"{hist.sampler}, step {step}")
        path = self.folder / f"step_{step:06d}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        self.saved.append(path)
