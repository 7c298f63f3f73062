"""The GPU path, checked on a GPU (issue 17, item 6); every test is skipped without CUDA.

    sync       no host-device sync in any sampler's training step: sampler(t), train_step and
               Adam's step run under torch.cuda.set_sync_debug_mode("error"), which raises on
               the first synchronising CUDA call. NINT's scheduled refreshes (steps 0, 10, 20)
               run inside the mode too; EVOS key steps sync by design (one host read of the
               split between its two fitness sets) and run outside it.
    kernel     CPU and CUDA agree on ntk.matvec, ntk.diagonal and ntk.nint_scores (TF32 off).
    fit        one short fit per sampler trains where the model is (CUDA) and leaves it there.
    checkpoint a checkpoint saved on one device loads on the other with the same predictions.
    precision  fit(precision="tf32" | "bf16") runs and records its policy.

The CPU twin of the sync check is tests/test_no_sync.py. Notebooks 01–05 with CUDA visible run
through nbval in `make gpu-check` (nint_lite/lab/gpu_check.py, part b), not here.
"""
import contextlib
import copy
import math

import pytest
import torch

import nint_lite as nl
from nint_lite.baselines import evos_is_key
from nint_lite.lab.compare import summarise

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

DEV = "cuda"
SAMPLERS = sorted(nl.samplers.SAMPLERS)
# float32 on both devices with TF32 off: results differ only by summation order (reductions over
# N = 1024 coordinates and 64-wide layers, ~1e-6 relative); 1e-4 leaves room for SIREN's
# ω0 = 30 amplifying its inputs' rounding. atol is 1e-4 of the largest |value|, for the entries
# near zero where a relative tolerance means nothing (K v of a random v cancels).
RTOL = 1e-4


def assert_agree(cpu: torch.Tensor, dev: torch.Tensor, rtol: float = RTOL):
    torch.testing.assert_close(dev.cpu(), cpu, rtol=rtol, atol=rtol * cpu.abs().max().item())


@contextlib.contextmanager
def sync_debug(mode: str):
    """torch.cuda.set_sync_debug_mode for the body, the previous mode restored afterwards."""
    before = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(before)


@pytest.fixture(scope="module")
def sig():
    return nl.sample_signal("astronaut", size=32)  # a grid: EGRA, Soft, EVOS, Expansive need one


def small_model(sig):
    return nl.make_model("siren", sig, hidden=32, layers=2, seed=0)


@pytest.mark.parametrize("name", SAMPLERS)
def test_no_host_sync_in_a_training_step(name, sig):
    T = 30
    model = small_model(sig).to(DEV)
    x, y = sig.coords.to(DEV), sig.values.to(DEV)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)  # as fit takes it on CUDA
    sampler = nl.make_sampler(name, seed=0).bind(model, x, y, sig.shape, steps=T, optimizer=opt)
    for t in range(T):
        by_design = name == "evos" and evos_is_key(t + 1, T)  # key steps: official epoch t + 1
        with sync_debug("default" if by_design else "error"):
            sel = sampler(t)
            opt.zero_grad(set_to_none=True)
            nl.train_step(model, x, y, sel, sampler, t)
            opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_cpu_and_cuda_agree_on_the_kernel():
    model = nl.make_model("siren", 2, 3, hidden=64, layers=3, seed=0)
    twin = copy.deepcopy(model).to(DEV)
    x = nl.grid((32, 32))
    v = torch.randn(x.shape[0], 3, generator=torch.Generator().manual_seed(0))
    xd, vd = x.to(DEV), v.to(DEV)
    with nl.device.precision("fp32", DEV):
        assert_agree(nl.ntk.matvec(model, x, v, chunk_size=256), nl.ntk.matvec(twin, xd, vd, chunk_size=256))
        assert_agree(nl.ntk.diagonal(model, x), nl.ntk.diagonal(twin, xd))
        assert_agree(nl.ntk.nint_scores(model, x, v), nl.ntk.nint_scores(twin, xd, vd))


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_short_fit_trains_where_the_model_is(name, sig):
    model = small_model(sig).to(DEV)
    h = nl.fit(model, sig, name, steps=20, eval_every=10, progress=False)  # device=None
    assert next(model.parameters()).device.type == "cuda"
    assert sig.coords.device.type == "cpu"  # the caller's signal is not moved in place
    assert h.steps[-1] == 20 and all(math.isfinite(p) for p in h.psnr)


def test_a_checkpoint_loads_on_the_other_device(sig, tmp_path):
    x = sig.coords
    with nl.device.precision("fp32", DEV):
        on_gpu = small_model(sig).to(DEV)
        nl.fit(on_gpu, sig, "nint", steps=10, progress=False, save_to=tmp_path / "gpu.pt")
        to_cpu, hist = nl.load_checkpoint(tmp_path / "gpu.pt", device="cpu")
        assert hist.steps[-1] == 10 and next(to_cpu.parameters()).device.type == "cpu"
        assert_agree(nl.predict(to_cpu, x), nl.predict(on_gpu, x.to(DEV)))

        on_cpu = small_model(sig)
        nl.fit(on_cpu, sig, "nint", steps=10, progress=False, save_to=tmp_path / "cpu.pt")
        to_gpu, _ = nl.load_checkpoint(tmp_path / "cpu.pt", device=DEV)
        assert next(to_gpu.parameters()).device.type == "cuda"
        assert_agree(nl.predict(on_cpu, x), nl.predict(to_gpu, x.to(DEV)))


@pytest.mark.parametrize("policy", ["tf32", "bf16"])
def test_precision_policies_run_and_are_recorded(policy, sig):
    before = torch.get_float32_matmul_precision()
    model = small_model(sig).to(DEV)
    h = nl.fit(model, sig, "nint", steps=20, eval_every=10, precision=policy, progress=False)
    assert h.precision == policy and math.isfinite(h.final["psnr"])
    assert torch.get_float32_matmul_precision() == before  # the policy ends with the fit
    machine = summarise({"nint": [h]}, device=DEV)["machine"]
    assert machine["precision"] == policy and machine["gpu"] and machine["cuda"]
