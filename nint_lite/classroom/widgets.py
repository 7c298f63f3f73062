"""ipywidgets explorers of the empirical NTK, each a thin wrapper over a `nint_lite.plots` figure.

Built in notebooks/03_kernel_leverage.ipynb (as nl.widgets, an alias of nint_lite.classroom.widgets).

A builder precomputes everything expensive once and returns `(widget, draw)`, where
`draw(**slider values) -> Figure` only slices and draws — call it yourself for a static figure.
`widget` comes in two forms:

- live=True (the default): an `ipywidgets.interactive` that calls `draw` at every slider move
  (and once with the default values, so a figure is produced even headless). It needs a
  running kernel and takes any slider value.
- live=False, kernel-free: `draw` runs once per value on a small grid, each figure becomes a
  PNG `ipywidgets.Image`, and the images sit in nested `ipywidgets.Stack`s whose
  `selected_index` is `jslink`ed to the sliders (`SelectionSlider`s over the grid). The browser
  alone switches frames, so the widget also responds in a static page rendered from the saved
  widget state (the documentation site) — no kernel, no Python callback.

ipywidgets is imported inside the builders (and matplotlib by nint_lite.plots at the first
figure), so importing this module costs only the core.

    coupling_explorer(model, signal)            row / col sliders -> the coupling map of that pixel
    training_snapshots(model, signal, steps)    train; keep leverage and coupling at several steps
    training_explorer(signal, snapshots)        step slider -> leverage and coupling at that step
    selection_explorer(model, signal)           ratio slider -> NINT vs error-only picks
"""
from __future__ import annotations

import math
from functools import reduce

import torch

from .. import ntk, plots
from ..train import fit

__all__ = ["coupling_explorer", "training_snapshots", "training_explorer", "selection_explorer"]


FRAME_DPI = 60  # kernel-free frames: about 470 px wide for a two-panel figure, 5–12 kB as PNG


def _interactive(draw, **controls):
    import ipywidgets as W

    for c in controls.values():
        c.continuous_update = False  # redraw on release, not on every pixel of a drag
    return W.interactive(draw, **controls), draw


def _png(fig) -> bytes:
    """Figure -> PNG bytes at FRAME_DPI with a 256-colour palette (a quarter of the RGB size: the
    frames are stored in the notebook and the site), and the figure closed so that the inline
    backend does not show it as well."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FRAME_DPI)
    plt.close(fig)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(256, Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, format="png", optimize=True)
    return buf.getvalue()


def _frames(draw, defaults: dict, **grids):
    """Kernel-free explorer: `draw(**values)` for every combination of `grids` (name -> list of
    (label, value)) as PNG frames, one nested ipywidgets.Stack level per name, and one
    SelectionSlider per name whose `index` is jslinked to the `selected_index` of every Stack of
    its level. Returns (VBox(sliders + [stack]), draw); `defaults` (name -> value, each in its
    grid) is the frame shown first. Frames: the product of the grid lengths."""
    import ipywidgets as W

    names = list(grids)
    start = {n: [v for _, v in grids[n]].index(defaults[n]) for n in names}
    levels = [[] for _ in names]                      # the Stacks of each level, to link

    def build(k, fixed):
        if k == len(names):
            return W.Image(value=_png(draw(**fixed)), format="png")
        stack = W.Stack([build(k + 1, {**fixed, names[k]: v}) for _, v in grids[names[k]]],
                        selected_index=start[names[k]])
        levels[k].append(stack)
        return stack

    root = build(0, {})
    sliders = [W.SelectionSlider(options=grids[n], index=start[n], description=n) for n in names]
    for slider, stacks in zip(sliders, levels):
        for stack in stacks:
            W.jslink((slider, "index"), (stack, "selected_index"))
    return W.VBox([*sliders, root]), draw


def _grid(values, default, fmt=str) -> list:
    """Sorted (label, value) pairs of `values` with `default` added: a kernel-free slider's stops."""
    return [(fmt(v), v) for v in sorted({*values, default})]


def coupling_explorer(model, signal, query=None, live: bool = True, grid: int = 4):
    """Row / col sliders -> plots.coupling_map(model, signal, (row, col)). Default query: the
    strongest edge pixel (plots.edge_and_flat). live=False: the kernel-free form (module
    docstring) on rows and columns every ⌈H / grid⌉ and ⌈W / grid⌉ pixels through the query's
    (at most grid × grid frames, each one ntk.matvec and one figure: about 0.5 s at 48×48).
    Returns (widget, draw(row, col) -> Figure)."""
    import ipywidgets as W

    h, w = plots.image_shape(signal, "coupling_explorer")
    r0, c0 = query if query is not None else plots.edge_and_flat(signal)["edge"]
    plots.pixel_index(signal, (r0, c0), fn="coupling_explorer")

    def draw(row=r0, col=c0):
        return plots.coupling_map(model, signal, (row, col))
    if not live:
        if not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid must be a positive int (frames per axis), got {grid!r}")

        def stops(n, d):  # every ⌈n / grid⌉ pixels, through the query's d: grid stops or fewer
            step = math.ceil(n / grid)
            return _grid(range(d % step, n, step), d)
        r0, c0 = int(r0), int(c0)
        return _frames(draw, {"row": r0, "col": c0}, row=stops(h, r0), col=stops(w, c0))
    return _interactive(draw, row=W.IntSlider(r0, 0, h - 1, description="row"),
                        col=W.IntSlider(c0, 0, w - 1, description="col"))


def training_snapshots(model, signal, steps=(0, 50, 100, 200), query=None, lr: float | None = None,
                       device=None) -> dict:
    """Train `model` in place with nl.fit (full batch, Adam, `lr`; None: the model family's
    recommended lr) for max(steps) steps, on `device` (None: where the model is), and keep,
    at each step in `steps`: the self-leverage ntk.diagonal (N,), the coupling row
    tr K(x_q, ·) (N,) of `query` (default: the strongest edge pixel), the PSNR and a copy of
    the state_dict. Returns {"steps", "psnr", "leverage" (S, N), "coupling" (S, N), "query",
    "state_dicts"}, tensors on the CPU.
    """
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 0 or steps[-1] <= 0:
        raise ValueError(f"steps must be non-negative ints with at least one > 0, got {steps}")
    query = query if query is not None else plots.edge_and_flat(signal)["edge"]
    q = plots.pixel_index(signal, query, fn="training_snapshots")
    snap = {"steps": [], "psnr": [], "leverage": [], "coupling": [], "query": tuple(query),
            "state_dicts": []}

    def record(step, hist, m):
        if step in steps:
            x = signal.coords.to(next(m.parameters()).device)
            snap["steps"].append(step)
            snap["psnr"].append(hist.psnr[-1])
            snap["leverage"].append(ntk.diagonal(m, x).cpu())
            snap["coupling"].append(plots.coupling_row(m, x, q).cpu())
            snap["state_dicts"].append({k: v.detach().cpu().clone() for k, v in m.state_dict().items()})

    every = reduce(math.gcd, [s for s in steps if s > 0])
    fit(model, signal, steps=steps[-1], lr=lr, eval_every=every, device=device, progress=False,
        callbacks=[record])
    snap["leverage"], snap["coupling"] = torch.stack(snap["leverage"]), torch.stack(snap["coupling"])
    return snap


def training_explorer(signal, snapshots: dict, live: bool = True):
    """Step slider over precomputed `training_snapshots` -> leverage and coupling maps at that
    step, on colour scales shared by all steps. live=False: the kernel-free form, one frame per
    snapshot (module docstring). Returns (widget, draw(step) -> Figure)."""
    import ipywidgets as W

    s = snapshots
    lev_lim = (float(s["leverage"].clamp_min(1e-30).min()), float(s["leverage"].max()))
    cpl = float(s["coupling"].abs().max())

    def draw(step=s["steps"][-1]):
        k = s["steps"].index(step)
        return plots.value_maps(signal, [
            {"values": s["leverage"][k], "title": "self-leverage", "style": "log",
             "label": "tr K(x_i, x_i)", "lim": lev_lim},
            {"values": s["coupling"][k], "title": f"coupling to pixel {s['query']}", "style": "signed",
             "label": "tr K(x_q, x_j)", "lim": (-cpl, cpl), "mark": s["query"]}],
            f"After {step} steps: PSNR {s['psnr'][k]:.1f} dB")
    if not live:
        return _frames(draw, {"step": s["steps"][-1]}, step=_grid(s["steps"], s["steps"][-1]))
    return _interactive(draw, step=W.SelectionSlider(options=s["steps"], value=s["steps"][-1],
                                                     description="step"))


def selection_explorer(model, signal, ratio: float = 0.2, live: bool = True):
    """Ratio slider -> which coordinates NINT (top by ‖(K r)_i‖) and error-only selection (top by
    Σ_c |r_i|) would train on, drawn by plots.selection_overlay. Both rankings are computed once.
    live=False: the kernel-free form at ratios 0.1, 0.2 … 1.0 and `ratio` (module docstring).
    Returns (widget, draw(ratio) -> Figure)."""
    import ipywidgets as W

    plots.image_shape(signal, "selection_explorer")
    _check_ratio(ratio)                               # before the rankings and any frame
    dev = next(model.parameters()).device
    x, y = signal.coords.to(dev), signal.values.to(dev)
    with torch.no_grad():
        r = model(x) - y
    orders = {"NINT ‖(K r)_i‖": torch.argsort(ntk.nint_scores(model, x, r), descending=True).cpu(),
              "error-only Σ_c |r_i|": torch.argsort(r.abs().sum(1), descending=True).cpu()}

    def draw(ratio=ratio):
        _check_ratio(ratio)
        k = max(1, round(ratio * signal.n))
        sel = {name: o[:k] for name, o in orders.items()}
        a, b = (set(v.tolist()) for v in sel.values())
        return plots.selection_overlay(
            signal, sel, f"Top {100 * ratio:.0f} % by each score: {100 * len(a & b) / k:.0f} % shared")
    draw.orders = orders
    if not live:
        ratios = _grid((k / 10 for k in range(1, 11)), float(ratio), lambda v: f"{v:.2f}")
        return _frames(draw, {"ratio": float(ratio)}, ratio=ratios)
    return _interactive(draw, ratio=W.FloatSlider(ratio, min=0.05, max=1.0, step=0.05,
                                                  description="ratio"))


def _check_ratio(ratio):
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must lie in (0, 1], got {ratio}")
