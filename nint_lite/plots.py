"""Figures of signals, kernels, selections and training runs; each returns a matplotlib `Figure`.

    reconstruction(signal, pred)             target | reconstruction | |error|
    training_curves({label: History})        PSNR vs step and vs training seconds
    value_maps(signal, panels)               per-coordinate values (N,) drawn as images, side by side
    kernel_heatmap(model, signal, patches)   K over two 3×3 patches (edge, flat): an (18C, 18C) matrix
    leverage_map(model, signal)              self-leverage tr K(x_i, x_i) on a log colour scale
    coupling_row(model, x, index)            tr K(x_q, x_j) for every j, matrix-free: (N,)
    coupling_map(model, signal, query)       that row as an image, the query pixel marked
    score_maps(model, signal)                ‖r_i‖, self-leverage and NINT's ‖(K r)_i‖
    selection_overlay(signal, indices)       selected coordinates over the target image
    waveforms(signal, {label: pred})         audio: target, reconstructions and their errors over time
    LivePlot()                               fit callback: one PSNR curve, updated in place
    SaveReconstructions(signal, folder)      fit callback: a reconstruction PNG per evaluation

Figures have fixed sizes (PNG-friendly); callers show or save them. Kernel quantities come from
`nint_lite.ntk`; nothing here re-implements the kernel. Image figures need a 2-D pixel grid
(`signal.kind == "image"`); pixels are (row, col) pairs of ints. matplotlib is imported on first
use, not with the module. 3D figures: nint_lite.shapes (field_slices, meshes).

Built in notebooks/01_fit_an_inr.ipynb and notebooks/03_kernel_leverage.ipynb.
"""
from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
import torch

from . import ntk
from .metrics import psnr

__all__ = ["reconstruction", "training_curves", "value_maps", "kernel_heatmap", "leverage_map",
           "coupling_row", "coupling_map", "score_maps", "selection_overlay", "edge_and_flat",
           "waveforms", "image_shape", "pixel_index", "save_reconstruction", "LivePlot",
           "SaveReconstructions"]

_CMAPS = {"linear": "viridis", "log": "viridis", "signed": "RdBu_r", "error": "magma"}


def _subplots(*args, **kwargs):
    """plt.subplots(..., constrained_layout=True); pyplot is imported here, at the first figure,
    so that importing nint_lite does not load matplotlib."""
    import matplotlib.pyplot as plt

    return plt.subplots(*args, constrained_layout=True, **kwargs)


def _image(signal, values) -> np.ndarray:
    """(N, C) values -> (H, W) or (H, W, 3) numpy array clipped to [0, 1] for imshow."""
    img = signal.to_grid(torch.as_tensor(values).detach().cpu().float()).numpy()
    img = np.clip(img, 0.0, 1.0)
    return img[..., 0] if img.shape[-1] == 1 else img


def _imshow(ax, img: np.ndarray):
    """A gray (H, W) or colour (H, W, 3) image in [0, 1]."""
    return ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)


def image_shape(signal, fn: str) -> tuple:
    """(H, W) of an image signal, or a ValueError naming the function `fn` that needs one."""
    if signal.kind != "image" or len(signal.shape) != 2:
        raise ValueError(f"{fn}() draws images on a 2-D pixel grid; this signal is "
                         f"{signal.kind!r} with grid shape {signal.shape}")
    return signal.shape


def pixel_index(signal, pixel, name: str = "query", fn: str = "pixel_index") -> int:
    """(row, col) -> row-major coordinate index, or a ValueError naming `name` (or `fn`)."""
    h, w = image_shape(signal, fn)
    try:
        r, c = (operator.index(v) for v in pixel)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (row, col) pair of ints, got {pixel!r}") from None
    if not (0 <= r < h and 0 <= c < w):
        raise ValueError(f"{name} {(r, c)} lies outside the {h}×{w} image "
                         f"(rows 0..{h - 1}, cols 0..{w - 1})")
    return r * w + c


def _xy(model, signal):
    """Coordinates (N, d) and targets (N, C) on the model's device."""
    dev = next(model.parameters()).device
    return signal.coords.to(dev), signal.values.to(dev)


def _pixel_axes(ax):
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")


def reconstruction(signal, pred, title: str | None = None):
    """Target, reconstruction (pred: (N, C)) and absolute error of an image side by side."""
    image_shape(signal, "reconstruction")
    target, recon = _image(signal, signal.values), _image(signal, pred)
    err = np.abs(recon - target)
    err = err.mean(-1) if err.ndim == 3 else err
    fig, axes = _subplots(1, 3, figsize=(10.5, 3.6))
    _imshow(axes[0], target)
    axes[0].set_title("target")
    _imshow(axes[1], recon)
    axes[1].set_title(f"reconstruction ({psnr(torch.as_tensor(pred).cpu(), signal.values.cpu()):.2f} dB)")
    im = axes[2].imshow(err, cmap="magma")
    axes[2].set_title("|error|")
    fig.colorbar(im, ax=axes[2], shrink=0.85, label="absolute error")
    for ax in axes:
        _pixel_axes(ax)
    if title:
        fig.suptitle(title)
    return fig


_METRIC_LABELS = {"psnr": "PSNR (dB)", "si_snr": "SI-SNR (dB)", "iou": "IoU"}


def training_curves(histories: dict, title: str = "PSNR during training", metric: str = "psnr"):
    """A metric (PSNR, or a History.metrics key such as "si_snr", "iou") vs step and vs training
    seconds for several runs: {label: History}."""
    if not histories:
        raise ValueError("training_curves needs at least one History")
    fig, (a, b) = _subplots(1, 2, figsize=(10, 3.6))
    for label, h in histories.items():
        ys = h._curve(metric)
        a.plot(h.steps, ys, label=label)
        b.plot(h.train_seconds, ys, label=label)
    a.set_xlabel("step")
    b.set_xlabel("training seconds (evaluation excluded)")
    for ax in (a, b):
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def value_maps(signal, panels, title: str):
    """Per-coordinate values as images, one panel each, side by side.

    panels: list of dicts with `values` (N,) — or (N, C) in [0, 1] for style "image" —, `title`,
    and optionally `label` (colour-bar label), `style` ("image" | "linear" | "log" | "signed" |
    "error"), `lim` (colour range lo, hi) and `mark` (a (row, col) pixel to circle).
    Every non-image panel gets a colour bar.
    """
    from matplotlib.colors import LogNorm, Normalize

    image_shape(signal, "value_maps")
    bad = [p.get("style") for p in panels if p.get("style", "linear") not in ("image", *_CMAPS)]
    if not panels or bad:
        raise ValueError(f"value_maps needs at least one panel with style in image, "
                         f"{', '.join(_CMAPS)}; got {len(panels)} panels, bad styles {bad}")
    fig, axes = _subplots(1, len(panels), figsize=(3.7 * len(panels) + 0.5, 3.6), squeeze=False)
    for ax, p in zip(axes[0], panels):
        style, vals = p.get("style", "linear"), torch.as_tensor(p["values"]).detach().cpu().float()
        if style == "image":
            _imshow(ax, _image(signal, vals))
        else:
            m = signal.to_grid(vals.reshape(-1, 1))[..., 0].numpy()
            lo, hi = p.get("lim") or (float(m.min()), float(m.max()))
            if style == "log":
                lo = lo if lo > 0 else float(m[m > 0].min()) if (m > 0).any() else 1e-12
                norm, m = LogNorm(lo, max(hi, 10 * lo)), np.clip(m, lo, None)
            elif style == "signed":
                a = max(abs(lo), abs(hi)) or 1.0
                norm = Normalize(-a, a)
            else:
                norm = Normalize(lo, hi)
            im = ax.imshow(m, cmap=_CMAPS[style], norm=norm)
            fig.colorbar(im, ax=ax, shrink=0.85, label=p.get("label", "value"))
        if p.get("mark") is not None:
            r, c = divmod(pixel_index(signal, p["mark"], "mark"), signal.shape[1])
            ax.plot(c, r, "o", ms=9, mfc="none", mec="lime", mew=2)
        ax.set_title(p["title"])
        _pixel_axes(ax)
    fig.suptitle(title)
    return fig


def edge_and_flat(signal) -> dict:
    """Default pixels {"edge": (row, col), "flat": (row, col)}: the interior pixels whose 3×3
    neighbourhood has the largest and the smallest summed gradient magnitude (channel mean)."""
    from scipy.ndimage import uniform_filter

    h, w = image_shape(signal, "edge_and_flat")
    if h < 3 or w < 3:
        raise ValueError(f"the image must be at least 3×3 to hold a 3×3 patch, got {h}×{w}")
    img = signal.to_grid().mean(-1).cpu().numpy()
    gy, gx = np.gradient(img)
    g = uniform_filter(np.hypot(gy, gx), size=3)[1:-1, 1:-1]
    pick = lambda i: (int(i // g.shape[1]) + 1, int(i % g.shape[1]) + 1)  # noqa: E731
    return {"edge": pick(g.argmax()), "flat": pick(g.argmin())}


def kernel_heatmap(model, signal, patches=None, title: str = "Empirical NTK over two 3×3 patches"):
    """K (from ntk.matrix) for the 9 pixels of each 3×3 patch, drawn as one (9PC, 9PC) matrix
    (P patches, C channels; rows/columns ordered patch, pixel row-major, channel), next to the
    image with the patches outlined.

    patches: {label: (row, col) centre} or a list of centres; default `edge_and_flat(signal)`.
    Each centre must be at least one pixel from the border.
    """
    from matplotlib.patches import Rectangle

    h, w = image_shape(signal, "kernel_heatmap")
    patches = edge_and_flat(signal) if patches is None else patches
    if not isinstance(patches, dict):
        patches = {f"patch {k}": p for k, p in enumerate(patches)}
    if not patches:
        raise ValueError("patches must name at least one (row, col) centre")
    idx, centres = [], {}
    for label, centre in patches.items():
        r, c = centres[label] = divmod(pixel_index(signal, centre, f"patch centre {label!r}"), w)
        if not (1 <= r <= h - 2 and 1 <= c <= w - 2):
            raise ValueError(f"patch centre {label!r} {(r, c)} must be at least one pixel from the "
                             f"border (rows 1..{h - 2}, cols 1..{w - 2}) so its 3×3 patch fits")
        idx += [(r + dr) * w + c + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    x, _ = _xy(model, signal)
    K = ntk.matrix(model, x[idx]).detach().cpu()          # (n, n, C, C)
    n, C = K.shape[0], K.shape[2]
    Km = K.permute(0, 2, 1, 3).reshape(n * C, n * C).numpy()
    fig, (a, b) = _subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1, 1.3]})
    _imshow(a, _image(signal, signal.values))
    for k, (label, (r, c)) in enumerate(centres.items()):
        colour = f"C{k % 10}"
        a.add_patch(Rectangle((c - 1.5, r - 1.5), 3, 3, fill=False, ec=colour, lw=2))
        a.annotate(label, (c, r - 2), color=colour, ha="center", va="bottom")
    a.set_title("patches")
    _pixel_axes(a)
    lim = float(np.abs(Km).max()) or 1.0
    im = b.imshow(Km, cmap="RdBu_r", vmin=-lim, vmax=lim)
    block = 9 * C
    for k in range(1, len(patches)):
        b.axhline(k * block - 0.5, color="k", lw=1.5)
        b.axvline(k * block - 0.5, color="k", lw=1.5)
    ticks = [k * block + (block - 1) / 2 for k in range(len(patches))]
    b.set_xticks(ticks, list(patches))
    b.set_yticks(ticks, list(patches))
    unit = "9 pixels" if C == 1 else f"9 pixels × {C} channels"
    b.set_xlabel(f"coordinate j ({unit} per patch)")
    b.set_ylabel(f"coordinate i ({unit} per patch)")
    b.set_title("K(x_i, x_j)")
    fig.colorbar(im, ax=b, shrink=0.85, label="K(x_i, x_j)")
    fig.suptitle(title)
    return fig


def leverage_map(model, signal, title: str = "Self-leverage tr K(x_i, x_i)"):
    """The image next to its self-leverage ntk.diagonal(model, coords): (N,), log colour scale."""
    image_shape(signal, "leverage_map")
    x, _ = _xy(model, signal)
    return value_maps(signal, [
        {"values": signal.values, "title": "target", "style": "image"},
        {"values": ntk.diagonal(model, x), "title": "self-leverage", "style": "log",
         "label": "tr K(x_i, x_i)"}], title)


def coupling_row(model, x: torch.Tensor, index: int) -> torch.Tensor:
    """Kernel row tr K(x_q, x_j) = Σ_c K(x_q, x_j)_cc for all j: (N,), with x: (N, d), q = index.

    Matrix-free: K is symmetric, so K e_(q,c) (one ntk.matvec per channel c, with v one-hot at
    (q, c)) is column — and row — (q, c) of K; its channel c entries summed over c give the trace.
    """
    n = x.shape[0]
    if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise ValueError(f"index must be an int in 0..{n - 1}, got {index!r}")
    with torch.no_grad():
        C = model(x[:1]).shape[-1]
    row = torch.zeros(n, dtype=x.dtype, device=x.device)
    for c in range(C):
        v = torch.zeros(n, C, dtype=x.dtype, device=x.device)
        v[index, c] = 1.0
        row += ntk.matvec(model, x, v)[:, c]
    return row


def coupling_map(model, signal, query, title: str | None = None):
    """The image and the kernel row tr K(x_q, ·) over the whole grid for query pixel (row, col)."""
    image_shape(signal, "coupling_map")
    q = pixel_index(signal, query, "query")
    x, _ = _xy(model, signal)
    row = coupling_row(model, x, q)
    return value_maps(signal, [
        {"values": signal.values, "title": "target (query circled)", "style": "image", "mark": query},
        {"values": row, "title": "coupling tr K(x_q, x_j)", "style": "signed",
         "label": "tr K(x_q, x_j)", "mark": query}],
        title or f"How a step on pixel {tuple(int(v) for v in query)} moves every other pixel")


def score_maps(model, signal, title: str = "Residual, self-leverage and NINT score"):
    """‖r_i‖ with r = f(x) − y: (N, C), self-leverage tr K_ii, and NINT's ‖(K r)_i‖, side by side."""
    image_shape(signal, "score_maps")
    x, y = _xy(model, signal)
    with torch.no_grad():
        r = model(x) - y
    return value_maps(signal, [
        {"values": r.norm(dim=1), "title": "residual ‖r_i‖", "style": "error", "label": "‖f(x_i) − y_i‖"},
        {"values": ntk.diagonal(model, x), "title": "self-leverage", "style": "log",
         "label": "tr K(x_i, x_i)"},
        {"values": ntk.nint_scores(model, x, r), "title": "NINT score ‖(K r)_i‖", "style": "linear",
         "label": "‖(K r)_i‖"}], title)


def _as_indices(sel, n: int, label) -> np.ndarray:
    a = np.asarray(torch.as_tensor(sel).cpu())
    if a.dtype == bool:
        if a.shape != (n,):
            raise ValueError(f"selection {label!r}: a boolean mask must have shape ({n},), got {a.shape}")
        return np.flatnonzero(a)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise ValueError(f"selection {label!r} must be 1-D integer indices or a boolean mask (N,)")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"selection {label!r} has indices outside 0..{n - 1}")
    return a.astype(np.int64)


def selection_overlay(signal, indices, title: str = "Selected coordinates"):
    """Selected coordinates drawn over the target image, one panel per selection.

    indices: (k,) integer indices into the N coordinates, an (N,) boolean mask, or
    {label: either} to compare several selections side by side.
    """
    from matplotlib.patches import Patch

    h, w = image_shape(signal, "selection_overlay")
    sels = indices if isinstance(indices, dict) else {"selected": indices}
    if not sels:
        raise ValueError("indices must hold at least one selection")
    fig, axes = _subplots(1, len(sels), figsize=(3.7 * len(sels) + 0.5, 3.9), squeeze=False)
    img = _image(signal, signal.values)
    base = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img
    for ax, (label, sel) in zip(axes[0], sels.items()):
        idx = _as_indices(sel, signal.n, label)
        overlay = np.zeros((h * w, 4))
        overlay[idx] = (1.0, 0.15, 0.1, 0.65)
        ax.imshow(base * 0.8, vmin=0, vmax=1)
        ax.imshow(overlay.reshape(h, w, 4))
        ax.set_title(f"{label}: {len(idx)} of {signal.n} ({100 * len(idx) / signal.n:.0f} %)")
        ax.legend(handles=[Patch(color=(1.0, 0.15, 0.1, 0.65), label="selected")], loc="lower right",
                  fontsize="small")
        _pixel_axes(ax)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- audio

def waveforms(signal, preds: dict, window=None, title: str = "Waveforms"):
    """Audio: the target, each reconstruction and its error over time (seconds).

    preds: {label: (N, 1) values}; window: (start_s, end_s) to zoom in, default all. The errors
    are drawn on a right-hand axis of their own, one scale shared by all panels: a good fit's
    error is hundreds of times smaller than the signal and would be a flat line on its axis.
    """
    if signal.kind != "audio":
        raise ValueError(f"waveforms needs an audio signal, got kind {signal.kind!r}")
    rate = signal.meta.get("sample_rate", signal.n)
    t = np.arange(signal.n) / rate + signal.meta.get("start", 0.0)
    keep = np.ones(signal.n, bool) if window is None else (t >= window[0]) & (t <= window[1])
    y = signal.values[:, 0].numpy()
    fig, axes = _subplots(1 + len(preds), 1, figsize=(10, 1.6 * (1 + len(preds)) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    axes[0].plot(t[keep], y[keep], lw=0.7, color="k")
    axes[0].set_title("target", fontsize=9, loc="left")
    errs = {k: torch.as_tensor(p).detach().cpu().float().reshape(-1).numpy() - y for k, p in preds.items()}
    elim = 1.1 * max([float(np.abs(e[keep]).max()) for e in errs.values()] + [1e-9])
    for ax, (label, e) in zip(axes[1:], errs.items()):
        ax.plot(t[keep], (e + y)[keep], lw=0.7, label="reconstruction")
        ex = ax.twinx()
        ex.plot(t[keep], e[keep], lw=0.7, color="tab:red", label="error (right axis)")
        ex.set_ylim(-elim, elim)
        ex.tick_params(axis="y", colors="tab:red", labelsize=8)
        ax.set_title(label, fontsize=9, loc="left")
        ex.legend(handles=ax.lines + ex.lines, loc="upper right", fontsize=8)  # on top of both axes
    lim = 1.1 * max(float(np.abs(y[keep]).max()), 1e-3)  # the target's scale: quiet speech stays visible
    for ax in axes:
        ax.set_ylim(-lim, lim)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- fit callbacks

class LivePlot:
    """fit callback for notebooks: PSNR vs step in ONE output that is updated in place at each
    evaluation (a display handle, so outputs do not pile up; nbval ignores clear_output)."""

    def __init__(self, title: str = "PSNR during training"):
        self.title, self.handle, self.updates = title, None, 0

    def __call__(self, step, hist, model):
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, ax = _subplots(figsize=(5, 3))
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
    """fit callback: save target | reconstruction | error as `folder/step_000123.png` at every
    evaluation (images only). Its time counts neither as training nor as evaluation."""

    def __init__(self, signal, folder):
        if signal.kind != "image":
            raise ValueError("SaveReconstructions draws images; use it with an image signal")
        self.signal, self.folder = signal, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.saved = []

    def __call__(self, step, hist, model):
        path = self.folder / f"step_{step:06d}.png"
        save_reconstruction(self.signal, model, path, f"{hist.sampler}, step {step}")
        self.saved.append(path)


def save_reconstruction(signal, model, path, title: str | None = None, dpi: int = 80) -> Path:
    """Draw `reconstruction` of `model`'s prediction (on the model's device) and save it as a PNG."""
    import matplotlib.pyplot as plt

    from .train import predict  # here, not at the top: importing plots never imports train

    dev = next(model.parameters()).device
    fig = reconstruction(signal, predict(model, signal.coords.to(dev)).cpu(), title)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
