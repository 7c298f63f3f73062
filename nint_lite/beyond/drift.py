"""The brightness drift of NINT's exact score, measured: kernel alignment or residual alignment?

After ~50 steps the exact score ‖(K r)_i‖ ranks coordinates by |f(x_i)| (notebook 04). Two
effects could cause it: the kernel's top eigenvector φ1 rotating towards the learned function f
(kernel alignment), or the residual r = f − Y itself lining up with f or φ1 (residual alignment).
This module measures both over training on grids small enough for the exact kernel.

Finding (notebooks/results/drift.json, 32², 1,000 steps): the drift is a SIREN, full-batch effect
(ρ(score, ‖f‖) 0.87–0.99 at step 1,000; NINT-trained SIRENs lose it after ~200 steps; FFN and
PE-MLP end at −0.14…0.68). It is neither residual alignment (|cos(r, f)| ≤ 0.1) nor, past ~100
steps, a rank-one φ1 effect (on [−1, 1] targets cos(φ1, f) ≤ 0.16, ≤ 4 % of ‖K r‖² along φ1):
f lies in K's top eigenspace, so K amplifies r's small component along f and K r ≈ −c f.

The kernel is the full (N·C)×(N·C) empirical NTK, channels flattened coordinate-major (entry
i·C + c is channel c of coordinate i, as `J.reshape(N·C, P)` of ntk.jacobian's (N, C, P)) — the
kernel whose K r NINT's score uses, including the cross-channel blocks. Every vector below (r, f,
φ1, K r) is flattened the same way; per-coordinate quantities take the 2-norm over channels.

    drift_vectors(model, x, y, k)  -> the exact tensors below (J, f, r, K r, score, λ, φ1)
    measure(model, x, y, k=3)  -> dict of floats at one checkpoint:
        J: (N·C, P) float64, r, f: (N·C,), K r = J (Jᵀ r): (N·C,)
        λ1 ≥ λ2 ≥ …, φ1: (N·C,) unit, top eigenpairs of K = J Jᵀ (Lanczos on v ↦ J (Jᵀ v)),
            sign fixed so that φ1ᵀ f ≥ 0
        cos_r_f, cos_r_phi1             residual alignment (signed cosines)
        cos_phi1_f                      kernel alignment, ≥ 0 by the sign convention
        cos_phi1_f_centered             the same after removing each vector's mean (is φ1 ≈ f,
                                        or only ≈ constant while f is positive?)
        cos_phi1_const                  |cos(φ1, 1)|, φ1 against the constant vector
        cos_kr_f, cos_kr_f_centered     does K r itself point along f (plain / both centred)?
        cos_grad_theta                  cos(Jᵀ r, θ): is the full-batch gradient a rescaling of
                                        the weights (then K r = J (cθ) ∝ J θ, a function of f)?
        share_phi1                      λ1² (φ1ᵀ r)² / ‖K r‖², the share of ‖K r‖² along φ1
        lambda1_trace, lambda2_lambda1  λ1 / tr K and the spectral gap λ2 / λ1
        spearman_score_f                Spearman ρ of the score s_i = ‖(K r)_i‖ and ‖f(x_i)‖
        spearman_score_phi1, spearman_score_r   … of s_i and ‖φ1,i‖, and of s_i and ‖r_i‖
        rank1_error                     ‖s − λ1 |φ1ᵀr| ‖φ1,i‖‖ / ‖s‖, the rank-one score's error
        psnr                            of f against y (data range = y's nominal range)
    f_split(model, x, y)       -> r = α f + r⊥: the Rayleigh quotients of f and r⊥ under K (over λ1)
                                  and cos(K r, α K f) — why K r ∝ f although r ⟂ f nearly
    drift_study(images, families, ranges, samplers, size, steps, checkpoints, …) -> dict
        every combination trained with nl.fit (each family at RECOMMENDED_LR), measured at the
        checkpoints; JSON-ready (layout in drift_study's docstring)
    drift_figure(result) -> Figure     one panel per measure over steps, one row per image
    python -m nint_lite.beyond.drift [--quick] [--out notebooks/results/drift.json]

Targets in [−1, 1] are the image's values mapped by v ↦ 2v − 1 (`signal_in_range`), with PSNR's
data range set to 2.

Built in notebooks/04_errors_to_scores.ipynb (section 2).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import device as devices
from .. import ntk
from ..models import RECOMMENDED_LR, make_model
from ..signals import Signal, sample_signal
from ..train import fit
from .experiments import spearman

__all__ = ["MEASURES", "RANGES", "QUICK", "measure", "drift_vectors", "f_split", "top_eigenpairs",
           "signal_in_range", "drift_study", "drift_figure", "table", "main"]

# The measures the figure plots (all of measure()'s keys are stored in the JSON).
MEASURES = ("cos_r_f", "cos_r_phi1", "cos_phi1_f", "cos_phi1_f_centered", "share_phi1",
            "cos_kr_f", "spearman_score_f")
RANGES = ("[0,1]", "[-1,1]")
# The tiny mode of the CLI and the tests: seconds, not minutes.
QUICK = {"images": ("camera",), "families": ("siren",), "ranges": RANGES, "samplers": ("full",),
         "size": 8, "steps": 20, "checkpoints": (0, 10, 20)}


def signal_in_range(signal: Signal, value_range: str) -> Signal:
    """The signal with targets in "[0,1]" (as loaded) or "[-1,1]" (v ↦ 2v − 1, PSNR range 2)."""
    if value_range == "[0,1]":
        return signal
    if value_range != "[-1,1]":
        raise ValueError(f"unknown value_range {value_range!r}; valid: {', '.join(RANGES)}")
    return Signal(signal.coords, signal.values * 2 - 1, signal.shape, kind=signal.kind,
                  name=signal.name, meta={**signal.meta, "data_range": 2.0})


def top_eigenpairs(J: torch.Tensor, k: int = 3, seed: int = 0):
    """The k largest eigenpairs of K = J Jᵀ for J: (M, P), without forming K: Lanczos (ARPACK)
    on v ↦ J (Jᵀ v), from a seeded start vector. Returns (λ: (k,) descending, φ: (M, k))."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    Jn = J.detach().double().cpu().numpy()
    m = Jn.shape[0]
    if not 0 < k < m:
        raise ValueError(f"k must be in 1 … {m - 1} (the kernel is {m}×{m}); got {k!r}")
    op = LinearOperator((m, m), matvec=lambda v: Jn @ (Jn.T @ v), dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(m)
    vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=1e-10)
    order = np.argsort(vals)[::-1]
    return torch.from_numpy(vals[order].copy()), torch.from_numpy(vecs[:, order].copy())


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-300))


def drift_vectors(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, k: int = 3) -> dict:
    """The exact vectors behind measure(), in float64, x: (N, d), y: (N, C):
    {"J": (N·C, P), "f", "r", "kr": (N·C,) with K r = J (Jᵀ r), "grad": (P,) = Jᵀ r,
    "theta": (P,) the parameters (named_parameters order, as J's columns), "score": (N,) = ‖(K r)_i‖,
    "lam": (k,) descending, "phi1": (N·C,) unit with φ1ᵀf ≥ 0, "shape": (N, C)}."""
    J = ntk.jacobian(model, x)                                   # (N, C, P)
    n, c, p = J.shape
    J = J.reshape(n * c, p).double()                             # row i·C + c: coordinate i, channel c
    with torch.no_grad():
        f = model(x).double().reshape(-1)                        # (N·C,) coordinate-major
    r = f - y.double().reshape(-1)
    g = J.T @ r                                                  # (P,) = Jᵀ r, the full-batch gradient
    kr = J @ g
    theta = torch.cat([q.detach().reshape(-1) for q in model.parameters() if q.requires_grad]).double()
    lam, phi = top_eigenpairs(J, k)
    phi1 = phi[:, 0] if float(phi[:, 0] @ f) >= 0 else -phi[:, 0]
    return {"J": J, "f": f, "r": r, "kr": kr, "grad": g, "theta": theta, "score": kr.view(n, c).norm(dim=1), "lam": lam,
            "phi1": phi1, "shape": (n, c)}


def measure(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, k: int = 3,
            data_range: float = 1.0) -> dict:
    """The drift measures at one checkpoint (see the module docstring), x: (N, d), y: (N, C).
    Exact: J from ntk.jacobian, K r = J (Jᵀ r) in float64, φ1 from top_eigenpairs."""
    v = drift_vectors(model, x, y, k)
    n, c = v["shape"]
    f, r, kr, score, lam, phi1 = v["f"], v["r"], v["kr"], v["score"], v["lam"], v["phi1"]
    l1, proj = float(lam[0]), float(phi1 @ r)
    rank1 = l1 * abs(proj) * phi1.view(n, c).norm(dim=1)         # (N,) the score along φ1 alone
    mse = float(r.pow(2).mean())
    return {
        "cos_r_f": _cos(r, f),
        "cos_r_phi1": _cos(r, phi1),
        "cos_phi1_f": _cos(phi1, f),
        "cos_phi1_f_centered": _cos(phi1 - phi1.mean(), f - f.mean()),
        "cos_phi1_const": abs(_cos(phi1, torch.ones_like(f))),
        "cos_kr_f": _cos(kr, f),
        "cos_kr_f_centered": _cos(kr - kr.mean(), f - f.mean()),
        "cos_grad_theta": _cos(v["grad"], v["theta"]),
        "share_phi1": (l1 * proj) ** 2 / max(float(kr @ kr), 1e-300),
        "lambda1_trace": l1 / float(v["J"].pow(2).sum()),
        "lambda2_lambda1": float(lam[1]) / l1 if k > 1 else math.nan,
        "spearman_score_f": spearman(score, f.view(n, c).norm(dim=1)),
        "spearman_score_phi1": spearman(score, phi1.view(n, c).norm(dim=1)),
        "spearman_score_r": spearman(score, r.view(n, c).norm(dim=1)),
        "rank1_error": float((score - rank1).norm() / score.norm().clamp_min(1e-300)),
        "psnr": math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse),
    }


def f_split(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Split r = α f + r⊥ (r⊥ ⟂ f) and ask how K treats the two parts, x: (N, d), y: (N, C):
    {"cos_r_f": α‖f‖/‖r‖ signed, "rayleigh_f": fᵀKf / (‖f‖² λ1), "rayleigh_rperp": r⊥ᵀKr⊥ / (‖r⊥‖² λ1),
    "cos_kr_kf": cos(K r, α K f), "cos_kf_f": cos(K f, f)}. When rayleigh_f ≫ rayleigh_rperp, K
    amplifies r's small component along f far more than the rest, and K r ≈ α K f ∝ ±f."""
    v = drift_vectors(model, x, y, k=1)
    J, f, r, kr, l1 = v["J"], v["f"], v["r"], v["kr"], float(v["lam"][0])
    alpha = float(f @ r / (f @ f))
    rperp = r - alpha * f
    kf, krp = J @ (J.T @ f), J @ (J.T @ rperp)
    return {"cos_r_f": _cos(r, f), "rayleigh_f": float(f @ kf / (f @ f)) / l1,
            "rayleigh_rperp": float(rperp @ krp / (rperp @ rperp)) / l1,
            "cos_kr_kf": _cos(kr, alpha * kf), "cos_kf_f": _cos(kf, f)}


def drift_study(images=("astronaut", "camera"), families=("siren", "ffn", "pemlp"), ranges=RANGES,
                samplers=("full", "nint"), size: int = 32, steps: int = 1000,
                checkpoints=(0, 10, 20, 50, 100, 200, 500, 1000), hidden: int = 64, layers: int = 3,
                seed: int = 0, k: int = 3, progress: bool = True) -> dict:
    """Train every (image, family, range, sampler) with nl.fit (Adam at the family's
    RECOMMENDED_LR, NINT with its defaults) and measure() at each checkpoint (evaluations every
    gcd(checkpoints) steps call the measuring callback; the measurements are off the clock).

    Returns {"config": {...}, "checkpoints": [...], "measures": MEASURES, "runs": [{"image",
    "family", "range", "sampler", "lr", "channels", "params", "steps": [...], <each of measure()'s
    keys>: [one float per checkpoint], "seconds"}], "wall_seconds"}.
    """
    checkpoints = tuple(sorted({int(s) for s in checkpoints}))
    if not checkpoints or checkpoints[0] < 0 or checkpoints[-1] > steps:
        raise ValueError(f"checkpoints must lie in 0 … steps={steps}; got {checkpoints}")
    every = math.gcd(*checkpoints) if any(checkpoints) else steps
    for fam in families:
        if fam not in RECOMMENDED_LR:
            raise ValueError(f"unknown family {fam!r}; valid: {', '.join(RECOMMENDED_LR)}")
    t_all, runs = time.perf_counter(), []
    for image in images:
        base = sample_signal(image, size=size)
        for value_range in ranges:
            sig = signal_in_range(base, value_range)
            for fam in families:
                for smp in samplers:
                    t0 = time.perf_counter()
                    model = make_model(fam, sig, hidden=hidden, layers=layers, seed=seed)
                    run = {"image": image, "family": fam, "range": value_range, "sampler": smp,
                           "lr": RECOMMENDED_LR[fam], "channels": sig.channels,
                           "params": ntk.num_params(model), "steps": []}

                    def cb(step, hist, m, run=run, sig=sig):
                        if step in checkpoints:
                            run["steps"].append(step)
                            for key, v in measure(m, sig.coords, sig.values, k,
                                                  sig.meta.get("data_range", 1.0)).items():
                                run.setdefault(key, []).append(v)

                    fit(model, sig, smp, steps=steps, lr=RECOMMENDED_LR[fam], eval_every=every,
                        seed=seed, progress=False, callbacks=[cb])
                    run["seconds"] = round(time.perf_counter() - t0, 2)
                    runs.append(run)
                    if progress:
                        print(f"{image:>9} {fam:>5} {value_range:>6} {smp:>4}: "
                              + _line(run, -1) + f" ({run['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return {"config": {"images": list(images), "families": list(families), "ranges": list(ranges),
                       "samplers": list(samplers), "size": size, "steps": steps, "hidden": hidden,
                       "layers": layers, "seed": seed, "k": k, "eval_every": every,
                       "kernel": "(N·C)×(N·C) empirical NTK, channels flattened coordinate-major"},
            "checkpoints": list(checkpoints), "measures": list(MEASURES), "runs": runs,
            "wall_seconds": round(time.perf_counter() - t_all, 1)}


def _line(run: dict, i: int) -> str:
    return (f"step {run['steps'][i]:>4}  cos(r,f) {run['cos_r_f'][i]:+.2f}  cos(r,φ1) {run['cos_r_phi1'][i]:+.2f}  "
            f"cos(φ1,f) {run['cos_phi1_f'][i]:.2f}  centred {run['cos_phi1_f_centered'][i]:+.2f}  "
            f"share {run['share_phi1'][i]:.2f}  cos(Kr,f) {run['cos_kr_f'][i]:+.2f}  ρ(s,|f|) {run['spearman_score_f'][i]:+.2f}")


def table(result: dict, at: int = -1) -> list:
    """Markdown rows of the measures at checkpoint index `at` (default: the last), one per run."""
    head = ("| image | family | range | sampler | PSNR | cos(r,f) | cos(r,φ1) | cos(φ1,f) | "
            "centred cos(φ1,f) | share along φ1 | cos(Kr,f) | ρ(score, ‖f‖) | ρ(score, ‖r‖) |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in result["runs"]:
        rows.append(f"| {r['image']} | {r['family']} | {r['range']} | {r['sampler']} | {r['psnr'][at]:.1f} | "
                    f"{r['cos_r_f'][at]:+.2f} | {r['cos_r_phi1'][at]:+.2f} | {r['cos_phi1_f'][at]:.2f} | "
                    f"{r['cos_phi1_f_centered'][at]:+.2f} | {r['share_phi1'][at]:.2f} | {r['cos_kr_f'][at]:+.2f} | "
                    f"{r['spearman_score_f'][at]:+.2f} | {r['spearman_score_r'][at]:+.2f} |")
    return rows


_TITLES = {"cos_r_f": "cos(r, f)", "cos_r_phi1": "cos(r, φ1)", "cos_phi1_f": "cos(φ1, f)",
           "cos_phi1_f_centered": "cos(φ1, f), both centred", "share_phi1": "share of ‖K r‖² along φ1",
           "cos_kr_f": "cos(K r, f)",
           "spearman_score_f": "Spearman ρ(‖(K r)_i‖, ‖f(x_i)‖)"}


def drift_figure(result: dict, measures=None):
    """One panel per measure over training steps (symlog axis), one row per image; colour =
    family, line style = target range (solid [0,1], dashed [−1,1]), marker = sampler."""
    import matplotlib.pyplot as plt

    measures = list(measures or result["measures"])
    images = list(dict.fromkeys(r["image"] for r in result["runs"]))
    families = list(dict.fromkeys(r["family"] for r in result["runs"]))
    colours = {f: f"C{i}" for i, f in enumerate(families)}
    styles, markers = {"[0,1]": "-", "[-1,1]": "--"}, {"full": "o", "nint": "x"}
    fig, axes = plt.subplots(len(images), len(measures), figsize=(3.3 * len(measures), 2.9 * len(images)),
                             squeeze=False, constrained_layout=True)
    for row, image in enumerate(images):
        for col, key in enumerate(measures):
            ax = axes[row, col]
            for r in (r for r in result["runs"] if r["image"] == image):
                ax.plot(r["steps"], r[key], color=colours[r["family"]], ls=styles.get(r["range"], ":"),
                        marker=markers.get(r["sampler"], "."), ms=4, lw=1.2, alpha=0.85,
                        label=f"{r['family']} {r['range']} {r['sampler']}")
            ax.set_xscale("symlog", linthresh=10)
            ax.axhline(0, color="gray", lw=0.6)
            ax.set_ylim(-1.05, 1.05) if key.startswith("cos") or key.startswith("spearman") else ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            ax.set_title(f"{_TITLES.get(key, key)}\n{image}", fontsize=9)
            if row == len(images) - 1:
                ax.set_xlabel("training step")
    axes[0, -1].legend(fontsize=6, loc="lower right", ncol=2)
    return fig


def main(argv=None) -> int:
    """Run the study (or --quick), write the JSON and the PNG beside it; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m nint_lite.beyond.drift", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="notebooks/results/drift.json", help="the JSON (the PNG goes beside it)")
    p.add_argument("--quick", action="store_true", help="a seconds-long tiny study (8², 20 steps, SIREN)")
    p.add_argument("--images", default=None, help="comma-separated bundled images (default astronaut,camera)")
    p.add_argument("--families", default=None, help="comma-separated model families (default siren,ffn,pemlp)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    kw = dict(QUICK) if a.quick else {}
    if a.images:
        kw["images"] = tuple(a.images.split(","))
    if a.families:
        kw["families"] = tuple(a.families.split(","))
    if a.steps:
        kw["steps"] = a.steps
        kw["checkpoints"] = tuple(s for s in kw.get("checkpoints", (0, 10, 20, 50, 100, 200, 500, 1000))
                                  if s < a.steps) + (a.steps,)
    try:
        res = drift_study(progress=not a.quiet, **kw)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    res = {"command": "python -m nint_lite.beyond.drift " + " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv)),
           "machine": devices.machine_info("cpu"),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **res}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    fig = drift_figure(res)
    fig.savefig(out.with_suffix(".png"), dpi=110)
    if not a.quiet:
        print("\n".join(table(res)))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
