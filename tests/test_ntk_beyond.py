"""Kernel scores beyond the paper (nint_lite.beyond.scores): each against an explicit small-N
computation, and as NINT scores registered by name."""
import functools

import pytest
import torch

import nint_lite as nl
from nint_lite import ntk
from nint_lite.beyond import scores
from nint_lite.beyond.experiments import spearman
from nint_lite.samplers import NINT_SCORES, View, make_sampler


def _setup(c=3, n=6, seed=0):
    m = nl.make_model("siren", 2, c, hidden=16, layers=2, seed=seed)
    x = nl.grid((n, n))
    r = torch.randn(n * n, c, generator=torch.Generator().manual_seed(seed + 1))
    return m, x, r


def _flat_k(m, x):
    k = ntk.matrix(m, x)                                   # (N, N, C, C)
    n, c = k.shape[0], k.shape[2]
    return k.permute(0, 2, 1, 3).reshape(n * c, n * c)


def test_sender_scores_estimate_the_diagonal_of_k_squared():
    m, x, r = _setup()
    K = _flat_k(m, x).double()                             # (N·C, N·C)
    rr = r.double().reshape(-1)
    K2 = K @ K
    exact = torch.stack([rr[3 * i:3 * i + 3] @ K2[3 * i:3 * i + 3, 3 * i:3 * i + 3] @ rr[3 * i:3 * i + 3]
                         for i in range(len(r))])
    # the implementation, probe by probe: the same random signs through explicit K give the same estimate
    probes = 5
    est = scores.sender_scores(m, x, r, probes=probes, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    z = torch.stack([torch.randint(0, 2, r.shape, generator=g).double() * 2 - 1 for _ in range(probes)])
    by_hand = ((rr * (z.reshape(probes, -1) @ K.T)).reshape(probes, -1, 3).sum(2) ** 2).mean(0)
    assert est.shape == (36,) and (est >= 0).all()
    torch.testing.assert_close(est.double(), by_hand, rtol=1e-4, atol=1e-6 * exact.max().item())
    # the estimator is unbiased: many probes (explicit K, cheap) converge to r_iᵀ (K²)_ii r_i
    zz = torch.randint(0, 2, (20000, K.shape[0]), generator=torch.Generator().manual_seed(1)).double() * 2 - 1
    many = ((rr * (zz @ K.T)).reshape(20000, -1, 3).sum(2) ** 2).mean(0)
    assert ((many - exact).abs().max() / exact.max()).item() < 0.03
    again = scores.sender_scores(m, x, r, probes=2, generator=torch.Generator().manual_seed(5))
    assert torch.equal(again, scores.sender_scores(m, x, r, probes=2, generator=torch.Generator().manual_seed(5)))
    with pytest.raises(ValueError, match="probes"):
        scores.sender_scores(m, x, r, probes=0)


def test_last_layer_matvec_is_the_last_layers_kernel():
    m, x, r = _setup()
    h = m.net[:-1](x).detach()
    assert torch.allclose(scores.last_layer_matvec(m, x, r, chunk_size=7), (h @ h.T + 1) @ r, atol=1e-4)
    # the same as the full kernel machinery with every other layer frozen
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith(f"net.{len(m.net) - 1}."))
    assert torch.allclose(scores.last_layer_matvec(m, x, r), ntk.matvec(m, x, r), atol=1e-4)
    with pytest.raises(ValueError, match="ending in nn.Linear"):
        scores.last_layer_matvec(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()), x, r)


def test_preconditioned_matvec_is_j_p_jt():
    m, x, r = _setup()
    P = {k: torch.rand(p.shape, generator=torch.Generator().manual_seed(i)) + 0.5
         for i, (k, p) in enumerate(m.named_parameters())}
    J = ntk.jacobian(m, x).reshape(len(r) * 3, -1)
    pv = torch.cat([P[k].flatten() for k, _ in m.named_parameters()])
    want = (J @ (pv * (J.T @ r.reshape(-1)))).reshape(-1, 3)
    assert torch.allclose(ntk.matvec(m, x, r, chunk_size=5, precond=P), want, rtol=1e-4, atol=1e-4)
    ones = {k: torch.ones_like(v) for k, v in P.items()}
    assert torch.allclose(ntk.matvec(m, x, r, precond=ones), ntk.matvec(m, x, r))
    with pytest.raises(ValueError, match="precond"):
        ntk.matvec(m, x, r, precond={"nope": torch.ones(1)})


def test_adam_preconditioner_by_hand():
    m, x, r = _setup(c=1)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-6)
    assert scores.adam_preconditioner(m, opt) is None         # no second moment before a step
    for _ in range(3):
        opt.zero_grad()
        (m(x) ** 2).mean().backward()
        opt.step()
    pre = scores.adam_preconditioner(m, opt)
    for name, p in m.named_parameters():
        v = opt.state[p]["exp_avg_sq"]
        assert torch.allclose(pre[name], 1 / ((v / (1 - 0.99 ** 3)).sqrt() + 1e-6))


def test_importing_nint_lite_registers_the_scores():
    assert {"sender", "leverage", "last_layer", "adam"} <= set(NINT_SCORES)
    assert NINT_SCORES["sender"] is scores.sender


@pytest.mark.parametrize("score", ["sender", "leverage", "last_layer", "adam", "ntk", "sender3"])
def test_nint_ntk_set_is_the_top_of_its_score(score):
    m, x, _ = _setup(c=1, n=8)
    y = torch.rand(64, 1, generator=torch.Generator().manual_seed(3))
    view = View(m, x, y, (8, 8), "image", steps=10)
    chosen = functools.partial(scores.sender, probes=3) if score == "sender3" else score
    smp = make_sampler("nint", ratio=0.25, seed=0, ntk_share=0.3, score=chosen)
    smp.setup(view)
    sel = smp.select(0, view)
    r = view.residuals()
    g = torch.Generator().manual_seed(0)                    # the sampler's generator, fresh
    want = {"sender": lambda: scores.sender_scores(m, x, r, 4, g),
            "sender3": lambda: scores.sender_scores(m, x, r, 3, g),
            "leverage": lambda: r.norm(dim=1) * ntk.diagonal(m, x),
            "last_layer": lambda: scores.last_layer_matvec(m, x, r).norm(dim=1),
            "adam": lambda: ntk.nint_scores(m, x, r),       # no optimiser on this view: P = I
            "ntk": lambda: ntk.nint_scores(m, x, r)}[score]()
    assert torch.equal(sel.indices[:5], torch.topk(want, 5).indices)          # round(0.3 · 16)


def test_adam_score_uses_the_views_optimizer():
    m, x, _ = _setup(c=1, n=8)
    y = torch.rand(64, 1, generator=torch.Generator().manual_seed(3))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    opt.zero_grad()
    ((m(x) - y) ** 2).mean().backward()
    opt.step()
    smp = make_sampler("nint", score="adam").bind(m, x, y, (8, 8), steps=10, optimizer=opt)
    r = smp.view.residuals()
    want = ntk.matvec(m, x, r, precond=scores.adam_preconditioner(m, opt)).norm(dim=1)
    torch.testing.assert_close(smp.scores(), want)
    assert not torch.allclose(want, ntk.nint_scores(m, x, r))  # P ≠ I after a step


def test_pick_sample_draws_in_proportion_and_is_seeded():
    m, x, _ = _setup(c=1, n=8)
    y = torch.rand(64, 1, generator=torch.Generator().manual_seed(3))

    def ntk_set(seed):
        view = View(m, x, y, (8, 8), "image", steps=10)
        smp = make_sampler("nint", ratio=0.25, seed=seed, ntk_share=0.3, xi=0.5, pick="sample")
        smp.setup(view)
        return smp.select(0, view).indices[:5]

    assert torch.equal(ntk_set(0), ntk_set(0)) and not torch.equal(ntk_set(0), ntk_set(1))
    scores_ = ntk.nint_scores(m, x, m(x).detach() - y)
    hits = torch.zeros(64)
    for s in range(60):
        hits[ntk_set(s)] += 1
    top, bottom = torch.topk(scores_, 16).indices, torch.topk(-scores_, 16).indices
    # inclusion ≈ proportional to the score (5 of 64 drawn): the top quarter holds 1.67× the
    # bottom quarter's score mass here, so it must be drawn clearly more often, but not always
    w = scores_[top].sum() / scores_[bottom].sum()
    assert w > 1.5 and hits[top].sum() > 1.2 * hits[bottom].sum()
    assert hits[bottom].sum() > 0 and (hits > 0).sum() > 32  # spread out, unlike the top-5


def test_spearman_by_hand():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, torch.tensor([1.0, 3.0, 2.0, 4.0])) == pytest.approx(0.8)


def test_bad_score_and_pick():
    with pytest.raises(ValueError, match="unknown score"):
        make_sampler("nint", score="magic")
    with pytest.raises(ValueError, match="unknown pick"):
        make_sampler("nint", pick="best")
