"""The paper-length benchmark: a pre-registered protocol file run to the paper's 5,000 steps.

    python -m nint_lite bench --paper-length                 # protocols/v2.json, 2 processes
    python -m nint_lite bench --paper-length --protocol-file my.json --workers 1 --out results

The protocol (nint_lite/lab/protocols/v2.json) is committed before its first full run and fixes
the images, size, model, steps, seeds, samplers, targets and evaluation cadence; a target is
never changed after results were seen — a change is a new protocol version. Every result names
the file and version it ran (`protocol_file`, `protocol_version`).

A run is split into jobs, one per (block, seed): a block is an image (every sampler), the
ablations image (NINT's pieces and the controls), or a network size. Each job trains its
samplers from the same initial weights in alternating order, single-threaded, stops a run at
the top target (samplers that plateau run every step), and writes its histories to
<out>/<stem>.parts/<job>.json at once, so an interrupted run resumes where it stopped. `workers`
jobs run side by side (one thread each: on a 2-core machine, 2). Then:

    time and steps to target    interpolated between evaluations (History.time_to), evaluation
                                off the clock, every `eval_every` steps
    × full batch                per seed, paired with the full-batch run of the same seed and
                                image; the point estimate is the geometric mean of the paired
                                ratios and the 95 % interval a percentile bootstrap over seeds
                                (stratified by image when images are pooled)
    look-ahead control          along a NINT run, at fixed steps: one Adam step on a fresh NTK
                                set, a fresh error set, a fresh brightness set and a random set
                                from the same state; the full-signal MSE drop of each, × random's

Results: <out>/<stem>.json (every block in lab.compare.summarise's layout, plus the intervals),
<stem>.md and <stem>_*.png. Built in notebooks/07_benchmark.ipynb.
"""
from __future__ import annotations

import copy
import datetime
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import device as devices
from .. import models
from ..samplers import make_sampler
from ..signals import sample_signal
from ..train import History, fit, train_step
from .compare import save_report, summarise, write_json

__all__ = ["PROTOCOL_DIR", "load_protocol", "jobs", "run", "ratios", "bootstrap", "markdown",
           "figures", "save"]

PROTOCOL_DIR = Path(__file__).resolve().parent / "protocols"
_KEYS = ("version", "images", "size", "model", "ratio", "steps", "eval_every", "targets", "seeds",
         "samplers")


def load_protocol(path=None) -> dict:
    """The protocol file at `path` (default protocols/v2.json) as a dict, checked; its repository
    path is kept under "file" (relative to the repository root when it lies inside it)."""
    path = Path(path) if path is not None else PROTOCOL_DIR / "v2.json"
    if not path.is_file():
        raise FileNotFoundError(f"no protocol file {path}")
    p = json.loads(path.read_text())
    missing = [k for k in _KEYS if k not in p]
    if missing:
        raise ValueError(f"protocol {path} lacks {', '.join(missing)}")
    if "full" not in p["samplers"]:
        raise ValueError("a protocol's samplers must include 'full': every ratio is paired with it")
    if sorted(p["targets"]) != list(p["targets"]) or not p["targets"]:
        raise ValueError(f"targets must be given in increasing order, got {p['targets']}")
    m = p["model"]
    for layers, hidden, target in p.get("sizes", {}).get("networks", ()):
        if (layers, hidden) == (m["layers"], m["hidden"]) and target not in p["targets"]:
            raise ValueError(f"the main network's size target {target} must be one of the targets "
                             f"{p['targets']}: its runs are the main image block's")
    for label, c in {**p["samplers"], **p.get("ablations", {}).get("samplers", {})}.items():
        make_sampler(c["name"], **_params(c), ratio=p["ratio"])
        bad = set(c.get("fit", {})) - {"lr", "lr_schedule"}
        if bad:
            raise ValueError(f"sampler {label!r}: its own fit settings may be lr and lr_schedule, not {sorted(bad)}")
    root = Path(__file__).resolve().parents[2]
    try:
        p["file"] = str(path.resolve().relative_to(root))
    except ValueError:
        p["file"] = str(path)
    return p


def _params(c: dict) -> dict:
    """A sampler config's make_sampler parameters: all but its name and its own fit settings."""
    return {k: v for k, v in c.items() if k not in ("name", "fit")}


def _seeds(p: dict, label: str) -> list:
    s = p["seeds"]
    return list(s["more"] if label in s.get("more_for", ()) else s["default"])


def jobs(p: dict) -> list:
    """The protocol's jobs: [{"id", "block", "image", "seed", "samplers": {label: config},
    "layers", "hidden", "targets"}], costliest first (so the last job to finish is a short one)."""
    out = []
    m = p["model"]

    def add(block, image, samplers, layers=m["layers"], hidden=m["hidden"], targets=p["targets"], weight=1.0,
            seeds=None):
        per = {k: (_seeds(p, k) if seeds is None else seeds) for k in samplers}
        for seed in sorted({s for v in per.values() for s in v}):
            todo = {k: c for k, c in samplers.items() if seed in per[k]}
            if set(todo) != {"full"}:
                # the extra seeds of a few samplers go last: if a run must be cut short, what
                # is missing is a 4th and 5th seed, never a whole cell
                extra = seed not in p["seeds"]["default"]
                out.append({"id": f"{block}-s{seed}", "block": block, "image": image, "seed": seed,
                            "samplers": todo, "layers": layers, "hidden": hidden,
                            "targets": list(targets), "weight": weight * len(todo) * (0.01 if extra else 1)})

    for image in p["images"]:
        add(image, image, p["samplers"])
    if "ablations" in p:
        a = p["ablations"]
        add("ablations", a["image"], a["samplers"])  # paired with that image's own full-batch runs
    for layers, hidden, target in p.get("sizes", {}).get("networks", ()):
        if (layers, hidden) == (m["layers"], m["hidden"]):
            continue  # the main block's image already has this network (see _size_blocks)
        cost = (hidden / m["hidden"]) ** 2 * layers / m["layers"]
        add(f"size-{layers}x{hidden}", p["sizes"]["image"], {k: p["samplers"][k] for k in p["sizes"]["samplers"]},
            layers, hidden, [target], cost, p["seeds"][p["sizes"].get("seeds", "default")])
    if "lookahead" in p:
        for seed in p["lookahead"]["seeds"]:
            out.append({"id": f"lookahead-s{seed}", "block": "lookahead", "image": p["lookahead"]["image"],
                        "seed": seed, "samplers": {}, "layers": m["layers"], "hidden": m["hidden"],
                        "targets": [], "weight": 2.0})
    return sorted(out, key=lambda j: -j["weight"])


# --------------------------------------------------------------------------- running

_WARM = set()  # (labels …) already warmed up in this process


def _signal(p: dict, image: str):
    return sample_signal(image, size=p["size"])


def _run_job(p: dict, job: dict) -> dict:
    """Train one job's samplers (one seed) and return {"runs": {label: History dict}, …}."""
    torch.set_num_threads(p.get("threads_per_worker", 1))
    sig = _signal(p, job["image"])
    m = p["model"]

    def build(seed):
        return models.make_model(m["name"], sig, hidden=job["hidden"], layers=job["layers"], seed=seed)

    if job["block"] == "lookahead":
        return {"lookahead": lookahead(p, sig, build(job["seed"]), job["seed"]), "load": _load()}
    labels = list(job["samplers"])
    if job["seed"] % 2:  # alternate the order between seeds, so load drifts favour no sampler
        labels = labels[::-1]
    runs, load0 = {}, _load()
    for k in labels:
        c = job["samplers"][k]
        params = _params(c)
        # a sampler run in its own published setting ("fit": {"lr", "lr_schedule"}) keeps it
        own = {"lr": m["lr"], "lr_schedule": m.get("lr_schedule", "constant"), **c.get("fit", {})}
        key = (job["image"], job["layers"], job["hidden"], json.dumps(c, sort_keys=True))
        if key not in _WARM:  # first calls (torch.func, the allocator) are nobody's cost
            fit(build(0), sig, make_sampler(c["name"], ratio=p["ratio"], seed=0, **params), steps=2,
                lr=own["lr"], progress=False)
            _WARM.add(key)
        h = fit(build(job["seed"]), sig, make_sampler(c["name"], ratio=p["ratio"], seed=job["seed"], **params),
                steps=p["steps"], lr=own["lr"], lr_schedule=own["lr_schedule"], eval_every=p["eval_every"],
                target_psnr=max(job["targets"]),
                seed=job["seed"], progress=False)
        h.sampler = k
        runs[k] = {f: v for f, v in h.to_dict().items() if f not in ("selections",)}
    return {"runs": runs, "load": [load0, _load()]}


def _load() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def _job_main(args):
    p, job, path = args
    t0 = time.perf_counter()
    res = _run_job(p, job)
    res.update(job={k: v for k, v in job.items()}, wall_seconds=round(time.perf_counter() - t0, 1))
    write_json(res, path)
    return job["id"], res


def _line(job_id, res, done, total, t_start) -> str:
    el = (time.perf_counter() - t_start) / 60
    if "lookahead" in res:
        return f"[paper] {job_id}: look-ahead done in {res['wall_seconds']:.0f} s ({done}/{total}, {el:.1f} min)"
    tg = res["job"]["targets"]
    parts = []
    for k, h in res["runs"].items():
        hist = History.from_dict(h)
        steps = "/".join(f"{s:.0f}" if s is not None else "—" for s in (hist.steps_to(t) for t in tg))
        parts.append(f"{k} {steps}")
    return (f"[paper] {job_id} ({done}/{total}, {el:.1f} min, load {res['load'][1]}): steps to "
            f"{'/'.join(str(t) for t in tg)} dB — " + "; ".join(parts))


def run(protocol=None, out="results", workers: int | None = None, progress: bool = True) -> dict:
    """Run a protocol file (default protocols/v2.json), resuming from <out>/<stem>.parts/, and
    return the results (see `save`). workers: processes side by side (default: the protocol's)."""
    p = protocol if isinstance(protocol, dict) else load_protocol(protocol)
    stem = f"paper_v{p['version']}" + (f"_{p['variant']}" if p.get("variant") else "")
    parts = Path(out) / f"{stem}.parts"
    parts.mkdir(parents=True, exist_ok=True)
    todo, results = jobs(p), {}
    for j in todo:
        f = parts / f"{j['id']}.json"
        if f.is_file():
            old = json.loads(f.read_text())
            if old.get("job", {}).get("samplers") == j["samplers"]:
                results[j["id"]] = old
    pending = [j for j in todo if j["id"] not in results]
    workers = workers or p.get("workers", 1)
    t0, load0 = time.perf_counter(), _load()
    if progress:
        print(f"[paper] protocol v{p['version']} ({p['file']}): {len(todo)} jobs, {len(results)} already "
              f"done, {workers} worker(s) × {p.get('threads_per_worker', 1)} thread(s), load {load0}", flush=True)
    args = [(p, j, parts / f"{j['id']}.json") for j in pending]
    if workers > 1 and len(args) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for i, (jid, res) in enumerate(pool.imap_unordered(_job_main, args), 1):
                results[jid] = res
                if progress:
                    print(_line(jid, res, len(results), len(todo), t0), flush=True)
    else:
        for a in args:
            jid, res = _job_main(a)
            results[jid] = res
            if progress:
                print(_line(jid, res, len(results), len(todo), t0), flush=True)
    res = assemble(p, results)
    res.update(wall_seconds=round(time.perf_counter() - t0, 1), load_before=load0, load_after=_load(),
               workers=workers, command=" ".join(["python", "-m", "nint_lite"] + sys.argv[1:])
               if Path(sys.argv[0]).name == "__main__.py" else None)
    return res


def assemble(p: dict, results: dict) -> dict:
    """The job results of a protocol -> the JSON-ready results."""
    dev = devices.resolve("cpu")
    m = p["model"]
    blocks = {}
    for r in results.values():
        if "runs" in r:
            b = blocks.setdefault(r["job"]["block"], {"job": r["job"], "runs": {}})
            for k, h in r["runs"].items():
                b["runs"].setdefault(k, []).append((r["job"]["seed"], History.from_dict(h)))
    machine = devices.machine_info(dev, "fp32")
    machine["threads"] = p.get("threads_per_worker", 1)
    out = {"protocol_file": p["file"], "protocol_version": p["version"], "protocol": p,
           "date": datetime.date.today().isoformat(), "machine": machine,
           "job_loads": {jid: r["load"] for jid, r in sorted(results.items())},
           "blocks": {}, "ratios": {}}
    if "ablations" in blocks and blocks["ablations"]["job"]["image"] in blocks:
        main = blocks[blocks["ablations"]["job"]["image"]]["runs"]  # the same image, seeds and start
        blocks["ablations"]["runs"] = {**{k: main[k] for k in ("full", "nint", "mix (ntk share 0)") if k in main},
                                       **blocks["ablations"]["runs"]}
    for name, b in blocks.items():
        job = b["job"]
        runs = {k: [h for _, h in sorted(v, key=lambda sh: sh[0])] for k, v in b["runs"].items()}
        seeds = {k: [s for s, _ in sorted(v, key=lambda sh: sh[0])] for k, v in b["runs"].items()}
        order = list(p["samplers"]) + list(p.get("ablations", {}).get("samplers", {}))
        runs = {k: runs[k] for k in order if k in runs}
        sig = _signal(p, job["image"])
        info = {"name": m["name"], "hidden": job["hidden"], "layers": job["layers"], "lr": m["lr"]}
        proto = {"protocol_file": p["file"], "protocol_version": p["version"], "steps": p["steps"],
                 "ratio": p["ratio"], "eval_every": p["eval_every"], "seeds": seeds,
                 "samplers": {k: _cfg(p, k) for k in runs}}
        block = summarise(runs, job["targets"], checkpoints=p.get("checkpoints", ()), signal=sig, model=info,
                          protocol=proto)
        block["seeds"] = seeds
        out["blocks"][name] = block
        out["ratios"][name] = ratios(runs, seeds, job["targets"], p)
        for base in p.get("versus", ()):  # the same pairing against another sampler
            out.setdefault("versus", {}).setdefault(base, {})[name] = ratios(runs, seeds, job["targets"], p, base)
    imgs = [i for i in p["images"] if i in blocks]
    if imgs:
        out["ratios"]["pooled"] = pooled(out, imgs, p)
        for base, table in out.get("versus", {}).items():
            table["pooled"] = pooled({"ratios": table}, [i for i in imgs if table.get(i)], p)
    looks = [r["lookahead"] for _, r in sorted(results.items()) if "lookahead" in r]
    if looks:
        out["lookahead"] = {"image": p["lookahead"]["image"], "steps": p["lookahead"]["steps"],
                            "sets": list(looks[0]["drop"]), "per_seed": looks}
    return out


def _cfg(p: dict, label: str) -> dict:
    return p["samplers"].get(label) or p.get("ablations", {}).get("samplers", {}).get(label)


# --------------------------------------------------------------------------- statistics

def bootstrap(groups: list, resamples: int = 10000, seed: int = 0, level: float = 0.95) -> dict | None:
    """Geometric mean of positive ratios and its percentile-bootstrap interval.

    groups: [[ratio per seed] per image] (one group for one image): seeds are resampled with
    replacement within each group (stratified), so every image keeps its weight.
    Returns {"gmean", "lo", "hi", "n"} or None when there are no ratios."""
    groups = [np.log(np.asarray(g, dtype=float)) for g in groups if len(g)]
    if not groups:
        return None
    rng = np.random.default_rng(seed)
    point = float(np.exp(np.mean(np.concatenate(groups))))
    means = np.zeros(resamples)
    n = sum(len(g) for g in groups)
    for g in groups:
        means += rng.choice(g, size=(resamples, len(g)), replace=True).sum(1)
    boots = np.exp(means / n)
    a = (1 - level) / 2
    return {"gmean": point, "lo": float(np.quantile(boots, a)), "hi": float(np.quantile(boots, 1 - a)), "n": n}


def _paired(runs: dict, seeds: dict, label: str, target: float, what: str, base: str = "full"):
    """Per-seed ratios of `label` to `base` (full batch by default) at `target` ("time" or
    "steps"): ({seed: ratio}, reached, total); a seed of `label` with no `base` run of the same
    seed, or whose `base` run never reached the target, is skipped."""
    fn = "time_to" if what == "time" else "steps_to"
    base = {s: getattr(h, fn)(target) for s, h in zip(seeds[base], runs[base])}
    out, reached = {}, 0
    for s, h in zip(seeds[label], runs[label]):
        v = getattr(h, fn)(target)
        reached += v is not None
        if v is not None and base.get(s):
            out[s] = v / base[s]
    return out, reached, len(seeds[label])


def ratios(runs: dict, seeds: dict, targets, p: dict, base: str = "full") -> dict:
    """{label: {target: {"time": bootstrap + per_seed, "steps": …, "reached": "k/n"}}} for
    one block, each ratio to `base`'s run of the same seed; a target some seed never reached has
    no interval (its row says k/n). Against a base other than full batch (a protocol's "versus"),
    a sampler is paired on the seeds both ran."""
    bs = p.get("bootstrap", {})
    res = {}
    if base not in runs:
        return res
    for k in runs:
        res[k] = {}
        shared = set(seeds[k]) & set(seeds[base])
        for t in targets:
            cell = {}
            for what in ("time", "steps"):
                per, reached, total = _paired(runs, seeds, k, t, what, base)
                cell["reached"] = f"{reached}/{total}"
                ok = reached == total and len(per) == (total if base == "full" else len(shared))
                cell[what] = ({**bootstrap([list(per.values())], bs.get("resamples", 10000), bs.get("seed", 0)),
                               "per_seed": {str(s): v for s, v in per.items()}} if ok and per else None)
            res[k][str(float(t))] = cell
    return res


def pooled(res: dict, images: list, p: dict) -> dict:
    """Ratios pooled over `images` (from res["ratios"][image]): each (image, seed) pair is one
    paired ratio; the bootstrap resamples seeds within each image. A sampler that missed a target
    on any seed of any image has no pooled interval at that target."""
    bs = p.get("bootstrap", {})
    labels = [k for k in p["samplers"]]
    out = {}
    for k in labels:
        out[k] = {}
        for t in p["targets"]:
            tk, cell = str(float(t)), {}
            reached = [res["ratios"][i][k][tk]["reached"] for i in images if k in res["ratios"][i]]
            got = sum(int(r.split("/")[0]) for r in reached)
            tot = sum(int(r.split("/")[1]) for r in reached)
            cell["reached"] = f"{got}/{tot}"
            for what in ("time", "steps"):
                cells = [res["ratios"][i][k][tk][what] for i in images if k in res["ratios"][i]]
                ok = got == tot and cells and all(c is not None for c in cells)
                cell[what] = (bootstrap([list(c["per_seed"].values()) for c in cells], bs.get("resamples", 10000),
                                        bs.get("seed", 0)) if ok else None)
            out[k][tk] = cell
    return out


# --------------------------------------------------------------------------- look-ahead control

def lookahead(p: dict, sig, model, seed: int) -> dict:
    """Control (b): along a NINT run (the protocol's NINT, this seed), at each of
    p["lookahead"]["steps"], take ONE Adam step from the same model and optimizer state on each
    candidate set of B = ρN coordinates, fresh at that step:

        ntk          top-B by ‖(K r)_i‖        error       top-B by ‖r_i‖
        brightness   top-B by ‖f(x_i)‖         random      B uniformly at random

    and measure the full-signal MSE after it. Returns {"steps", "mse_before", "drop": {set:
    [MSE drop per step]}, "vs_random": {set: [drop / random's drop per step]}} (NaN where
    random's drop is not positive; the report shows drops as a percentage of the MSE instead)."""
    from .. import ntk

    c = p["lookahead"]
    steps = sorted(int(s) for s in c["steps"])
    x, y = sig.coords, sig.values
    n, b = x.shape[0], max(1, round(p["ratio"] * x.shape[0]))
    nint_cfg = _params(p["samplers"]["nint"])
    smp = make_sampler("nint", ratio=p["ratio"], seed=seed, **nint_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=p["model"]["lr"])
    smp.bind(model, x, y, sig.shape, steps=p["steps"], kind=sig.kind, optimizer=opt)
    gen = torch.Generator().manual_seed(10_000 + seed)

    def mse():
        with torch.no_grad():
            return float(torch.mean((model(x) - y) ** 2))

    out = {"steps": steps, "mse_before": [], "drop": {k: [] for k in ("ntk", "error", "brightness", "random")}}
    t = 0
    for target in steps:
        while t < target:  # the NINT trajectory itself
            opt.zero_grad(set_to_none=True)
            train_step(model, x, y, smp(t), smp, t)
            opt.step()
            t += 1
        with torch.no_grad():
            f = model(x)
        r = f - y
        sets = {"ntk": torch.topk(ntk.nint_scores(model, x, r), b).indices,
                "error": torch.topk(r.norm(dim=1), b).indices,
                "brightness": torch.topk(f.norm(dim=1), b).indices,
                "random": torch.randperm(n, generator=gen)[:b]}
        before = mse()
        out["mse_before"].append(before)
        state = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
        for k, idx in sets.items():
            opt.zero_grad(set_to_none=True)
            train_step(model, x, y, idx)
            opt.step()
            out["drop"][k].append(before - mse())
            model.load_state_dict(state[0])
            opt.load_state_dict(copy.deepcopy(state[1]))
    out["vs_random"] = {k: [d / rd if rd > 0 else math.nan for d, rd in zip(v, out["drop"]["random"])]
                        for k, v in out["drop"].items()}
    return out


# --------------------------------------------------------------------------- reports

def _ci(c, digits=2) -> str:
    return "—" if c is None else f"{c['gmean']:.{digits}f} [{c['lo']:.{digits}f}, {c['hi']:.{digits}f}]"


def ratio_table(cells: dict, targets, what: str = "time", base: str = "full") -> list:
    """Markdown lines: one row per sampler, per target its × base (geometric mean [95 % CI]),
    or "not reached k/n"."""
    tg = [str(float(t)) for t in targets]
    lines = ["| sampler | " + " | ".join(f"{what} to {t} dB, × {base}" for t in tg) + " |",
             "|---|" + "---|" * len(tg)]
    for k, row in cells.items():
        vals = []
        for t in tg:
            c = row.get(t)
            if c is None:
                vals.append("—")
            elif c[what] is None:
                vals.append(f"not reached ({c['reached']} seeds)" if c["reached"].split("/")[0] != c["reached"].split("/")[1]
                            else "—")
            else:
                vals.append(_ci(c[what]))
        lines.append(f"| {k} | " + " | ".join(vals) + " |")
    return lines


def markdown(res: dict) -> str:
    """The results as Markdown: the pooled ratios per target (time and steps), then per image,
    the ablations, the network sizes and the look-ahead control."""
    p, m = res["protocol"], res["machine"]
    tg = p["targets"]
    mdl = p["model"]
    out = [f"# nint_lite paper-length benchmark — protocol v{res['protocol_version']} (`{res['protocol_file']}`), {res['date']}",
           "",
           f"Regime: {p['size']}² images, SIREN {mdl['layers']}×{mdl['hidden']}, lr {mdl['lr']}, ratio {p['ratio']}, "
           f"up to {p['steps']} steps (a run stops at {max(tg)} dB), evaluation every {p['eval_every']} steps "
           f"off the clock; targets {', '.join(str(t) for t in tg)} dB fixed before the run.",
           f"Machine: {m['cpu']} with {m['cpu_count']} CPUs, torch {m['torch']}, {res.get('workers', 1)} processes "
           f"× {m['threads']} thread side by side; load {res.get('load_before')} → {res.get('load_after')}; "
           f"{res.get('wall_seconds', 0) / 60:.0f} min in all.",
           "Cells: × full batch = geometric mean of per-seed paired ratios [95 % percentile-bootstrap "
           "interval over seeds, stratified by image when pooled]; times and steps are interpolated "
           "between evaluations. \"not reached (k/n)\": only k of n seeds reached the target within "
           f"{p['steps']} steps, so no ratio.", ""]
    imgs = [i for i in p["images"] if i in res["blocks"]]
    if "pooled" in res["ratios"]:
        out += [f"## Every sampler, pooled over {', '.join(imgs)} — wall-clock time", ""]
        out += ratio_table(res["ratios"]["pooled"], tg, "time") + [""]
        out += ["## Every sampler, pooled — steps (hardware-independent)", ""]
        out += ratio_table(res["ratios"]["pooled"], tg, "steps") + [""]
    for base, table in res.get("versus", {}).items():
        if "pooled" not in table:
            continue
        out += [f"## Paired against {base}, pooled — wall-clock time (below 1: faster than {base})", "",
                f"Per-seed ratios to {base}'s run of the same seed and image, on the seeds both ran.", ""]
        out += ratio_table(table["pooled"], tg, "time", base) + [""]
        out += [f"### Each image at {max(tg)} dB, time × {base}", "",
                "| sampler | " + " | ".join(imgs) + " |", "|---|" + "---|" * len(imgs)]
        top = str(float(max(tg)))
        for k in table["pooled"]:
            out.append(f"| {k} | " + " | ".join(_ci((table[i].get(k, {}).get(top) or {}).get("time")) for i in imgs) + " |")
        out.append("")
    for name, block in res["blocks"].items():
        r = res["ratios"][name]
        title = {"ablations": f"Ablations and controls ({block['signal']['name']})"}.get(name, name)
        if name.startswith("size-"):
            continue
        out += [f"## {title}", ""]
        seconds = {k: s["train_seconds"]["median"] for k, s in block["summary"].items()}
        out += ratio_table(r, block["targets"], "time") + [""]
        out += ratio_table(r, block["targets"], "steps") + [""]
        out += ["median training seconds per run: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()), ""]
    sizes = [(n, b) for n, b in res["blocks"].items() if n.startswith("size-")]
    if sizes or "sizes" in p:
        out += ["## Network size — NINT × full batch at a target full batch first reaches after step 150", "",
                "| network | target (dB) | full: steps to target | NINT × full (time) | NINT × full (steps) | saving (1 − time ratio) |",
                "|---|---|---|---|---|---|"]
        for layers, hidden, target in p.get("sizes", {}).get("networks", ()):
            name = f"size-{layers}x{hidden}"
            if name not in res["blocks"]:
                name = p["sizes"]["image"]
            if name not in res["blocks"]:
                continue
            tk = str(float(target))
            b = res["blocks"][name]
            c = res["ratios"][name]["nint"].get(tk) or {"time": None, "steps": None}
            st = (b["summary"]["full"]["steps_to"].get(tk) or {}).get("median")
            sav = "—" if c["time"] is None else f"{1 - c['time']['gmean']:.0%}"
            out.append(f"| SIREN {layers}×{hidden} | {target} | {'—' if st is None else f'{st:.0f}'} | "
                       f"{_ci(c['time'])} | {_ci(c['steps'])} | {sav} |")
        out.append("")
    if "lookahead" in res:
        la = res["lookahead"]
        out += ["## Look-ahead control: one Adam step on a fresh set, from the same state", "",
                "Full-signal MSE drop of one step on each set of B coordinates, as a percentage of the MSE "
                "before it (median over seeds; negative: the step raised the MSE).", "",
                "| step | MSE before | " + " | ".join(la["sets"]) + " |", "|---|---|" + "---|" * len(la["sets"])]
        for i, st in enumerate(la["steps"]):
            before = float(np.median([s["mse_before"][i] for s in la["per_seed"]]))
            vals = [float(np.median([100 * s["drop"][k][i] / s["mse_before"][i] for s in la["per_seed"]]))
                    for k in la["sets"]]
            out.append(f"| {st} | {before:.2e} | " + " | ".join(f"{v:.3f} %" for v in vals) + " |")
        out.append("")
    return "\n".join(out)


def figures(res: dict) -> dict:
    """{name: Figure}: "ratios" (every sampler's pooled time and steps ratio per target, with
    intervals) and "curves" (PSNR against training seconds, seed 0, one panel per image)."""
    import matplotlib.pyplot as plt

    p, figs = res["protocol"], {}
    tg = [str(float(t)) for t in p["targets"]]
    if "pooled" in res["ratios"]:
        cells = res["ratios"]["pooled"]
        labels = list(cells)
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(labels) + 1.5), constrained_layout=True, sharey=True)
        for ax, what in zip(axes, ("time", "steps")):
            for j, t in enumerate(tg):
                y = np.arange(len(labels)) + (j - (len(tg) - 1) / 2) * 0.25
                for yi, k in zip(y, labels):
                    c = cells[k][t][what]
                    if c is not None:
                        ax.errorbar(c["gmean"], yi, xerr=[[c["gmean"] - c["lo"]], [c["hi"] - c["gmean"]]], fmt="o",
                                    color=f"C{j}", ms=4, capsize=2, label=f"{t} dB" if k == labels[0] or yi == y[0] else None)
            ax.axvline(1.0, color="k", lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.set(xlabel=f"{what} to target, × full batch (log; 95 % CI)", title=f"{what}: lower is faster")
            ax.grid(alpha=0.3, axis="x")
        axes[0].set_yticks(range(len(labels)), labels)
        axes[0].invert_yaxis()
        h, l = axes[0].get_legend_handles_labels()
        uniq = dict(zip(l, h))
        axes[1].legend(uniq.values(), uniq.keys(), fontsize=8, loc="lower right")
        fig.suptitle(f"protocol v{res['protocol_version']}: pooled over {', '.join(i for i in p['images'] if i in res['blocks'])} "
                     "(no marker: not reached by every seed)", fontsize=10)
        figs["ratios"] = fig
    imgs = [i for i in p["images"] if i in res["blocks"]]
    if imgs:
        fig, axes = plt.subplots(1, len(imgs), figsize=(4.2 * len(imgs), 3.6), constrained_layout=True, squeeze=False)
        for ax, i in zip(axes[0], imgs):
            for j, (k, hs) in enumerate(res["blocks"][i]["histories"].items()):
                ax.plot(hs[0]["train_seconds"], hs[0]["psnr"], lw=1, label=k, color=f"C{j % 10}",
                        ls="-" if j < 10 else "--")
            for t in p["targets"]:
                ax.axhline(t, color="k", lw=0.5, ls=":")
            ax.set(title=i, xlabel="training seconds (seed 0)", ylabel="PSNR (dB)")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=6)
        figs["curves"] = fig
    return figs


def save(res: dict, folder="results") -> list:
    """Write <stem>.json, <stem>.md and <stem>_<figure>.png into `folder`; returns the paths."""
    stem = f"paper_v{res['protocol_version']}" + (f"_{res['protocol']['variant']}" if res["protocol"].get("variant") else "")
    return save_report(res, folder, stem, markdown(res), figures(res))
