"""No host-device synchronisation in the training loop, checked on CPU.

A TorchDispatchMode sees every aten op while `fit` runs and records those that make the host
wait for the device on a GPU: reading a value back (.item(), int(), float(), bool() ->
_local_scalar_dense), and ops whose output shape depends on the data (nonzero, unique,
masked_select, indexing with a boolean mask). Evaluations read PSNR back by design, so a short
and a long run with the same number of evaluations must record the same number of such ops:
any difference is a per-step sync. Adam's step counter is a host-side scalar, not a device sync,
so the optimiser's step runs outside the recorder.
"""
from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

import nint_lite as nl

aten = torch.ops.aten
DATA_DEPENDENT = {aten._local_scalar_dense.default, aten.nonzero.default, aten._unique2.default,
                  aten.unique_dim.default, aten.unique_consecutive.default, aten.masked_select.default,
                  aten.repeat_interleave.Tensor}
INDEXING = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default,
            aten._index_put_impl_.default}


class SyncRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in DATA_DEPENDENT:
            self.ops[str(func)] += 1
        elif func in INDEXING and any(t is not None and t.dtype == torch.bool for t in args[1]):
            self.ops[f"{func} with a boolean mask"] += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def adam_outside_the_recorder(monkeypatch):
    step = torch.optim.Adam.step

    def quiet_step(self, *a, **kw):
        with _disable_current_modes():
            return step(self, *a, **kw)
    monkeypatch.setattr(torch.optim.Adam, "step", quiet_step)


def _syncs(name, steps, sig, **params):
    model = nl.make_model("siren", sig, hidden=16, layers=2, seed=0)
    with SyncRecorder() as rec:
        nl.fit(model, sig, nl.make_sampler(name, seed=0, **params), steps=steps, eval_every=steps,
               progress=False)
    return rec.ops


@pytest.mark.parametrize("name", sorted(nl.samplers.SAMPLERS))
def test_no_sync_per_training_step(name, adam_outside_the_recorder):
    sig = nl.sample_signal("camera", size=16)
    short, long = _syncs(name, 6, sig), _syncs(name, 30, sig)  # both: evaluations at 0 and the end
    assert long == short, f"{name}: per-step host syncs {dict(long - short)}"


@pytest.mark.parametrize("errors", ["pool", "periodic", "rolling", "free"])
def test_no_sync_in_nints_cheaper_rankings(errors, adam_outside_the_recorder):
    sig = nl.sample_signal("camera", size=16)
    short, long = _syncs("nint", 6, sig, errors=errors), _syncs("nint", 30, sig, errors=errors)
    assert long == short, f"nint errors={errors}: per-step host syncs {dict(long - short)}"


def test_the_recorder_sees_what_it_must(adam_outside_the_recorder):
    x = torch.rand(8)
    with SyncRecorder() as rec:
        _ = x[x > 0.5]
        _ = float(x.sum())
        _ = torch.unique(x)
        _ = x.masked_fill(x > 0.5, 0.0)  # fine: the shape does not depend on the data
        _ = x[torch.tensor([1, 2])]      # fine: an index tensor, not a mask
    assert sum(rec.ops.values()) == 3, rec.ops


def test_soft_mining_draws_edge_positions_past_multinomials_limit():
    """torch.multinomial refuses more than 2^24 categories (a 4096² image, a 256³ grid); Soft
    Mining's inverse-CDF draw does not. A 1D grid of 2^24 + 3 nodes whose edge PDF is a spike."""
    n = 2 ** 24 + 3
    smp = nl.make_sampler("soft", seed=0)
    smp.generator = torch.Generator().manual_seed(0)
    smp._set_grid((n,), "cpu")
    pdf = torch.zeros(n, dtype=torch.float64)
    pdf[n - 10:n - 5] = 1.0  # all the mass on five nodes near the far end
    smp.cdf = pdf.cumsum(0) / pdf.sum()
    u = smp._from_pdf(1000)
    nodes = ((u[:, 0] + 1) / 2 * (n - 1)).round().long()
    assert u.shape == (1000, 1) and bool((u.abs() <= 1).all())
    assert int(nodes.min()) >= n - 11 and int(nodes.max()) <= n - 5  # drawn where the mass is
    with pytest.raises(RuntimeError):
        torch.multinomial(pdf.float(), 1)  # what the old draw would have hit
