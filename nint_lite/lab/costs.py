"""What a NINT step costs, how well a cheaper ranking agrees with the exact one, and the cost model
that turns both into a prediction of time to target (issue 18; `python -m nint_lite bench rank`).

The cost model:  time to target = steps to target × (c_step + c_rank)

    c_step   one training step on B coordinates and Adam's step: uniform's whole step
    c_rank   what a sampler adds to it: NINT's error ranking (and its amortised NTK refreshes)

Steps to target do not depend on the device; c_step and c_rank do. So steps measured once (the
paper-length protocol, as ratios to full batch) and costs measured on a device predict, for that
device, each sampler's time to target as a ratio to full batch:

    predicted time × full = (steps × full) × (c_step + c_rank) / c_full

A ranking variant beats uniform in time when  s_v × (1 + c_rank / c_step) < s_uniform, i.e. its
break-even cost ratio is  c_rank / c_step < s_uniform / s_v − 1  (s: steps to target).

    bench_rank(...)      per variant: whole-step cost (interleaved blocks, medians), c_rank / c_step,
                         the ranking forward's own cost, and ranking agreement along its own run
    predict(costs, steps)            the model above; break_even(steps) the cost ratios
    markdown(res)                    the report

Agreement: at the end of each timed block, the overlap of the variant's error set with the exact
fp32 top set of the same size over the same candidates (all N minus the NTK part), on the
variant's own model: 1.0 for the paper's ranking by construction.

Built in notebooks/05_nint_trainer.ipynb (the trade-off section).
"""
from __future__ import annotations

import statistics
import time

import torch

from .. import device as devices
from ..models import make_model
from ..samplers import RANK_DTYPES, View, make_sampler
from ..signals import sample_signal
from ..train import train_step

__all__ = ["VARIANTS", "SAME_RANKING", "bench_rank", "predict", "break_even", "markdown", "steps_from_protocol",
           "with_same_ranking", "figure"]

# variants that rank like the paper's (the same fresh ‖r_i‖ over all N, in another precision or
# compiled): the protocol does not run them, so the cost model lends them nint's steps — an
# optimistic bound, exact only where their agreement is 1
SAME_RANKING = ("nint bf16", "nint fp16", "nint compiled")

# label -> (sampler name, make_sampler parameters, compile the forward?)
VARIANTS = {
    "full": ("full", {}, False),
    "uniform": ("uniform", {}, False),
    "int (dense)": ("int", {"interval": "dense"}, False),
    "nint": ("nint", {}, False),
    "nint bf16": ("nint", {"rank_precision": "bf16"}, False),
    "nint fp16": ("nint", {"rank_precision": "fp16"}, False),
    "nint compiled": ("nint", {}, True),
    "nint pool 1.5": ("nint", {"errors": "pool", "pool": 1.5}, False),
    "nint pool 2": ("nint", {"errors": "pool", "pool": 2.0}, False),
    "nint pool 3": ("nint", {"errors": "pool", "pool": 3.0}, False),
    "nint periodic 4": ("nint", {"errors": "periodic", "errors_every": 4}, False),
    "nint rolling 4": ("nint", {"errors": "rolling", "errors_every": 4}, False),
    "nint free": ("nint", {"errors": "free"}, False),
}


def _agreement(smp, model, x, y, sel, t) -> float:
    """|error set ∩ exact fp32 top set of its size| / its size, over all N minus the NTK part."""
    b = smp.batch_size(t, smp.view.steps)
    n_ntk = min(round(smp.share(t) * b), len(smp.cache) if smp.cache is not None else 0)
    n_rand = min(round(smp.xi * b), b - n_ntk)
    err = sel.indices[n_ntk:b - n_rand]
    if len(err) == 0:
        return float("nan")
    with torch.no_grad():
        exact = (model(x) - y).norm(dim=1).index_fill(0, sel.indices[:n_ntk], -1.0)
    top = torch.topk(exact, len(err)).indices
    hit = torch.zeros(len(exact), dtype=torch.bool, device=exact.device).index_fill(0, top, True)
    return float(hit[err].float().mean())


def _forward_costs(model, x, repeats, dev) -> dict:
    """Seconds of one ranking forward over all N: eager fp32 under no_grad (what View.residuals
    runs), under inference_mode, and under bf16 / fp16 autocast (where the device runs them)."""
    def timed(fn):
        fn()
        ts = []
        for _ in range(repeats):
            devices.sync(dev)
            t0 = time.perf_counter()
            fn()
            devices.sync(dev)
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    def run(mode, dtype=None):
        def f():
            with mode(), torch.autocast(dev.type, dtype, enabled=dtype is not None):
                model(x)
        return f
    out = {"fp32 no_grad": timed(run(torch.no_grad)), "fp32 inference_mode": timed(run(torch.inference_mode))}
    for name in ("bf16", "fp16"):
        try:
            out[f"{name} autocast"] = timed(run(torch.inference_mode, RANK_DTYPES[name]))
        except RuntimeError as e:  # a device without that autocast
            out[f"{name} autocast"] = None
            out[f"{name} error"] = str(e).splitlines()[0]
    return out


def bench_rank(variants=tuple(VARIANTS), size: int = 64, hidden: int = 128, layers: int = 3,
               ratio: float = 0.2, warmup: int = 120, steps: int = 40, repeats: int = 5, device="cpu",
               threads: int | None = 1, image: str = "astronaut", out=print) -> dict:
    """Per variant (labels of VARIANTS): median seconds of a whole fit step (selection,
    train_step, Adam) over `repeats` blocks of `steps` consecutive steps, blocks interleaved across
    variants so load changes hit all alike, after `warmup` untimed steps (past NINT's NTK phase and
    torch.compile's first call); c_rank / c_step = step / uniform's step − 1; agreement at each
    block's end (median). Also the ranking forward's own cost over all N per precision.
    SIREN layers×hidden on sample_signal(image, size) (N = size²), seed 0, lr 1e-4.
    Returns {"config", "machine", "steps": {label: {"seconds", "x_uniform", "x_full", "c_rank",
    "agreement"}}, "forward": {mode: seconds}, "c_step", "c_full"}."""
    dev = devices.resolve(device)
    was_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    bad = [v for v in variants if v not in VARIANTS]
    if bad or "uniform" not in variants:
        raise ValueError(f"variants must include 'uniform' and come from {', '.join(VARIANTS)}; got {bad or variants}")
    try:
        sig = sample_signal(image, size=size)
        x, y = sig.coords.to(dev), sig.values.to(dev)
        chunk = devices.default_chunk(dev)
        total = warmup + (repeats + 1) * steps
        runs = {}
        for label in variants:
            name, params, compiled = VARIANTS[label]
            model = make_model("siren", 2, sig.channels, hidden, layers, seed=0).to(dev)
            net = torch.compile(model) if compiled else model
            opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
            smp = make_sampler(name, ratio=ratio, seed=0, **params)
            smp.setup(View(model, x, y, sig.shape, sig.kind, total, chunk, forward=net, optimizer=opt))
            runs[label] = {"model": model, "net": net, "opt": opt, "smp": smp, "t": 0, "times": [], "agree": []}

        def block(r, n, label=None):
            for i in range(n):
                sel = r["smp"](r["t"])
                if label is not None and i == n - 1 and VARIANTS[label][0] == "nint":
                    # the last selection against the model it was made for (before its step),
                    # its time taken off the block's
                    devices.sync(dev)
                    t0 = time.perf_counter()
                    r["agree"].append(_agreement(r["smp"], r["model"], x, y, sel, r["t"]))
                    r["off"] += time.perf_counter() - t0
                r["opt"].zero_grad(set_to_none=True)
                train_step(r["net"], x, y, sel, r["smp"], r["t"], chunk)
                r["opt"].step()
                r["t"] += 1

        for r in runs.values():
            block(r, warmup)
        for _ in range(repeats):
            for label, r in runs.items():
                devices.sync(dev)
                t0 = time.perf_counter()
                r["off"] = 0.0
                block(r, steps, label)
                devices.sync(dev)
                r["times"].append((time.perf_counter() - t0 - r["off"]) / steps)
        forward = _forward_costs(runs["uniform"]["model"], x, max(repeats, 5), dev)
    finally:
        torch.set_num_threads(was_threads)
    med = {k: statistics.median(r["times"]) for k, r in runs.items()}
    c_step = med["uniform"]
    res = {"config": {"size": size, "hidden": hidden, "layers": layers, "ratio": ratio, "warmup": warmup,
                      "steps": steps, "repeats": repeats, "image": image, "threads": threads,
                      "agreement_at": [warmup + (i + 1) * steps - 1 for i in range(repeats)]},
           "machine": devices.machine_info(dev, "fp32"), "c_step": c_step, "c_full": med.get("full"),
           "steps": {k: {"seconds": s, "x_uniform": s / c_step, "x_full": s / med["full"] if "full" in med else None,
                         "c_rank": s / c_step - 1.0,
                         "agreement": statistics.median(runs[k]["agree"]) if runs[k]["agree"] else None}
                     for k, s in med.items()},
           "forward": {k: v for k, v in forward.items()}}
    res["forward_x_step"] = {k: v / c_step for k, v in forward.items() if isinstance(v, float)}
    out(markdown(res))
    return res


def steps_from_protocol(res: dict, target: float | None = None) -> dict:
    """{label: steps × full (pooled geometric mean)} at `target` (default the highest) from a
    paper-length result (paper_v3.json); labels whose seeds did not all reach it are left out."""
    p = res["protocol"]
    tk = str(float(max(p["targets"]) if target is None else target))
    pooled = res["ratios"]["pooled"]
    return {k: row[tk]["steps"]["gmean"] for k, row in pooled.items() if row[tk]["steps"] is not None}


def with_same_ranking(steps: dict) -> dict:
    """steps plus SAME_RANKING's variants at nint's steps (see SAME_RANKING)."""
    return {**steps, **{k: steps["nint"] for k in SAME_RANKING if "nint" in steps and k not in steps}}


def predict(costs: dict, steps: dict) -> dict:
    """The cost model. costs: {label: seconds per whole step} (bench_rank's "steps" rows or plain
    numbers), including "full"; steps: {label: steps to target × full}. Returns {label: predicted
    time to target × full} for the labels in both."""
    sec = {k: (v["seconds"] if isinstance(v, dict) else float(v)) for k, v in costs.items()}
    if "full" not in sec:
        raise ValueError("predict needs the cost of a full-batch step ('full')")
    return {k: steps[k] * sec[k] / sec["full"] for k in steps if k in sec}


def break_even(steps: dict, versus: str = "uniform") -> dict:
    """{label: the largest c_rank / c_step at which `label` still matches `versus` in time}:
    s_versus / s_label − 1 (negative: it needs more steps than `versus`, so no ranking cost is
    cheap enough). steps: {label: steps to target × full}."""
    return {k: steps[versus] / s - 1.0 for k, s in steps.items() if k != versus}


def markdown(res: dict, steps: dict | None = None, measured: dict | None = None) -> str:
    """The bench_rank report; with `steps` ({label: steps × full} at a target) also the cost
    model's prediction, and with `measured` ({label: time × full} from the same protocol) the
    check of that prediction."""
    c, m = res["config"], res["machine"]
    lines = [f"ranking cost: SIREN {c['layers']}x{c['hidden']}, {c['size']}² {c['image']} (N = {c['size'] ** 2}), "
             f"ratio {c['ratio']}, {m.get('device', '?')}, {c['threads']} thread(s); median of {c['repeats']} blocks of "
             f"{c['steps']} steps after {c['warmup']} warm-up steps; agreement at steps {c['agreement_at']}", "",
             "| variant | ms / step | × uniform step | c_rank / c_step | × full step | agreement with exact top set |",
             "|---|---|---|---|---|---|"]
    for k, r in res["steps"].items():
        xf = "—" if r["x_full"] is None else f"{r['x_full']:.2f}"
        ag = "—" if r["agreement"] is None else f"{r['agreement']:.2f}"
        lines.append(f"| {k} | {1e3 * r['seconds']:.2f} | {r['x_uniform']:.2f} | {r['c_rank']:.2f} | {xf} | {ag} |")
    lines += ["", "ranking forward over all N, × one uniform step: " + ", ".join(
        f"{k} {v:.2f}" for k, v in res["forward_x_step"].items())]
    if steps:
        pred = predict(res["steps"], steps)
        be = break_even(steps) if "uniform" in steps else {}
        lines += ["", "| sampler | steps × full | predicted time × full | break-even c_rank / c_step vs uniform"
                  + (" | measured time × full |" if measured else " |"),
                  "|---|---|---|---" + ("|---|" if measured else "|")]
        for k in sorted(pred, key=pred.get):
            mark = "*" if k in SAME_RANKING else ""
            row = (f"| {k} | {steps[k]:.2f}{mark} | {pred[k]:.2f} | " + (f"{be[k]:.2f}" if k in be else "—"))
            if measured:
                row += f" | {measured[k]:.2f}" if k in measured else " | —"
            lines.append(row + " |")
        lines += ["", f"predicted fastest: {min(pred, key=pred.get)}"]
        if any(k in SAME_RANKING for k in pred):
            lines.append("*: not run by the protocol; nint's steps lent (same ranking, so an optimistic bound)")
    return "\n".join(lines)


def figure(res: dict, steps: dict, target: float = 44.0, xmax: float = 2.0):
    """The trade-off: each NINT variant at (c_rank / c_step, steps to target × full), with the
    curves along which a sampler's time equals uniform's and full batch's: s × (1 + x) = s_uniform
    and s × (1 + x) × c_step = c_full. Below a curve is faster than that sampler. A variant past
    `xmax` is drawn at the edge with its x in the legend; one without steps (it did not reach the
    target on every run) as a cross along the top. Returns a Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = {k: r for k, r in res["steps"].items() if k not in ("full", "uniform") and r["agreement"] is not None
            or k == "int (dense)"}
    su = steps["uniform"]
    ys = [su] + [steps[k] for k in rows if k in steps]
    lo, hi = 0.8 * min(ys), 1.12 * max(ys)
    x = np.linspace(-0.05, xmax, 200)
    fig, ax = plt.subplots(figsize=(10, 4.4), constrained_layout=True)
    ax.plot(x, su / (1 + x), color="k", lw=1.2, label=f"as fast as uniform ({su:.2f}× full's steps)")
    ax.fill_between(x, 0, su / (1 + x), color="C2", alpha=0.10)
    if res.get("c_full"):
        cf = res["c_full"] / res["c_step"]
        ax.plot(x, cf / (1 + x), color="k", lw=1, ls="--", label=f"as fast as full batch (a full step = {cf:.1f} uniform steps)")
    for i, (k, r) in enumerate(rows.items()):
        cr, color = r["c_rank"], plt.cm.tab20(2 * i % 20 + (2 * i // 20) % 2)
        if k not in steps:  # stalled: no steps to the target on every run
            ax.scatter(min(cr, xmax), hi * 0.97, s=50, color=color, marker="x", zorder=3,
                       label=f"{k}: did not reach {target:g} dB on every run")
            continue
        past = cr > xmax
        ax.scatter(min(cr, xmax), steps[k], s=45, color=color, zorder=3, clip_on=False,
                   marker=">" if past else ("*" if k in SAME_RANKING else "o"),
                   label=k + (f" (x = {cr:.1f}, off the scale)" if past else "")
                   + (" (nint's steps assumed)" if k in SAME_RANKING else ""))
    ax.set(xlabel="c_rank / c_step: what ranking adds to a uniform step (measured, bench rank)",
           ylabel=f"steps to {target:g} dB × full batch", xlim=(x[0], xmax), ylim=(lo, hi),
           title="time = steps × (c_step + c_rank): below the solid curve beats uniform")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
