"""Quality metrics: PSNR and SSIM for images, SI-SNR for audio (IoU and Chamfer: nint_lite.shapes).

psnr works on any (N, C) or grid tensors; ssim needs image grids (H, W) or (H, W, C); si_snr
flattens two waveforms. Each returns a Python float.

Built in notebooks/01_fit_an_inr.ipynb (psnr, ssim); si_snr in notebooks/06_audio_and_3d.ipynb.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "si_snr"]


def _pair(pred, target, dtype=torch.float64):
    """Both as detached tensors (arrays accepted) on pred's device, in `dtype` (None: each keeps
    its own); a ValueError unless their shapes agree."""
    p = torch.as_tensor(pred).detach()
    t = torch.as_tensor(target).detach().to(p.device)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    return (p, t) if dtype is None else (p.to(dtype), t.to(dtype))


def psnr(pred, target, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: 10·log10(range² / MSE) over all elements.

    Returns inf for a perfect match, -inf if pred holds inf. Shapes must agree.
    """
    p, t = _pair(pred, target, dtype=None)
    p, t = p.reshape(-1), t.reshape(-1)
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
    p, t = _pair(pred, target)
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


def si_snr(pred, target, eps: float = 1e-12) -> float:
    """Scale-invariant signal-to-noise ratio in dB (Le Roux et al. 2019) of two waveforms.

    Both are flattened and made zero-mean; s = (⟨p, t⟩ / ‖t‖²) t is the part of p along t and
    e = p − s the rest: SI-SNR = 10·log10(‖s‖² / ‖e‖²). Rescaling p does not change it.
    """
    p, t = _pair(pred, target)
    p, t = p.flatten() - p.mean(), t.flatten() - t.mean()
    tt = torch.dot(t, t).item()
    if tt <= eps:
        raise ValueError("the target waveform is constant; SI-SNR is undefined")
    s = torch.dot(p, t).item() / tt * t
    es, ee = torch.dot(s, s).item(), torch.dot(p - s, p - s).item()
    if ee <= eps * tt:
        return math.inf
    return 10.0 * math.log10(max(es, eps * tt) / ee)
