"""Self-checks for the exercises of notebooks/07_benchmark.ipynb (see nint_lite.classroom.checks).

    paired_interval(fn)       fn(times (S,), full_times (S,), resamples, generator) -> (gmean, lo, hi):
                              the geometric mean of per-seed paired ratios and its 95 % percentile
                              bootstrap interval over seeds
    time_to_interpolated(fn)  fn(seconds, psnr, target) -> the time of the first crossing, linearly
                              interpolated between evaluations, or None
    evos_batch(fn)            fn(err (N,), lap (N,), ratio, generator) -> (B,) a non-key EVOS batch:
                              B − round(0.5ρN) offspring, then round(0.5ρN) uniform mutations
"""
from __future__ import annotations

import math

import torch

from ... import train
from ._common import PackageCalled, _check_indices, _fail, _stand_in, run_forbidden

__all__ = ["paired_interval", "time_to_interpolated", "evos_batch"]


# --------------------------------------------------------------------------- paired_interval

def _interval(times, full, resamples, seed, mode="ok"):
    """The reference (float64) and, with `mode`, the mistakes paired_interval names."""
    g = torch.Generator().manual_seed(seed)
    s = times.numel()
    r = full / times if mode == "inverse" else times / full
    idx = torch.randint(0, s, (resamples, s), generator=g)
    if mode == "unpaired":  # the sampler's and full batch's seeds resampled separately
        idx2 = torch.randint(0, s, (resamples, s), generator=g)
        boots = torch.exp(times.log()[idx].mean(1) - full.log()[idx2].mean(1))
    elif mode == "arithmetic":
        boots = r[idx].mean(1)
    else:
        boots = torch.exp(r.log()[idx].mean(1))
    q = torch.tensor([0.05, 0.95] if mode == "90" else [0.025, 0.975], dtype=r.dtype)
    lo, hi = (torch.quantile(r, q) if mode == "of_ratios" else torch.quantile(boots, q)).tolist()
    point = {"arithmetic": r.mean(), "median": r.median()}.get(mode, torch.exp(r.log().mean()))
    return torch.tensor([float(point), lo, hi], dtype=torch.float64)


_INTERVAL_HINTS = (
    ("arithmetic", "that is the arithmetic mean of the ratios; the protocol reports the GEOMETRIC mean "
                   "(average the logs, then exp), so that a ratio of 2 and one of 0.5 cancel"),
    ("median", "the point estimate is the median of the ratios; the protocol's is their geometric mean"),
    ("inverse", "divide the sampler's time by full batch's (times / full_times), not the other way round"),
    ("unpaired", "you resampled the sampler's seeds and full batch's seeds separately: that breaks the "
                 "pairing (seed i of both started from the same weights) — use ONE index tensor for both"),
    ("90", "that is a 90 % interval (quantiles 0.05 and 0.95); a 95 % interval takes 0.025 and 0.975"),
    ("of_ratios", "those are quantiles of the per-seed ratios themselves; the interval is over the "
                  "geometric means of the resampled sets of seeds"),
)


def paired_interval(fn):
    """fn(times (S,), full_times (S,), resamples, generator) must return (gmean, lo, hi): the
    geometric mean of the per-seed ratios times[i] / full_times[i] and its 95 % percentile
    bootstrap interval — idx = torch.randint(0, S, (resamples, S), generator=generator) (one
    call), the geometric mean of each row's ratios, torch.quantile at 0.025 and 0.975 — without
    the package's nint_lite.lab.paper.bootstrap / ratios / pooled."""
    from ...lab import paper

    name = "paired_interval"
    forbidden = (paper.bootstrap, paper.ratios, paper.pooled)
    cases = []
    for k, (s, resamples) in enumerate(((3, 2000), (5, 4000), (12, 3000), (4, 1000))):
        g = torch.Generator().manual_seed(70 + k)
        full = 5 + 20 * torch.rand(s, generator=g, dtype=torch.float64)
        times = full * torch.exp(0.4 * torch.randn(s, generator=g, dtype=torch.float64) - 0.5)
        seed = 900 + k
        cases.append((times, full, resamples, seed, _interval(times, full, resamples, seed),
                      [(_interval(times, full, resamples, seed, m), msg) for m, msg in _INTERVAL_HINTS]))
    outs = run_forbidden(name, lambda: [fn(t.clone(), f.clone(), n, torch.Generator().manual_seed(sd))
                                        for t, f, n, sd, _, _ in cases], forbidden=forbidden)
    for k, ((times, full, resamples, seed, ref, hints), out) in enumerate(zip(cases, outs)):
        where = f" (case {k + 1}: S={times.numel()} seeds, {resamples} resamples)"
        try:
            out = torch.as_tensor([float(v) for v in out], dtype=torch.float64)
        except (TypeError, ValueError):
            _fail(name, f"expected (gmean, lo, hi), three numbers, got {type(out).__name__}{where}")
        if out.shape != (3,):
            _fail(name, f"expected three numbers (gmean, lo, hi), got {out.numel()}{where}")
        close = lambda a, b: bool(torch.allclose(a, b, rtol=1e-6, atol=0))  # noqa: E731
        if close(out, ref):
            continue
        hint = next((f" — {msg}" for alt, msg in hints if close(out, alt)), "")
        if not hint and close(out[:1], ref[:1]):
            hint = (" — the point estimate is right but not the interval: draw idx once with "
                    "torch.randint(0, S, (resamples, S), generator=generator), take the geometric mean "
                    "of times[idx] / full_times[idx] along each row, and torch.quantile at 0.025 and 0.975")
        _fail(name, f"got ({', '.join(f'{v:.4f}' for v in out.tolist())}), expected "
                    f"({', '.join(f'{v:.4f}' for v in ref.tolist())}){where}{hint}")
    t, f, n, sd, ref, _ = cases[1]
    print(f"✓ {name}: geometric mean of paired ratios and its 95 % bootstrap interval on {len(cases)} "
          f"cases (e.g. {ref[0]:.3f} [{ref[1]:.3f}, {ref[2]:.3f}] over {t.numel()} seeds)")


# --------------------------------------------------------------------------- time_to_interpolated

def _crossing(seconds, psnr, target, mode="ok"):
    """The reference, and with `mode` the mistakes time_to_interpolated names."""
    above = (lambda p: p > target) if mode == "strict" else (lambda p: p >= target)
    hits = [i for i, p in enumerate(psnr) if above(p)]
    if not hits:
        return None
    if mode == "last":  # the last upward crossing
        ups = [i for i in hits if i == 0 or not above(psnr[i - 1])]
        hits = ups[-1:]
    i = hits[0]
    if mode == "no_interp":
        return seconds[i]
    if i == 0 and mode != "wrap":
        return seconds[0]
    p0, p1, x0, x1 = psnr[i - 1], psnr[i], seconds[i - 1], seconds[i]
    frac = (target - p0) / (p1 - p0)
    return x1 - frac * (x1 - x0) if mode == "reversed" else x0 + frac * (x1 - x0)


_CROSSING_HINTS = (
    ("no_interp", "that is the time of the first evaluation at or above the target (protocol v1's "
                  "reading, up to one evaluation interval late): interpolate between it and the one before"),
    ("reversed", "the fraction (target − p0) / (p1 − p0) is measured from the evaluation BEFORE the "
                 "crossing: t0 + fraction · (t1 − t0)"),
    ("strict", "a PSNR exactly at the target has reached it: use ≥, not >"),
    ("last", "that is the LAST time the curve crossed the target; the time to target is the FIRST "
             "(a PSNR curve can dip below the target and come back)"),
    ("wrap", "when the first evaluation is already at the target, return its own time — with i = 0, "
             "index i − 1 = −1 wraps round to the LAST evaluation"),
)


def _crossing_cases():
    cases = [([0.0, 1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 28.0, 32.0, 36.0], 30.0),
             ([0.0, 0.4, 0.9, 1.3, 1.8, 2.2, 2.7], [12.0, 24.0, 31.0, 28.5, 29.0, 33.0, 35.0], 30.0),
             ([0.5, 1.0, 1.5, 2.0], [31.0, 33.0, 29.0, 34.0], 30.0),
             ([0.0, 2.0, 4.0, 6.0, 8.0], [20.0, 25.0, 30.0, 28.0, 35.0], 30.0),
             ([0.0, 1.0, 2.0, 3.0], [20.0, 24.0, 27.0, 29.5], 30.0)]
    for k in range(4):
        g = torch.Generator().manual_seed(170 + k)
        n = 30 + 10 * k
        secs = torch.cumsum(0.05 + torch.rand(n, generator=g, dtype=torch.float64), 0).tolist()
        psnr = (15 + torch.cumsum(0.8 + 1.5 * torch.randn(n, generator=g, dtype=torch.float64), 0)).tolist()
        cases.append((secs, psnr, float(psnr[n // 2]) - 0.3 - 0.2 * k))
    return cases


def time_to_interpolated(fn):
    """fn(seconds, psnr, target) (lists of floats, one per evaluation) must return the training
    time at which the PSNR first reached `target`, linearly interpolated between the evaluation
    before and the first at or above it (the first evaluation's own time when it is already
    there), or None if it never did — without nint_lite.History (whose time_to does this)."""
    name = "time_to_interpolated"
    cases = _crossing_cases()
    outs = run_forbidden(name, lambda: [fn(list(s), list(p), t) for s, p, t in cases],
                         forbidden=(train.History,))
    for k, ((secs, psnr, target), out) in enumerate(zip(cases, outs)):
        ref = _crossing(secs, psnr, target)
        if out is not None:
            try:
                out = float(out)
            except (TypeError, ValueError):
                _fail(name, f"expected a time (float) or None, got {type(out).__name__}")
        same = lambda a, b: (a is None and b is None) or (a is not None and b is not None  # noqa: E731
                                                           and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))
        if same(out, ref):
            continue
        hint = ""
        if ref is None:
            hint = " — the curve never reaches the target: return None"
        elif out is None:
            hint = " — the curve does reach the target (≥): return its time"
        else:
            hint = next((f" — {msg}" for m, msg in _CROSSING_HINTS
                         if same(out, _crossing(secs, psnr, target, m))), "")
        shown = f"seconds {[round(v, 3) for v in secs]}, psnr {[round(v, 2) for v in psnr]}" if len(secs) < 10 \
            else f"a random curve of {len(secs)} evaluations"
        _fail(name, f"got {out!r}, expected {ref!r} for target {target:.2f} dB on {shown}{hint}")
    print(f"✓ {name}: first crossing, interpolated between evaluations, on {len(cases)} curves "
          "(dips, a start above the target, an exact hit, one never reached)")


# --------------------------------------------------------------------------- evos_batch

def _offspring(err, lap, ratio, mode="ok"):
    """The reference offspring (a list, by Python sets) and, with `mode`, the mistakes."""
    n = err.numel()
    b, n_mut = round(ratio * n), round(0.5 * ratio * n)
    k = {"int_mut": b - int(0.5 * ratio * n), "full_b": b}.get(mode, b - n_mut)
    top_e, top_l = torch.topk(err, k).indices.tolist(), torch.topk(lap, k).indices.tolist()
    if mode == "error_only":
        return top_e
    e, l_ = float(err.mean()), float(lap.mean())
    if mode == "no_intersection":
        n_e = math.floor(k * e / (e + l_))
        first = top_e[:n_e]
        return first + [i for i in top_l if i not in set(first)][:k - n_e]
    both = set(top_e) & set(top_l)
    rest = k - len(both)
    share = {"reversed": l_ / (e + l_)}.get(mode, e / (e + l_))
    n_e = round(rest * share) if mode == "round" else math.floor(rest * share)
    from_e = [i for i in top_e if i not in both][:n_e]
    from_l = [i for i in top_l if i not in both][:rest - len(from_e)]
    return sorted(both) + from_e + from_l


_OFFSPRING_HINTS = (
    ("int_mut", "n_mut = round(0.5·ρ·N), not int(0.5·ρ·N) (a floor), and n_off = B − n_mut"),
    ("round", "the official code splits the offspring with int(rest · ē / (ē + l̄)) — a FLOOR, not a "
              "round (with the official 1e-5 Laplacian scale, ē / (ē + l̄) is just below 1, so the floor "
              "leaves one offspring to the Laplacian ranking)"),
    ("reversed", "the error ranking's share is ē / (ē + l̄) (the error fitness's mean over the sum), "
                 "not l̄ / (ē + l̄)"),
    ("error_only", "those are the top errors alone: the offspring take the intersection of the two top "
                   "sets first, then split the rest between the error and the Laplacian rankings"),
    ("no_intersection", "take the intersection of the two top-n_off sets FIRST; only the rest is split"),
)


def _evos_cases():
    cases = []
    # the second is a 64² image at ρ = 0.2 with the official 1e-5 Laplacian scale; the first, with
    # comparable fitness scales, tells "top errors alone" from "round instead of floor"
    for k, (n, ratio, lap_scale) in enumerate(((777, 0.2, 1.0), (4096, 0.2, 1e-5), (2000, 0.3, 0.5),
                                                (1500, 0.15, 1e-5))):
        g = torch.Generator().manual_seed(270 + k)
        base = torch.rand(n, generator=g, dtype=torch.float64)
        err = base ** 2 + 0.3 * torch.rand(n, generator=g, dtype=torch.float64)
        lap = lap_scale * (base + torch.rand(n, generator=g, dtype=torch.float64)) ** 2
        cases.append((err, lap, ratio))
    return cases


def evos_batch(fn):
    """fn(err (N,), lap (N,), ratio, generator) must return the (B,) indices of a non-key EVOS
    step, B = round(ρN): first the n_off = B − round(0.5ρN) offspring (the intersection of the
    top-n_off of err and of lap, then floor(rest·ē/(ē + l̄)) more from err's ranking and the
    remainder from lap's), then n_mut = round(0.5ρN) mutations drawn uniformly, with `generator`,
    among the other N − n_off coordinates — without the package's EVOS sampler."""
    from ...baselines import evos
    from ... import samplers

    name = "evos_batch"
    cases = _evos_cases()
    seeds = (11, 11, 12)  # the 64² case is drawn three times: twice with the same seed
    e64, l64, r64 = cases[1]

    def call_all():
        out = [fn(e.clone(), lp.clone(), r, torch.Generator().manual_seed(seeds[0])) for e, lp, r in cases]
        out += [fn(e64.clone(), l64.clone(), r64, torch.Generator().manual_seed(s)) for s in seeds[1:]]
        return out

    # the EVOS class and make_sampler are patched out by name; its methods here as well, since
    # a sampler built some other way would still reach them
    methods = {m: getattr(evos.EVOS, m) for m in ("counts", "select", "_update_offspring")}
    try:
        for m, f in methods.items():
            setattr(evos.EVOS, m, _stand_in(f))
        outs = run_forbidden(name, call_all, forbidden=(evos.EVOS, samplers.make_sampler))
    except PackageCalled as e:  # raised outside run_forbidden's own handler (e.g. at a method)
        _fail(name, f"your answer calls {e}, the package's own implementation — the exercise is to write it yourself")
    finally:
        for m, f in methods.items():
            setattr(evos.EVOS, m, f)
    for k, ((err, lap, ratio), out) in enumerate(zip(cases, outs)):
        n = err.numel()
        b, n_mut = round(ratio * n), round(0.5 * ratio * n)
        n_off = b - n_mut
        where = f" (case {k + 1}: N={n}, ρ={ratio})"
        if torch.is_tensor(out) and out.ndim == 1 and out.numel() != b:
            got = out.numel()
            hint = (" — that is B offspring plus the mutations, 1.5·B coordinates: the EVOS that protocol v1 "
                    "measured; the offspring are B − round(0.5ρN)" if got == b + n_mut else
                    " — offspring plus mutations must be exactly B: n_off = B − n_mut" if got == 2 * n_mut else
                    " — that is the offspring alone; append the mutations" if got == n_off else "")
            _fail(name, f"expected B = round(ρN) = {b} indices, got {got}{where}{hint}")
        if torch.is_tensor(out) and out.ndim == 1 and torch.isin(out[n_off:], out[:n_off]).any():
            _fail(name, f"{int(torch.isin(out[n_off:], out[:n_off]).sum())} mutations repeat an offspring"
                        f"{where} — the mutations are drawn among the N − n_off coordinates that are not offspring")
        _check_indices(name, out, n, b)
        got = set(out[:n_off].tolist())
        ref = set(_offspring(err, lap, ratio))
        if got != ref:
            alts = [(_offspring(err, lap, ratio, m), msg) for m, msg in _OFFSPRING_HINTS]
            hint = next((f" — {msg}" for alt, msg in alts if set(out[:len(alt)].tolist()) == set(alt)), "")
            _fail(name, f"{len(ref - got)} of the first n_off = {n_off} indices are not the offspring"
                        f"{where}{hint}")
        mut = out[n_off:]
        order = torch.argsort(err.masked_fill(torch.isin(torch.arange(n), out[:n_off]), -math.inf),
                              descending=True)
        if set(mut.tolist()) == set(order[:n_mut].tolist()):
            _fail(name, f"the mutations are the next-largest errors{where} — they are drawn uniformly at "
                        "random among the non-offspring")
        rank = torch.empty(n, dtype=torch.long)
        rank[order] = torch.arange(n)
        upper = (rank[mut] < (n - n_off) // 2).double().mean().item()
        if abs(upper - 0.5) > 4.5 * math.sqrt(0.25 / n_mut):  # 4.5 standard deviations of a uniform draw
            _fail(name, f"{upper:.0%} of the mutations lie in the upper half of the error ranking{where} — "
                        "they should be uniform among the non-offspring (about 50 %)")
    same, other = outs[-2], outs[-1]
    n, r = e64.numel(), r64
    if not torch.equal(outs[1], same):
        _fail(name, "two calls with generators of the same seed gave different batches — draw the "
                    "mutations with the generator you are given (e.g. torch.randperm(..., generator=generator))")
    if torch.equal(outs[1][round(r * n) - round(0.5 * r * n):], other[round(r * n) - round(0.5 * r * n):]):
        _fail(name, "generators of different seeds gave the same mutations — draw them with the generator")
    print(f"✓ {name}: B = {round(r * n)} distinct coordinates at N = {n}, ρ = {r}: "
          f"{round(r * n) - round(0.5 * r * n)} offspring (intersection first, the official floor) + "
          f"{round(0.5 * r * n)} uniform mutations, on {len(cases)} cases")
