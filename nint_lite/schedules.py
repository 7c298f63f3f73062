"""The step schedules of INT and NINT: batch ratio, re-selection steps and NINT's NTK share.

Steps t count from 0 to T − 1. Every function is pure and cheap (Python floats/ints), so the
trainer can call it every step without touching the device.

    ratio(kind, t, T, rho0)        batch fraction ρ_t: "constant" | "linear" | "step"
    is_selection_step(kind, t, T)  whether a sampler re-selects at t: "dense" | "incremental"
    nint_share(t, xi, lam, alpha)  the paper's NTK share (1 − ξ)·exp(−λ t / α)
    nint_share_official(c)         the official code's 0.3·exp(floor(−c / 10))

(EVOS's key iterations and Soft Mining's exponent live with those baselines, nint_lite.baselines.)

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import math

__all__ = ["RATIO_SCHEDULES", "INTERVALS", "ratio", "is_selection_step", "nint_share",
           "nint_share_official"]

RATIO_SCHEDULES = ("constant", "linear", "step")
INTERVALS = ("dense", "incremental")


def _check_rho(rho0):
    if not 0.0 < rho0 <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {rho0!r}")


def ratio(kind: str, t: int, T: int, rho0: float) -> float:
    """Batch fraction at step t of T.

    constant: ρ0;  linear: ρ0 + (t/T)(1 − ρ0);  step: min(ρ0 + ⌊t / (T/10)⌋ · (1 − ρ0)/10, 1).
    """
    _check_rho(rho0)
    if kind == "constant":
        return rho0
    if kind == "linear":
        return min(rho0 + (t / T) * (1.0 - rho0), 1.0)
    if kind == "step":
        return min(rho0 + math.floor(t / (T / 10)) * (1.0 - rho0) / 10, 1.0)
    raise ValueError(f"unknown ratio schedule {kind!r}; valid: {', '.join(RATIO_SCHEDULES)}")


def is_selection_step(kind: str, t: int, T: int) -> bool:
    """Whether a sampler selects a new subset at step t (else it reuses the previous one).

    dense: every step. incremental (INT): every step for the first 25 % of T, then the rest is
    cut into five equal phases that re-select every 10, 20, 30, 40 and 50 steps, counted from the
    start of each phase (1422 selections in 5000 steps).
    """
    if kind == "dense":
        return True
    if kind != "incremental":
        raise ValueError(f"unknown interval strategy {kind!r}; valid: {', '.join(INTERVALS)}")
    warm = T // 4
    if t < warm:
        return True
    phase_len = (T - warm) / 5
    phase = min(int((t - warm) // phase_len), 4)
    start = warm + math.ceil(phase * phase_len)
    return (t - start) % (10 * (phase + 1)) == 0


def nint_share(t: int, xi: float = 0.7, lam: float = 1.0, alpha: float = 10.0) -> float:
    """NINT's NTK share of the batch at step t (paper): (1 − ξ)·exp(−λ t / α)."""
    return (1.0 - xi) * math.exp(-lam * t / alpha)


def nint_share_official(c: int) -> float:
    """The official code's NTK share at selection counter c = 1, 2, …: 0.3·exp(floor(−c / 10)).

    Piecewise constant: 0.110 for c ≤ 10, 0.041 for c ≤ 20, … below 1e-3 from c = 51 on.
    """
    return 0.3 * math.exp(math.floor(-c / 10))
