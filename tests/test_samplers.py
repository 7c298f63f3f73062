"""Unit tests for nint_lite.samplers: every sampler against paper-notes §2–§3, checked with
independent hand computations (residuals, NTK scores, Laplacians, weights computed here)."""
import math

import numpy as np
import pytest
import torch

import nint_lite as nl
from nint_lite.train import train_step
from nint_lite import ntk, schedules
from nint_lite.baselines import canny_edges
from nint_lite.samplers import SAMPLERS, Selection, View, make_sampler
from nint_lite.signals import grid

ALL = sorted(SAMPLERS)
STOCHASTIC = ["uniform", "egra", "soft", "evos", "expansive", "nint"]
IMAGE_ONLY = ["egra", "evos", "expansive", "soft"]  # image methods, generalised to any grid


# --------------------------------------------------------------------------- helpers

class CountingView(View):
    """A View that counts residuals() calls (the full forward pass samplers should avoid)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.residual_calls = 0

    def residuals(self):
        self.residual_calls += 1
        return super().residuals()


class FrozenView(View):
    """Residuals computed once and kept (valid while the model is not changed): fast long loops."""

    def new_step(self):
        pass


def _model(c=1, hidden=16, seed=0, d=2):
    return nl.make_model("siren", d, c, hidden=hidden, layers=2, seed=seed)


def _view(sig, model=None, steps=100, cls=View, hidden=16):
    model = model if model is not None else _model(sig.channels, hidden=hidden)
    return cls(model, sig.coords, sig.values, sig.shape, sig.kind, steps)


def _drive(smp, view, ts, setup=True):
    """Mimic fit without the optimiser: select, forward on the selection, sampler.loss."""
    if setup:
        smp.setup(view)
    out = []
    for t in ts:
        view.new_step()
        sel = smp.select(t, view)
        x = view.coords if sel.full else view.coords[sel.indices]
        y = view.values if sel.full else view.values[sel.indices]
        with torch.no_grad():
            smp.loss(view.model(x), y, sel, t, view)
        out.append(sel)
    return out


def _residuals(view):
    with torch.no_grad():
        return view.model(view.coords) - view.values


def _topset(v, k):
    return set(torch.topk(v, k).indices.tolist())


def _perturb(model, scale, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


@pytest.fixture(scope="module")
def cam32():
    return nl.sample_signal("camera", size=32)


@pytest.fixture(scope="module")
def cam16():
    return nl.sample_signal("camera", size=16)


@pytest.fixture(scope="module")
def cam8():
    return nl.sample_signal("camera", size=8)


@pytest.fixture(scope="module")
def rgb16():
    a = np.random.default_rng(3).random((16, 16, 3)).astype(np.float32)
    return nl.load_image(a)


@pytest.fixture(scope="module")
def square32():
    a = np.zeros((32, 32), dtype=np.float32)
    a[8:24, 8:24] = 1.0
    return nl.load_image(a)


def _audio_view(n=64):
    x = torch.linspace(-1, 1, n)[:, None]
    y = torch.sin(3 * x)
    return View(_model(1, d=1), x, y, (n,), "audio", 50)


# --------------------------------------------------------------------------- counts, dtype, device

def _check_indices(sel, view, name=""):
    idx = sel.indices
    assert idx.dtype == torch.long
    assert idx.device == view.device
    assert idx.ndim == 1
    if name != "soft":  # Soft Mining trains a node twice when two positions snap to it
        assert len(set(idx.tolist())) == len(idx), "duplicate indices"
    assert int(idx.min()) >= 0 and int(idx.max()) < view.n


@pytest.mark.parametrize("name", ALL)
def test_select_counts(name, cam32):
    view = _view(cam32, steps=100)
    n, b = view.n, round(0.2 * 1024)
    assert b == 205
    sels = _drive(make_sampler(name, ratio=0.2, seed=0), view, range(6))
    for t, sel in enumerate(sels):
        _check_indices(sel, view, name)
        if name == "full":
            assert sel.full and torch.equal(sel.indices, torch.arange(n))
        elif name == "evos":
            # t = 0 is the official epoch 1 (1 mod 100 = 1): a key iteration, all N
            if t == 0:
                assert sel.full and torch.equal(sel.indices, torch.arange(n)), t
            else:  # offspring 205 − 102 plus 102 mutations: exactly B distinct
                assert not sel.full and len(sel.indices) == b == 205, t
        elif name == "soft":
            assert len(sel.indices) == b and not sel.full
        else:
            assert len(sel.indices) == b, (name, t, len(sel.indices))
            assert not sel.full


def test_nint_exact_batch_when_shares_round_up():
    # B = 25: round(0.3·25) = 8 (0.30000000000000004·25 = 7.500…01) and round(0.7·25) = 18 (half
    # to even): the NTK and random parts alone would already be 26 > B.
    a = np.random.default_rng(0).random((5, 25)).astype(np.float32)
    sig = nl.load_image(a)
    view = _view(sig, hidden=8)
    for sel in _drive(make_sampler("nint", ratio=0.2, seed=0), view, range(12)):
        _check_indices(sel, view)
        assert len(sel.indices) == 25


def test_evos_counts_over_a_run(cam16):
    # T = 100, epochs e = t + 1: ⌊100 − e/2⌋ ≥ 50, so the keys are e = 1 and e = 67 (67 mod 66)
    view = _view(cam16, steps=100, hidden=8)
    smp = make_sampler("evos", ratio=0.2, seed=0)
    sels = _drive(smp, view, range(100))
    full = [t for t, s in enumerate(sels) if s.full]
    assert full == [0, 66]
    assert smp.keys == 2
    b = round(0.2 * 256)
    assert all(len(set(s.indices.tolist())) == len(s.indices) == b
               for t, s in enumerate(sels) if t not in full)


@pytest.mark.parametrize("name", ["uniform", "int", "egra", "expansive", "nint"])
def test_batch_follows_ratio_schedule(name, cam32):
    view = _view(cam32, steps=100)
    smp = make_sampler(name, ratio=0.2, seed=0, schedule="linear")
    smp.setup(view)
    for t in (0, 50, 99):
        view.new_step()
        want = round((0.2 + t / 100 * 0.8) * 1024)
        assert len(smp.select(t, view).indices) == want, t


# --------------------------------------------------------------------------- seeds

@pytest.mark.parametrize("name", STOCHASTIC)
def test_same_seed_same_selection_other_seed_differs(name, cam32):
    view = _view(cam32, steps=100)
    ts = range(6)
    a = _drive(make_sampler(name, ratio=0.2, seed=0), view, ts)
    b = _drive(make_sampler(name, ratio=0.2, seed=0), view, ts)
    c = _drive(make_sampler(name, ratio=0.2, seed=1), view, ts)
    for sa, sb in zip(a, b):
        assert torch.equal(sa.indices, sb.indices)
        if sa.weights is not None:
            assert torch.equal(sa.weights, sb.weights)
    stochastic_steps = [t for t in ts if not a[t].full]  # evos: only non-key steps are random
    assert stochastic_steps
    for t in stochastic_steps:
        assert set(a[t].indices.tolist()) != set(c[t].indices.tolist()), (name, t)


@pytest.mark.parametrize("name", ["full", "int"])
def test_deterministic_samplers_ignore_seed(name, cam32):
    view = _view(cam32)
    a = _drive(make_sampler(name, ratio=0.2, seed=0), view, range(3))
    c = _drive(make_sampler(name, ratio=0.2, seed=7), view, range(3))
    assert all(torch.equal(x.indices, y.indices) for x, y in zip(a, c))


@pytest.mark.parametrize("name", ALL)
def test_setup_again_restarts_the_sampler(name, cam32):
    # A Sampler object can be passed to fit twice: setup() must reset it like a fresh one.
    view = _view(cam32, steps=100)
    smp = make_sampler(name, ratio=0.2, seed=0)
    first = _drive(smp, view, range(5))
    second = _drive(smp, view, range(5))
    fresh = _drive(make_sampler(name, ratio=0.2, seed=0), view, range(5))
    for s1, s2, s3 in zip(first, second, fresh):
        assert torch.equal(s1.indices, s3.indices)
        assert torch.equal(s2.indices, s3.indices), name


def test_expansive_setup_on_new_image_uses_its_edges(cam8, cam32):
    smp = make_sampler("expansive", ratio=0.2, seed=0)
    _drive(smp, _view(cam8), range(2))
    view = _view(cam32)
    sel = _drive(smp, view, range(1))[0]
    edges = set(smp.edges.tolist())
    k = min(len(edges), 205 // 2)
    assert set(sel.indices[:k].tolist()) <= edges
    assert len(set(sel.indices.tolist()) & edges) >= k


# --------------------------------------------------------------------------- full / uniform

def test_uniform_fresh_each_step_and_covers(cam16):
    view = CountingView(_model(), cam16.coords, cam16.values, cam16.shape, "image", 100)
    sels = _drive(make_sampler("uniform", ratio=0.2, seed=0), view, range(40))
    sets = [set(s.indices.tolist()) for s in sels]
    assert all(a != b for a, b in zip(sets, sets[1:]))
    assert len(set().union(*sets)) == 256  # 40 draws of 51/256: every pixel is hit
    assert view.residual_calls == 0


# --------------------------------------------------------------------------- INT

def test_int_top_b_by_l1_residual(rgb16):
    view = _view(rgb16)
    sel = make_sampler("int", ratio=0.2, seed=0)
    sel.setup(view)
    idx = sel.select(0, view).indices
    b = round(0.2 * 256)
    err = _residuals(view).abs().sum(1)
    assert set(idx.tolist()) == _topset(err, b)
    chosen = torch.zeros(256, dtype=torch.bool)
    chosen[idx] = True
    assert err[chosen].min() >= err[~chosen].max()
    # ℓ1 over channels, not ℓ2: the two rankings differ on this RGB image
    assert _topset(err, b) != _topset(_residuals(view).norm(dim=1), b)


def test_int_incremental_reuses_subset(cam16):
    model = _model(hidden=8)
    view = CountingView(model, cam16.coords, cam16.values, cam16.shape, "image", 100)
    smp = make_sampler("int", ratio=0.2, seed=0, interval="incremental")
    smp.setup(view)
    want_steps = list(range(25)) + [25, 35, 40, 55, 70, 85]
    prev, changed_on_selection = None, 0
    for t in range(100):
        view.new_step()
        calls = view.residual_calls
        idx = smp.select(t, view).indices.clone()
        if t in want_steps:
            assert view.residual_calls == calls + 1, t
            assert set(idx.tolist()) == _topset(_residuals(view).abs().sum(1), 51), t
            changed_on_selection += prev is not None and set(idx.tolist()) != set(prev.tolist())
        else:
            assert view.residual_calls == calls, t  # no full forward when reusing
            assert torch.equal(idx, prev), t
        prev = idx
        _perturb(model, 0.05, seed=t)  # the model moves every step, as in training
    assert smp.selections == 31
    assert changed_on_selection > 10  # the perturbation does change the top-B


def test_int_dense_selects_every_step(cam16):
    smp = make_sampler("int", ratio=0.2, seed=0)
    _drive(smp, _view(cam16, hidden=8), range(20))
    assert smp.selections == 20


# --------------------------------------------------------------------------- NINT

def test_nint_pure_ntk_matches_scores_and_explicit_kernel(cam8):
    model = _model(hidden=8, seed=2)
    view = _view(cam8, model)
    r = _residuals(view)
    b = round(0.2 * 64)
    s_fn = ntk.nint_scores(model, view.coords, r)
    K = ntk.matrix(model, view.coords)                       # (N, N, C, C), explicit
    s_explicit = torch.einsum("ijcd,jd->ic", K, r).norm(dim=1)
    torch.testing.assert_close(s_fn, s_explicit, rtol=1e-4, atol=1e-6)
    for kw in ({"xi": 0.0, "lam": 0.0}, {"xi": 0.0, "ntk_share": 1.0}):
        smp = make_sampler("nint", ratio=0.2, seed=0, **kw)
        smp.setup(view)
        for t in (0, 7, 10, 23):
            view.new_step()
            idx = smp.select(t, view).indices
            assert len(idx) == b
            assert set(idx.tolist()) == _topset(s_explicit, b) == _topset(s_fn, b), (kw, t)
    # the NTK ranking is not the error ranking (else the test above would prove nothing)
    assert _topset(s_explicit, b) != _topset(r.norm(dim=1), b)


def test_nint_pure_ntk_multichannel(rgb16):
    sig = nl.load_image(rgb16.to_grid().numpy()[:8, :8])
    model = _model(3, hidden=8, seed=1)
    view = _view(sig, model)
    r = _residuals(view)
    K = ntk.matrix(model, view.coords)
    s = torch.einsum("ijcd,jd->ic", K, r).norm(dim=1)       # ℓ2 over the 3 channels
    smp = make_sampler("nint", ratio=0.25, seed=0, xi=0.0, lam=0.0)
    smp.setup(view)
    assert set(smp.select(0, view).indices.tolist()) == _topset(s, 16)


def _composition(sel, k, n_err, s, e):
    """Check sel = [top-k by s] + [top n_err by e among the rest] + [random among the rest]."""
    idx = sel.indices.tolist()
    assert set(idx[:k]) == _topset(s, k)
    masked = e.clone()
    masked[torch.tensor(idx[:k], dtype=torch.long)] = -1.0
    assert set(idx[k:k + n_err]) == _topset(masked, n_err)
    assert len(set(idx)) == len(idx)  # the three parts are disjoint


def test_nint_paper_composition_and_share(cam32):
    model = _model(hidden=8)
    view = _view(cam32, model)
    r = _residuals(view)
    s, e = ntk.nint_scores(model, view.coords, r), r.norm(dim=1)
    b = 512
    smp = make_sampler("nint", ratio=0.5, seed=0)  # paper defaults ξ = 0.7, λ = 1, α = 10
    smp.setup(view)
    n_rand = round(0.7 * b)
    cache_len = {}
    for t in range(51):
        view.new_step()
        sel = smp.select(t, view)
        share = 0.3 * math.exp(-t / 10)
        assert smp.share(t) == pytest.approx(share, rel=1e-9)
        k = round(share * b)
        if t % 10 == 0:
            cache_len[t] = len(smp.cache)
        assert len(sel.indices) == b
        assert sel.indices[:k].tolist() == smp.cache[:k].tolist()
        _composition(sel, k, b - k - n_rand, s, e)
    # NTK part sizes at refreshes: 0.3·B, 0.3·e^−1·B, 0.3·e^−5·B
    assert cache_len[0] == 154 and cache_len[10] == 57 and cache_len[50] == 1
    assert smp.refreshes == 6


def test_nint_refresh_reuses_ntk_set(cam16, monkeypatch):
    model = _model(hidden=8)
    view = _view(cam16, model)
    calls = []
    real = ntk.nint_scores

    def counting(*a, **k):
        calls.append(current_t)
        return real(*a, **k)

    monkeypatch.setattr(ntk, "nint_scores", counting)
    smp = make_sampler("nint", ratio=0.5, seed=0, xi=0.0, ntk_share=1.0)  # all-NTK: easy to see
    smp.setup(view)
    b = 128
    old_top = None
    for current_t in range(35):
        view.new_step()
        idx = smp.select(current_t, view).indices
        s_now = real(model, view.coords, _residuals(view))
        if current_t % 10 == 0:
            assert set(idx.tolist()) == _topset(s_now, b)
            old_top = set(idx.tolist())
        else:
            assert set(idx.tolist()) == old_top  # cached set, not today's top
            if current_t % 10 == 5:
                assert _topset(s_now, b) != old_top  # the model moved: a recompute would differ
        _perturb(model, 0.1, seed=current_t)
    assert calls == [0, 10, 20, 30]
    assert smp.refreshes == 4


def test_nint_refresh_parameter(cam8, monkeypatch):
    view = _view(cam8, hidden=8)
    smp = make_sampler("nint", ratio=0.5, seed=0, xi=0.5, ntk_share=0.5, refresh=3)
    n = [0]
    real = smp.scores
    monkeypatch.setattr(smp, "scores", lambda v: (n.__setitem__(0, n[0] + 1), real(v))[1])
    _drive(smp, view, range(10))
    assert n[0] == smp.refreshes == 4  # t = 0, 3, 6, 9


@pytest.mark.parametrize("size, ratio", [(8, 0.2), (16, 1.0)])
def test_nint_official_six_refreshes_then_off(size, ratio, monkeypatch):
    # The official code scores at c = 1, 10, 20, 30, 40, 50 (share ≥ 1e-3) and never again,
    # whatever B is: with B = 13 the NTK part rounds to 0 from c = 20 on, with B = 256 it never does.
    sig = nl.sample_signal("camera", size=size)
    model = _model(hidden=8)
    view = _view(sig, model, steps=5000, cls=FrozenView)
    calls = []
    real = ntk.nint_scores
    monkeypatch.setattr(ntk, "nint_scores", lambda *a, **k: (calls.append(t), real(*a, **k))[1])
    smp = make_sampler("nint", ratio=ratio, seed=0, variant="official")
    smp.setup(view)
    n = size * size
    b = round(ratio * n)
    n_rand = round(0.7 * b)
    r = _residuals(view)
    s, e1 = real(model, view.coords, r), r.abs().sum(1)
    for t in range(5000):
        sel = smp.select(t, view)
        assert len(sel.indices) == b
        if t < 10:
            assert smp.share(t) == pytest.approx(0.1104, abs=5e-5)
        assert smp.off == (t >= 59), t  # switched off at the refresh c = 60 (share 7e-4 < 1e-3)
        if t < 59:
            # NTK part: the set cached at the last refresh (c = 1 or the last multiple of 10),
            # of size round(share(c_refresh)·B), reused as is in between
            c_ref = 1 if t < 9 else (t + 1) // 10 * 10
            k = round(schedules.nint_share_official(c_ref) * b)
            assert len(smp.cache) == k, t
            if t in (0, 5, 15, 49, 55):
                _composition(sel, k, b - k - n_rand, s, e1)
        if t in (59, 100, 4999):  # NTK off: ℓ1-error top + uniform
            assert smp.share(t) == 0.0
            _composition(sel, 0, b - n_rand, s, e1)
    assert calls == [0, 9, 19, 29, 39, 49]  # c = 1, 10, 20, 30, 40, 50
    assert smp.refreshes == 6
    if size == 16:
        assert len(smp.cache) == 1  # round(0.3·e^−5·256) = 1, still used at c = 51..59


def test_nint_error_norms(rgb16):
    # paper: error part by ‖r‖₂; official: by Σ_c |r| (ℓ1). Distinct rankings on this image.
    model = _model(3, hidden=8)
    view = _view(rgb16, model)
    r = _residuals(view)
    s = ntk.nint_scores(model, view.coords, r)
    b = round(0.5 * 256)
    n_rand = round(0.5 * b)
    assert _topset(r.norm(dim=1), 30) != _topset(r.abs().sum(1), 30)
    for variant, e in (("paper", r.norm(dim=1)), ("official", r.abs().sum(1))):
        smp = make_sampler("nint", ratio=0.5, seed=0, variant=variant, xi=0.5)
        smp.setup(view)
        sel = [smp.select(t, view) for t in range(6)][-1]  # t = 5: paper share 0.5·e^−0.5
        k = round((0.3 * math.exp(-1) if variant == "official" else 0.5 * math.exp(-0.5)) * b)
        n_err = b - k - n_rand
        assert n_err > 0
        _composition(sel, k, n_err, s, e)


def test_nint_output_norm_bug(cam16):
    model = _model(hidden=8, seed=4)
    view = _view(cam16, model)
    b = round(0.2 * 256)
    smp = make_sampler("nint", ratio=0.2, seed=0, xi=0.0, ntk_share=1.0, score="output_norm")
    smp.setup(view)
    idx = smp.select(0, view).indices
    with torch.no_grad():
        f2 = model(view.coords).pow(2).sum(1)
    assert set(idx.tolist()) == _topset(f2, b)
    # ... which is not the NINT score's top
    s = ntk.nint_scores(model, view.coords, _residuals(view))
    assert _topset(s, b) != _topset(f2, b)


def test_nint_constant_share(cam32):
    model = _model(hidden=8)
    view = _view(cam32, model, steps=2000)
    r = _residuals(view)
    s, e = ntk.nint_scores(model, view.coords, r), r.norm(dim=1)
    b = 205
    smp = make_sampler("nint", ratio=0.2, seed=0, xi=0.5, ntk_share=0.3)
    smp.setup(view)
    k, n_rand = round(0.3 * b), round(0.5 * b)
    for t in list(range(0, 61)) + [1000, 1999]:
        view.new_step()
        sel = smp.select(t, view)
        assert smp.share(t) == 0.3
        if t in (0, 10, 50, 1000, 1999):
            _composition(sel, k, b - k - n_rand, s, e)
            assert len(smp.cache) == k


@pytest.mark.parametrize("kw", [
    {"xi": -0.1}, {"xi": 1.1}, {"ntk_share": -0.1}, {"ntk_share": 1.5},
    {"ntk_share": 0.5, "xi": 0.7}, {"variant": "released"}, {"score": "jvp"},
    {"alpha": 0}, {"refresh": -1},
])
def test_nint_bad_params(kw):
    with pytest.raises(ValueError):
        make_sampler("nint", ratio=0.2, **kw)


def test_nint_edge_shares_are_valid():
    make_sampler("nint", ratio=0.2, xi=0.0, ntk_share=1.0)
    make_sampler("nint", ratio=0.2, xi=0.7, ntk_share=0.3)
    make_sampler("nint", ratio=0.2, xi=1.0)


# --------------------------------------------------------------------------- EGRA

def test_egra_weights(cam32):
    view = _view(cam32)
    smp = make_sampler("egra", ratio=0.2, seed=0)
    smp.setup(view)
    n = view.n
    edges = smp.edges.tolist()
    assert len(edges) > 20
    hi = 0.0025 + 0.9975 * 4096 / 640000
    lo = 0.9975 * 4096 / 640000
    for _ in range(3):
        w = smp.weights().double()
        assert w.shape == (n,)
        marked = (w - hi).abs() < 1e-9
        assert bool(((w - lo).abs() < 1e-9)[~marked].all())
        assert float(w.max() / w.min()) == pytest.approx(1.39, abs=0.01)
        assert hi / lo == pytest.approx(1.3916, abs=1e-4)
        m = set(torch.nonzero(marked).flatten().tolist())
        assert 0 < len(m) <= len(edges)
        for i in m:  # every marked pixel is an edge pixel shifted by 6..9 (mod N)
            assert any((i - s) % n in set(edges) for s in range(6, 10)), i
        for e in edges:  # every edge pixel lands on a marked pixel 6..9 ahead
            assert any((e + s) % n in m for s in range(6, 10)), e


def test_egra_shifts_wrap_and_vary(cam16):
    view = _view(cam16, hidden=8)
    smp = make_sampler("egra", ratio=0.2, seed=0)
    smp.setup(view)
    # every shift 6, 7, 8, 9 occurs (a random shift per edge pixel and step)
    edges, shifts = smp.edges.tolist(), set()
    for _ in range(10):
        m = set(torch.nonzero(smp.weights() > 0.007).flatten().tolist())
        shifts |= {s for e in edges for s in range(6, 10) if (e + s) % 256 in m}
    assert shifts == {6, 7, 8, 9}
    # isolated edge pixels: each is marked exactly once per draw, 6..9 ahead, all four shifts seen
    smp.edges = torch.tensor([10, 60, 120, 200])
    seen = set()
    for _ in range(30):
        m = torch.nonzero(smp.weights() > 0.007).flatten().tolist()
        assert len(m) == 4
        d = [(i - e) for i, e in zip(sorted(m), [10, 60, 120, 200])]
        assert all(6 <= x <= 9 for x in d), d
        seen |= set(d)
    assert seen == {6, 7, 8, 9}
    # flat indices near the end wrap around to the start
    smp.edges = torch.tensor([250, 253])
    for _ in range(5):
        m = torch.nonzero(smp.weights() > 0.007).flatten().tolist()
        assert 1 <= len(m) <= 2 and all(i <= 6 for i in m), m


def test_canny_edges_on_a_square(square32):
    # a white square [8, 24)² on black: edges hug its boundary, none in the flat regions
    smp = make_sampler("expansive", ratio=0.2, seed=0)
    smp.setup(_view(square32))
    rows, cols = smp.edges // 32, smp.edges % 32
    assert len(smp.edges) >= 40
    near_r = ((rows - 7.5).abs() <= 1) | ((rows - 23.5).abs() <= 1)
    near_c = ((cols - 7.5).abs() <= 1) | ((cols - 23.5).abs() <= 1)
    assert bool((near_r | near_c).all())
    assert bool(((rows >= 6) & (rows <= 25) & (cols >= 6) & (cols <= 25)).all())


# --------------------------------------------------------------------------- Soft Mining

def test_soft_selection_is_the_snapped_positions(cam32):
    view = _view(cam32)
    smp = make_sampler("soft", ratio=0.2, seed=0)
    smp.setup(view)
    for t in range(5):
        sel = _drive(smp, view, [t], setup=False)[0]
        # one entry per position, coincident ones included (the same shape every step: no sync)
        assert sel.weights is None and sel.indices.shape == (205,)
        assert smp.u.shape == (205, 2)
        assert bool((smp.u.abs() <= 1).all())
        rows = ((smp.u[:, 0] + 1) / 2 * 31).round().long()
        cols = ((smp.u[:, 1] + 1) / 2 * 31).round().long()
        assert sel.indices.tolist() == (rows * 32 + cols).tolist()


def test_soft_target_is_bilinear_in_row_col_order(rgb16):
    view = _view(rgb16)
    smp = make_sampler("soft", ratio=0.2, seed=0)
    smp.setup(view)
    torch.testing.assert_close(smp._target(view.coords), view.values)
    img = rgb16.to_grid()
    # halfway between (3, 5) and (3, 6) (same row): mean of the two pixels
    u = torch.tensor([[3 / 15 * 2 - 1, 5.5 / 15 * 2 - 1], [4.5 / 15 * 2 - 1, 7 / 15 * 2 - 1]])
    want = torch.stack([(img[3, 5] + img[3, 6]) / 2, (img[4, 7] + img[5, 7]) / 2])
    torch.testing.assert_close(smp._target(u), want)


def test_soft_redraws_from_the_edge_pdf():
    # a vertical step edge between columns 19 and 20: the Sobel PDF lives on columns 18..21
    a = np.zeros((32, 32), dtype=np.float32)
    a[:, 20:] = 1.0
    sig = nl.load_image(a)
    smp = make_sampler("soft", ratio=0.2, seed=0)
    smp.setup(_view(sig, hidden=8))
    pdf = torch.diff(smp.cdf, prepend=smp.cdf.new_zeros(1)).reshape(32, 32)
    assert float(pdf[:, 18:22].sum()) > 0.999
    u = smp._from_pdf(500)
    rows = (u[:, 0] + 1) / 2 * 31
    cols = (u[:, 1] + 1) / 2 * 31
    assert bool(((cols > 17) & (cols < 22)).all())
    assert float(rows.min()) < 3 and float(rows.max()) > 28  # spread along the edge
    assert bool((u.abs() <= 1).all())


def test_soft_positions_stay_in_domain(cam16):
    view = _view(cam16, hidden=8)
    smp = make_sampler("soft", ratio=0.2, seed=0, a=1e6)  # huge steps push most positions out
    smp.setup(view)
    for t in range(4):
        smp.select(t, view)
        assert bool((smp.u.abs() <= 1).all()) and bool(torch.isfinite(smp.u).all())


def test_soft_reinitialises_last_and_lowest_loss(cam16):
    # a = b = 0: no Langevin motion, so only re-initialised positions change; the losses that
    # pick the lowest 10 % are those of the training step in between (no pass of its own)
    view = _view(cam16, hidden=8)
    smp = make_sampler("soft", ratio=0.2, seed=0, a=0.0, b=0.0)
    smp.setup(view)
    sel = smp.select(0, view)
    bsz, k = 51, 5
    img = cam16.to_grid()[..., 0].double().numpy()
    for t in range(1, 4):
        u0 = smp.u.detach().clone()
        # the target at the old positions, bilinear by hand
        p = ((u0.double().numpy() + 1) / 2) * 15
        r0 = np.clip(np.floor(p[:, 0]), 0, 14).astype(int)
        c0 = np.clip(np.floor(p[:, 1]), 0, 14).astype(int)
        fr, fc = p[:, 0] - r0, p[:, 1] - c0
        tgt = (img[r0, c0] * (1 - fr) * (1 - fc) + img[r0 + 1, c0] * fr * (1 - fc)
               + img[r0, c0 + 1] * (1 - fr) * fc + img[r0 + 1, c0 + 1] * fr * fc)
        np.testing.assert_allclose(sel.targets[:, 0].detach().double().numpy(), tgt, atol=1e-6)
        with torch.no_grad():
            f = view.model(u0)[:, 0].double().numpy()
        loss = (f - tgt) ** 2
        train_step(view.model, view.coords, view.values, sel, smp, t - 1)
        sel = smp.select(t, view)
        changed = set(torch.nonzero((smp.u != u0).any(1)).flatten().tolist())
        lowest = set(np.argsort(loss[:bsz - k])[:k].tolist())
        assert changed == lowest | set(range(bsz - k, bsz)), t


def _soft_loss_by_hand(diff, weights, t):
    d = np.asarray(diff, dtype=np.float64)
    per = (d ** 2).mean(1)
    e = np.maximum(np.abs(d).mean(1), 1e-6)
    w = e ** (-min(t / 1000, 0.6))
    w = np.minimum(np.maximum(w, 0.2), w.mean() + w.std())
    return float((np.asarray(weights) * w * per).mean())


def test_soft_loss_exponent_and_clamp():
    smp = make_sampler("soft", ratio=0.2, seed=0)
    diff = torch.tensor([[0.5], [1.0], [2.0], [100.0], [1e-9], [0.1]])
    target = torch.zeros(6, 1)
    pred = target + diff
    weights = torch.tensor([1.0, 2.0, 1.0, 0.5, 1.0, 1.5])
    sel = Selection(torch.arange(6), weights=weights)
    got = {t: float(smp.loss(pred, target, sel, t, None)) for t in (0, 300, 599, 600, 5000)}
    for t, v in got.items():
        assert v == pytest.approx(_soft_loss_by_hand(diff, weights, t), rel=1e-5), t
    # r_t = min(t/1000, 0.6): capped at 600
    assert got[600] == pytest.approx(got[5000], rel=1e-6)
    assert got[599] != pytest.approx(got[600], rel=1e-6)
    # t = 0: all weights 1 -> the multiplicity-weighted MSE
    assert got[0] == pytest.approx(float((weights * diff[:, 0] ** 2).mean()), rel=1e-6)
    # lower clamp 0.2: error 100 gives 100^−0.6 = 0.063 unclamped; the loss uses 0.2
    w100 = 100.0 ** -0.6
    assert w100 < 0.2
    d = np.array([[1.0], [1.0], [100.0]])
    w = d[:, 0] ** -0.6
    assert w.mean() + w.std() > 1.0  # the upper clamp leaves the weights of 1 alone
    hand_clamped = float(np.mean([1.0, 1.0, 0.5 * 0.2 * 1e4]))
    got2 = float(smp.loss(torch.tensor(d, dtype=torch.float32), torch.zeros(3, 1),
                          Selection(torch.arange(3), weights=torch.tensor([1.0, 1.0, 0.5])), 600, None))
    assert got2 == pytest.approx(hand_clamped, rel=1e-5)
    assert got2 != pytest.approx(float(np.mean([1.0, 1.0, 0.5 * w100 * 1e4])), rel=1e-3)


def test_soft_forward_is_on_b_points_only(cam32):
    # selection runs no model at all (the drift comes from the training backward), and never
    # the full residual pass
    view = CountingView(_model(), cam32.coords, cam32.values, cam32.shape, "image", 100)
    sizes = []
    h = view.model.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[0]))
    try:
        smp = make_sampler("soft", ratio=0.2, seed=0)
        smp.setup(view)
        for t in range(3):
            view.new_step()
            sel = smp.select(t, view)
            train_step(view.model, view.coords, view.values, sel, smp, t)
    finally:
        h.remove()
    assert sizes == [205] * 3  # the training forwards only
    assert view.residual_calls == 0


# --------------------------------------------------------------------------- EVOS

def _lap_by_hand(img):
    p = np.pad(img, 1)  # zero padding, 4-neighbour kernel
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * img


def test_evos_key_offspring_and_laplacian_term():
    # an 8×8 RGB image with a hand-set prediction: fitness = channel-MEAN squared error and
    # 1e-5 × the squared Laplacian error of the gray image, ranked after the scaling
    rng = np.random.default_rng(5)
    img = rng.random((8, 8, 3)).astype(np.float32)
    sig = nl.load_image(img)
    view = _view(sig, steps=100)
    smp = make_sampler("evos", ratio=0.2, seed=0)
    smp.setup(view)
    n, b, n_mut = 64, 13, 6  # B = round(12.8); mutation round(0.1·64); offspring 7
    tgt = sig.values.double().numpy()
    pred = tgt + rng.normal(0, 0.3, tgt.shape)
    sel = smp.select(0, view)  # official epoch 1: a key iteration
    assert sel.full
    loss = float(smp.loss(torch.tensor(pred, dtype=torch.float32), sig.values, sel, 0, view))
    gray = np.array([0.2126, 0.7152, 0.0722])  # BT.709 luma, as edges.gray
    err = ((pred - tgt) ** 2).mean(1)
    lap = 1e-5 * ((_lap_by_hand((pred @ gray).reshape(8, 8))
                   - _lap_by_hand((tgt @ gray).reshape(8, 8))) ** 2).ravel()
    assert loss == pytest.approx(((pred - tgt) ** 2).mean() + lap.mean(), rel=1e-5)
    k = b - n_mut
    top_e, top_l = list(np.argsort(-err)[:k]), list(np.argsort(-lap)[:k])
    both = [i for i in top_l if i in top_e]
    rest = k - len(both)
    n_e = int(rest * err.mean() / (err.mean() + lap.mean()))  # a floor, as the official int()
    assert n_e >= rest - 1  # the 1e-5 scale: the error ranking takes (nearly) all of the rest
    from_e = [i for i in top_e if i not in both][:n_e]
    from_l = [i for i in top_l if i not in both][:rest - n_e]
    off = smp.offspring.tolist()
    assert off[len(both):] == from_e + from_l
    assert set(off[:len(both)]) == set(both)  # intersection first
    # the next (non-key) step: the offspring plus 6 mutations among the rest, exactly B distinct
    nxt = smp.select(1, view)
    assert not nxt.full and nxt.indices[:k].tolist() == off
    assert len(nxt.indices) == b and len(set(nxt.indices.tolist())) == b


def test_evos_laplacian_term_only_early(cam8):
    # the Laplacian term until step 1500 (an absolute count, the official use_laplace_epoch),
    # whatever T is; on non-key steps over the selected pixels of the pseudo-full prediction
    view = _view(cam8, steps=5000)
    smp = make_sampler("evos", ratio=0.2, seed=0)
    smp.setup(view)
    full = Selection(torch.arange(64), full=True)
    rng = np.random.default_rng(1)
    pred = cam8.values + torch.tensor(rng.normal(0, 0.5, (64, 1)), dtype=torch.float32)
    mse = float(((pred - cam8.values) ** 2).mean())
    assert float(smp.loss(pred, cam8.values, full, 1499, view)) > mse * (1 + 1e-6)
    assert float(smp.loss(pred, cam8.values, full, 1500, view)) == pytest.approx(mse, rel=1e-6)
    key = pred.numpy()[:, 0].reshape(8, 8)  # the last key step's prediction
    part = Selection(torch.arange(10))
    new = cam8.values[:10] + 0.1
    pseudo = key.copy().ravel()
    pseudo[:10] = new[:, 0].numpy()
    lap = (_lap_by_hand(pseudo.reshape(8, 8)) - _lap_by_hand(cam8.values[:, 0].numpy().reshape(8, 8))) ** 2
    want = float(((new - cam8.values[:10]) ** 2).mean()) + 1e-5 * lap.ravel()[:10].mean()
    assert float(smp.loss(new, cam8.values[:10], part, 5, view)) == pytest.approx(want, rel=1e-5)
    assert float(smp.loss(new, cam8.values[:10], part, 1500, view)) == pytest.approx(0.01, rel=1e-5)


def test_evos_merge_rule_by_hand():
    # N = 10, B = 4, no mutation (so 4 offspring), hand-made fitness:
    # top_e = [0, 1, 2, 3], top_l = [4, 5, 2, 9]
    smp = make_sampler("evos", ratio=0.4, seed=0, mutation=0.0)
    smp.n = 10
    smp.schedule = "constant"
    view = type("V", (), {"steps": 100})()
    err = torch.tensor([10, 9, 8, 7, .1, .2, .3, .4, .5, .6])
    lap = torch.tensor([.01, .02, 5, .03, 9, 8, .04, .05, .06, .07])
    smp._update_offspring(err, lap, 1, view)
    # both = [2]; rest 3; floor(3 · 3.61 / (3.61 + 2.228)) = floor(1.86) = 1 from err, 2 from lap
    assert smp.offspring.tolist() == [2, 0, 4, 5]
    smp._update_offspring(err, lap * 100, 1, view)   # Laplacian mean dominates: 0 from err
    assert smp.offspring.tolist() == [2, 4, 5, 9]
    smp._update_offspring(err * 1000, lap, 1, view)  # floor(3 · 0.99938) = 2 from err
    assert smp.offspring.tolist() == [2, 0, 1, 4]
    # the rest follows by error, for ratio schedules that grow
    assert smp.order.tolist()[4:] == [3, 9, 8, 7, 6, 5]


# --------------------------------------------------------------------------- expansive

@pytest.mark.parametrize("fixture", ["cam32", "square32"])
def test_expansive_anchors_every_step(fixture, request):
    sig = request.getfixturevalue(fixture)
    view = _view(sig)
    smp = make_sampler("expansive", ratio=0.2, seed=0)
    smp.setup(view)
    edges = set(smp.edges.tolist())
    b = 205
    n_anchor = min(len(edges), b // 2)
    if fixture == "cam32":
        assert len(edges) > b // 2   # a random fixed subset of the edges
    else:
        assert len(edges) < b // 2   # every edge pixel is an anchor
    anchors, covered = None, set()
    for t in range(50):
        sel = smp.select(t, view)
        idx = sel.indices.tolist()
        assert len(idx) == b and len(set(idx)) == b
        a = set(idx[:n_anchor])
        assert a <= edges
        if anchors is None:
            anchors = a
        assert a == anchors, t
        covered |= set(idx[n_anchor:])
        assert not (set(idx[n_anchor:]) & anchors)
    if fixture == "square32":
        assert anchors == edges
    # the rest is uniform over the non-anchor pixels: 50 draws of ~100 cover nearly all
    assert len(covered) >= 0.95 * (1024 - n_anchor)


# --------------------------------------------------------------------------- non-image signals

def _volume_view(n=8):
    x = grid((n, n, n))
    y = (x.abs().max(1).values < 0.5).float()[:, None]  # a solid cube, occupancy-like
    return View(_model(1, d=3), x, y, (n, n, n), "shape", 50)


@pytest.mark.parametrize("make_view", [_audio_view, _volume_view], ids=["audio", "volume"])
@pytest.mark.parametrize("name", IMAGE_ONLY)
def test_image_methods_generalise_to_1d_and_3d_grids(name, make_view):
    view = make_view()
    b = round(0.25 * view.n)
    smp = make_sampler(name, ratio=0.25, seed=0)
    for t, sel in zip(range(6), _drive(smp, view, range(6))):
        _check_indices(sel, view, name)
        if name in ("egra", "expansive"):
            assert len(sel.indices) == b
        elif name == "soft":
            assert len(sel.indices) == b and sel.weights is None
        elif not sel.full:  # evos: offspring + mutation = B
            assert len(sel.indices) == b


def test_edges_on_1d_and_3d_grids_sit_on_the_jumps():
    n = 64
    x = torch.linspace(-1, 1, n)[:, None]
    y = (x > 0.1).float()                                    # one jump between nodes 34 and 35
    e = canny_edges(View(_model(1, d=1), x, y, (n,), "audio", 5)).tolist()
    assert set(e) == {34, 35}                                # central differences see both sides
    view = _volume_view()
    e = canny_edges(view)
    sub = torch.stack(torch.unravel_index(e, (8, 8, 8)), 1)
    assert len(e) > 0 and bool(((sub >= 1) & (sub <= 6)).all())  # near the cube (nodes 2–5 inside)
    vol = view.values.reshape(8, 8, 8)
    for i, j, k in sub.tolist():                             # each one sits at a jump of the field
        nb = [vol[min(max(i + di, 0), 7), min(max(j + dj, 0), 7), min(max(k + dk, 0), 7)]
              for di, dj, dk in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))]
        assert any(v != vol[i, j, k] for v in nb)


def test_soft_target_interpolates_linearly_in_1d_and_3d():
    for view in (_audio_view(16), _volume_view(6)):
        smp = make_sampler("soft", ratio=0.25, seed=0)
        smp.setup(view)
        idx = torch.arange(0, view.n, 5)
        assert torch.allclose(smp._target(smp._node_coords(idx)), view.values[idx], atol=1e-6)
        mid = (smp._node_coords(idx[:-1]) + smp._node_coords(idx[:-1] + 1)) / 2  # last axis midpoint
        ok = (idx[:-1] + 1) % view.shape[-1] != 0                 # stay inside the row
        want = (view.values[idx[:-1]] + view.values[idx[:-1] + 1]) / 2
        assert torch.allclose(smp._target(mid)[ok], want[ok], atol=1e-5)


def test_evos_laplacian_is_the_2d_plus_1_point_stencil_in_1d_and_3d():
    g = torch.Generator().manual_seed(0)
    v1 = torch.rand(10, 1, generator=g)
    smp = make_sampler("evos", ratio=0.2, seed=0)
    smp.shape = (10,)
    lap = smp._laplacian(v1)
    assert torch.allclose(lap[1:-1], v1[:-2, 0] - 2 * v1[1:-1, 0] + v1[2:, 0], atol=1e-6)
    v3 = torch.rand(5 ** 3, 1, generator=g)
    smp.shape = (5, 5, 5)
    lap = smp._laplacian(v3).reshape(5, 5, 5)
    a = v3.reshape(5, 5, 5)
    want = (a[:-2, 1:-1, 1:-1] + a[2:, 1:-1, 1:-1] + a[1:-1, :-2, 1:-1] + a[1:-1, 2:, 1:-1]
            + a[1:-1, 1:-1, :-2] + a[1:-1, 1:-1, 2:] - 6 * a[1:-1, 1:-1, 1:-1])
    assert torch.allclose(lap[1:-1, 1:-1, 1:-1], want, atol=1e-5)


@pytest.mark.parametrize("name", IMAGE_ONLY)
def test_grid_samplers_reject_irregular_grids(name):
    x = torch.rand(12, 2)
    view = View(_model(1), x, torch.rand(12, 1), (12, 1), "points", 5)  # a side of length 1
    with pytest.raises(ValueError, match="regular 1D, 2D or 3D grid"):
        make_sampler(name, ratio=0.2, seed=0).setup(view)


@pytest.mark.parametrize("name", ["full", "uniform", "int", "nint"])
def test_generic_samplers_work_on_audio(name):
    view = _audio_view()
    for sel in _drive(make_sampler(name, ratio=0.25, seed=0), view, range(3)):
        _check_indices(sel, view, name)
        assert len(sel.indices) == (64 if name == "full" else 16)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name", ["uniform", "int", "nint", "egra", "soft", "evos", "expansive"])
@pytest.mark.parametrize("bad", [0, -1, 1.2])
def test_bad_ratio(name, bad):
    with pytest.raises(ValueError, match="ratio"):
        make_sampler(name, ratio=bad)


def test_unknown_sampler_lists_names():
    with pytest.raises(ValueError) as e:
        make_sampler("random")
    for name in SAMPLERS:
        assert name in str(e.value)


@pytest.mark.parametrize("name, kw", [
    ("uniform", {"temperature": 2}), ("nint", {"beta": 1}), ("int", {"interval": "sparse"}),
    ("uniform", {"schedule": "cosine"}), ("egra", {"p": 0.1}),
])
def test_bad_kwargs(name, kw):
    with pytest.raises(ValueError):
        make_sampler(name, ratio=0.2, **kw)


# --------------------------------------------------------------------------- no full forward

@pytest.mark.parametrize("name", ["uniform", "egra", "expansive", "full", "soft", "evos"])
def test_no_full_forward(name, cam16):
    view = CountingView(_model(hidden=8), cam16.coords, cam16.values, cam16.shape, "image", 100)
    sels = _drive(make_sampler(name, ratio=0.2, seed=0), view, range(8))
    if name == "evos":
        assert any(not s.full for s in sels)
    assert view.residual_calls == 0


@pytest.mark.parametrize("name", ["int", "nint"])
def test_error_samplers_do_use_residuals(name, cam16):
    # the counter above does see calls (control)
    view = CountingView(_model(hidden=8), cam16.coords, cam16.values, cam16.shape, "image", 100)
    _drive(make_sampler(name, ratio=0.2, seed=0), view, range(3))
    assert view.residual_calls >= 3


# --------------------------------------------------------------------------- global RNG

@pytest.mark.parametrize("name", ALL)
def test_global_rng_untouched(name, cam16):
    view = _view(cam16, hidden=8)
    smp = make_sampler(name, ratio=0.2, seed=0)
    torch.manual_seed(12345 + len(name))  # a state no library reseed would reproduce
    torch.rand(3)
    np.random.seed(54321)
    np.random.rand(3)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    _drive(smp, view, range(4))
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


# --------------------------------------------------------------------------- fit

@pytest.mark.parametrize("name", ALL)
def test_fit_every_sampler(name, cam16):
    model = _model(hidden=16)
    h = nl.fit(model, cam16, name, steps=20, lr=1e-3, device="cpu", progress=False, eval_every=10)
    assert h.sampler == name
    assert h.steps == [0, 10, 20]
    assert all(math.isfinite(p) for p in h.psnr)
    assert h.psnr[-1] > h.psnr[0], h.psnr


def test_fit_accepts_a_sampler_object(cam16):
    smp = make_sampler("int", ratio=0.3, seed=0, interval="incremental")
    h = nl.fit(_model(hidden=8), cam16, smp, steps=12, lr=1e-3, device="cpu", progress=False)
    assert h.sampler == "int"
    assert smp.selections == 8  # T = 12: dense for t < 3, then phases of 1.8 steps: 3, 5, 7, 9, 11
