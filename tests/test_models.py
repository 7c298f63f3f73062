"""Unit tests for nint_lite.models: shapes, seeding, SIREN initialisation, errors, fitting."""
import math

import pytest
import torch
from torch import nn

import nint_lite as nl
from nint_lite.models import MODELS, RECOMMENDED_LR, Sine, make_model

NAMES = list(MODELS)


def _coords(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * 2 - 1


def _linears(model):
    return [m for m in model.net if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("c", [1, 3])
def test_output_shape(name, d, c):
    m = make_model(name, in_features=d, out_features=c, hidden=16, layers=2, seed=0)
    assert m.in_features == d and m.out_features == c
    with torch.no_grad():
        y = m(_coords(7, d))
    assert y.shape == (7, c)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_layers_counts_hidden_layers(name):
    for layers in (1, 2, 4):
        m = make_model(name, 2, 3, hidden=16, layers=layers)
        assert len(_linears(m)) == layers + 1
        assert _linears(m)[-1].out_features == 3


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_parameters(name):
    a = make_model(name, 2, 3, hidden=16, layers=2, seed=7).state_dict()
    b = make_model(name, 2, 3, hidden=16, layers=2, seed=7).state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("name", NAMES)
def test_different_seed_different_parameters(name):
    a = make_model(name, 2, 3, hidden=16, layers=2, seed=0)
    b = make_model(name, 2, 3, hidden=16, layers=2, seed=1)
    for (k, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert not torch.equal(pa, pb), k
    x = _coords(5, 2)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


@pytest.mark.parametrize("name", NAMES)
def test_make_model_leaves_global_rng_alone(name):
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    make_model(name, 2, 3, hidden=16, layers=2, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    # and the global RNG does not leak into the initialisation
    torch.manual_seed(1)
    a = make_model(name, 2, 3, hidden=16, layers=2, seed=5).state_dict()
    torch.manual_seed(2)
    b = make_model(name, 2, 3, hidden=16, layers=2, seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- SIREN init

@pytest.mark.parametrize("in_features", [2, 3])
def test_siren_weight_bounds(in_features):
    hidden = 256
    m = make_model("siren", in_features, 1, hidden=hidden, layers=5, seed=0)
    lins = _linears(m)
    assert len(lins) == 6
    first = lins[0].weight
    b0 = 1.0 / in_features
    assert first.abs().max().item() <= b0
    assert first.abs().max().item() > 0.95 * b0  # it fills the range, not a narrower one
    # U(-b, b) has variance b^2 / 3
    assert first.var().item() == pytest.approx(b0 ** 2 / 3, rel=0.1)
    bh = math.sqrt(6.0 / hidden) / 30.0
    for lin in lins[1:-1]:
        w = lin.weight
        assert w.abs().max().item() <= bh
        assert w.abs().max().item() > 0.99 * bh
        assert w.var().item() == pytest.approx(bh ** 2 / 3, rel=0.05)
        assert abs(w.mean().item()) < 0.02 * bh
    assert all(isinstance(m.net[i], Sine) and m.net[i].w0 == 30.0 for i in range(1, 10, 2))
    assert isinstance(m.net[-1], nn.Linear)  # last layer is linear


def test_siren_activations_are_arcsine_distributed():
    # Sitzmann et al. 2020: with this init every sine layer's output is arcsine distributed on
    # [-1, 1]: std 1/sqrt(2) ≈ 0.707 and kurtosis 1.5 (a Gaussian has 3, a uniform 1.8).
    m = make_model("siren", 2, 1, hidden=256, layers=5, seed=0)
    outs = []
    for mod in m.net:
        if isinstance(mod, Sine):
            mod.register_forward_hook(lambda _m, _i, o: outs.append(o))
    with torch.no_grad():
        m(_coords(4096, 2, seed=1))
    assert len(outs) == 5
    for k, o in enumerate(outs):
        std = o.std().item()
        z = (o - o.mean()) / o.std()
        kurt = (z ** 4).mean().item()
        assert 0.6 < std < 0.8, (k, std)
        assert abs(o.mean().item()) < 0.05, k
        assert 1.3 < kurt < 1.7, (k, kurt)


def test_siren_custom_w0():
    m = make_model("siren", 2, 1, hidden=16, layers=2, w0=10.0, first_w0=5.0)
    sines = [mod for mod in m.net if isinstance(mod, Sine)]
    assert [s.w0 for s in sines] == [5.0, 10.0]
    assert _linears(m)[1].weight.abs().max().item() <= math.sqrt(6 / 16) / 10.0


def test_ffn_and_pemlp_options():
    m = make_model("ffn", 2, 1, hidden=16, layers=2, sigma=3.0, num_features=5)
    assert m.encoding.B.shape == (2, 5)
    assert _linears(m)[0].in_features == 10
    assert "B" not in dict(m.named_parameters())  # fixed buffer, not trained
    m = make_model("pemlp", 3, 1, hidden=16, layers=2, num_frequencies=4)
    assert _linears(m)[0].in_features == 3 * (1 + 2 * 4)


def test_positional_encoding_hand_computation():
    m = make_model("pemlp", 1, 1, hidden=16, layers=1, num_frequencies=2)
    x = torch.tensor([[0.25]])
    enc = m.encoding(x)[0].tolist()
    expected = [0.25, math.sin(math.pi * 0.25), math.sin(2 * math.pi * 0.25),
                math.cos(math.pi * 0.25), math.cos(2 * math.pi * 0.25)]
    assert enc == pytest.approx(expected, abs=1e-6)


def test_ffn_tiny_hidden():
    m = make_model("ffn", 2, 3, hidden=1, layers=1)
    with torch.no_grad():
        assert m(_coords(4, 2)).shape == (4, 3)


# --------------------------------------------------------------------------- errors

def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'mlp'") as e:
        make_model("mlp")
    for name in MODELS:
        assert name in str(e.value)
    assert set(MODELS) == {"siren", "relu", "pemlp", "ffn", "wire", "finer", "gauss"}


@pytest.mark.parametrize("kw,arg", [({"hidden": 0}, "hidden"), ({"hidden": -4}, "hidden"),
                                    ({"layers": 0}, "layers"), ({"layers": -1}, "layers"),
                                    ({"in_features": 0}, "in_features"),
                                    ({"out_features": 0}, "out_features"),
                                    ({"hidden": 2.5}, "hidden")])
@pytest.mark.parametrize("name", NAMES)
def test_bad_sizes(name, kw, arg):
    with pytest.raises(ValueError, match=f"{arg} must be a positive int"):
        make_model(name, **kw)


@pytest.mark.parametrize("name,kw", [("siren", {"sigma": 10.0}), ("relu", {"w0": 30.0}),
                                     ("pemlp", {"num_features": 8}), ("ffn", {"bogus": 1})])
def test_bad_family_kwarg(name, kw):
    with pytest.raises(ValueError, match=f"bad option for model '{name}'"):
        make_model(name, hidden=16, layers=2, **kw)


def test_recommended_lr_covers_every_model():
    assert set(RECOMMENDED_LR) == set(MODELS)
    assert all(lr > 0 for lr in RECOMMENDED_LR.values())


# --------------------------------------------------------------------------- fitting

@pytest.fixture(scope="module")
def camera16():
    return nl.sample_signal("camera", size=16)


@pytest.mark.parametrize("name", NAMES)
def test_each_model_fits_a_tiny_image(name, camera16):
    m = make_model(name, 2, 1, hidden=16, layers=2, seed=0)
    h = nl.fit(m, camera16, steps=100, lr=RECOMMENDED_LR[name], eval_every=50, device="cpu",
               progress=False)
    assert h.steps == [0, 50, 100]
    initial = h.psnr[0]
    # the step-0 PSNR is the untrained model's: check it against a hand computation
    with torch.no_grad():
        m0 = make_model(name, 2, 1, hidden=16, layers=2, seed=0)
        mse0 = torch.mean((m0(camera16.coords) - camera16.values) ** 2).item()
    assert initial == pytest.approx(10 * math.log10(1 / mse0), abs=1e-4)
    assert h.psnr[-1] > initial + 1.0
