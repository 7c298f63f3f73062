"""The quick benchmark: `python -m nint_lite bench` → results/bench.{json,md,png}.

It measures the LOW-TARGET regime (400 steps at 64², targets 25 and 28 dB): the early phase,
where any 20 % sampler looks good. It cannot test the paper's claims (time to 30 and 35 dB within
5,000 steps); the pre-registered paper-length protocol does: `bench --paper-length`
(nint_lite.lab.paper, protocols/v2.json).

Five parts, each a set of fits from the same initial weights per seed (medians over seeds,
ratios to full batch taken per seed, so each seed is its own paired comparison):

    samplers    every sampler on one image: PSNR at fixed steps, final PSNR/SSIM, time and
                steps to two targets
    ablations   NINT's pieces: the paper schedule, a constant NTK share with refresh 10, share 0
                (30 % error + 70 % random), pure NTK top-B, the official variant, the official bug
    scale       full vs NINT as the network grows (3×64, 3×128, 5×256)
    modalities  audio (SI-SNR) and a 3D SDF (IoU): full, uniform, INT, NINT
    cost        K·r (matvec) time and memory vs N, as a ratio to one full-batch step

Rules (issue 8): samplers alternate within each seed's round, the machine's load is recorded
before and after each part, evaluation time is excluded (nl.fit keeps its own clock), and every
hyper-parameter comes from the papers (nothing is tuned on the benchmark image).
"cpu" fits this 2-core CPU in about 11 minutes (10.9 measured 2026-11-30); "full" is the paper's sizes, for a GPU.
Each image, scale and modality block is in the layout of lab.compare.summarise; `table`,
`markdown` and `figures` also render the results committed before that layout.

Built in notebooks/07_benchmark.ipynb.
"""
from __future__ import annotations

import datetime
import json
import os
import time

from .. import device as devices
from ..signals import sample_signal
from .compare import compare, save_report, summarise

__all__ = ["PROTOCOLS", "PARTS", "PAPER", "run", "timed", "table", "markdown", "figures", "save"]

PARTS = ("samplers", "ablations", "scale", "modalities", "cost")

_IMAGE_SAMPLERS = {"full": "full", "uniform": "uniform", "egra": "egra",
                   "int (dense)": ("int", {"interval": "dense"}),
                   "int (incremental)": ("int", {"interval": "incremental"}),
                   "soft": "soft", "evos": "evos", "expansive": "expansive", "nint": "nint"}
_ABLATIONS = {"full": "full",
              "nint (paper schedule)": "nint",
              "ntk share 0.3, refresh 10": ("nint", {"ntk_share": 0.3, "refresh": 10}),
              "ntk share 0 (30 % error + 70 % random)": ("nint", {"ntk_share": 0.0}),
              "pure NTK top-B": ("nint", {"ntk_share": 1.0, "xi": 0.0}),
              "official variant": ("nint", {"variant": "official"}),
              "official bug (output norm)": ("nint", {"variant": "official", "score": "output_norm"})}
_MODALITY_SAMPLERS = ("full", "uniform", "int", "nint")

PROTOCOLS = {
    "cpu": {
        "seeds": (0, 1, 2), "ratio": 0.2,
        "image": {"signal": "astronaut", "size": 64, "model": "siren", "hidden": 128, "layers": 3,
                  "lr": 1e-4, "steps": 400, "eval_every": 20, "checkpoints": (100, 400),
                  "targets": (25.0, 28.0)},  # full batch ends at ~31 dB; 28 dB is reached by most
        # (layers, hidden, steps): small SIRENs learn slowly at lr 1e-4, the 5×256 one fast and
        # expensively, so each gets the steps it needs to pass the target, no more
        "scale": {"signal": "astronaut", "size": 64, "lr": 1e-4, "eval_every": 5,
                  "targets": (18.0,), "sizes": ((3, 64, 250), (3, 128, 200), (5, 256, 60))},
        "audio": {"seconds": 0.25, "start": 1.0, "hidden": 128, "layers": 3,
                  "lr": 1e-4, "steps": 150, "eval_every": 10, "targets": (15.0, 20.0)},
        "shape": {"resolution": 24, "hidden": 64, "layers": 3, "lr": 5e-4, "steps": 100,
                  "eval_every": 10, "targets": (0.85, 0.9)},
        "cost": {"sizes": (64, 128, 256), "repeats": 3},
    },
    "tiny": {  # a minute-long smoke version for tests and notebook 07's re-run cell
        "seeds": (0, 1), "ratio": 0.2,
        "image": {"signal": "astronaut", "size": 24, "model": "siren", "hidden": 32, "layers": 2,
                  "lr": 1e-3, "steps": 40, "eval_every": 10, "checkpoints": (10, 40),
                  "targets": (15.0, 20.0)},
        "scale": {"signal": "astronaut", "size": 24, "lr": 1e-3, "eval_every": 10,
                  "targets": (15.0,), "sizes": ((2, 16, 30), (2, 32, 30))},
        "audio": {"seconds": 0.02, "start": 1.0, "hidden": 32, "layers": 2,
                  "lr": 1e-4, "steps": 30, "eval_every": 10, "targets": (0.0, 5.0)},
        "shape": {"resolution": 10, "hidden": 16, "layers": 2, "lr": 1e-3, "steps": 30,
                  "eval_every": 10, "targets": (0.3, 0.5)},
        "cost": {"sizes": (16, 32), "repeats": 2, "memory": False},  # no child processes
    },
    "full": {  # the paper's sizes (DIV2K-like 512² crops, SIREN 5×256, 250 / 1000 iterations)
        "seeds": (0, 1, 2), "ratio": 0.2,
        "image": {"signal": "astronaut", "size": 512, "model": "siren", "hidden": 256, "layers": 5,
                  "lr": 1e-4, "steps": 1000, "eval_every": 25, "checkpoints": (250, 1000),
                  "targets": (30.0, 35.0)},
        "scale": {"signal": "astronaut", "size": 256, "lr": 1e-4, "eval_every": 25,
                  "targets": (30.0,), "sizes": ((3, 64, 3000), (3, 128, 2000), (5, 256, 1000))},
        "audio": {"seconds": 2.0, "start": 0.5, "hidden": 256, "layers": 5,
                  "lr": 1e-4, "steps": 1000, "eval_every": 25, "targets": (20.0, 25.0)},
        "shape": {"resolution": 128, "hidden": 256, "layers": 5, "lr": 1e-4, "steps": 1000,
                  "eval_every": 25, "targets": (0.95, 0.98)},
        "cost": {"sizes": (256, 512, 1024), "repeats": 5},
    },
}


# The NINT paper's numbers (paper-notes §4): GPU, SIREN 5×256, 512² DIV2K crops, ratio 0.2.
PAPER = {
    "psnr_at": {  # PSNR at 250 / 1000 / 5000 iterations, SSIM at 5000
        "full": (27.90, 31.67, 39.76, 0.962), "uniform": (27.66, 31.14, 37.14, 0.943),
        "egra": (27.67, 31.24, 37.39, 0.945), "int": (27.57, 31.19, 39.02, 0.943),
        "evos": (28.02, 31.72, 37.56, 0.940), "expansive": (27.99, 32.15, 38.22, 0.947),
        "nint": (28.96, 32.64, 39.09, 0.958)},
    "time_ratio": {  # wall-clock to 30 dB and to 35 dB, × full batch
        "int": (0.67, 0.61), "evos": (0.64, 0.77), "expansive": (0.59, 0.67), "nint": (0.51, 0.56)},
    "size_saving": {"3×64": 0.11, "3×128": 0.217, "5×256": 0.374},  # 1 − NINT/full time
    "int_other_modalities_saving": (0.31, 0.39),  # INT's paper: audio, 3D (time saving range)
}


def _load() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def timed(name: str, fn, progress: bool = True) -> dict:
    """fn() -> dict, with its wall time and the machine's load average before and after added
    (wall_seconds, load_before, load_after); prints a line before and after when `progress`."""
    t0, load0 = time.perf_counter(), _load()
    if progress:
        print(f"[bench] {name} … (load {load0})", flush=True)
    res = fn()
    res.update({"wall_seconds": round(time.perf_counter() - t0, 1), "load_before": load0,
                "load_after": _load()})
    if progress:
        print(f"[bench] {name} done in {res['wall_seconds']:.0f} s (load {res['load_after']})", flush=True)
    return res


def run(protocol: str = "cpu", parts=PARTS, seeds=None, device="auto", progress: bool = True) -> dict:
    """Run the protocol's parts; returns the JSON-ready results (see `save`, `markdown`, `figures`)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise ValueError(f"unknown parts {bad}; valid: {', '.join(PARTS)}")
    cfg = PROTOCOLS[protocol]
    seeds = tuple(cfg["seeds"] if seeds is None else seeds)
    if not seeds:
        raise ValueError("give at least one seed")
    dev = devices.resolve(device)
    ratio = cfg["ratio"]
    res = {"protocol": protocol, "config": cfg, "seeds": list(seeds), "machine": devices.machine_info(dev, "fp32"),
           "date": datetime.date.today().isoformat(), "parts": {}}
    t_all = time.perf_counter()

    # image runs by sampler config -> (runs, the config's JSON), so the ablations reuse the
    # sampler part's full batch and paper NINT; info: the model and protocol blocks of those runs
    done, info = {}, {}

    def image_part(samplers):
        c = cfg["image"]
        sig = sample_signal(c["signal"], size=c["size"])
        key = {k: json.dumps(v, sort_keys=True) for k, v in samplers.items()}
        todo = {k: v for k, v in samplers.items() if key[k] not in done}
        if todo:
            new = compare(sig, todo, model=c["model"], hidden=c["hidden"], layers=c["layers"],
                          steps=c["steps"], lr=c["lr"], targets=c["targets"], seeds=seeds, ratio=ratio,
                          device=dev, progress=False, eval_every=c["eval_every"])
            info.update(model=new.table["model"], protocol=new.table["protocol"])
            done.update({key[k]: (hs, new.table["protocol"]["samplers"][k]) for k, hs in new.runs.items()})
        protocol = {**info["protocol"], "samplers": {k: done[key[k]][1] for k in samplers}}
        return summarise({k: done[key[k]][0] for k in samplers}, c["targets"], checkpoints=c["checkpoints"],
                         signal=sig, model=info["model"], protocol=protocol)

    def scale_part():
        c = cfg["scale"]
        sig = sample_signal(c["signal"], size=c["size"])
        sizes = {f"{layers}×{hidden}": compare(
            sig, ["full", "nint"], model="siren", hidden=hidden, layers=layers, steps=steps, lr=c["lr"],
            targets=c["targets"], seeds=seeds, ratio=ratio, device=dev, progress=False,
            eval_every=c["eval_every"]).table for layers, hidden, steps in c["sizes"]}
        first = next(iter(sizes.values()))
        return {"signal": first["signal"], "targets": first["targets"], "metric": "psnr", "sizes": sizes}

    def modality_part():
        out = {}
        a, s = cfg["audio"], cfg["shape"]
        audio = sample_signal("audio", seconds=a["seconds"], start=a["start"])
        shape = sample_signal("shape", resolution=s["resolution"])
        # SIREN's first-layer ω0 is 3000 on audio: make_model's default for an audio signal
        for key, sig, c, metric in (("audio", audio, a, "si_snr"), ("shape", shape, s, "iou")):
            out[key] = compare(sig, list(_MODALITY_SAMPLERS), model="siren", hidden=c["hidden"],
                               layers=c["layers"], steps=c["steps"], lr=c["lr"], targets=c["targets"],
                               seeds=seeds, ratio=ratio, device=dev, progress=False,
                               eval_every=c["eval_every"], metric=metric).table
        return out

    def cost_part():
        from .bench import bench_ntk

        c = cfg["cost"]
        return bench_ntk(sizes=c["sizes"], repeats=c["repeats"], device=dev, memory=c.get("memory", True),
                         out=lambda *_: None)

    jobs = {"samplers": lambda: image_part(_IMAGE_SAMPLERS), "ablations": lambda: image_part(_ABLATIONS),
            "scale": scale_part, "modalities": modality_part, "cost": cost_part}
    for p in parts:
        res["parts"][p] = timed(p, jobs[p], progress)
    res["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    return res


# --------------------------------------------------------------------------- reports

def _fmt(stat, digits=2, ratio=False) -> str:
    if stat is None:
        return "—"
    m, lo, hi = stat["median"], stat["min"], stat["max"]
    if ratio:
        return f"{m:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _describe(v) -> str:
    """A block's "signal" or "model" for a heading ("astronaut 64²", "siren 3×128"); the strings
    that results made before lab.compare.summarise's layout hold pass through."""
    if isinstance(v, str):
        return v
    if "kind" in v:  # a signal: {"name", "shape", "kind"}
        shape = v["shape"]
        return f"{v['name']} {shape[0]}²" if len(shape) == 2 and shape[0] == shape[1] else f"{v['name']} {tuple(shape)}"
    return f"{v['name']} {v['layers']}×{v['hidden']}"


def table(part: dict, labels=None) -> list:
    """Markdown table lines of one block in summarise's layout (a part of the benchmark, a
    Comparison.table, or a file read with lab.compare.read_json): the metric at the checkpoint
    steps, final PSNR (and the metric), time to each target and the ratios to full batch;
    `labels` keeps only those rows."""
    tg = [str(t) for t in part["targets"]]
    metric = part.get("metric", "psnr")
    unit = {"psnr": "dB", "si_snr": "dB SI-SNR", "iou": "IoU"}[metric]
    cps = [str(c) for c in part.get("checkpoints", [])]
    head = (["sampler"] + [f"{metric.upper() if metric != 'psnr' else 'PSNR'} @ {c} steps" for c in cps]
            + ["final PSNR (dB)"] + (["final " + metric] if metric != "psnr" else [])
            + [f"time to {t} {unit} (s)" for t in tg] + [f"× full (time, {t})" for t in tg]
            + [f"× full (steps, {t})" for t in tg])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, s in part["summary"].items():
        if labels and label not in labels:
            continue
        row = ([label] + [_fmt(s["at_step"].get(c)) for c in cps] + [_fmt(s["final_psnr"])]
               + ([_fmt(s[f"final_{metric}"], 3)] if metric != "psnr" else [])
               + [_fmt(s["time_to"][t], 1) for t in tg]
               + [_fmt(s["time_ratio"].get(t), ratio=True) for t in tg]
               + [_fmt(s["steps_ratio"].get(t), ratio=True) for t in tg])
        lines.append("| " + " | ".join(row) + " |")
    return lines


def markdown(res: dict) -> str:
    """The results as Markdown tables: median [min, max] over seeds; ratios to full batch are
    medians (ranges) of per-seed ratios, "—" where some seed never reached the target."""
    m, P = res["machine"], res["parts"]
    out = [f"# nint_lite benchmark — protocol `{res['protocol']}`, {res['date']}", "",
           "The quick view: the LOW-TARGET regime (a few hundred steps, targets below 30 dB), where "
           "any 20 % sampler looks good. The paper's claims are tested by `bench --paper-length` "
           "(protocol v2, nint_lite/lab/protocols/v2.json).", "",
           f"Machine: {m['cpu_count']} CPUs, torch {m['torch']}, device {m['device']}"
           + (f" ({m['gpu']})" if "gpu" in m else "") + f"; seeds {res['seeds']}; "
           f"total {res.get('wall_seconds', 0) / 60:.1f} min. Cells: median [min, max] over seeds; "
           "ratios: median (range) of per-seed ratios to full batch; — = not reached by every seed.", ""]
    for key, title in (("samplers", "1. Every sampler"), ("ablations", "2. Ablations of NINT")):
        if key in P:
            p = P[key]
            out += [f"## {title} — {_describe(p['signal'])}, {_describe(p['model'])}, ratio 0.2",
                    f"(load {p['load_before']} → {p['load_after']}, {p['wall_seconds']:.0f} s)", ""]
            out += table(p) + [""]
    if "scale" in P:
        p = P["scale"]
        t = str(p["targets"][0])
        out += [f"## 3. Network size — {_describe(p['signal'])}, full vs NINT",
                f"(load {p['load_before']} → {p['load_after']}, {p['wall_seconds']:.0f} s)", "",
                f"| network | full: time to {t} dB (s) | NINT: time to {t} dB (s) | NINT × full (time) | NINT × full (steps) |",
                "|---|---|---|---|---|"]
        for size, d in p["sizes"].items():
            f, n = d["summary"]["full"], d["summary"]["nint"]
            out.append(f"| SIREN {size} | {_fmt(f['time_to'][t], 1)} | {_fmt(n['time_to'][t], 1)} | "
                       f"{_fmt(n['time_ratio'].get(t), ratio=True)} | {_fmt(n['steps_ratio'].get(t), ratio=True)} |")
        out.append("")
    if "modalities" in P:
        p = P["modalities"]
        for key in ("audio", "shape"):
            if key in p:
                q = p[key]
                out += [f"## 4. {key.capitalize()} — {_describe(q['signal'])}, {_describe(q['model'])}", ""] + table(q) + [""]
        out += [f"(load {p['load_before']} → {p['load_after']}, {p['wall_seconds']:.0f} s)", ""]
    if "cost" in P:
        p = P["cost"]
        out += ["## 5. Cost of scoring — K·r over all N vs one full-batch step (SIREN 3×128, RGB)",
                f"(load {p['load_before']} → {p['load_after']})", "",
                "| N | full step (s) | K·r (s) | K·r / step | peak memory of K·r, chunk 1024 / 8192 (MiB) |",
                "|---|---|---|---|---|"]
        for n, row in p["sizes"].items():
            mem = row.get("matvec_peak_mib", {})
            out.append(f"| {int(n):,} | {row['step_s']:.3f} | {row['matvec_s']:.3f} | {row['matvec_over_step']:.2f} | "
                       + " / ".join(f"{v:.0f}" for v in mem.values()) + " |")
        out.append("")
    return "\n".join(out)


def figures(res: dict) -> dict:
    """{name: Figure}: PSNR vs training time for every sampler (seed 0) and time-to-target
    ratios for the samplers, the ablations and the network sizes."""
    import matplotlib.pyplot as plt

    figs, P = {}, res["parts"]
    for key in ("samplers", "ablations"):
        if key not in P:
            continue
        p = P[key]
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
        for label, hs in p["histories"].items():
            a.plot(hs[0]["train_seconds"], hs[0]["psnr"], label=label)
        a.set(xlabel="training seconds (seed 0)", ylabel="PSNR (dB)", title=f"{_describe(p['signal'])}, {_describe(p['model'])}")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
        t = str(p["targets"][-1])
        labels = list(p["summary"])
        meds = [(p["summary"][k]["time_ratio"].get(t) or {}).get("median", float("nan")) for k in labels]
        lo = [(p["summary"][k]["time_ratio"].get(t) or {}).get("min", float("nan")) for k in labels]
        hi = [(p["summary"][k]["time_ratio"].get(t) or {}).get("max", float("nan")) for k in labels]
        y = range(len(labels))
        b.barh(y, meds, color="tab:blue", alpha=0.7)
        b.errorbar(meds, y, xerr=[[m - l for m, l in zip(meds, lo)], [h - m for m, h in zip(meds, hi)]],
                   fmt="none", color="k", capsize=3)
        b.set_yticks(list(y), labels, fontsize=8)
        b.invert_yaxis()
        b.axvline(1.0, color="k", lw=0.8, ls="--")
        b.set(xlabel=f"time to {t} dB, × full batch (median, range; blank: not reached)",
              title="lower is faster")
        figs[key] = fig
    if "scale" in P:
        p, t = P["scale"], str(P["scale"]["targets"][0])
        fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
        names = list(p["sizes"])
        for metric, mk in (("time_ratio", "o-"), ("steps_ratio", "s--")):
            ax.plot(names, [(p["sizes"][k]["summary"]["nint"][metric].get(t) or {}).get("median", float("nan"))
                            for k in names], mk, label=metric.replace("_", " "))
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set(xlabel="SIREN layers × width", ylabel=f"NINT × full, to {t} dB", title="Saving vs network size")
        ax.grid(alpha=0.3)
        ax.legend()
        figs["scale"] = fig
    return figs


def save(res: dict, folder="results") -> list:
    """Write bench.json, bench.md and one PNG per figure into `folder`; returns the paths."""
    return save_report(res, folder, "bench", markdown(res), figures(res))
