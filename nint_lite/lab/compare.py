"""Several samplers on one signal from the same initial weights, and the one JSON result layout.

    res = compare(sig, ["full", "uniform", "int", "nint"], steps=500, seeds=(0, 1, 2))
    res.runs                                  # {label: [History per seed]}
    res.table["summary"]["nint"]["time_to"]   # {"30.0": {"median", "min", "max", "n"} or None}
    res.save("results/compare.json")

`summarise` writes the layout every result of nint_lite uses — compare, the CLI (fit, fit
--distributed, compare) and each part of the benchmark protocol:

    {"signal":  {"name", "shape", "kind"},                       (when known)
     "model":   {"name", "hidden", "layers", "lr", ...options},  (when known)
     "protocol": {"steps", "seconds", "ratio", "seeds", "samplers", ...},  (when known)
     "machine": device.machine_info(...),                        (when known)
     "targets": [...], "metric": "psnr" | "si_snr" | "iou", "checkpoints": [steps ...],
     "summary": {label: {"final_psnr", "train_seconds", "steps", "final_ssim" …, "at_step",
                         "time_to", "steps_to", "time_ratio", "steps_ratio", "reached"}},
     "histories": {label: [{"steps", "train_seconds", "psnr", "metrics", "final"} per seed]}}

Each statistic is {"median", "min", "max", "n"} over seeds (None when no seed has it); time_to
and steps_to are None unless every seed reached the target; time_ratio / steps_ratio are the
per-seed ratios to the reference sampler ("full"), each seed paired with its own reference run.

Built in notebooks/05_nint_trainer.ipynb; the benchmark of notebooks/07_benchmark.ipynb is made of it.
"""
from __future__ import annotations

import copy
import inspect
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from .. import device as devices
from .. import models
from ..samplers import Sampler, make_sampler
from ..signals import Signal
from ..train import History, fit

__all__ = ["compare", "Comparison", "summarise", "model_info", "write_json", "save_report", "read_json",
           "results_path"]


@dataclass
class Comparison:
    """What compare returns. table: the JSON-ready results (see the module docstring);
    runs: {label: [History per seed]}."""

    table: dict
    runs: dict

    def save(self, path) -> Path:
        """Write `table` as JSON to `path` (folders are created); returns the path."""
        return write_json(self.table, path)


def write_json(obj: dict, path) -> Path:
    """The one way results are written: `obj` as indented JSON, parent folders created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))
    return path


def save_report(res: dict, folder, stem: str, markdown: str, figures: dict) -> list:
    """A benchmark's files in `folder`: <stem>.json (res), <stem>.md (markdown) and
    <stem>_<name>.png per {name: Figure} (closed after saving); returns the paths."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths = [write_json(res, folder / f"{stem}.json"), folder / f"{stem}.md"]
    paths[1].write_text(markdown)
    for name, fig in figures.items():
        paths.append(folder / f"{stem}_{name}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------- compare

def compare(signal: Signal, samplers=("full", "uniform", "int", "nint"), model: str = "siren",
            hidden: int | None = None, layers: int | None = None, steps: int | None = None,
            seconds: float | None = None, lr: float | None = None, targets=(25.0, 30.0), seeds=(0,),
            ratio: float = 0.2, device=None, progress: bool = True, stop_at_target: bool = False,
            save_dir=None, metric: str = "psnr", model_kw: dict | None = None, checkpoints=(),
            **fit_kw) -> Comparison:
    """Fit the same model (same initial weights per seed) with each sampler; returns a Comparison.

    samplers: names ("full", "nint", …), Sampler instances (each run gets a deep copy, so the
        instance keeps its parameters and seed), or {label: name | (name, params) | Sampler} to
        compare configurations of one sampler, e.g. {"mix": ("nint", {"ntk_share": 0.0})}.
    model, hidden, layers, model_kw: make_model(model, signal, hidden=…, layers=…, **model_kw);
        hidden/layers None -> models.DEFAULTS; lr None -> models.RECOMMENDED_LR[model].
    targets are values of `metric`: "psnr" (dB), or the signal's own ("si_snr", "iou");
    checkpoints: steps at which the table reports the metric (they must be evaluation steps).
    device: None -> CUDA if available, else CPU (device.resolve).
    stop_at_target: stop each run once the highest target is reached (metric "psnr" only).
    save_dir: save each sampler's final reconstruction (first seed, images) there as a PNG.
    fit_kw: more fit() keywords (eval_every, lr_schedule, train_chunk_size, …).

    Sampler order alternates between seeds so load changes do not favour one sampler, and each
    sampler's code path is warmed up (2 untimed steps) before its first timed run.
    """
    if model not in models.MODELS:
        raise ValueError(f"unknown model {model!r}; valid names: {', '.join(models.MODELS)}")
    lr = models.RECOMMENDED_LR[model] if lr is None else lr
    model_kw = dict(model_kw or {})
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("give at least one seed")
    if stop_at_target and metric != "psnr":
        raise ValueError("stop_at_target works with metric='psnr' only")
    configs = _sampler_configs(samplers)
    for label in configs:  # names, params and ratio are checked before any work
        _make(configs[label], ratio, seeds[0])
    dev = devices.resolve(device)

    def build(seed):
        return models.make_model(model, signal, hidden=hidden, layers=layers, seed=seed, **model_kw)

    info = model_info(build(seeds[0]), lr)  # what was built: defaults filled in (first_w0 for audio)
    runs = {k: [] for k in configs}
    for k in configs:  # warm-up: first calls (torch.func, allocator) are not any sampler's cost
        fit(build(0), signal, _make(configs[k], ratio, 0), steps=2, lr=lr, device=dev, progress=False,
            **{k: v for k, v in fit_kw.items() if k in _WARM_KW})
    for i, seed in enumerate(seeds):
        for k in (list(configs) if i % 2 == 0 else list(configs)[::-1]):
            net = build(seed)
            h = fit(net, signal, _make(configs[k], ratio, seed), steps=steps, seconds=seconds, lr=lr,
                    target_psnr=max(targets) if stop_at_target and targets else None,
                    device=dev, seed=seed, progress=progress, **fit_kw)
            h.sampler = k
            runs[k].append(h)
            if save_dir is not None and i == 0 and signal.kind == "image":
                _save_reconstruction(signal, net, h, save_dir)

    protocol = {"steps": steps, "seconds": seconds, "ratio": ratio, "seeds": list(seeds),
                "stop_at_target": stop_at_target,
                **{k: v for k, v in fit_kw.items() if isinstance(v, (bool, int, float, str))},
                "samplers": {k: _config_json(c) for k, c in configs.items()}}
    table = summarise(runs, targets, metric, checkpoints, signal=signal, model=info,
                      protocol=protocol, device=dev)
    return Comparison(table, runs)


# the fit keywords that change which code runs, so the warm-up must take them too
_WARM_KW = ("precision", "compile", "train_chunk_size", "eval_chunk_size")


def model_info(model, lr: float) -> dict:
    """The layout's "model" block of a model built by make_model: {"name", "hidden", "layers",
    "lr", …its family options (e.g. first_w0)}."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("model_info needs a model built by nint_lite.make_model (it records its spec)")
    skip = ("name", "hidden", "layers", "in_features", "out_features", "seed")
    return {"name": spec["name"], "hidden": spec["hidden"], "layers": spec["layers"], "lr": lr,
            **{k: v for k, v in spec.items() if k not in skip}}


def _sampler_configs(samplers) -> dict:
    """names, Samplers or {label: name | (name, params) | Sampler} -> {label: (name, params) | Sampler}."""
    if isinstance(samplers, (str, Sampler)):
        samplers = [samplers]
    if isinstance(samplers, dict):
        return {str(k): v if isinstance(v, Sampler) else (v, {}) if isinstance(v, str) else (v[0], dict(v[1]))
                for k, v in samplers.items()}
    names = [s if isinstance(s, str) else s.name for s in samplers]
    if len(set(names)) != len(names):
        raise ValueError(f"sampler names repeat in {names}; give a dict of labels to compare configurations")
    return {n: s if isinstance(s, Sampler) else (s, {}) for n, s in zip(names, samplers)}


def _make(config, ratio: float, seed: int) -> Sampler:
    """A fresh sampler for one run: a deep copy of an instance (its own parameters and seed), or
    one built by name with `ratio` and the run's seed (a config's own params win)."""
    if isinstance(config, Sampler):
        return copy.deepcopy(config)
    name, params = config
    return make_sampler(name, **{"ratio": ratio, "seed": seed, **params})


def _config_json(config) -> dict:
    """{"name", …params} of a sampler config; for an instance, its constructor's parameters as
    it holds them (those it keeps under the same name, the ratio as rho0; JSON-able values)."""
    if isinstance(config, Sampler):
        params = {}
        for p in inspect.signature(type(config)).parameters:
            v = getattr(config, "rho0" if p == "ratio" else p, None)
            if isinstance(v, (bool, int, float, str)) or (v is None and hasattr(config, p)):
                params[p] = v
        return {"name": config.name, **params}
    name, params = config
    return {"name": name, **params}


def _save_reconstruction(signal, model, hist, folder):
    from ..plots import save_reconstruction

    save_reconstruction(signal, model, Path(folder) / f"reconstruction_{signal.name}_{hist.sampler}.png",
                        f"{hist.sampler}: {hist.final['steps']} steps, "
                        f"{hist.final['train_seconds']:.1f} s training", dpi=90)


# --------------------------------------------------------------------------- the layout

def _stat(vals):
    """{"median", "min", "max", "n"} of the values that are not None, or None."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def _at_step(h: History, step: int, metric: str):
    """The metric at the evaluation exactly at `step` (None if the run stopped before it)."""
    curve = h.psnr if metric == "psnr" else h.metrics.get(metric, [])
    return next((v for s, v in zip(h.steps, curve) if s == step), None)


def _stats(hs: list, base: list | None, targets, metric: str, checkpoints) -> dict:
    """One label's statistics over its seeds (base: the reference runs, paired by seed)."""
    s = {"final_psnr": _stat([h.final["psnr"] for h in hs]),
         "train_seconds": _stat([h.final["train_seconds"] for h in hs]),
         "steps": _stat([h.final["steps"] for h in hs])}
    for k in hs[0].final:  # the signal kind's own measures: ssim, si_snr, iou
        if k not in ("psnr", "steps", "train_seconds"):
            s[f"final_{k}"] = _stat([h.final.get(k) for h in hs])
    s["at_step"] = {str(c): _stat([_at_step(h, c, metric) for h in hs]) for c in checkpoints}
    s["time_to"], s["steps_to"], s["time_ratio"], s["steps_ratio"], s["reached"] = {}, {}, {}, {}, {}
    for t in targets:
        t_key = str(float(t))
        times = [h.time_to(t, metric) for h in hs]
        steps = [h.steps_to(t, metric) for h in hs]
        every = all(v is not None for v in times)
        s["time_to"][t_key] = _stat(times) if every else None
        s["steps_to"][t_key] = _stat(steps) if every else None
        s["reached"][t_key] = sum(v is not None for v in times)
        if base is not None and every:
            bt = [h.time_to(t, metric) for h in base]
            bs = [h.steps_to(t, metric) for h in base]
            if all(bt) and all(bs):  # every reference seed reached it, after a step > 0
                s["time_ratio"][t_key] = _stat([a / b for a, b in zip(times, bt)])
                s["steps_ratio"][t_key] = _stat([a / b for a, b in zip(steps, bs)])
    return s


def _history(h: History) -> dict:
    return {k: v for k, v in h.to_dict().items() if k in ("steps", "train_seconds", "psnr", "metrics", "final")}


def summarise(runs: dict, targets=(), metric: str = "psnr", checkpoints=(), ref: str = "full", *,
              signal: Signal | None = None, model: dict | None = None, protocol: dict | None = None,
              device=None) -> dict:
    """The JSON-ready results of {label: [History per seed]} in the one layout (module docstring).

    targets: values of `metric` ("psnr" or a History.metrics key such as "si_snr", "iou");
    checkpoints: steps at which to report the metric; ref: the label ratios are taken to.
    signal, model (a dict such as {"name", "hidden", "layers", "lr"}), protocol (a dict) and
    device (for the machine block) are recorded when given.
    """
    if not runs or any(not hs for hs in runs.values()):
        raise ValueError("summarise needs at least one History for every label")
    res = {}
    if signal is not None:
        res["signal"] = {"name": signal.name, "shape": list(signal.shape), "kind": signal.kind}
    if model is not None:
        res["model"] = dict(model)
    if protocol is not None:
        res["protocol"] = dict(protocol)
    if device is not None:  # with the precision policy the runs were trained under
        policies = sorted({getattr(h, "precision", "fp32") for hs in runs.values() for h in hs})
        res["machine"] = devices.machine_info(device, policies[0] if len(policies) == 1 else policies)
    base = runs.get(ref)
    res.update({"targets": [float(t) for t in targets], "metric": metric,
                "checkpoints": [int(c) for c in checkpoints],
                "summary": {k: _stats(hs, base, targets, metric, checkpoints) for k, hs in runs.items()},
                "histories": {k: [_history(h) for h in hs] for k, hs in runs.items()}})
    return res


def results_path(name: str) -> Path:
    """The committed result `name` (e.g. "bench.json"): $NINT_LITE_RESULTS/name if that is set,
    else the repository's notebooks/results/name. Notebooks find their results this way, not
    through the working directory, so a student copy in notebooks/student/ finds them too."""
    folder = Path(os.environ.get("NINT_LITE_RESULTS", Path(__file__).resolve().parents[2] / "notebooks" / "results"))
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"no committed result {name!r} in {folder}; run from a clone of the "
                                "repository or set NINT_LITE_RESULTS to the folder that holds it")
    return path


def read_json(path) -> dict:
    """A results JSON written by summarise. The layout compare wrote before (per-sampler medians
    under "samplers", e.g. notebooks/results/compare_astronaut128.json) is converted on reading:
    its per-seed final PSNR, training time and time to target become statistics, the time ratios
    to full are recomputed per seed, and its one stored history (the first seed's) is kept."""
    res = json.loads(Path(path).read_text())
    if "samplers" not in res or "summary" in res:
        return res
    proto = dict(res.get("protocol", {}))
    targets, metric = proto.pop("targets", []), proto.pop("metric", "psnr")
    per = {k: v["per_seed"] for k, v in res["samplers"].items()}
    base = per.get("full")

    def stats(k, rows):
        s = {"final_psnr": _stat([r["final_psnr"] for r in rows]),
             "train_seconds": _stat([r["train_seconds"] for r in rows]),
             "at_step": {}, "time_to": {}, "steps_to": {}, "time_ratio": {}, "steps_ratio": {}, "reached": {}}
        for t in map(str, targets):
            times = [r["time_to"].get(t) for r in rows]
            every = all(v is not None for v in times)
            s["time_to"][t] = _stat(times) if every else None
            s["reached"][t] = sum(v is not None for v in times)
            bt = [r["time_to"].get(t) for r in base] if base else []
            if every and bt and all(bt):
                s["time_ratio"][t] = _stat([a / b for a, b in zip(times, bt)])
        return s

    keep = ("steps", "train_seconds", "psnr", "metrics", "final")
    return {"signal": res.get("signal"), "model": res.get("model"), "protocol": proto,
            "machine": res.get("machine"), "targets": targets, "metric": metric, "checkpoints": [],
            "summary": {k: stats(k, rows) for k, rows in per.items()},
            "histories": {k: [{f: v["history"].get(f) for f in keep}] for k, v in res["samplers"].items()}}
