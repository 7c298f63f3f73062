"""Self-checks for the exercises of notebooks/06_audio_and_3d.ipynb (see nint_lite.classroom.checks).

    si_snr_by_hand(fn)   fn(pred (N,), target (N,)) -> SI-SNR in dB, the optimal scale derived
    iou_by_hand(fn)      fn(pred (N,), target (N,), field="sdf") -> IoU of the insides
    fourier_kernel(fn)   fn(x1 (N1, d), x2 (N2, d), B (d, m)) -> γ(x1) γ(x2)ᵀ, (N1, N2)

Only core modules are imported at module level (torch); the 3D IoU comes from nint_lite.shapes
inside iou_by_hand, so the other checks need no 3D extra.
"""
from __future__ import annotations

import math

import torch

from ...metrics import si_snr
from ...models import FourierFeatures
from ._common import _as_float, _compare, _fail, run_forbidden

__all__ = ["si_snr_by_hand", "iou_by_hand", "fourier_kernel"]


def _snr_db(p, t, centre=True, alpha="target", power=2):
    """10·log10(‖s‖²/‖e‖²) with s = α t and e = p − s, and (centre / alpha / power) the mistakes."""
    if centre:
        p, t = p - p.mean(), t - t.mean()
    a = {"target": (p @ t) / (t @ t), "pred": (p @ t) / (p @ p),
         "one": torch.tensor(1.0, dtype=p.dtype)}[alpha]
    s = a * t
    e = p - s
    return 10 * math.log10(float((s @ s) ** (power / 2)) / float((e @ e) ** (power / 2)))


def si_snr_by_hand(fn):
    """fn(pred, target) on 1-D waveforms (N,) must return the scale-invariant SNR in dB (a float):
    both made zero-mean, s = α* t with α* = argmin_α ‖p − α t‖², e = p − s, 10·log10(‖s‖²/‖e‖²).
    Checked on offset, noisy copies at gains 0.5, 3 and −2 (a negative gain changes nothing
    either), without nl.si_snr."""
    name = "si_snr_by_hand"
    for trial, gain in enumerate((0.5, 3.0, -2.0)):
        g = torch.Generator().manual_seed(600 + trial)
        target = torch.randn(300, generator=g, dtype=torch.float64) + 0.3 * (trial + 1)
        pred = gain * target + 0.4 * torch.randn(300, generator=g, dtype=torch.float64) + 0.2
        ref = si_snr(pred, target)                      # the package's, computed before fn runs
        out = _as_float(name, run_forbidden(name, fn, pred.clone(), target.clone(), forbidden=(si_snr,)))
        if out == out and abs(out - ref) <= 1e-3:
            continue
        hints = [(_snr_db(pred, target, centre=False), "subtract each waveform's mean first (zero-mean)"),
                 (_snr_db(pred, target, alpha="pred"), "α* = ⟨p, t⟩ / ‖t‖²: setting d/dα ‖p − α t‖² = 0 "
                  "divides by the TARGET's energy, not the prediction's"),
                 (_snr_db(pred, target, alpha="one"), "that is the plain SNR (α = 1): scale the "
                  "target by the optimal α* first — that is what makes it scale invariant"),
                 (_snr_db(pred, target, power=1), "use energies (squared norms): 10·log10(‖s‖² / ‖e‖²)")]
        hint = next((f" — {m}" for v, m in hints if abs(out - v) <= 1e-3), "")
        _fail(name, f"got {out:.4f} dB, expected {ref:.4f} dB for a noisy copy at gain {gain} (trial {trial}){hint}")
    print(f"✓ {name}: matches the reference to 1e-3 dB for noisy, offset copies at gains 0.5, 3 and −2")


def _iou_ref(p, t, field):
    a, b = (p < 0, t < 0) if field == "sdf" else (p > 0.5, t > 0.5)
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def iou_by_hand(fn):
    """fn(pred, target, field="sdf") on two fields (N,) sampled on the same nodes must return
    |A ∩ B| / |A ∪ B| of the insides — signed distance (field="sdf"): inside where < 0;
    occupancy (field="occupancy"): inside where > 0.5 — and 1.0 when both are empty. Checked on
    noisy spheres in both fields and on two empty fields, without nl.iou."""
    from ...shapes.metrics import iou   # the 3D extra; imported here so the other checks need only the core

    name = "iou_by_hand"
    cases = []
    for trial in range(2):
        g = torch.Generator().manual_seed(700 + trial)
        x = torch.rand(600, 3, generator=g) * 2 - 1
        p, t = x.norm(dim=1) - 0.6 - 0.1 * trial, x.norm(dim=1) - 0.6 + 0.05 * torch.randn(600, generator=g)
        cases.append((p, t, "sdf"))
        cases.append((torch.sigmoid(-20 * p), torch.sigmoid(-20 * t), "occupancy"))
    cases += [(torch.ones(10), torch.ones(10), "sdf"), (torch.zeros(10), torch.zeros(10), "occupancy")]
    for k, (p, t, field) in enumerate(cases):
        ref = iou(p, t) if field == "sdf" else iou(p, t, level=0.5, inside="above")
        out = _as_float(name, run_forbidden(name, fn, p.clone(), t.clone(), field=field, forbidden=(iou,)))
        if out == out and abs(out - ref) <= 1e-6:       # NaN fails here too
            continue
        lvl = (lambda v: v < 0) if field == "sdf" else (lambda v: v > 0.5)
        a, b = lvl(p), lvl(t)
        hints = [(_iou_ref(-p, -t, "sdf") if field == "sdf" else _iou_ref(p - 0.5, t - 0.5, "sdf"),
                  "inside is where the signed distance is NEGATIVE" if field == "sdf"
                  else "an occupancy is 1 inside: inside is where it is ABOVE 0.5"),
                 (_iou_ref(p, t, "sdf") if field == "occupancy" else math.nan,
                  "an occupancy field is inside above 0.5, not below 0 — use `field`"),
                 ((a & b).sum().item() / max(1, b.sum().item()), "divide by the union, not by the target's inside"),
                 ((a & b).sum().item() / max(1, (a.sum() + b.sum()).item()),
                  "the union counts shared nodes once: |A| + |B| − |A ∩ B|")]
        hint = next((f" — {m}" for v, m in hints if abs(out - v) <= 1e-6), "")
        if not (a.any() or b.any()):
            hint = " — when both shapes are empty they agree perfectly: return 1"
        _fail(name, f"got {out!r}, expected {ref:.6f} (case {k}, field={field!r}){hint}")
    print(f"✓ {name}: matches the reference on {len(cases)} pairs of SDF and occupancy fields, "
          "the empty cases included")


def fourier_kernel(fn):
    """fn(x1, x2, B) with x1 (N1, d), x2 (N2, d), B (d, m) must return the (N1, N2) matrix of inner
    products γ(x1_i) · γ(x2_j) of the random-Fourier-feature embedding
    γ(x) = [sin(2π x B), cos(2π x B)] (2m features, unnormalised). Checked in 1-D, 2-D and 3-D,
    without nint_lite.models.FourierFeatures."""
    name = "fourier_kernel"
    for trial, (d, n1, n2, m) in enumerate([(1, 7, 5, 16), (2, 9, 6, 32), (3, 4, 8, 8)]):
        g = torch.Generator().manual_seed(800 + trial)
        x1 = torch.rand(n1, d, generator=g, dtype=torch.float64) * 2 - 1
        x2 = torch.rand(n2, d, generator=g, dtype=torch.float64) * 2 - 1
        B = 3.0 * torch.randn(d, m, generator=g, dtype=torch.float64)
        emb = lambda x, k=2 * math.pi: torch.cat([torch.sin(k * x @ B), torch.cos(k * x @ B)], dim=1)  # noqa: E731
        ref = emb(x1) @ emb(x2).T
        diff = (x1[:, None, :] - x2[None, :, :]) @ B         # (N1, N2, m)
        summ = (x1[:, None, :] + x2[None, :, :]) @ B
        hints = [(emb(x1, 1.0) @ emb(x2, 1.0).T, "the embedding is sin(2π x B), cos(2π x B): the 2π is missing"),
                 (ref / m, "sum over the m frequencies (and both sin and cos), not the mean"),
                 (ref / (2 * m), "sum over the 2m features, not the mean"),
                 (torch.cos(2 * math.pi * summ).sum(-1), "cos a cos b + sin a sin b = cos(a − b): "
                  "the kernel depends on x1 − x2, not x1 + x2"),
                 (torch.cos(2 * math.pi * diff).sum(-1) * 2, "each frequency contributes cos(2π (x1 − x2)·b) "
                  "once (its sin and cos features together), not twice"),
                 (torch.sin(2 * math.pi * x1 @ B) @ torch.sin(2 * math.pi * x2 @ B).T,
                  "γ has both the sin and the cos features")]
        out = run_forbidden(name, fn, x1.clone(), x2.clone(), B.clone(), forbidden=(FourierFeatures,))
        _compare(name, out, ref, 1e-6, hints, f" (d={d}, {n1}×{n2} points, m={m})")
    print(f"✓ {name}: matches the embedding's inner products in 1-D, 2-D and 3-D")
