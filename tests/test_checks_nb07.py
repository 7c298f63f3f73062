"""The exercise checks of notebooks/07_*.ipynb (nint_lite/classroom/checks/nb07.py): each passes
on a solution, fails naming each plausible mistake, and rejects an answer that calls the package."""
import math

import torch

import nint_lite as nl
from check_cases import make_tests
from nint_lite.lab import paper


def _interval(mode="ok"):
    """An answer to paired_interval: the solution, or with `mode` a plausible mistake."""
    def fn(times, full, resamples, generator):
        s = times.numel()
        r = full / times if mode == "inverse" else times / full
        idx = torch.randint(0, s, (resamples, s), generator=generator)
        if mode == "unpaired":
            idx2 = torch.randint(0, s, (resamples, s), generator=generator)
            boots = (times[idx].log().mean(1) - full[idx2].log().mean(1)).exp()
        elif mode == "arithmetic":
            boots = r[idx].mean(1)
        else:
            boots = r[idx].log().mean(1).exp()
        q = torch.tensor([0.05, 0.95] if mode == "90" else [0.025, 0.975], dtype=r.dtype)
        lo, hi = torch.quantile(r if mode == "of_ratios" else boots, q).tolist()
        point = r.mean() if mode == "arithmetic" else r.median() if mode == "median" else r.log().mean().exp()
        if mode == "wrong_resamples":  # the interval from a different draw
            lo, hi = lo * 1.01, hi * 0.99
        return float(point), lo, hi
    return fn


def _crossing(mode="ok"):
    """An answer to time_to_interpolated: the solution, or with `mode` a plausible mistake."""
    def fn(seconds, psnr, target):
        for i, p in enumerate(psnr):
            if (p > target) if mode == "strict" else (p >= target):
                if mode == "no_interp" or (i == 0 and mode != "wrap"):
                    return seconds[i]
                p0, x0, x1 = psnr[i - 1], seconds[i - 1], seconds[i]
                frac = (target - p0) / (p - p0)
                return x1 - frac * (x1 - x0) if mode == "reversed" else x0 + frac * (x1 - x0)
        return seconds[-1] if mode == "last_if_never" else None

    def last(seconds, psnr, target):  # interpolates at the last upward crossing
        ups = [i for i, p in enumerate(psnr) if p >= target and (i == 0 or psnr[i - 1] < target)]
        if not ups:
            return None
        i = ups[-1]
        return seconds[0] if i == 0 else fn(seconds[i - 1:], psnr[i - 1:], target)
    return last if mode == "last" else fn


def _evos(mode="ok"):
    """An answer to evos_batch: the solution, or with `mode` a plausible mistake."""
    def fn(err, lap, ratio, generator):
        n = err.numel()
        b = round(ratio * n)
        n_mut = int(0.5 * ratio * n) if mode == "int_mut" else round(0.5 * ratio * n)
        k = {"full_b": b, "half": n_mut}.get(mode, b - n_mut)
        top_e, top_l = torch.topk(err, k).indices, torch.topk(lap, k).indices
        if mode == "error_only":
            offspring = top_e
        else:
            both = top_e[torch.isin(top_e, top_l)]
            rest = k - both.numel()
            e, l_ = err.mean().item(), lap.mean().item()
            share = l_ / (e + l_) if mode == "reversed" else e / (e + l_)
            n_e = round(rest * share) if mode == "round" else math.floor(rest * share)
            from_e = top_e[~torch.isin(top_e, both)][:n_e]
            from_l = top_l[~torch.isin(top_l, both)][:rest - n_e]
            offspring = torch.cat([both, from_e, from_l])
        if mode == "offspring_only":
            return offspring
        others = torch.ones(n, dtype=torch.bool)
        if mode != "from_all":
            others[offspring] = False
        pool = others.nonzero().squeeze(1)
        if mode == "next_errors":
            mutation = pool[torch.argsort(err[pool], descending=True)[:n_mut]]
        else:
            perm = torch.randperm(pool.numel(), generator=None if mode == "global_rng" else generator)
            mutation = pool[perm[:n_mut]]
        return torch.cat([offspring, mutation])
    return fn


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "paired_interval": (_interval(), [(_interval("arithmetic"), "arithmetic mean"),
                                      (_interval("median"), "median of the ratios"),
                                      (_interval("inverse"), "not the other way round"),
                                      (_interval("unpaired"), "breaks the pairing"),
                                      (_interval("90"), "90 % interval"),
                                      (_interval("of_ratios"), "quantiles of the per-seed ratios"),
                                      (_interval("wrong_resamples"), "point estimate is right")]),
    "time_to_interpolated": (_crossing(), [(_crossing("no_interp"), "first evaluation at or above"),
                                           (_crossing("reversed"), "BEFORE the crossing"),
                                           (_crossing("last"), "LAST time"),
                                           (_crossing("strict"), "not >"),
                                           (_crossing("wrap"), "wraps round"),
                                           (_crossing("last_if_never"), "return None")]),
    "evos_batch": (_evos(), [(_evos("round"), "FLOOR"),
                             (_evos("reversed"), "not l̄"),
                             (_evos("error_only"), "top errors alone"),
                             (_evos("int_mut"), r"not int\(0.5"),
                             (_evos("full_b"), "1.5·B"),
                             (_evos("half"), "exactly B"),
                             (_evos("offspring_only"), "append the mutations"),
                             (_evos("from_all"), "among the N − n_off"),
                             (_evos("next_errors"), "next-largest errors"),
                             (_evos("global_rng"), "generator you are given")]),
}


def _pkg_interval(times, full, resamples, generator):
    b = paper.bootstrap([(times / full).tolist()], resamples)
    return b["gmean"], b["lo"], b["hi"]


PACKAGE = {  # check: an answer that only calls the package's own implementation
    "paired_interval": _pkg_interval,
    "time_to_interpolated": lambda s, p, t: nl.History(steps=list(range(len(s))), train_seconds=s, psnr=p).time_to(t),
    "evos_batch": lambda e, lp, r, g: nl.make_sampler("evos", ratio=r).counts(0, 100),
}

globals().update(make_tests(CASES, PACKAGE))


def test_evos_batch_rejects_a_sampler_built_without_make_sampler(capsys):
    """EVOS's methods are patched out too, so an EVOS reached some other way is rejected."""
    import pytest

    from nint_lite.baselines import evos
    cls = type(evos.EVOS.__name__, (evos.EVOS,), {})   # a subclass: not the name `forbid` patches
    with pytest.raises(AssertionError, match="the package's own implementation"):
        nl.checks.evos_batch(lambda e, lp, r, g: cls(ratio=r).counts(0, 100))
    assert capsys.readouterr().out.startswith("✗ evos_batch")
