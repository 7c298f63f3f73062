"""The exercise checks of notebooks/06_*.ipynb (nint_lite/classroom/checks/nb06.py): each passes
on a solution, fails naming each plausible mistake, and rejects an answer that calls the package."""
import math

import torch

import nint_lite as nl
from check_cases import *  # noqa: F401,F403  the reference helpers
from check_cases import make_tests


def _si_snr_pred_energy(p, t):                        # α = ⟨p, t⟩ / ‖p‖²: the wrong energy
    p, t = p - p.mean(), t - t.mean()
    s = (p @ t) / (p @ p) * t
    return 10 * math.log10(float(s @ s) / float((p - s) @ (p - s)))


def _iou_field(p, t, field="sdf", sign=1, denom="union", ignore_field=False):
    if field == "occupancy" and not ignore_field:
        p, t = 0.5 - p, 0.5 - t                          # inside above 0.5 -> below 0
    return _iou(p, t, sign=sign, denom=denom)


def _embed(x, B, k=2 * math.pi):
    return torch.cat([torch.sin(k * x @ B), torch.cos(k * x @ B)], dim=1)


def _kernel(x1, x2, B, k=2 * math.pi, red="sum", plus=False):
    if plus:
        return torch.cos(2 * math.pi * (x1[:, None] + x2[None]) @ B).sum(-1)
    out = _embed(x1, B, k) @ _embed(x2, B, k).T
    return out / B.shape[1] if red == "mean" else out


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "si_snr_by_hand": (_si_snr, [(lambda p, t: _si_snr(p, t, centre=False), "zero-mean"),
                                 (lambda p, t: _si_snr_pred_energy(p, t), "not the prediction's"),
                                 (lambda p, t: _si_snr(p, t, power=1), "energies"),
                                 (lambda p, t: _si_snr(p, t, scale=False), "plain SNR")]),
    "iou_by_hand": (_iou_field, [(lambda p, t, field="sdf": _iou_field(p, t, field, sign=-1), "NEGATIVE"),
                                 (lambda p, t, field="sdf": _iou_field(p, t, field, ignore_field=True), "use `field`"),
                                 (lambda p, t, field="sdf": _iou_field(p, t, field, denom="target"), "not by the target"),
                                 (lambda p, t, field="sdf": _iou_field(p, t, field, denom="sum"), "counts shared nodes once"),
                                 (lambda p, t, field="sdf": float("nan") if _iou_field(p, t, field) == 1.0
                                  and not (p < 0).any() else _iou_field(p, t, field), "return 1")]),
    "fourier_kernel": (_kernel, [(lambda a, b, B: _kernel(a, b, B, k=1.0), "2π is missing"),
                                 (lambda a, b, B: _kernel(a, b, B, red="mean"), "not the mean"),
                                 (lambda a, b, B: _kernel(a, b, B, plus=True), "not x1 \\+ x2"),
                                 (lambda a, b, B: torch.sin(2 * math.pi * a @ B) @ torch.sin(2 * math.pi * b @ B).T,
                                  "both the sin and the cos")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "si_snr_by_hand": lambda p, t: nl.si_snr(p, t),
    "iou_by_hand": lambda p, t, field="sdf": nl.iou(p, t) if field == "sdf" else nl.iou(p, t, level=0.5, inside="above"),
    "fourier_kernel": lambda a, b, B: _package_kernel(a, b, B),
}


def _package_kernel(x1, x2, B):
    enc = nl.models.FourierFeatures(B.shape[0], B.shape[1], 1.0, torch.Generator().manual_seed(0))
    enc.B = B
    return enc(x1) @ enc(x2).T


globals().update(make_tests(CASES, PACKAGE))
