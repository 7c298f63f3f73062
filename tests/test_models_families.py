"""Unit tests for the wire, finer and gauss families in nint_lite.models."""
import math

import pytest
import torch
from torch import nn

import nint_lite as nl
from nint_lite.models import MODELS, RECOMMENDED_LR, Finer, Gabor, Gauss, make_model

FAMILIES = ["wire", "finer", "gauss"]


def _coords(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * 2 - 1


def test_registered_with_their_learning_rates():
    assert set(FAMILIES) <= set(MODELS)
    assert {k: RECOMMENDED_LR[k] for k in FAMILIES + ["pemlp"]} == {
        "wire": 5e-3, "finer": 5e-4, "gauss": 5e-3, "pemlp": 1e-3}


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("c", [1, 3])
def test_shapes(name, d, c):
    m = make_model(name, in_features=d, out_features=c, hidden=16, layers=2, seed=0)
    lins = [mod for mod in m.net if isinstance(mod, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in lins] == [(d, 16), (16, 16), (16, c)]
    # the NTK closed form needs Linear, parameter-free activation, Linear, …
    assert all(not list(mod.parameters()) for mod in m.net[1::2])
    with torch.no_grad():
        y = m(_coords(7, d))
    assert y.shape == (7, c) and y.dtype == torch.float32 and torch.isfinite(y).all()


@pytest.mark.parametrize("name", FAMILIES)
def test_seeding_and_global_rng(name):
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a = make_model(name, 2, 3, hidden=16, layers=2, seed=7).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(99)  # the global RNG must not leak into the initialisation either
    b = make_model(name, 2, 3, hidden=16, layers=2, seed=7).state_dict()
    c = make_model(name, 2, 3, hidden=16, layers=2, seed=8).state_dict()
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
        assert not torch.equal(a[k], c[k]), k


@pytest.mark.parametrize("name,kw", [("wire", {"omega0": 5.0, "sigma0": 3.0}),
                                     ("finer", {"omega0": 10.0, "first_bias_scale": None}),
                                     ("gauss", {"scale": 4.0})])
def test_spec_rebuilds_the_network(name, kw):
    m = make_model(name, 2, 1, hidden=8, layers=2, seed=3, **kw)
    again = make_model(**m.spec)
    assert all(torch.equal(p, q) for p, q in zip(m.state_dict().values(),
                                                   again.state_dict().values()))
    assert repr(m) == repr(again)


def test_activation_formulas():
    x = torch.tensor([-0.3, -0.05, 0.0, 0.02, 0.1, 0.7])
    for i, v in enumerate(x.tolist()):
        assert Gabor(20.0, 10.0)(x)[i].item() == pytest.approx(
            math.exp(-(10 * v) ** 2) * math.cos(20 * v), abs=1e-6)
        assert Finer(30.0)(x)[i].item() == pytest.approx(math.sin(30 * (abs(v) + 1) * v), abs=1e-5)
        assert Gauss(10.0)(x)[i].item() == pytest.approx(math.exp(-(10 * v) ** 2), abs=1e-6)
    # FINER's |x|+1 is a no-grad frequency scale (official code): d/dx = ω0(|x|+1)cos(·)
    xg = x.clone().requires_grad_()
    Finer(30.0)(xg).sum().backward()
    assert torch.allclose(xg.grad, 30 * (x.abs() + 1) * torch.cos(30 * (x.abs() + 1) * x))


def test_defaults_and_init():
    m = make_model("wire", 2, 1, hidden=64, layers=2)
    assert (m.net[1].omega0, m.net[1].sigma0) == (20.0, 10.0)
    assert m.net[2].weight.abs().max().item() <= 1 / math.sqrt(64)  # nn.Linear's default bound
    assert make_model("gauss", 2, 1, hidden=8, layers=1).net[1].scale == 10.0
    m = make_model("finer", 2, 1, hidden=256, layers=2)
    assert m.net[1].omega0 == 30.0 and m.net[0].weight.abs().max().item() <= 0.5  # SIREN first layer
    assert m.net[0].bias.abs().max().item() > 0.9  # FINER's wide first bias U(-1, 1)
    m = make_model("finer", 2, 1, hidden=256, layers=2, first_bias_scale=None)
    assert m.net[0].bias.abs().max().item() <= 1 / math.sqrt(2)


@pytest.mark.parametrize("name,kw", [("wire", {"scale": 1.0}), ("finer", {"sigma0": 1.0}),
                                     ("gauss", {"omega0": 1.0})])
def test_bad_keyword(name, kw):
    with pytest.raises(ValueError, match=f"bad option for model '{name}'"):
        make_model(name, hidden=16, layers=2, **kw)


@pytest.mark.parametrize("name", FAMILIES)
def test_ntk_closed_form_matches_jacobian(name):
    m = make_model(name, 2, 3, hidden=16, layers=2, seed=0)
    x = _coords(16, 2, seed=1)
    auto = nl.ntk.diagonal(m, x, method="auto")
    ref = nl.ntk.diagonal(m, x, method="jacobian")
    assert torch.equal(auto, nl.ntk.diagonal(m, x, method="closed_form"))  # auto took it
    assert torch.allclose(auto, ref, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def camera32():
    return nl.sample_signal("camera", size=32)


@pytest.mark.parametrize("name", FAMILIES)
def test_fits_camera(name, camera32):
    # Measured (seed 0, 2-core CPU): wire 20.4, finer 132, gauss 110 dB; predicting the mean
    # gives 11.2 dB. Wire's final PSNR swings with constant-lr Adam noise, hence the margin.
    model = nl.make_model(name, in_features=2, out_features=1, hidden=64, layers=3, seed=0)
    hist = nl.fit(model, camera32, steps=300, lr=nl.RECOMMENDED_LR[name], eval_every=300,
                  progress=False, device="cpu")
    v = camera32.values
    mean_psnr = 10 * math.log10(1 / torch.mean((v - v.mean()) ** 2).item())
    assert hist.psnr[0] < mean_psnr < 12
    assert hist.psnr[-1] > 17.0
