"""The full trainer (chapter 5): stopping rules, clocks, faults, checkpoints, compare, CLI."""
import json

import pytest
import torch

import nint_lite as nl
from nint_lite.__main__ import main
from nint_lite.train import LivePlot, SaveReconstructions, compare, fit, load_checkpoint


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


def test_compare_same_initial_weights_and_layout(cam):
    res, runs = compare(cam, ["full", "uniform", "nint"], hidden=16, layers=2, steps=20, lr=1e-3,
                        targets=(10.0, 99.0), seeds=(0, 1), device="cpu", progress=False)
    # every sampler starts from the same weights for a seed: identical PSNR at step 0
    for i in range(2):
        assert len({hs[i].psnr[0] for hs in runs.values()}) == 1
    assert runs["full"][0].psnr[0] != runs["full"][1].psnr[0]  # but seeds differ
    s = res["samplers"]["nint"]
    assert set(s) >= {"final_psnr", "train_seconds", "steps", "time_to", "steps_to", "history"}
    assert s["time_to"]["99.0"] is None and s["steps_to"]["99.0"] is None
    assert s["steps"] == 20 and res["machine"]["cpu_count"] >= 1
    json.dumps(res)


def test_compare_labelled_configurations_and_other_metrics(cam):
    configs = {"mix": ("nint", {"ntk_share": 0.0}), "nint": "nint", "dense": ("int", {"interval": "dense"})}
    res, runs = compare(cam, configs, hidden=16, layers=2, steps=10, lr=1e-3, targets=(10.0,),
                        seeds=(0,), device="cpu", progress=False)
    assert list(runs) == ["mix", "nint", "dense"] and runs["mix"][0].sampler == "mix"
    assert res["protocol"]["samplers"]["mix"] == {"name": "nint", "ntk_share": 0.0}
    # the mix really ran without the NTK part: its selections differ from the paper schedule's
    assert runs["mix"][0].psnr[-1] != runs["nint"][0].psnr[-1]
    with pytest.raises(ValueError, match="repeat"):
        compare(cam, ["nint", "nint"], steps=2, progress=False)
    with pytest.raises(ValueError, match="bad parameter"):
        compare(cam, {"x": ("nint", {"nope": 1})}, steps=2, progress=False)
    audio = nl.sample_signal("audio", seconds=0.01)
    res, runs = compare(audio, ["full", "nint"], hidden=16, layers=2, steps=6, lr=1e-4, targets=(-100.0, 500.0),
                        seeds=(0,), device="cpu", progress=False, metric="si_snr", model_kw={"first_w0": 300.0})
    s = res["samplers"]["nint"]
    assert s["time_to"]["-100.0"] == 0.0 and s["time_to"]["500.0"] is None
    assert s["final_si_snr"] == runs["nint"][0].final["si_snr"] and res["model"]["first_w0"] == 300.0


def test_cli_compare_and_fit_json(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compare", "--signal", "camera", "--size", "16", "--hidden", "16", "--layers", "2",
                 "--samplers", "full,nint", "--steps", "10", "--out", str(out), "--quiet",
                 "--target-psnr", "8"]) == 0
    text = capsys.readouterr().out
    assert "vs full" in text and "nint" in text
    res = json.loads((out / "compare_camera.json").read_text())
    assert set(res["samplers"]) == {"full", "nint"} and (out / "compare_camera.png").exists()
    assert main(["fit", "--signal", "camera", "--size", "16", "--hidden", "16", "--layers", "2",
                 "--samplers", "int", "--steps", "5", "--out", str(out), "--quiet",
                 "--json", str(out / "fit.json"), "--save"]) == 0
    one = json.loads((out / "fit.json").read_text())
    assert list(one["samplers"]) == ["int"] and "history" in one["samplers"]["int"]
    assert (out / "fit_camera_siren_int.pt").exists()
    assert main(["compare", "--samplers", "full,banana", "--steps", "2", "--size", "16"]) == 2


@pytest.mark.parametrize("sampler", ["full", "nint", "egra", "soft"])
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
