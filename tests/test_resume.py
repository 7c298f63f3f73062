"""Resumable runs: a fit saved part-way and resumed ends exactly where one straight run ends."""
import pytest
import torch

import nint_lite as nl

STEPS = 50


@pytest.fixture(scope="module")
def cam():
    return nl.sample_signal("camera", size=16)


def _m():
    return nl.make_model("siren", 2, 1, hidden=16, layers=2, seed=5)


def _params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


class Crash(Exception):
    pass


def _crash_at(step, exc):
    def cb(s, hist, model):
        if s == step:
            raise exc
    return cb


@pytest.mark.parametrize("name", sorted(nl.samplers.SAMPLERS))
def test_interrupt_save_and_resume_is_bit_identical(cam, name, tmp_path):
    kw = dict(steps=STEPS, eval_every=25, progress=False, lr_schedule="cosine")
    straight = _m()
    h_straight = nl.fit(straight, cam, nl.make_sampler(name, seed=1), **kw)

    ck = tmp_path / "run.pt"
    first = _m()
    h1 = nl.fit(first, cam, nl.make_sampler(name, seed=1), save_to=ck,
                callbacks=[_crash_at(25, KeyboardInterrupt())], **kw)  # Ctrl-C at step 25
    assert h1.interrupted and h1.steps[-1] == 25
    resumed = _m()  # a fresh process would rebuild the model like this
    h2 = nl.fit(resumed, cam, nl.make_sampler(name, seed=1), resume_from=ck, **kw)
    assert torch.equal(_params(resumed), _params(straight))
    assert h2.steps == h_straight.steps and h2.psnr == h_straight.psnr
    assert h2.stopped_by == "steps" and not h2.interrupted


def test_periodic_checkpoints_survive_a_crash(cam, tmp_path):
    kw = dict(steps=60, eval_every=10, progress=False)
    straight = _m()
    nl.fit(straight, cam, "nint", **kw)
    ck = tmp_path / "run.pt"
    with pytest.raises(Crash):  # a crash at step 40: the checkpoint of step 20 is on disk
        nl.fit(_m(), cam, "nint", save_to=ck, checkpoint_every=20,
               callbacks=[_crash_at(40, Crash())], **kw)
    assert torch.load(ck, weights_only=True)["run"]["step"] == 20
    resumed = _m()
    h = nl.fit(resumed, cam, "nint", resume_from=ck, **kw)
    assert h.steps == list(range(0, 61, 10))
    assert torch.equal(_params(resumed), _params(straight))


def test_resume_and_checkpoint_errors(cam, tmp_path):
    ck = tmp_path / "plain.pt"
    nl.save_checkpoint(ck, _m())  # weights only: nothing to resume
    with pytest.raises(ValueError, match="no run to resume"):
        nl.fit(_m(), cam, steps=2, progress=False, resume_from=ck)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        nl.fit(_m(), cam, steps=10, eval_every=4, save_to=ck, checkpoint_every=6, progress=False)
    with pytest.raises(ValueError, match="make_model"):
        nl.fit(torch.nn.Sequential(torch.nn.Linear(2, 1)), cam, steps=2, lr=1e-3, save_to=ck,
               progress=False)


# --------------------------------------------------------------------------- precision policy

def test_precision_policy_is_applied_recorded_and_restored(cam):
    seen = []
    torch.set_float32_matmul_precision("high")  # a user's own global choice
    try:
        h = nl.fit(_m(), cam, "uniform", steps=4, progress=False,
                   callbacks=[lambda s, hist, m: seen.append(torch.get_float32_matmul_precision())])
        assert h.precision == "fp32" and set(seen) == {"highest"}  # TF32 off during the fit
        assert torch.get_float32_matmul_precision() == "high"  # and the user's flag is back
    finally:
        torch.set_float32_matmul_precision("highest")
    res = nl.compare(cam, ["full", "nint"], hidden=16, layers=2, steps=4, targets=(10.0,),
                     progress=False, precision="bf16")
    assert res.table["machine"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        nl.fit(_m(), cam, steps=2, progress=False, precision="fp8")


def test_bf16_autocasts_training_but_evaluates_in_float32(cam):
    m32, m16 = _m(), _m()
    h32 = nl.fit(m32, cam, "nint", steps=10, progress=False)
    h16 = nl.fit(m16, cam, "nint", steps=10, progress=False, precision="bf16")
    assert h16.precision == "bf16"
    assert not torch.equal(_params(m32), _params(m16))  # the steps really ran in bfloat16
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    assert abs(h16.psnr[-1] - h32.psnr[-1]) < 1.0  # and still train about as well
    assert h16.psnr[0] == h32.psnr[0]  # evaluation of the same initial weights: float32 both


# --------------------------------------------------------------------------- torch.compile

@pytest.mark.slow  # ~35 s: compiling the forward and backward on a 2-core CPU
def test_compile_trains_like_eager_and_compare_warms_up_with_it(cam):
    kw = dict(steps=3, progress=False)
    h_c = nl.fit(nl.make_model("siren", cam, hidden=8, layers=1), cam, "nint", compile=True, **kw)
    h_e = nl.fit(nl.make_model("siren", cam, hidden=8, layers=1), cam, "nint", **kw)
    assert h_c.psnr == pytest.approx(h_e.psnr, abs=1e-5)
    res = nl.compare(cam, ["uniform"], hidden=8, layers=1, steps=2, targets=(5.0,),
                     progress=False, compile=True)  # the warm-up runs the compiled path too
    assert res.table["protocol"]["compile"] is True
