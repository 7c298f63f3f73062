"""Baselines as their official code runs them (paper-notes §3): EVOS's exact batch size, Soft
Mining's single pass and its drift, and the per-step cost benchmark (tiny sizes, no timing asserts)."""
import numpy as np
import pytest
import torch

import nint_lite as nl
from nint_lite.lab import bench
from nint_lite.samplers import View, make_sampler
from nint_lite.train import train_step


def _sig(n=16, c=3, seed=0):
    return nl.load_image(np.random.default_rng(seed).random((n, n, c)).astype(np.float32))


@pytest.mark.parametrize("ratio", [0.05, 0.2, 0.5, 0.9])
def test_evos_non_key_steps_train_on_exactly_b_distinct(ratio):
    sig = _sig(16)
    model = nl.make_model("siren", 2, 3, hidden=8, layers=2, seed=0)
    T = 120
    smp = make_sampler("evos", ratio=ratio, seed=0).bind(model, sig.coords, sig.values, sig.shape, steps=T)
    b = round(ratio * 256)
    n_mut = round(0.5 * ratio * 256)
    keys = []
    for t in range(T):
        sel = smp(t)
        if sel.full:
            keys.append(t)
        else:
            idx = sel.indices.tolist()
            assert len(idx) == len(set(idx)) == b, (t, len(idx))
            off = set(smp.offspring.tolist())
            assert set(idx[:b - n_mut]) == off and not (set(idx[b - n_mut:]) & off)
        train_step(model, sig.coords, sig.values, sel, smp, t)  # the key steps set the offspring
    # official epochs e = t + 1: e = 1, 71 (71 mod ⌊100 − 71·50/120⌋ = 71 mod 70) and 109 (mod 54)
    assert keys == [0, 70, 108]


def test_soft_drift_is_a_grad_log_loss_over_b():
    """The drift the sampler takes from the training backward equals a·∇log L_j / B computed
    by hand with a separate autograd pass (relative tolerance 1e-4, float32)."""
    sig = _sig(12, seed=1)
    model = nl.make_model("siren", 2, 3, hidden=16, layers=2, seed=0)
    smp = make_sampler("soft", ratio=0.25, seed=0, b=0.0)  # no noise: u moves by the drift only
    smp.bind(model, sig.coords, sig.values, sig.shape, steps=10)
    sel = smp(0)
    bsz = len(sel.indices)
    u0 = smp.u.detach().clone()
    train_step(model, sig.coords, sig.values, sel, smp, 0)
    w = smp.w.clone()
    # by hand, a separate pass: L_j at u0 with the interpolated target, ∇ of log L_j
    u = u0.clone().requires_grad_(True)
    per = ((model(u) - smp._target(u)) ** 2).mean(1)
    (g,) = torch.autograd.grad(torch.log(per).sum(), u)
    want = smp.a * g / bsz
    got = smp.u.grad / (w * smp.per)[:, None] * smp.a
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    # and the step itself uses it (capped at one pixel)
    pix = 2.0 / 11
    capped = want * (pix / want.norm(dim=1, keepdim=True).clamp_min(pix))
    smp(1)
    k = max(1, bsz // 10)
    moved = smp.u.detach()[:-k] - u0[:-k]
    kept = (moved - capped[:-k]).abs().max(1).values < 1e-5
    assert kept.float().mean() > 0.5  # those not re-drawn (lowest loss, out of domain)


def test_soft_step_is_one_forward_and_one_backward():
    """Single pass: a Soft Mining fit step runs the model forward once and backward once,
    whatever the chunking (in one pass below chunk_size)."""
    sig = _sig(16)
    model = nl.make_model("siren", 2, 3, hidden=16, layers=2, seed=0)
    fwd, bwd = [], []
    first = next(iter(model.modules()))
    first.register_forward_hook(lambda m, i, o: fwd.append(i[0].shape[0]))
    first.register_full_backward_hook(lambda m, gi, go: bwd.append(go[0].shape[0]))
    hist = nl.fit(model, sig, make_sampler("soft", ratio=0.2, seed=0), steps=5, lr=1e-4,
                  eval_every=5, progress=False)
    b = round(0.2 * 256)
    evals = [n for n in fwd if n == 256]  # evaluations at steps 0 and 5
    assert [n for n in fwd if n not in (1, 256)] == [b] * 5  # fit's 1-row probe aside
    assert bwd == [b] * 5
    assert len(evals) >= 2 and hist.steps[-1] == 5


def test_soft_chunked_path_matches_one_pass():
    """train_step's chunked own-loss path gives the same parameter and position gradients."""
    sig = _sig(16)
    grads = []
    for chunk in (10_000, 7):
        model = nl.make_model("siren", 2, 3, hidden=16, layers=2, seed=0)
        smp = make_sampler("soft", ratio=0.2, seed=0).bind(model, sig.coords, sig.values, sig.shape, steps=5)
        sel = smp(0)
        train_step(model, sig.coords, sig.values, sel, smp, 0, chunk_size=chunk)
        grads.append((torch.cat([p.grad.flatten() for p in model.parameters()]), smp.u.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-7)


def test_bench_steps_structure():
    lines = []
    res = bench.bench_steps(samplers=("full", "uniform", "soft", "evos"), size=8, hidden=8, layers=2,
                            steps=3, repeats=2, out=lines.append)
    assert set(res) == {"full", "uniform", "soft", "evos"}
    for row in res.values():
        assert row["seconds_per_step"] > 0 and row["x_uniform"] > 0 and row["x_full"] > 0
    assert res["uniform"]["x_uniform"] == 1.0 and res["full"]["x_full"] == 1.0
    assert len(lines) == 2 + 4


def test_int_published_preset():
    from nint_lite.samplers import INT_PUBLISHED
    smp = make_sampler("int", preset="published")
    assert (smp.rho0, smp.schedule, smp.interval) == (0.2, "step", "incremental")
    assert INT_PUBLISHED["lr"] == 1e-3 and INT_PUBLISHED["lr_schedule"] == "cosine"
    assert INT_PUBLISHED["steps"] == 5000
    with pytest.raises(ValueError):
        make_sampler("int", preset="paper")
