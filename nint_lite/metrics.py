"""Quality metrics: PSNR and SSIM (images), SI-SNR (audio), IoU and Chamfer distance (shapes).

psnr works on any (N, C) or grid tensors; ssim needs image grids (H, W) or (H, W, C).
Built in notebooks/01_fit_an_inr.ipynb (psnr, ssim) and 06_audio_and_3d.ipynb (the rest).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "si_snr", "iou", "chamfer"]


def _as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(torch.float64) if not torch.is_tensor(x) \
        else x.detach().to(torch.float64)


def psnr(pred, target, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: 10·log10(range² / MSE) over all elements.

    Returns inf for a perfect match, -inf if pred holds inf. Shapes must agree.
    """
    p, t = torch.as_tensor(pred).detach(), torch.as_tensor(target).detach()
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    p, t = p.reshape(-1), t.to(p.device).reshape(-1)
    # float64 sums chunk by chunk: exact enough, and no N-sized float64 copies of megapixel signals
    sq = sum(((a.double() - b.double()) ** 2).sum() for a, b in zip(p.split(1 << 20), t.split(1 << 20)))
    mse = float(sq) / max(1, p.numel())
    if mse == math.inf:  # log10(range² / inf) would raise "math domain error"
        return -math.inf
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def _gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    r = int(truncate * sigma + 0.5)
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(pred, target, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) of two images (H, W) or (H, W, C).

    Gaussian window σ = 1.5 (11×11), K1 = 0.01, K2 = 0.03, population covariances, mean over
    the valid interior and over channels — the same numbers as scikit-image's
    `structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1, channel_axis=-1)`.
    """
    p, t = _as_tensor(pred), _as_tensor(target)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    if p.ndim == 2:
        p, t = p[..., None], t[..., None]
    if p.ndim != 3:
        raise ValueError(f"ssim needs images (H, W) or (H, W, C), got shape {tuple(p.shape)}")
    w = _gaussian_window().to(p.device)
    if min(p.shape[:2]) < w.numel():
        raise ValueError(f"ssim needs images of at least {w.numel()}×{w.numel()}, got {tuple(p.shape[:2])}")
    c = p.shape[2]
    x = torch.stack([p, t]).permute(0, 3, 1, 2).reshape(2 * c, 1, *p.shape[:2])  # (2C, 1, H, W)

    def blur(z):  # separable Gaussian, 'valid' region only (skimage crops the border likewise)
        z = F.conv2d(z, w.view(1, 1, -1, 1))
        return F.conv2d(z, w.view(1, 1, 1, -1))

    mu = blur(x)
    mx, my = mu[:c], mu[c:]
    sxx = blur(x[:c] ** 2) - mx ** 2
    syy = blur(x[c:] ** 2) - my ** 2
    sxy = blur(x[:c] * x[c:]) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return s.mean().item()


def _same_shape(p, t):
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")


def si_snr(pred, target, eps: float = 1e-12) -> float:
    """Scale-invariant signal-to-noise ratio in dB (Le Roux et al. 2019) of two waveforms.

    Both are flattened and made zero-mean; s = (⟨p, t⟩ / ‖t‖²) t is the part of p along t and
    e = p − s the rest: SI-SNR = 10·log10(‖s‖² / ‖e‖²). Rescaling p does not change it.
    """
    p, t = _as_tensor(pred), _as_tensor(target)
    _same_shape(p, t)
    p, t = p.flatten() - p.mean(), t.flatten().to(p.device) - t.mean().to(p.device)
    tt = torch.dot(t, t).item()
    if tt <= eps:
        raise ValueError("the target waveform is constant; SI-SNR is undefined")
    s = torch.dot(p, t).item() / tt * t
    es, ee = torch.dot(s, s).item(), torch.dot(p - s, p - s).item()
    if ee <= eps * tt:
        return math.inf
    return 10.0 * math.log10(max(es, eps * tt) / ee)


def iou(pred, target, level: float = 0.0, inside: str = "below") -> float:
    """Volumetric intersection over union of two fields sampled on the same nodes.

    A node is inside where the field is below `level` (inside="below": signed distance,
    level 0) or above it (inside="above": occupancy, level 0.5). 1 when both are empty.
    """
    p, t = _as_tensor(pred), _as_tensor(target)
    _same_shape(p, t)
    if inside not in ("below", "above"):
        raise ValueError(f"inside must be 'below' (SDF) or 'above' (occupancy), got {inside!r}")
    a, b = (p < level, t.to(p.device) < level) if inside == "below" else (p > level, t.to(p.device) > level)
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def _surface_points(m, n_points: int, seed: int):
    """(M, 3) points: a point array as given, or n_points sampled uniformly by area on a mesh
    given as (vertices (V, 3), faces (F, 3))."""
    import numpy as np

    if isinstance(m, (tuple, list)) and len(m) == 2:
        v, f = np.asarray(m[0], dtype=np.float64), np.asarray(m[1], dtype=np.int64)
        if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
            raise ValueError(f"faces must be a non-empty (F, 3) array, got shape {f.shape}")
        tri = v[f]  # (F, 3, 3)
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(f), size=n_points, p=area / area.sum())
        u, w = rng.random((2, n_points, 1))
        flip = (u + w) > 1  # fold the unit square onto the triangle: uniform barycentrics
        u, w = np.where(flip, 1 - u, u), np.where(flip, 1 - w, w)
        t = tri[pick]
        return t[:, 0] + u * (t[:, 1] - t[:, 0]) + w * (t[:, 2] - t[:, 0])
    pts = np.asarray(m, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"expected a mesh (vertices, faces) or points (M, 3), got shape {pts.shape}")
    return pts


def chamfer(a, b, n_points: int = 30000, seed: int = 0) -> float:
    """Symmetric Chamfer distance ½(mean_a d(a, B) + mean_b d(b, A)), in the shapes' units.

    a, b: meshes as (vertices, faces) — sampled with n_points points by area (seeded) — or
    point arrays (M, 3). Distances are Euclidean (not squared), via a k-d tree.
    """
    from scipy.spatial import cKDTree

    pa, pb = _surface_points(a, n_points, seed), _surface_points(b, n_points, seed + 1)
    return 0.5 * (cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean())
