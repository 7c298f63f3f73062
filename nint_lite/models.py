"""INR architectures: MLPs mapping coordinates (N, d) to values (N, C), built by make_model.

Every model here is `Encoding -> [Linear -> activation] * layers -> Linear`, kept as an
`nn.Sequential` named `net` behind an optional parameter-free input encoding. That regular
shape is what lets `nint_lite.ntk` use a per-layer closed form for the NTK diagonal.

Families (see make_model): siren, relu, pemlp, ffn, wire (real Gabor), finer, gauss; their
activations are parameter-free and per-coordinate, so every one keeps that shape.

`layers` counts hidden layers (the paper's "SIREN 5×256" is layers=5, hidden=256). Weights
are initialised from an explicit `torch.Generator(seed)`, so the same seed gives the same
network without touching the global RNG.

Built in notebooks/01_fit_an_inr.ipynb.
"""
from __future__ import annotations

import inspect
import math

import torch
from torch import nn

__all__ = ["make_model", "MODELS", "RECOMMENDED_LR", "DEFAULTS", "Sine", "Gabor", "Finer", "Gauss",
           "PositionalEncoding", "FourierFeatures", "INR"]


class Sine(nn.Module):
    """sin(w0 · x), SIREN's activation."""

    def __init__(self, w0: float = 30.0):
        super().__init__()
        self.w0 = float(w0)

    def forward(self, x):
        return torch.sin(self.w0 * x)

    def extra_repr(self):
        return f"w0={self.w0}"


class Gabor(nn.Module):
    """Real Gabor wavelet exp(-(s0·x)²)·cos(ω0·x), WIRE's activation (Saragadam et al. 2023).

    The paper's complex wavelet exp(iω0·x - (s0·x)²) would make weights, NTK and trainer
    complex; this is its real part (the WIRE repo's "realgabor", on one Linear). (N, H) -> (N, H).
    """

    def __init__(self, omega0: float = 20.0, sigma0: float = 10.0):
        super().__init__()
        self.omega0, self.sigma0 = float(omega0), float(sigma0)

    def forward(self, x):
        return torch.exp(-(self.sigma0 * x) ** 2) * torch.cos(self.omega0 * x)

    def extra_repr(self):
        return f"omega0={self.omega0}, sigma0={self.sigma0}"


class Finer(nn.Module):
    """sin(ω0·(|x|+1)·x), FINER's variable-periodic sine (Liu et al. 2024). (N, H) -> (N, H)."""

    def __init__(self, omega0: float = 30.0):
        super().__init__()
        self.omega0 = float(omega0)

    def forward(self, x):
        # As in the official code (scale_req_grad=False), |x|+1 is a no-grad frequency scale: the
        # trainer, jacrev and the NTK closed form all use the derivative ω0(|x|+1)·cos(·).
        return torch.sin(self.omega0 * (x.detach().abs() + 1) * x)

    def extra_repr(self):
        return f"omega0={self.omega0}"


class Gauss(nn.Module):
    """exp(-(s·x)²), the Gaussian activation (Ramasinghe & Lucey 2022). (N, H) -> (N, H)."""

    def __init__(self, scale: float = 10.0):
        super().__init__()
        self.scale = float(scale)

    def forward(self, x):
        return torch.exp(-(self.scale * x) ** 2)

    def extra_repr(self):
        return f"scale={self.scale}"


class PositionalEncoding(nn.Module):
    """NeRF encoding: x -> [x, sin(2^k π x), cos(2^k π x)] for k < num_frequencies. (N, d) -> (N, d(1+2L))."""

    def __init__(self, in_features: int, num_frequencies: int = 8):
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(num_frequencies), persistent=False)
        self.out_features = in_features * (1 + 2 * num_frequencies)

    def forward(self, x):
        xf = (x[..., None] * self.freqs).flatten(-2)  # (N, d*L)
        return torch.cat([x, torch.sin(xf), torch.cos(xf)], dim=-1)


class FourierFeatures(nn.Module):
    """Random Fourier features (Tancik et al. 2020): x -> [sin(2π Bx), cos(2π Bx)], B ~ N(0, σ²)."""

    def __init__(self, in_features: int, num_features: int, sigma: float, generator: torch.Generator):
        super().__init__()
        # A buffer, not a parameter: B is fixed, so it is not part of the NTK.
        self.register_buffer("B", sigma * torch.randn(in_features, num_features, generator=generator))
        self.out_features = 2 * num_features

    def forward(self, x):
        proj = 2 * math.pi * x @ self.B
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


class INR(nn.Module):
    """encoding (parameter-free, may be Identity) followed by an MLP `net`."""

    def __init__(self, encoding: nn.Module, net: nn.Sequential, in_features: int, out_features: int):
        super().__init__()
        self.encoding = encoding
        self.net = net
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x):
        return self.net(self.encoding(x))


def _linear(fan_in: int, fan_out: int, w_bound: float, g: torch.Generator) -> nn.Linear:
    """nn.Linear with weights ~ U(-w_bound, w_bound) and PyTorch's default bias ~ U(±1/sqrt(fan_in))."""
    # skip_init: nn.Linear's own reset_parameters would draw from (and advance) the global RNG.
    lin = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    with torch.no_grad():
        lin.weight.uniform_(-w_bound, w_bound, generator=g)
        b = 1.0 / math.sqrt(fan_in)
        lin.bias.uniform_(-b, b, generator=g)
    return lin


def _siren_mlp(in_features, out_features, hidden, layers, g, act, w0, first_w0):
    # SIREN init (Sitzmann et al. 2020, Sec. 3.2): first layer U(-1/in, 1/in) so that
    # sin(w0·(Wx+b)) spans several periods over [-1, 1]; later layers U(±sqrt(6/in)/w0) so
    # pre-activations stay ~ standard normal through depth. The last layer is linear.
    mods = [_linear(in_features, hidden, 1.0 / in_features, g), act(first_w0)]
    for _ in range(layers - 1):
        mods += [_linear(hidden, hidden, math.sqrt(6.0 / hidden) / w0, g), act(w0)]
    mods.append(_linear(hidden, out_features, math.sqrt(6.0 / hidden) / w0, g))
    return nn.Sequential(*mods)


def _siren(in_features, out_features, hidden, layers, g, w0=30.0, first_w0=30.0):
    net = _siren_mlp(in_features, out_features, hidden, layers, g, Sine, w0, first_w0)
    return INR(nn.Identity(), net, in_features, out_features)


def _finer(in_features, out_features, hidden, layers, g, omega0=30.0, first_bias_scale=1.0):
    # SIREN's weight init, plus FINER's wider first-layer bias U(-k, k): it spreads
    # pre-activations to where |x|+1 is large, i.e. starts with higher local frequencies.
    # (The official code's default, None, keeps PyTorch's U(±1/sqrt(in)).)
    net = _siren_mlp(in_features, out_features, hidden, layers, g, Finer, omega0, omega0)
    if first_bias_scale is not None:
        with torch.no_grad():
            net[0].bias.uniform_(-first_bias_scale, first_bias_scale, generator=g)
    return INR(nn.Identity(), net, in_features, out_features)


def _mlp(fan_in, out_features, hidden, layers, g, act=nn.ReLU, gain=6.0):
    # Hidden weights U(±sqrt(gain/fan_in)): gain 6 (He-uniform) keeps ReLU activations' variance
    # constant with depth; gain 1 is nn.Linear's default, which the WIRE repo uses for wire/gauss.
    mods = []
    for _ in range(layers):
        mods += [_linear(fan_in, hidden, math.sqrt(gain / fan_in), g), act()]
        fan_in = hidden
    mods.append(_linear(hidden, out_features, math.sqrt(1.0 / hidden), g))
    return nn.Sequential(*mods)


def _relu(in_features, out_features, hidden, layers, g):
    return INR(nn.Identity(), _mlp(in_features, out_features, hidden, layers, g),
               in_features, out_features)


def _pemlp(in_features, out_features, hidden, layers, g, num_frequencies=8):
    enc = PositionalEncoding(in_features, num_frequencies)
    return INR(enc, _mlp(enc.out_features, out_features, hidden, layers, g),
               in_features, out_features)


def _ffn(in_features, out_features, hidden, layers, g, sigma=10.0, num_features=None):
    enc = FourierFeatures(in_features, num_features or max(1, hidden // 2), sigma, g)
    return INR(enc, _mlp(enc.out_features, out_features, hidden, layers, g),
               in_features, out_features)


def _wire(in_features, out_features, hidden, layers, g, omega0=20.0, sigma0=10.0):
    net = _mlp(in_features, out_features, hidden, layers, g, lambda: Gabor(omega0, sigma0), 1.0)
    return INR(nn.Identity(), net, in_features, out_features)


def _gauss(in_features, out_features, hidden, layers, g, scale=10.0):
    net = _mlp(in_features, out_features, hidden, layers, g, lambda: Gauss(scale), 1.0)
    return INR(nn.Identity(), net, in_features, out_features)


MODELS = {"siren": _siren, "relu": _relu, "pemlp": _pemlp, "ffn": _ffn, "wire": _wire,
          "finer": _finer, "gauss": _gauss}

# Adam learning rates the literature uses with each family (paper-notes §4; wire, gauss and
# finer as in the FINER repo's run_*.sh image-fitting scripts).
RECOMMENDED_LR = {"siren": 1e-4, "relu": 1e-3, "pemlp": 1e-3, "ffn": 1e-3, "wire": 5e-3,
                  "finer": 5e-4, "gauss": 5e-3}


# One set of defaults for make_model, compare and the CLI: small enough for a laptop CPU.
# (The paper's "SIREN 5×256" is hidden=256, layers=5.)
DEFAULTS = {"hidden": 128, "layers": 3}
# SIREN's first-layer frequency per kind of signal (SIREN's paper: 3000 for audio, else 30):
# ω0 = 30 spans only a few periods over a second of sound and cannot fit speech.
SIREN_FIRST_W0 = {"audio": 3000.0}


def make_model(name: str, in_features=2, out_features: int | None = None, hidden: int | None = None,
               layers: int | None = None, seed: int = 0, **kw) -> INR:
    """Build an INR by name: "siren", "relu", "pemlp" (ReLU + positional encoding), "ffn",
    "wire" (real Gabor), "finer", "gauss".

    in_features: coordinate dimension d, or a Signal — then d and C come from it, and SIREN's
        first-layer frequency defaults to the one SIREN's paper uses for that kind (3000 for
        audio): make_model("siren", signal).
    out_features: channels C (default 3, or the signal's); hidden: width; layers: number of
    hidden layers (defaults: DEFAULTS, 128 and 3); seed: initialisation seed (explicit generator).
    Extra keywords go to the family: siren (w0, first_w0), pemlp (num_frequencies),
    ffn (sigma, num_features), wire (omega0=20, sigma0=10), finer (omega0=30,
    first_bias_scale=1; None for PyTorch's bias init), gauss (scale=10).
    Returns a module mapping (N, d) -> (N, C).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    if hasattr(in_features, "coords"):  # a Signal
        sig, in_features = in_features, in_features.in_features
        out_features = out_features or sig.channels
        if name == "siren" and sig.kind in SIREN_FIRST_W0:
            kw.setdefault("first_w0", SIREN_FIRST_W0[sig.kind])
    out_features = 3 if out_features is None else out_features
    hidden = DEFAULTS["hidden"] if hidden is None else hidden
    layers = DEFAULTS["layers"] if layers is None else layers
    for arg, v in (("in_features", in_features), ("out_features", out_features),
                   ("hidden", hidden), ("layers", layers)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{arg} must be a positive int, got {v!r}")
    try:  # a wrong keyword is the caller's mistake; a TypeError inside the builder is a bug
        inspect.signature(MODELS[name]).bind(in_features, out_features, hidden, layers, None, **kw)
    except TypeError as e:
        raise ValueError(f"bad option for model {name!r}: {e}") from None
    g = torch.Generator().manual_seed(int(seed))
    model = MODELS[name](in_features, out_features, hidden, layers, g, **kw)
    # what it takes to rebuild this exact network (checkpoints store it beside the weights)
    model.spec = dict(name=name, in_features=in_features, out_features=out_features, hidden=hidden,
                      layers=layers, seed=int(seed), **kw)
    return model
