"""The full trainer (chapter 5): stopping rules, clocks, faults, checkpoints, the device rule,
train_step and a loop you write yourself."""
import json

import pytest
import torch

import nint_lite as nl
from nint_lite.plots import LivePlot, SaveReconstructions
from nint_lite.train import fit, load_checkpoint


@pytest.fixture(scope="module")
def cam():
    return nl.sample_signal("camera", size=16)


def _m(seed=0, c=1):
    return nl.make_model("siren", 2, c, hidden=16, layers=2, seed=seed)


def _fit(model, sig, sampler=None, **kw):
    kw.setdefault("lr", 1e-3)
    kw.setdefault("progress", False)
    kw.setdefault("device", "cpu")
    return fit(model, sig, sampler, **kw)


@pytest.mark.parametrize("name", sorted(nl.samplers.SAMPLERS))
def test_every_sampler_trains(cam, name):
    h = _fit(_m(), cam, name, steps=30, eval_every=10)
    assert h.sampler == name and h.steps == [0, 10, 20, 30]
    assert h.psnr[-1] > h.psnr[0]


def test_stops_at_target_psnr(cam):
    h = _fit(_m(), cam, steps=500, eval_every=5, target_psnr=15.0)
    assert h.stopped_by == "target_psnr"
    assert h.psnr[-1] >= 15.0 and all(p < 15.0 for p in h.psnr[:-1])
    assert h.steps[-1] < 500


def test_stops_at_time_budget(cam):
    h = _fit(_m(), cam, seconds=0.3, eval_every=1000)
    assert h.stopped_by == "seconds"
    assert 0.3 <= h.train_seconds[-1] < 5.0
    assert h.steps[-1] > 1


def test_steps_reason_and_cosine_schedule(cam):
    h = _fit(_m(), cam, steps=10, lr_schedule="cosine")
    assert h.stopped_by == "steps" and h.steps[-1] == 10


@pytest.mark.parametrize("kw, match", [
    (dict(steps=None, seconds=None), "steps, seconds"),
    (dict(steps=5, target_psnr=0), "target_psnr"),
    (dict(steps=5, target_psnr=-3), "target_psnr"),
    (dict(steps=5, seconds=-1), "seconds"),
    (dict(seconds=1.0, lr_schedule="cosine"), "cosine"),
    (dict(steps=5, lr_schedule="banana"), "lr_schedule"),
])
def test_bad_arguments(cam, kw, match):
    with pytest.raises(ValueError, match=match):
        _fit(_m(), cam, **kw)


class _NaNAt(nl.samplers.Uniform):
    """A sampler whose loss turns NaN at step t = 6 (the 7th step)."""

    def loss(self, pred, target, sel, t, view):
        loss = super().loss(pred, target, sel, t, view)
        return loss * float("nan") if t == 6 else loss


def test_nan_loss_names_the_step(cam):
    with pytest.raises(FloatingPointError, match=r"at step 7;.*lower learning rate"):
        _fit(_m(), cam, _NaNAt(), steps=50, eval_every=25)


def test_record_selections(cam):
    h = _fit(_m(), cam, "uniform", steps=5, record_selections=(0, 3))
    assert set(h.selections) == {0, 3}
    assert len(h.selections[0]) == round(0.2 * cam.n) and h.selections[0] != h.selections[3]


def test_checkpoint_reproduces_reconstruction(cam, tmp_path):
    model = _m()
    h = _fit(model, cam, "nint", steps=15, save_to=tmp_path / "ck.pt")
    back, hist = load_checkpoint(tmp_path / "ck.pt")
    assert torch.equal(nl.predict(back, cam.coords), nl.predict(model, cam.coords))
    assert hist.psnr == h.psnr and hist.sampler == "nint"
    with pytest.raises(ValueError, match="make_model"):
        nl.train.save_checkpoint(tmp_path / "x.pt", torch.nn.Linear(2, 1))


def test_callbacks_live_plot_and_reconstructions(cam, tmp_path):
    saver = SaveReconstructions(cam, tmp_path / "rec")
    live = LivePlot()
    h = _fit(_m(), cam, steps=10, eval_every=5, callbacks=[saver, live])
    assert [p.name for p in saver.saved] == ["step_000000.png", "step_000005.png", "step_000010.png"]
    assert all(p.stat().st_size > 0 for p in saver.saved)
    assert live.updates == 3 and h.steps == [0, 5, 10]


@pytest.mark.parametrize("sampler", ["full", "nint", "egra", "soft", "evos"])
def test_chunked_training_step_gives_the_one_pass_gradient(cam, sampler):
    # cam is 16×16: chunks of 7 coordinates split both the full batch (256) and B = 51
    params = []
    for chunk in (7, 10 ** 6):
        m = _m(seed=3)
        fit(m, cam, nl.make_sampler(sampler, seed=0), steps=5, lr=1e-3, progress=False, device="cpu",
            train_chunk_size=chunk, eval_chunk_size=chunk)
        params.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
    assert torch.allclose(params[0], params[1], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="chunk sizes"):
        fit(_m(), cam, steps=1, train_chunk_size=0, progress=False)


def _params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


# --------------------------------------------------------------------------- a loop you write

@pytest.mark.parametrize("name", sorted(nl.samplers.SAMPLERS))
def test_a_loop_you_write_matches_fit(cam, name):
    """The README's "bring your own loop": the same selections and bit-identical parameters."""
    T = 12
    m1 = _m(seed=1)
    h = fit(m1, cam, nl.make_sampler(name, seed=0), steps=T, lr=1e-3, progress=False,
            record_selections=range(T))
    m2 = _m(seed=1)
    x, y = cam.coords, cam.values
    opt = torch.optim.Adam(m2.parameters(), lr=1e-3)
    smp = nl.make_sampler(name, seed=0).bind(m2, x, y, cam.shape, steps=T, optimizer=opt)
    for t in range(T):
        sel = smp(t)
        assert sel.indices.tolist() == h.selections[t], f"step {t}"
        opt.zero_grad()
        # Soft Mining trains on positions off the grid: sel.coords / sel.targets when set
        xs, ys = (x[sel.indices], y[sel.indices]) if sel.coords is None else (sel.coords, sel.targets)
        smp.loss(m2(xs), ys, sel, t).backward()
        opt.step()
    assert torch.equal(_params(m1), _params(m2))


def test_train_step_accumulates_and_takes_a_global_mean(cam):
    x, y = cam.coords, cam.values
    idx = torch.arange(0, 200, 3)
    m1, m2 = _m(seed=2), _m(seed=2)
    loss = nl.train_step(m1, x, y, idx, chunk_size=10)  # a plain index tensor works too
    ref = torch.mean((m2(x[idx]) - y[idx]) ** 2)
    ref.backward()
    assert torch.allclose(loss, ref.detach(), rtol=1e-5)
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-7)
    # total=: the mean over a larger global batch (what each rank computes in distributed fit)
    m3 = _m(seed=2)
    half = nl.train_step(m3, x, y, idx, chunk_size=10, total=2 * len(idx))
    assert torch.allclose(half, loss / 2, rtol=1e-5)
    nl.train_step(m3, x, y, idx, chunk_size=10, total=2 * len(idx))  # accumulates: now the full gradient
    for p, q in zip(m3.parameters(), m1.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-7)


# --------------------------------------------------------------------------- the device rule, defaults

def test_default_device_is_the_models_and_the_model_stays_there(cam):
    model = _m()
    before = [(p, p.device) for p in model.parameters()]
    fit(model, cam, "nint", steps=3, progress=False)  # no device=: train where the model is
    assert [(p, p.device) for p in model.parameters()] == before  # same tensors, same device
    assert cam.coords.device.type == "cpu"  # the signal itself is not moved in place


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_model_stays_on_cpu_when_cuda_is_available(cam):
    model = _m()
    fit(model, cam, "nint", steps=3, progress=False)
    assert all(p.device.type == "cpu" for p in model.parameters())
    fit(model, cam, "nint", steps=3, progress=False, device="cuda")  # explicit: moves the model
    assert all(p.device.type == "cuda" for p in model.parameters())


def test_lr_defaults_to_the_familys_recommended_lr(cam):
    m1, m2 = _m(seed=4), _m(seed=4)
    fit(m1, cam, "uniform", steps=5, progress=False)
    fit(m2, cam, "uniform", steps=5, progress=False, lr=nl.RECOMMENDED_LR["siren"])
    assert torch.equal(_params(m1), _params(m2))
    with pytest.raises(ValueError, match="give lr="):
        fit(torch.nn.Sequential(torch.nn.Linear(2, 1)), cam, steps=2, progress=False)


def test_a_sampler_instance_keeps_its_parameters_and_seed(cam):
    smp = nl.make_sampler("uniform", ratio=0.5, seed=7)
    h = fit(_m(), cam, smp, steps=2, progress=False, seed=0, record_selections=[0])
    assert len(h.selections[0]) == cam.n // 2
    ref = torch.randperm(cam.n, generator=torch.Generator().manual_seed(7))[:cam.n // 2]
    assert h.selections[0] == ref.tolist()


def test_make_sampler_reports_bad_keywords_but_not_its_own_bugs():
    with pytest.raises(ValueError, match="bad parameter"):
        nl.make_sampler("nint", banana=1)

    class Buggy(nl.Sampler):
        name = "buggy-test"

        def __init__(self, ratio=0.2, seed=0):
            super().__init__(ratio, seed)
            len(3)  # a real bug inside the constructor must surface as itself

    nl.samplers.register(Buggy)
    try:
        with pytest.raises(TypeError, match="has no len"):
            nl.make_sampler("buggy-test")
    finally:
        del nl.samplers.SAMPLERS["buggy-test"]


def test_siren_for_audio_gets_its_frequency_and_a_warning_otherwise():
    audio = nl.sample_signal("audio", seconds=0.05)
    assert nl.make_model("siren", audio).spec["first_w0"] == 3000.0
    assert nl.make_model("siren", audio, first_w0=100.0).spec["first_w0"] == 100.0
    m = nl.make_model("siren", audio)
    assert (m.spec["in_features"], m.spec["out_features"]) == (1, 1)
    with pytest.warns(UserWarning, match="3000"):
        fit(nl.make_model("siren", 1, 1, hidden=16, layers=2), audio, steps=1, progress=False)


def test_checkpoints_load_with_weights_only(cam, tmp_path):
    model = _m()
    h = _fit(model, cam, "nint", steps=4, save_to=tmp_path / "ck.pt")
    raw = torch.load(tmp_path / "ck.pt", weights_only=True)  # no pickled code in the file
    assert raw["spec"]["name"] == "siren" and raw["history"]["psnr"] == h.psnr
    nl.save_checkpoint(tmp_path / "again.pt", model, h)  # exported at the top level
    assert nl.load_checkpoint(tmp_path / "again.pt")[1].psnr == h.psnr
