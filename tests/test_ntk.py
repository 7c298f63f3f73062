"""Unit tests for nint_lite.ntk: the empirical NTK (jacobian, matrix, diagonal, matvec), NINT's
scores, the official code's output-norm bug, linearisation, side effects and input checks.

Every reference here is INDEPENDENT of nint_lite.ntk: per-sample Jacobians come from a plain
loop of `torch.autograd.grad` calls (one per coordinate i and channel c) over the model's
trainable parameters, and K = G Gᵀ is contracted from them by hand.
Models are tiny (hidden 4..16, 2 hidden layers, N <= 20 for explicit kernels) to stay fast.
"""
import copy

import pytest
import torch
from torch import nn

from nint_lite import ntk
from nint_lite.models import make_model

NINT_MODELS = ["siren", "relu", "pemlp", "ffn"]
ALL_MODELS = NINT_MODELS + ["tanh"]
F64, F32 = torch.float64, torch.float32


# --------------------------------------------------------------------------- helpers

def _coords(n, d=2, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=g, dtype=F64) * 2 - 1).to(dtype)


def _randn(*shape, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=F64).to(dtype)


def _init_from(module, seed):
    """Re-draw every parameter of `module` from an explicit generator (no global RNG)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            fan_in = p.shape[-1] if p.ndim > 1 else p.numel()
            p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    return module


def _tanh_mlp(seed=0):
    """A plain nn.Sequential MLP defined here, not in nint_lite."""
    with torch.random.fork_rng():  # nn.Linear's default init draws from the global RNG
        m = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 2))
    return _init_from(m, seed)


def _model(name, dtype=F64, seed=0, hidden=16, out=3):
    m = _tanh_mlp(seed) if name == "tanh" else make_model(name, 2, out, hidden=hidden, layers=2,
                                                          seed=seed)
    return m.to(dtype)


def _trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


def _explicit_jac(model, x):
    """(N, C, P) by one autograd.grad call per (coordinate i, channel c), on x[i:i+1] alone."""
    params = _trainable(model)
    rows = []
    for i in range(x.shape[0]):
        out = model(x[i:i + 1])[0]
        rows.append(torch.stack([
            torch.cat([g.reshape(-1) for g in
                       torch.autograd.grad(out[c], params, retain_graph=c < out.shape[0] - 1)])
            for c in range(out.shape[0])]))
    return torch.stack(rows).detach()


def _explicit_K(model, x1, x2=None):
    j1 = _explicit_jac(model, x1)
    j2 = j1 if x2 is None else _explicit_jac(model, x2)
    return torch.einsum("icp,jdp->ijcd", j1, j2)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


class ScaledNet(nn.Module):
    """Looks like nint_lite's INR (has .encoding and .net) but also has a learned output scale,
    a parameter outside every nn.Linear: the per-layer closed form does not apply."""

    def __init__(self, seed=0):
        super().__init__()
        self.in_features, self.out_features = 2, 2
        self.encoding = nn.Identity()
        self.net = _tanh_mlp(seed)
        self.s = nn.Parameter(torch.tensor(1.7))

    def forward(self, x):
        return self.s * self.net(self.encoding(x))


class ScaledPlain(nn.Module):
    """A custom module with no .net / .encoding: a learned scale between two Linear layers."""

    def __init__(self, seed=0):
        super().__init__()
        self.in_features = 2
        with torch.random.fork_rng():
            self.a, self.b = nn.Linear(2, 8), nn.Linear(8, 3)
        self.s = nn.Parameter(torch.tensor(0.8))
        _init_from(self, seed)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x) * self.s))


# --------------------------------------------------------------------------- 1. matrix

@pytest.mark.parametrize("name", ["siren", "relu", "tanh"])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-10), (F32, 1e-4)])
def test_matrix_equals_explicit_gram(name, dtype, tol):
    # tolerance: rel. Frobenius error <= 1e-10 in float64 (stricter than the required 1e-5;
    # measured ~1e-15) and <= 1e-4 in float32.
    m = _model(name, dtype)
    x = _coords(12, seed=1, dtype=dtype)
    K = ntk.matrix(m, x)
    ref = _explicit_K(m, x)
    c = ref.shape[-1]
    assert K.shape == (12, 12, c, c) and K.dtype == dtype
    assert _rel(K, ref) <= tol


@pytest.mark.parametrize("name", ["siren", "relu", "tanh"])
@pytest.mark.parametrize("method", ["contraction", "ntk-vp"])
def test_matrix_rectangular_blocks(name, method):
    # tolerance: rel. error <= 1e-10 (float64). N1 = 5 != N2 = 7.
    m = _model(name)
    x1, x2 = _coords(5, seed=2), _coords(7, seed=3)
    K = ntk.matrix(m, x1, x2, method=method)
    ref = _explicit_K(m, x1, x2)
    assert K.shape == (5, 7) + ref.shape[2:]
    assert _rel(K, ref) <= 1e-10
    # K(x2, x1) is the transpose of K(x1, x2), block by block.
    K21 = ntk.matrix(m, x2, x1, method=method)
    assert _rel(K21, K.permute(1, 0, 3, 2)) <= 1e-10


@pytest.mark.parametrize("name", ALL_MODELS)
def test_matrix_ntk_vp_equals_contraction(name):
    # tolerance: rel. error <= 1e-10 (float64); also for x2 given.
    m = _model(name)
    x, x2 = _coords(9, seed=4), _coords(4, seed=5)
    assert _rel(ntk.matrix(m, x, method="ntk-vp"), ntk.matrix(m, x, method="contraction")) <= 1e-10
    assert _rel(ntk.matrix(m, x, x2, method="ntk-vp"), ntk.matrix(m, x, x2)) <= 1e-10


# --------------------------------------------------------------------------- 2. jacobian

@pytest.mark.parametrize("name", ALL_MODELS)
def test_jacobian_shape_and_values(name):
    # tolerance: rel. error <= 1e-10 (float64), for chunk sizes 1, 7 and N.
    m = _model(name)
    x = _coords(11, seed=6)
    P = ntk.num_params(m)
    assert P == sum(p.numel() for p in m.parameters())
    ref = _explicit_jac(m, x)
    c = ref.shape[1]
    for chunk in (1, 7, 11):
        J = ntk.jacobian(m, x, chunk_size=chunk)
        assert J.shape == (11, c, P) and J.dtype == F64
        assert _rel(J, ref) <= 1e-10


@pytest.mark.parametrize("cls", [ScaledNet, ScaledPlain])
def test_jacobian_and_matrix_with_scalar_parameter(cls):
    # A 0-dim nn.Parameter (learned scale) contributes one column to J.
    # tolerance: rel. error <= 1e-10 (float64).
    m = cls(seed=2).double()
    x = _coords(8, seed=32)
    ref = _explicit_jac(m, x)
    J = ntk.jacobian(m, x, chunk_size=3)
    assert J.shape == ref.shape and J.shape[-1] == ntk.num_params(m)
    assert _rel(J, ref) <= 1e-10
    Kref = torch.einsum("icp,jdp->ijcd", ref, ref)
    for method in ("contraction", "ntk-vp"):
        assert _rel(ntk.matrix(m, x, method=method), Kref) <= 1e-10, method
    v = _randn(*ref.shape[:2], seed=33)
    assert _rel(ntk.matvec(m, x, v, chunk_size=3), torch.einsum("ijcd,jd->ic", Kref, v)) <= 1e-10


# --------------------------------------------------------------------------- 3. symmetry, PSD

@pytest.mark.parametrize("name,hidden", [("siren", 16), ("relu", 16), ("tanh", 16),
                                         ("siren", 4)])  # hidden 4: P = 47 < N*C = 60
def test_kernel_symmetric_psd(name, hidden):
    # tolerance: symmetry to rel. 1e-12; smallest eigenvalue >= -1e-8 * largest (float64).
    m = _model(name, hidden=hidden)
    x = _coords(20, seed=7)
    for method in ("contraction", "ntk-vp"):
        K = ntk.matrix(m, x, method=method)
        n, _, c, _ = K.shape
        assert _rel(K, K.permute(1, 0, 3, 2)) <= 1e-12  # K[i,j,c,d] == K[j,i,d,c]
        G = K.permute(0, 2, 1, 3).reshape(n * c, n * c)  # rows (i, c), columns (j, d)
        ev = torch.linalg.eigvalsh((G + G.T) / 2)
        assert ev[-1] > 0
        assert ev[0] >= -1e-8 * ev[-1]
        assert torch.allclose(torch.diagonal(G), torch.einsum("iicc->ic", K).reshape(-1))


# --------------------------------------------------------------------------- 4. diagonal

def _block_traces(m, x):
    return torch.einsum("iicc->i", ntk.matrix(m, x))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_diagonal_equals_block_traces(name):
    # tolerance: rel. error <= 1e-10 vs the traces and between methods (float64; required 1e-5).
    m = _model(name)
    x = _coords(15, seed=8)
    ref = _block_traces(m, x)
    explicit = _explicit_jac(m, x).pow(2).sum((1, 2))
    assert _rel(ref, explicit) <= 1e-10
    got = {meth: ntk.diagonal(m, x, method=meth) for meth in ("auto", "closed_form", "jacobian")}
    for meth, d in got.items():
        assert d.shape == (15,) and d.dtype == F64, meth
        assert (d > 0).all(), meth
        assert _rel(d, ref) <= 1e-10, meth
    assert _rel(got["closed_form"], got["jacobian"]) <= 1e-10
    assert torch.equal(got["auto"], got["closed_form"])


@pytest.mark.parametrize("name", ALL_MODELS)
def test_diagonal_auto_uses_closed_form_on_linear_chains(name, monkeypatch):
    # "auto" must not fall back to per-sample Jacobians for a chain of Linear layers.
    m = _model(name)
    x = _coords(6, seed=9)
    ref = ntk.diagonal(m, x, method="jacobian")

    def boom(*a, **k):
        raise AssertionError("jacobian path used")
    monkeypatch.setattr(ntk, "jacobian", boom)
    assert _rel(ntk.diagonal(m, x), ref) <= 1e-10  # tolerance: rel. 1e-10 (float64)


@pytest.mark.parametrize("cls", [ScaledNet, ScaledPlain])
def test_diagonal_non_chain_model(cls):
    # tolerance: rel. error <= 1e-10 (float64) vs the explicit per-sample loop.
    m = cls(seed=3).double()
    x = _coords(10, seed=10)
    ref = _explicit_jac(m, x).pow(2).sum((1, 2))
    assert _rel(ntk.diagonal(m, x), ref) <= 1e-10  # "auto" falls back to the jacobian path
    assert _rel(ntk.diagonal(m, x, method="jacobian"), ref) <= 1e-10
    assert _rel(_block_traces(m, x), ref) <= 1e-10
    with pytest.raises(ValueError, match="closed_form"):
        ntk.diagonal(m, x, method="closed_form")


def test_diagonal_scaled_net_differs_from_its_linear_part():
    # If "auto" ignored the scale parameter s the result would be s² times the net's diagonal
    # and miss ‖∂f/∂s‖²: make sure that is far from the truth.
    m = ScaledNet(seed=3).double()
    x = _coords(10, seed=10)
    wrong = m.s.item() ** 2 * ntk.diagonal(m.net, x, method="closed_form")
    assert _rel(wrong, ntk.diagonal(m, x)) > 1e-3


@pytest.mark.parametrize("name", ["siren", "tanh"])
def test_diagonal_frozen_layer_uses_trainable_params_only(name):
    # tolerance: rel. error <= 1e-10 (float64) vs an explicit loop over trainable params only.
    m = _model(name)
    x = _coords(10, seed=11)
    full = ntk.diagonal(m, x)
    first = next(mod for mod in m.modules() if isinstance(mod, nn.Linear))
    first.weight.requires_grad_(False)
    first.bias.requires_grad_(False)
    P = ntk.num_params(m)
    assert P == sum(p.numel() for p in m.parameters()) - first.weight.numel() - first.bias.numel()
    ref = _explicit_jac(m, x).pow(2).sum((1, 2))  # over trainable params only
    assert ntk.jacobian(m, x).shape[-1] == P
    for meth in ("auto", "jacobian"):
        d = ntk.diagonal(m, x, method=meth)
        assert _rel(d, ref) <= 1e-10, meth
    assert _rel(_block_traces(m, x), ref) <= 1e-10
    assert _rel(full, ref) > 1e-3  # freezing really changed the answer
    # a partly frozen chain is not a plain Linear chain: closed_form refuses
    with pytest.raises(ValueError, match="closed_form"):
        ntk.diagonal(m, x, method="closed_form")


class DoubledNet(ScaledNet):
    """.encoding and .net like nint_lite's INR, no extra parameter, but forward is NOT
    net(encoding(x)): the output is doubled."""

    def __init__(self, seed=0):
        super().__init__(seed)
        del self.s

    def forward(self, x):
        return 2 * self.net(self.encoding(x))


def test_diagonal_auto_does_not_trust_net_encoding_attributes():
    # tolerance: rel. error <= 1e-10 (float64) vs the explicit per-sample loop.
    m = DoubledNet(seed=3).double()
    x = _coords(6, seed=34)
    ref = _explicit_jac(m, x).pow(2).sum((1, 2))
    assert _rel(ntk.diagonal(m, x, method="jacobian"), ref) <= 1e-10
    assert _rel(ntk.diagonal(m, x), ref) <= 1e-10


def test_diagonal_shared_linear_falls_back():
    # The same nn.Linear used twice: the per-layer closed form would miss the cross terms.
    # tolerance: rel. error <= 1e-10 (float64).
    with torch.random.fork_rng():
        lin = nn.Linear(8, 8)
        m = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), lin, nn.Tanh(), lin, nn.Tanh(),
                          nn.Linear(8, 2))
    m = _init_from(m, 4).double()
    x = _coords(8, seed=12)
    ref = _explicit_jac(m, x).pow(2).sum((1, 2))
    assert _rel(ntk.diagonal(m, x), ref) <= 1e-10


# --------------------------------------------------------------------------- 5. matvec

@pytest.mark.parametrize("name", ["siren", "ffn", "tanh"])
def test_matvec_equals_explicit_and_chunk_invariant(name):
    # tolerance: rel. error <= 1e-10 vs einsum('ijcd,jd->ic', K, v) (float64; required 1e-5),
    # and chunk sizes 1, 7, N (N = 20, not divisible by 7) agree to rel. 1e-12.
    m = _model(name)
    x = _coords(20, seed=13)
    K = _explicit_K(m, x)
    v = _randn(20, K.shape[-1], seed=14)
    ref = torch.einsum("ijcd,jd->ic", K, v)
    outs = {ch: ntk.matvec(m, x, v, chunk_size=ch) for ch in (1, 7, 20)}
    for ch, kv in outs.items():
        assert kv.shape == v.shape and kv.dtype == F64
        assert _rel(kv, ref) <= 1e-10, ch
        assert _rel(kv, outs[20]) <= 1e-12, ch
    assert _rel(ntk.matvec(m, x, v), ref) <= 1e-10  # default chunk
    diags = {ch: ntk.diagonal(m, x, chunk_size=ch) for ch in (1, 7, 20)}
    dref = torch.einsum("iicc->i", K)
    for ch, d in diags.items():
        assert _rel(d, dref) <= 1e-10, ch
        assert _rel(ntk.diagonal(m, x, chunk_size=ch, method="jacobian"), dref) <= 1e-10, ch


def test_matvec_is_linear_in_v():
    # tolerance: rel. error <= 1e-10 (float64).
    m = _model("relu")
    x = _coords(10, seed=15)
    a, b = _randn(10, 3, seed=16), _randn(10, 3, seed=17)
    lhs = ntk.matvec(m, x, 2.0 * a - 3.0 * b, chunk_size=3)
    rhs = 2.0 * ntk.matvec(m, x, a, chunk_size=4) - 3.0 * ntk.matvec(m, x, b)
    assert _rel(lhs, rhs) <= 1e-10
    assert ntk.matvec(m, x, torch.zeros(10, 3, dtype=F64)).abs().max() == 0


# --------------------------------------------------------------------------- 6. the official bug

@pytest.mark.parametrize("name", ["siren", "relu"])
def test_nint_scores_are_kr_norms_not_output_norms(name):
    # Regression test for the official NINT code's bug (jvp unpacked as `w, _ = jvp(...)`,
    # keeping the primal f(x) instead of the tangent K r).
    # tolerances: nint_scores vs explicit ‖(K r)_i‖₂ rel. <= 1e-10 (float64);
    # output_norm_scores vs ‖f(x_i)‖² rel. <= 1e-12; the two differ by rel. > 0.1.
    m = _model(name)
    x = _coords(20, seed=18)
    with torch.no_grad():
        fx = m(x)
    y = _randn(20, 3, seed=19)
    r = fx - y
    K = _explicit_K(m, x)
    ref = torch.einsum("ijcd,jd->ic", K, r).norm(dim=1)
    s = ntk.nint_scores(m, x, r, chunk_size=7)
    assert s.shape == (20,) and s.dtype == F64
    assert _rel(s, ref) <= 1e-10

    out_sq = fx.pow(2).sum(1)
    bug = ntk.output_norm_scores(m, x, r, chunk_size=7)
    assert _rel(bug, out_sq) <= 1e-12
    assert _rel(s, out_sq) > 0.1 and _rel(out_sq, s) > 0.1
    # normalised (scale-free) scores, and the selection the two would make, differ too
    assert _rel(s / s.norm(), out_sq / out_sq.norm()) > 0.1
    assert not torch.equal(torch.argsort(s), torch.argsort(bug))
    assert set(torch.topk(s, 5).indices.tolist()) != set(torch.topk(bug, 5).indices.tolist())

    # the score depends on the residual (linearly); the bug ignores it
    # tolerance: rel. <= 1e-12
    assert _rel(ntk.nint_scores(m, x, 2 * r), 2 * s) <= 1e-12
    assert _rel(ntk.output_norm_scores(m, x, 2 * r), bug) <= 1e-12
    assert torch.equal(ntk.output_norm_scores(m, x, torch.zeros_like(r), chunk_size=7), bug)
    assert ntk.nint_scores(m, x, torch.zeros_like(r)).abs().max() == 0


# --------------------------------------------------------------------------- 7. linearisation

def test_one_sgd_step_matches_ntk_prediction():
    # Full-batch MSE L = mean((f(x) - y)²) over N·C entries: ∇θL = (2/(N·C)) Jᵀ r, so one SGD
    # step changes the outputs by Δf ≈ -η (2/(N·C)) K r, up to O(η²).
    # Measured rel. errors (SIREN 2x16, float64, N=64, C=3, seeds below, torch 2.13):
    #   η = 1e-2: 1.045e-2   η = 1e-3: 1.047e-3   η = 1e-4: 1.047e-4   (÷10.0 per decade)
    # tolerance: < 0.05 at η = 1e-2 and < 1e-3 at η = 1e-4, strictly decreasing, and each
    # decade of η shrinks the error by a factor in (8, 12), i.e. the error is O(η).
    m = _model("siren", seed=5)
    x = _coords(64, seed=20)
    y = _randn(64, 3, seed=21)
    n, c = y.shape
    with torch.no_grad():
        f_old = m(x)
    r = f_old - y
    kr = ntk.matvec(m, x, r, chunk_size=16)
    errs = []
    for eta in (1e-2, 1e-3, 1e-4):
        mm = copy.deepcopy(m)
        loss = (mm(x) - y).pow(2).mean()
        loss.backward()
        with torch.no_grad():
            for p in mm.parameters():
                p -= eta * p.grad
            actual = mm(x) - f_old
        predicted = -(eta * 2 / (n * c)) * kr
        errs.append(((actual - predicted).norm() / predicted.norm()).item())
    assert errs[0] > errs[1] > errs[2]
    assert errs[0] < 0.05 and errs[2] < 1e-3, errs
    for big, small in zip(errs, errs[1:]):
        assert 8 < big / small < 12, errs
    assert m.training  # the original model was never touched


# --------------------------------------------------------------------------- 8. no side effects

def _call_everything(m, x):
    n, c = x.shape[0], m(x[:1]).shape[1]
    r = _randn(n, c, seed=22, dtype=x.dtype)
    ntk.num_params(m)
    ntk.jacobian(m, x, chunk_size=3)
    ntk.matrix(m, x)
    ntk.matrix(m, x, x[:3], method="ntk-vp")
    for meth in ("auto", "jacobian"):
        ntk.diagonal(m, x, chunk_size=3, method=meth)
    ntk.matvec(m, x, r, chunk_size=3)
    ntk.nint_scores(m, x, r, chunk_size=3)
    ntk.output_norm_scores(m, x, r, chunk_size=3)


@pytest.mark.parametrize("name", ["siren", "ffn", "tanh"])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("preset_grad", [False, True])
def test_no_side_effects(name, mode, preset_grad):
    m = _model(name)
    getattr(m, mode)()
    g = torch.Generator().manual_seed(23)
    if preset_grad:
        for p in m.parameters():
            p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
    before = {k: p.detach().clone() for k, p in m.named_parameters()}
    grads = {k: (None if p.grad is None else p.grad.clone()) for k, p in m.named_parameters()}
    grad_ids = {k: id(p.grad) for k, p in m.named_parameters()}
    bufs = {k: b.clone() for k, b in m.named_buffers()}
    modes = {k: mod.training for k, mod in m.named_modules()}
    x = _coords(7, seed=24)
    x0 = x.clone()

    _call_everything(m, x)

    for k, p in m.named_parameters():
        assert torch.equal(p, before[k]), k  # bitwise
        assert p.requires_grad, k
        if preset_grad:
            assert id(p.grad) == grad_ids[k] and torch.equal(p.grad, grads[k]), k
        else:
            assert p.grad is None, k
    for k, b in m.named_buffers():
        assert torch.equal(b, bufs[k]), k
    assert {k: mod.training for k, mod in m.named_modules()} == modes
    assert m.training == (mode == "train")
    assert torch.equal(x, x0) and x.grad is None and not x.requires_grad


def test_no_side_effects_frozen_layer():
    m = _model("siren")
    m.net[0].weight.requires_grad_(False)
    x = _coords(6, seed=25)
    before = {k: p.detach().clone() for k, p in m.named_parameters()}
    _call_everything(m, x)
    assert not m.net[0].weight.requires_grad and m.net[0].bias.requires_grad
    for k, p in m.named_parameters():
        assert torch.equal(p, before[k]) and p.grad is None, k


# --------------------------------------------------------------------------- 9. bad input

def _small():
    return _model("siren", hidden=8), _coords(5, seed=26), _randn(5, 3, seed=27)


@pytest.mark.parametrize("fn", ["jacobian", "matrix", "diagonal", "matvec", "nint_scores",
                                "output_norm_scores"])
def test_bad_x(fn):
    m, x, v = _small()
    extra = (v,) if fn in ("matvec", "nint_scores", "output_norm_scores") else ()
    f = getattr(ntk, fn)
    with pytest.raises(ValueError, match=r"trailing dimension 3.*in_features=2"):
        f(m, _coords(5, d=3), *extra)
    with pytest.raises(ValueError, match=r"2-D tensor \(N, d\); got \(5,\)"):
        f(m, x[:, 0], *extra)
    with pytest.raises(ValueError, match="2-D tensor"):
        f(m, x[None], *extra)
    with pytest.raises(ValueError, match="2-D tensor"):
        f(m, x.tolist(), *extra)


def test_bad_x2():
    m, x, _ = _small()
    with pytest.raises(ValueError, match=r"x2 has trailing dimension 3"):
        ntk.matrix(m, x, _coords(4, d=3))
    with pytest.raises(ValueError, match=r"x2 must be a 2-D tensor"):
        ntk.matrix(m, x, x[:, 0], method="ntk-vp")


def test_bad_x_sequential_without_in_features():
    # nn.Sequential has no .in_features: matvec still turns the shape error into a ValueError.
    m = _tanh_mlp().double()
    with pytest.raises(ValueError, match="cannot take x"):
        ntk.matvec(m, _coords(5, d=3), _randn(5, 2))


@pytest.mark.parametrize("fn", ["matvec", "nint_scores", "output_norm_scores"])
def test_bad_v_shape(fn):
    m, x, v = _small()
    f = getattr(ntk, fn)
    for bad, got in ((v.T, r"\(3, 5\)"), (v[:4], r"\(4, 3\)"), (_randn(6, 3), r"\(6, 3\)"),
                     (v[:, :2], r"\(5, 2\)"), (v.reshape(-1), r"\(15,\)"),
                     (v[None], r"\(1, 5, 3\)")):
        with pytest.raises(ValueError, match=r"must have shape \(N, C\) = \(5, 3\); got " + got):
            f(m, x, bad)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        f(m, x, v.tolist())


@pytest.mark.parametrize("fn", ["jacobian", "diagonal", "matvec", "nint_scores",
                                "output_norm_scores"])
@pytest.mark.parametrize("chunk", [0, -1, 2.0, None])
def test_bad_chunk_size(fn, chunk):
    m, x, v = _small()
    extra = (v,) if fn in ("matvec", "nint_scores", "output_norm_scores") else ()
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        getattr(ntk, fn)(m, x, *extra, chunk_size=chunk)


def test_no_trainable_parameters():
    m, x, v = _small()
    for p in m.parameters():
        p.requires_grad_(False)
    msg = "no trainable parameters"
    for call in (lambda: ntk.num_params(m), lambda: ntk.jacobian(m, x),
                 lambda: ntk.matrix(m, x), lambda: ntk.matrix(m, x, method="ntk-vp"),
                 lambda: ntk.diagonal(m, x), lambda: ntk.diagonal(m, x, method="jacobian"),
                 lambda: ntk.diagonal(m, x, method="closed_form"),
                 lambda: ntk.matvec(m, x, v), lambda: ntk.nint_scores(m, x, v),
                 lambda: ntk.output_norm_scores(m, x, v)):
        with pytest.raises(ValueError, match=msg):
            call()
    with pytest.raises(ValueError, match=msg):
        ntk.diagonal(nn.Sequential(nn.Tanh()), x)  # no parameters at all


def test_unknown_method():
    m, x, _ = _small()
    with pytest.raises(ValueError, match=r"unknown method 'exact'; valid: 'contraction', 'ntk-vp'"):
        ntk.matrix(m, x, method="exact")
    with pytest.raises(ValueError, match=r"unknown method 'closed-form'.*'closed_form'"):
        ntk.diagonal(m, x, method="closed-form")
    with pytest.raises(ValueError, match="unknown method"):
        ntk.diagonal(m, x, method="ntk-vp")


# --------------------------------------------------------------------------- 10. float32, chunks

@pytest.mark.parametrize("name", ["siren", "relu", "tanh"])
def test_float32_in_float32_out(name):
    # tolerance: float32 results vs the same model in float64, rel. <= 1e-4.
    # N = 13 is not divisible by the chunk size 5.
    m32 = _model(name, F32)
    m64 = copy.deepcopy(m32).double()
    x32 = _coords(13, seed=28, dtype=F32)
    x64 = x32.double()
    c = m32(x32[:1]).shape[1]
    v32 = _randn(13, c, seed=29, dtype=F32)
    v64 = v32.double()
    pairs = [
        (ntk.jacobian(m32, x32, chunk_size=5), ntk.jacobian(m64, x64)),
        (ntk.matrix(m32, x32), ntk.matrix(m64, x64)),
        (ntk.matrix(m32, x32, x32[:4], method="ntk-vp"), ntk.matrix(m64, x64, x64[:4])),
        (ntk.diagonal(m32, x32, chunk_size=5), ntk.diagonal(m64, x64)),
        (ntk.diagonal(m32, x32, chunk_size=5, method="jacobian"), ntk.diagonal(m64, x64)),
        (ntk.matvec(m32, x32, v32, chunk_size=5), ntk.matvec(m64, x64, v64)),
        (ntk.nint_scores(m32, x32, v32, chunk_size=5), ntk.nint_scores(m64, x64, v64)),
        (ntk.output_norm_scores(m32, x32, v32, chunk_size=5),
         ntk.output_norm_scores(m64, x64, v64)),
    ]
    for i, (a, b) in enumerate(pairs):
        assert a.dtype == F32 and b.dtype == F64, i
        assert a.shape == b.shape, i
        assert torch.isfinite(a).all(), i
        assert _rel(a.double(), b) <= 1e-4, i
    assert ntk.nint_scores(m32, x32, v32, chunk_size=5).shape == (13,)


def test_chunking_with_remainder_float32():
    # tolerance: chunked vs unchunked float32 results, rel. <= 1e-5.
    m = _model("pemlp", F32)
    x = _coords(17, seed=30, dtype=F32)
    v = _randn(17, 3, seed=31, dtype=F32)
    for ch in (1, 4, 16, 17, 100):
        assert _rel(ntk.matvec(m, x, v, chunk_size=ch), ntk.matvec(m, x, v)) <= 1e-5, ch
        assert _rel(ntk.diagonal(m, x, chunk_size=ch), ntk.diagonal(m, x)) <= 1e-5, ch
        assert _rel(ntk.jacobian(m, x, chunk_size=ch), ntk.jacobian(m, x)) <= 1e-5, ch
        assert ntk.matvec(m, x, v, chunk_size=ch).dtype == F32


def test_mixed_dtype_v_follows_the_model():
    # v in another float dtype than the model: the result has the model's dtype.
    # tolerance: rel. <= 1e-5 (float32 model) and 1e-10 (float64 model).
    m32 = _model("siren", F32)
    x32 = _coords(9, seed=35, dtype=F32)
    v64 = _randn(9, 3, seed=36)
    ref = ntk.matvec(m32, x32, v64.float(), chunk_size=4)
    out = ntk.matvec(m32, x32, v64, chunk_size=4)
    assert out.dtype == F32 and _rel(out, ref) <= 1e-5
    assert ntk.nint_scores(m32, x32, v64).dtype == F32
    m64 = copy.deepcopy(m32).double()
    out = ntk.matvec(m64, x32.double(), v64.float(), chunk_size=4)
    assert out.dtype == F64
    assert _rel(out, ntk.matvec(m64, x32.double(), v64.float().double())) <= 1e-10
