"""Where a target's edges are, for the edge-seeking baselines (EGRA, Soft Mining, Expansive).

On images: Canny (scikit-image) and Sobel magnitude. On 1D and 3D grids, where Canny does not
apply, "edges" are the 10 % of nodes with the largest gradient magnitude (central differences).

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
import torch

_LUMA = (0.2125, 0.7154, 0.0721)  # BT.709, as scikit-image's rgb2gray


def need_grid(sampler, view) -> None:
    """A clear error when `view` is not a regular 1D, 2D or 3D grid of its N nodes."""
    if not 1 <= len(view.shape) <= 3 or min(view.shape) < 2 or math.prod(view.shape) != view.n:
        raise ValueError(f"the {sampler.name!r} sampler needs a regular 1D, 2D or 3D grid of N "
                         f"nodes (each side ≥ 2); got grid {view.shape} for N={view.n}")


def gray(values: torch.Tensor) -> torch.Tensor:
    """(N, C) -> (N,): BT.709 luma for RGB, else the mean over channels."""
    return values @ values.new_tensor(_LUMA) if values.shape[1] == 3 else values.mean(1)


def gradient_magnitude(view) -> np.ndarray:
    """|∇ target| per node, flat (N,): Sobel on images, central differences on other grids."""
    from scipy import ndimage

    g = gray(view.values.detach().cpu()).reshape(view.shape).numpy()
    if g.ndim == 2:
        return np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1)).ravel()
    grads = np.gradient(g)
    grads = grads if isinstance(grads, (list, tuple)) else [grads]
    return np.sqrt(sum(d ** 2 for d in grads)).ravel()


def canny_edges(view) -> torch.Tensor:
    """Flat indices of the target's edge nodes. Images: Canny (scikit-image, σ = 1, thresholds
    30/40 on 0–255). 1D/3D grids: the 10 % of nodes with the largest gradient magnitude."""
    if len(view.shape) == 2:
        from skimage.feature import canny

        g = gray(view.values.detach().cpu()).reshape(view.shape).numpy()
        edges = canny(g * 255.0, sigma=1.0, low_threshold=30, high_threshold=40).ravel()
    else:
        mag = gradient_magnitude(view)
        edges = mag > np.quantile(mag, 0.9)
    return torch.from_numpy(np.flatnonzero(edges)).to(view.device)
