"""Self-checks for the exercises of notebooks/02_*.ipynb (see nint_lite.classroom.checks).

    kernel_spectrum(fn)     §3  the eigenvalues of K = J Jᵀ from J's singular values, K never formed
    k_times_v_chunked(fn)   §4  K v with every model call on at most chunk_size coordinates
    leverage_closed_form(fn) §7  tr K_ii by the per-layer formula, one pass for all coordinates

Each reference is computed before the learner's function runs, from a per-coordinate loop of
autograd.grad (an independent route, not nint_lite.ntk), and every call of the learner's
function goes through run_forbidden with the package's own implementation patched out.
"""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from ... import ntk
from ...models import make_model
from ._common import _compare, _fail, run_forbidden

__all__ = ["kernel_spectrum", "k_times_v_chunked", "leverage_closed_form"]


# --------------------------------------------------------------------------- helpers

def _setup(trial: int, n: int, c: int, hidden: int = 8):
    """A small SIREN (d=2 -> C), N coordinates in [-1, 1]² and a random (N, C) vector, seeded."""
    g = torch.Generator().manual_seed(200 + trial)
    model = make_model("siren", 2, c, hidden=hidden, layers=2, seed=20 + trial)
    return model, torch.rand(n, 2, generator=g) * 2 - 1, torch.randn(n, c, generator=g)


def _jac_loop(model, x) -> torch.Tensor:
    """J: (N, C, P) by one backward pass per coordinate and channel (notebook 02, §1)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(x.shape[0]):
        out = model(x[i:i + 1])[0]
        rows.append(torch.stack([torch.cat([g.flatten() for g in torch.autograd.grad(
            out[c], params, retain_graph=True)]) for c in range(out.shape[0])]))
    return torch.stack(rows).detach()


class _Shapes(TorchFunctionMode):
    """Records the shape of every tensor a torch function returns while the block runs."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if torch.is_tensor(t):
                self.shapes.append(tuple(t.shape))
        return out


class _RowCounter:
    """A forward pre-hook on a model: the largest number of coordinates one call received."""

    def __init__(self, model):
        self.most = 0
        self.handle = model.register_forward_pre_hook(self)

    def __call__(self, module, args):
        if args and torch.is_tensor(args[0]) and args[0].ndim == 2:
            self.most = max(self.most, int(args[0].shape[0]))


# --------------------------------------------------------------------------- §3

def kernel_spectrum(fn):
    """fn(model, x) must return the N·C eigenvalues of K = J Jᵀ (the (N·C)×(N·C) kernel), largest
    first: (N·C,), without forming K or any other (N·C)×(N·C) tensor — from J's singular values,
    σ², padded with zeros when N·C > P. nl.ntk.matrix is patched out; nl.ntk.jacobian (or your own
    J) is allowed. Tolerance 1e-4 relative to the largest eigenvalue."""
    name = "kernel_spectrum"
    cases = [(120, 1), (20, 3)]                                 # N·C > P = 105, then N·C = 60 < P = 123
    for trial, (n, c) in enumerate(cases):
        model, x, _ = _setup(trial, n, c)
        J = _jac_loop(model, x).double()                        # (N, C, P)
        nc, p = n * c, J.shape[2]
        Kf = torch.einsum("icp,jdp->icjd", J, J).reshape(nc, nc)
        ref = torch.linalg.eigvalsh(Kf).flip(0)                 # (N·C,), largest first
        s2 = torch.linalg.svdvals(J.reshape(nc, p)).pow(2)      # (min(N·C, P),)
        hints = [(ref.clamp_min(0).sqrt(), "these are J's singular values σ; K's eigenvalues are σ²"),
                 (ref.flip(0), "ascending order: return the eigenvalues largest first"),
                 (s2.sqrt(), "these are J's singular values σ; K's eigenvalues are σ² (and N·C of them)")]
        if nc > p:
            hints.append((s2, f"K has N·C = {nc} eigenvalues but J has only P = {p} singular values: "
                              "the other N·C − P eigenvalues are zero — pad with zeros"))
        else:
            hints.append((torch.cat([s2, s2.new_zeros(p - nc)]), f"JᵀJ is P×P = {p}×{p}; K = J Jᵀ is "
                          f"(N·C)×(N·C) = {nc}×{nc}: keep the N·C largest eigenvalues"))
        with _Shapes() as seen:
            out = run_forbidden(name, fn, model, x.clone(), forbidden=(ntk.matrix,))
        big = [s for s in seen.shapes if s.count(n) >= 2 or s.count(nc) >= 2]
        if big:
            _fail(name, f"your answer formed a tensor of shape {big[0]} (N={n}, C={c}), as large as K itself — "
                        "use J's singular values (torch.linalg.svdvals, or svd with full_matrices=False)")
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c}, P={p})")
    print(f"✓ {name}: the spectrum of K, largest first, for N·C > P and N·C < P, "
          "without any (N·C)×(N·C) tensor (rel. error ≤ 1e-4)")


# --------------------------------------------------------------------------- §4

def k_times_v_chunked(fn):
    """fn(model, x, v, chunk_size) must return K v: (N, C), with v: (N, C), for any chunk size,
    never running more than chunk_size coordinates through the model at once: u = Σ_chunks
    J_chunkᵀ v_chunk over ALL chunks first, then one JVP per chunk. nl.ntk.matvec, vjp_sum,
    jvp_chunks, nint_scores, matrix and jacobian are patched out. Tolerance 1e-4 relative."""
    name = "k_times_v_chunked"
    cases = [(13, 3, 4), (9, 1, 1), (10, 3, 32), (12, 1, 5)]
    for trial, (n, c, chunk) in enumerate(cases):
        model, x, v = _setup(trial, n, c)
        J = _jac_loop(model, x).double()
        vd = v.double()
        ref = torch.einsum("icp,jdp,jd->ic", J, J, vd)
        starts = range(0, n, chunk)
        block = torch.cat([torch.einsum("icp,jdp,jd->ic", J[s:s + chunk], J[s:s + chunk], vd[s:s + chunk])
                           for s in starts])
        last = vd.clone()
        last[: (n - 1) // chunk * chunk] = 0
        first = vd.clone()
        first[chunk:] = 0
        hints = [(block, "each chunk used only its own u: accumulate u over ALL chunks, then one JVP per chunk"),
                 (torch.einsum("icp,jdp,jd->ic", J, J, last),
                  "u holds only the last chunk's VJP: add (+=) every chunk's into u, do not overwrite it"),
                 (torch.einsum("icp,jdp,jd->ic", J, J, first), "u holds only the first chunk's VJP: "
                                                               "loop over every chunk of x and v"),
                 (model(x).detach().double(), "this is f(x): jvp returns (primal, tangent), keep the tangent")]
        if n > chunk:
            hints.append((ref[:chunk], "only the first chunk's rows: concatenate the JVPs of every chunk"))
        rows = _RowCounter(model)
        try:
            out = run_forbidden(name, fn, model, x.clone(), v.clone(), chunk,
                                forbidden=(ntk.matvec, ntk.vjp_sum, ntk.jvp_chunks, ntk.nint_scores,
                                           ntk.matrix, ntk.jacobian))
        finally:
            rows.handle.remove()
        if rows.most > chunk:
            _fail(name, f"the model received {rows.most} coordinates in one call with chunk_size={chunk}: "
                        "run the VJP and the JVP on x.split(chunk_size), one chunk at a time")
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c}, chunk_size={chunk})")
    print(f"✓ {name}: matches J Jᵀ v from a per-coordinate loop for chunk sizes "
          f"{', '.join(str(ch) for *_, ch in cases)} (one larger than N), "
          "never more than chunk_size coordinates per model call (rel. error ≤ 1e-4)")


# --------------------------------------------------------------------------- §7

def _closed(net, x, mode="ok") -> torch.Tensor:
    """‖J_i‖²_F of a Sequential MLP by the per-layer formula; `mode` gives the mistakes it names."""
    with torch.enable_grad():
        h, zs, acts, sq = x, [], [], []
        for m in net:
            if isinstance(m, torch.nn.Linear):
                sq.append(h.detach().pow(2).sum(1) + (0.0 if mode == "no_bias" else 1.0))
                h = m(h)
                zs.append(h)
            else:
                h = m(h)
                acts.append(h)
        # the tensor each layer's δ is taken with respect to: its output z, or (mistake) the
        # activation after it (the last layer has none, so it keeps z)
        wrt = [(acts[k] if k < len(acts) else z) for k, z in enumerate(zs)] if mode == "post_act" else zs
        out = torch.zeros(x.shape[0], dtype=x.dtype)
        channels = [h.sum(1)] if mode == "sum_channels" else [h[:, c] for c in range(h.shape[1])]
        for fc in channels:
            deltas = torch.autograd.grad(fc.sum(), wrt, retain_graph=True)
            pairs = list(zip(deltas, sq))[-1:] if mode == "last_only" else zip(deltas, sq)
            for d, s2 in pairs:
                out += d.pow(2).sum(1) * s2
    out = out.detach()
    return out.sqrt() if mode == "sqrt" else out


def leverage_closed_form(fn):
    """fn(net, x) must return the self-leverage tr K_ii = ‖J_i‖²_F of every coordinate: (N,), for
    `net` an nn.Sequential of nn.Linear layers and parameter-free per-coordinate modules (as
    nl.make_model(...).net), by the per-layer formula Σ_layers Σ_c ‖δ_ic‖² (‖a_i‖² + 1): a forward
    pass and C backward passes for all coordinates, no per-coordinate pass, no per-sample
    gradients. nl.ntk.diagonal, jacobian and matrix are patched out. Tolerance 1e-4 relative."""
    name = "leverage_closed_form"
    cases = [("siren", 1, 16, 40), ("relu", 3, 16, 33), ("siren", 3, 12, 25)]
    for trial, (kind, c, hidden, n) in enumerate(cases):
        g = torch.Generator().manual_seed(600 + trial)
        net = make_model(kind, 2, c, hidden=hidden, layers=2, seed=60 + trial).net
        x = torch.rand(n, 2, generator=g) * 2 - 1
        J = _jac_loop(net, x).double()
        ref = J.pow(2).sum((1, 2))
        hints = [(_closed(net, x, "no_bias"), "the bias is missing: ∂f_c/∂b = δ_c, so each layer adds ‖δ_c‖² "
                                              "— the factor is (‖a_i‖² + 1)"),
                 (_closed(net, x, "post_act"), "δ must be ∂f_c/∂z at each Linear's OUTPUT z (before the "
                                               "activation), not after the activation"),
                 (_closed(net, x, "sum_channels"), "one backward per channel: ‖Σ_c δ_c‖² mixes channels; "
                                                   "the trace needs Σ_c ‖δ_c‖²"),
                 (_closed(net, x, "last_only"), "only the last layer: every Linear layer contributes"),
                 (_closed(net, x, "sqrt"), "that is ‖J_i‖_F; the self-leverage is its square")]
        first = next(m for m in net if isinstance(m, torch.nn.Linear))
        calls = []
        handle = first.register_forward_pre_hook(lambda module, args: calls.append(1))
        try:
            with _Shapes() as seen:
                out = run_forbidden(name, fn, net, x.clone(),
                                    forbidden=(ntk.diagonal, ntk.jacobian, ntk.matrix))
        finally:
            handle.remove()
        if len(calls) > c + 1:
            _fail(name, f"the first layer ran {len(calls)} times for N={n}, C={c}: that is a pass per "
                        "coordinate — the formula needs one forward and C backward passes for all of them")
        limit = n * hidden * hidden
        big = [s for s in seen.shapes if torch.Size(s).numel() >= limit]
        if big:
            _fail(name, f"your answer built a tensor of shape {big[0]}: per-sample gradients (J), N×P "
                        "numbers — the formula needs only (N, width) activations and δ's")
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, {kind}, N={n}, C={c})")
    print(f"✓ {name}: ‖J_i‖²_F matches a per-coordinate Jacobian loop on SIREN and ReLU nets, C = 1 and 3, "
          "with one pass for all coordinates and no per-sample gradients (rel. error ≤ 1e-4)")
