"""Matplotlib helpers. Each returns a `Figure` (fixed size, PNG-friendly); callers show or save it.

Built in notebooks/01_fit_an_inr.ipynb.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["reconstruction", "psnr_curves"]


def _image(signal, values) -> np.ndarray:
    """(N, C) values -> (H, W) or (H, W, 3) numpy array clipped to [0, 1] for imshow."""
    img = signal.to_grid(torch.as_tensor(values).detach().cpu().float()).numpy()
    img = np.clip(img, 0.0, 1.0)
    return img[..., 0] if img.shape[-1] == 1 else img


def reconstruction(signal, pred, title: str | None = None):
    """Target, reconstruction and absolute error of an image side by side."""
    from .metrics import psnr

    if signal.kind != "image":
        raise ValueError(f"reconstruction() draws images; this signal is {signal.kind!r}")
    target, recon = _image(signal, signal.values), _image(signal, pred)
    err = np.abs(recon - target)
    err = err.mean(-1) if err.ndim == 3 else err
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), constrained_layout=True)
    cmap = "gray" if target.ndim == 2 else None
    axes[0].imshow(target, cmap=cmap, vmin=0, vmax=1)
    axes[0].set_title("target")
    axes[1].imshow(recon, cmap=cmap, vmin=0, vmax=1)
    axes[1].set_title(f"reconstruction ({psnr(torch.as_tensor(pred).cpu(), signal.values.cpu()):.2f} dB)")
    im = axes[2].imshow(err, cmap="magma")
    axes[2].set_title("|error|")
    fig.colorbar(im, ax=axes[2], shrink=0.85, label="absolute error")
    for ax in axes:
        ax.set_xlabel("x (column)")
        ax.set_ylabel("y (row)")
    if title:
        fig.suptitle(title)
    return fig


def psnr_curves(histories: dict, title: str = "PSNR during training"):
    """PSNR vs step and vs training seconds for several runs: {label: History}."""
    if not histories:
        raise ValueError("psnr_curves needs at least one History")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for label, h in histories.items():
        a.plot(h.steps, h.psnr, label=label)
        b.plot(h.train_seconds, h.psnr, label=label)
    a.set_xlabel("step")
    b.set_xlabel("training seconds (evaluation excluded)")
    for ax in (a, b):
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig
