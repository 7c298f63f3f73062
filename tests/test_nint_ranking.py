"""NINT's cheaper error rankings (issue 18): `errors` = fresh / pool / periodic / rolling / free and
`rank_precision`. Each mode is checked against an independent computation of what it must rank."""
import pytest
import torch

import nint_lite as nl
from nint_lite.samplers import View

T_LATE = 60  # the NTK share has decayed to 0 by then: the batch is error part + random part


@pytest.fixture(scope="module")
def cam():
    return nl.sample_signal("camera", size=24)


def _model(seed=3):
    return nl.make_model("siren", 2, 1, hidden=24, layers=2, seed=seed)


def _bind(sig, model, **kw):
    smp = nl.make_sampler("nint", seed=0, **kw)
    smp.setup(View(model, sig.coords, sig.values, sig.shape, "image", 100))
    return smp


def _exact_errors(model, sig):
    with torch.no_grad():
        return (model(sig.coords) - sig.values).norm(dim=1)


def _err_part(smp, sel, t):
    b = smp.batch_size(t, smp.view.steps)
    n_ntk = round(smp.share(t) * b)
    n_rand = min(round(smp.xi * b), b - n_ntk)
    return sel.indices[n_ntk:b - n_rand]


def _train(model, sig, smp, steps, t0=0):
    """steps fit steps as nl.fit takes them (select, train_step with the sampler, Adam)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sels = []
    for t in range(t0, t0 + steps):
        sel = smp(t)
        opt.zero_grad()
        nl.train_step(model, sig.coords, sig.values, sel, smp, t)
        opt.step()
        sels.append(sel.indices.clone())
    return sels


@pytest.mark.parametrize("kw", [dict(errors="periodic", errors_every=1), dict(errors="rolling", errors_every=1),
                                dict(errors="pool", pool=100.0)])
def test_modes_that_see_every_coordinate_equal_the_paper(cam, kw):
    """errors_every=1 refreshes all N each step, and a pool as large as N holds every untaken
    coordinate: the error sets are the paper's (pool: its random part then differs)."""
    a, b = _model(), _model()
    ref = _train(a, cam, _bind(cam, a), 70)
    got = _train(b, cam, s := _bind(cam, b, **kw), 70)
    if kw["errors"] != "pool":
        assert all(torch.equal(x, y) for x, y in zip(ref, got))
    else:  # same error part at the first step, from the same model
        s2 = _bind(cam, _model(), **kw)
        s1 = _bind(cam, _model())
        assert torch.equal(_err_part(s1, s1(0), 0), _err_part(s2, s2(0), 0))


def test_pool_ranks_a_fresh_uniform_pool_of_c_times_b(cam, monkeypatch):
    model = _model()
    smp = _bind(cam, model, errors="pool", pool=1.5)
    _train(model, cam, smp, T_LATE)
    seen = {}
    real = View.residuals_at

    def spy(self, idx=None, dtype=None):
        seen["idx"] = idx.clone()
        return real(self, idx, dtype)
    monkeypatch.setattr(View, "residuals_at", spy)
    sel = smp(T_LATE)
    b = smp.batch_size(T_LATE, 100)
    pool = seen["idx"]
    assert len(pool) == round(1.5 * b) and len(set(pool.tolist())) == len(pool)
    err = _err_part(smp, sel, T_LATE)
    exact = _exact_errors(model, cam)[pool]
    expect = pool[torch.topk(exact, len(err)).indices]
    assert set(err.tolist()) == set(expect.tolist())
    assert len(set(sel.indices.tolist())) == b  # the three parts stay disjoint


def test_periodic_keeps_trained_errors_from_the_training_forward(cam):
    model = _model()
    smp = _bind(cam, model, errors="periodic", errors_every=3)
    _train(model, cam, smp, T_LATE)  # T_LATE = 60: a refresh step (60 % 3 == 0) comes next
    sel = smp(T_LATE)
    assert torch.allclose(smp.err, _exact_errors(model, cam), atol=1e-6)  # refreshed at t = 60
    before = _exact_errors(model, cam)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    nl.train_step(model, cam.coords, cam.values, sel, smp, T_LATE)
    opt.step()
    trained = sel.indices
    assert torch.allclose(smp.err[trained], before[trained], atol=1e-6)
    untouched = torch.ones(cam.n, dtype=torch.bool).index_fill(0, trained, False)
    assert torch.allclose(smp.err[untouched], before[untouched], atol=1e-6)
    sel2 = smp(T_LATE + 1)  # not a refresh step: ranks the cache, not the new model's errors
    err = _err_part(smp, sel2, T_LATE + 1)
    expect = torch.topk(smp.err, len(err)).indices
    assert set(err.tolist()) == set(expect.tolist())


def test_rolling_refreshes_every_kth_row_in_turn(cam):
    model = _model()
    smp = _bind(cam, model, errors="rolling", errors_every=4)
    _train(model, cam, smp, T_LATE + 1)
    stale = smp.err.clone()
    smp(T_LATE + 1)
    fresh = _exact_errors(model, cam)
    rows = torch.arange((T_LATE + 1) % 4, cam.n, 4)
    assert torch.allclose(smp.err[rows], fresh[rows], atol=1e-6)
    rest = torch.ones(cam.n, dtype=torch.bool).index_fill(0, rows, False)
    assert torch.equal(smp.err[rest], stale[rest])


def test_free_never_ranks_all_n_after_the_first_step(cam, monkeypatch):
    model = _model()
    smp = _bind(cam, model, errors="free")
    calls = []
    real = View.residuals_at
    monkeypatch.setattr(View, "residuals_at", lambda self, idx=None, dtype=None: calls.append(idx) or real(self, idx, dtype))
    _train(model, cam, smp, 30)
    assert calls == [None]


def test_observe_is_the_same_with_chunked_training(cam):
    a, b = _model(), _model()
    sa, sb = _bind(cam, a, errors="free"), _bind(cam, b, errors="free")
    for smp, m, chunk in ((sa, a, 65536), (sb, b, 7)):
        sel = smp(T_LATE)  # late: the batch has an error part, so the cache exists
        before = smp.err.clone()
        nl.train_step(m, cam.coords, cam.values, sel, smp, T_LATE, chunk_size=chunk)
    assert torch.allclose(sa.err, sb.err, atol=1e-6)
    assert torch.allclose(sb.err, before, atol=1e-6)  # same model: the observed errors are the ranked ones


def test_bf16_ranking_is_a_real_autocast_close_to_fp32(cam):
    """Autocast changes the ranking forward's numbers (so it really ran in bf16), by at most a
    few bf16 ulps of f, and on an untrained model keeps the top-10 % set. Later in training the
    residuals shrink towards bf16's resolution and the sets part (bench rank measures how much)."""
    model = _model()
    view = View(model, cam.coords, cam.values, cam.shape)
    exact = view.residuals().norm(dim=1)
    low = view.residuals_at(None, torch.bfloat16).norm(dim=1)
    assert low.dtype == torch.float32 and not torch.equal(low, exact)
    assert (low - exact).abs().max() < 0.05
    k = cam.n // 10
    assert len(set(torch.topk(exact, k).indices.tolist()) & set(torch.topk(low, k).indices.tolist())) >= 0.9 * k
    assert torch.allclose(view.residuals_at(None), view.residuals(), atol=1e-6)  # fp32: the same pass


def test_fit_with_each_mode_trains_and_resumes(cam, tmp_path):
    kw = dict(steps=40, eval_every=20, progress=False, lr=1e-3)
    for mode in ("pool", "periodic", "rolling", "free"):
        straight = _model()
        h = nl.fit(straight, cam, nl.make_sampler("nint", seed=1, errors=mode), **kw)
        assert h.psnr[-1] > h.psnr[0] + 3
        ck = tmp_path / f"{mode}.pt"
        first = _model()

        def stop(s, hist, m):
            if s == 20:
                raise KeyboardInterrupt
        nl.fit(first, cam, nl.make_sampler("nint", seed=1, errors=mode), save_to=ck, callbacks=[stop], **kw)
        resumed = _model()
        nl.fit(resumed, cam, nl.make_sampler("nint", seed=1, errors=mode), resume_from=ck, **kw)
        assert all(torch.equal(p, q) for p, q in zip(resumed.parameters(), straight.parameters())), mode


@pytest.mark.parametrize("kw, msg", [(dict(errors="stale"), "unknown errors"), (dict(pool=0.5), "pool must be"),
                                     (dict(errors_every=0), "errors_every"), (dict(errors_every=2.5), "errors_every"),
                                     (dict(rank_precision="int8"), "unknown rank_precision")])
def test_bad_options_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        nl.make_sampler("nint", **kw)
