"""The empirical neural tangent kernel of an INR with torch.func, and NINT's score ‖(K r)_i‖.

For a model f_θ: (N, d) -> (N, C) with P trainable parameters, J_i = ∂f(x_i)/∂θ is (C, P) and

    K(x_i, x_j) = J_i J_jᵀ        (a C×C block)

NINT scores coordinate i by ‖(K r)_i‖₂, the change a full-batch gradient step on the residuals
r = f(X) − Y would make at x_i. K r is never formed as a matrix: K r = J (Jᵀ r) is one VJP
(v = Jᵀ r, parameter-shaped, summed over chunks of coordinates) and one JVP (J v, chunk by chunk),
so memory is bounded by the chunk size and the result is exact for any chunking.

    jacobian(model, x)           (N, C, P)       per-coordinate Jacobian, vmap(jacrev)
    matrix(model, x1, x2)        (N1, N2, C, C)  explicit kernel blocks (small N only)
    diagonal(model, x)           (N,)            self-leverage tr(J_i J_iᵀ), chunked
    matvec(model, x, v)          (N, C)          K v by VJP then JVP, chunked
    nint_scores(model, x, r)     (N,)            ‖(K r)_i‖₂
    output_norm_scores(model, x, r)  (N,)        what the official code computes instead (a bug)

Other kernel scores (sender, last layer, Adam's kernel) are in nint_lite.beyond; matvec's
`precond=P` gives J P Jᵀ v, the kernel Adam's step really uses.

No function changes the model: parameters, .grad and train/eval mode are left as they were.
Built in notebooks/02_empirical_ntk.ipynb.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

__all__ = ["jacobian", "matrix", "diagonal", "matvec", "vjp_sum", "jvp_chunks", "nint_scores",
           "output_norm_scores", "num_params"]

DEFAULT_CHUNK = 8192


# --------------------------------------------------------------------------- plumbing

def _params(model: nn.Module) -> dict:
    """Trainable parameters as detached tensors {name: tensor}; the kernel is over these."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError("the model has no trainable parameters, so its NTK is zero")
    return params


def num_params(model: nn.Module) -> int:
    """P, the number of trainable parameters (the width of each J_i)."""
    return sum(p.numel() for p in _params(model).values())


def _batched(model: nn.Module):
    """f(params, x): (n, d) -> (n, C), a pure function of the parameter dict."""
    buffers = dict(model.named_buffers())

    def f(params, x):
        return functional_call(model, (params, buffers), (x,))
    return f


def _check_x(model: nn.Module, x, name: str = "x") -> torch.Tensor:
    if not torch.is_tensor(x) or x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D tensor (N, d); got "
                         f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
    d = getattr(model, "in_features", None)
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} has trailing dimension {x.shape[1]} but the model takes "
                         f"in_features={d} coordinates")
    return x


def _check_chunk(chunk_size) -> int:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    return chunk_size


def _out_channels(model: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad():
        try:
            return model(x[:1]).shape[-1]
        except RuntimeError as e:
            raise ValueError(f"the model cannot take x of shape {tuple(x.shape)}: {e}") from None


def _check_v(v, n: int, c: int, name: str) -> torch.Tensor:
    if not torch.is_tensor(v) or tuple(v.shape) != (n, c):
        got = tuple(v.shape) if torch.is_tensor(v) else type(v).__name__
        raise ValueError(f"{name} must have shape (N, C) = ({n}, {c}); got {got}")
    return v


# --------------------------------------------------------------------------- explicit forms

def jacobian(model: nn.Module, x: torch.Tensor, chunk_size: int = 1024) -> torch.Tensor:
    """Per-coordinate Jacobian J: (N, C, P), parameters flattened in named_parameters() order.

    vmap over coordinates of jacrev of the single-coordinate function. Memory O(N·C·P).
    """
    x = _check_x(model, x)
    _check_chunk(chunk_size)
    params, f = _params(model), _batched(model)
    _out_channels(model, x)  # a clear ValueError if the model cannot take x

    def f_one(p, xi):  # (d,) -> (C,)
        return f(p, xi[None])[0]

    out = []
    for xc in x.split(chunk_size):
        jac = vmap(jacrev(f_one), in_dims=(None, 0))(params, xc)  # {name: (n, C, *shape)}
        out.append(torch.cat([j.flatten(2) if j.ndim > 2 else j[..., None] for j in jac.values()], dim=2))
    return torch.cat(out)


def matrix(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None,
           method: str = "contraction") -> torch.Tensor:
    """Empirical NTK blocks K[i, j] = J(x1_i) J(x2_j)ᵀ: (N1, N2, C, C). x2 defaults to x1.

    method "contraction" contracts two explicit Jacobians; "ntk-vp" forms the kernel from
    NTK-vector products (one VJP per output entry of x1, then a JVP at x2) without ever
    storing J — the two are independent computations of the same matrix.
    """
    x1 = _check_x(model, x1, "x1")
    x2 = x1 if x2 is None else _check_x(model, x2, "x2")
    if method == "contraction":
        return torch.einsum("icp,jdp->ijcd", jacobian(model, x1), jacobian(model, x2))
    if method != "ntk-vp":
        raise ValueError(f"unknown method {method!r}; valid: 'contraction', 'ntk-vp'")
    params, f = _params(model), _batched(model)
    out1, vjp_fn = vjp(lambda p: f(p, x1), params)  # out1: (N1, C)
    n1, c = out1.shape

    def column(e):  # e: (N1, C) one-hot -> K[:, (i, c)] evaluated at x2: (N2, C)
        (jt_e,) = vjp_fn(e)
        return jvp(lambda p: f(p, x2), (params,), (jt_e,))[1]

    basis = torch.eye(n1 * c, dtype=out1.dtype, device=out1.device).view(n1 * c, n1, c)
    cols = vmap(column)(basis)  # (N1*C, N2, C): entry [(i,a), j, b] = J_ia · J_jb
    return cols.view(n1, c, -1, c).permute(0, 2, 1, 3).contiguous()


# --------------------------------------------------------------------------- diagonal

def _linear_chain(model: nn.Module):
    """(encoder, modules) if every trainable parameter sits in an nn.Linear of one sequential
    chain whose other modules are parameter-free and act on each coordinate separately;
    else None. nint_lite's INR (encoding + net) and plain nn.Sequential MLPs qualify."""
    from .models import INR

    # Trust the structure only where we know forward() is exactly the chain, not a subclass
    # that rescales or adds a skip connection (that would silently give wrong diagonals).
    if type(model).forward is nn.Sequential.forward:
        pre, chain = nn.Identity(), list(model)
    elif type(model).forward is INR.forward:
        pre, chain = model.encoding, list(model.net)
    else:
        return None
    if any(True for _ in pre.parameters()):
        return None
    n_chain = 0
    for m in chain:
        own = list(m.parameters())
        if isinstance(m, nn.Linear):
            if not all(p.requires_grad for p in own):
                return None
            n_chain += len(own)
        elif own:  # a parameterised non-Linear module: use the generic path
            return None
    if n_chain != len(list(model.parameters())):
        return None
    return pre, chain


def _diagonal_closed_form(pre, chain, x: torch.Tensor) -> torch.Tensor:
    # For a Linear layer z = a Wᵀ + b with upstream gradient δ_c = ∂f_c/∂z (per coordinate),
    # ∂f_c/∂W = δ_c ⊗ a and ∂f_c/∂b = δ_c, so  ‖J_i‖²_F = Σ_layers Σ_c ‖δ_ic‖² (‖a_i‖² + 1).
    # One forward and C backward passes to the pre-activations replace N per-sample Jacobians.
    with torch.enable_grad():
        h = pre(x)
        zs, sq_in = [], []
        for m in chain:
            if isinstance(m, nn.Linear):
                sq_in.append(h.detach().pow(2).sum(1) + (1.0 if m.bias is not None else 0.0))
                h = m(h)
                zs.append(h)
            else:
                h = m(h)
        out = h
        diag = torch.zeros(x.shape[0], dtype=out.dtype, device=out.device)
        for c in range(out.shape[1]):
            # Coordinates do not interact, so the gradient of the sum is the per-sample gradient.
            deltas = torch.autograd.grad(out[:, c].sum(), zs, retain_graph=c < out.shape[1] - 1)
            for d, s in zip(deltas, sq_in):
                diag += d.pow(2).sum(1) * s
    return diag.detach()


def diagonal(model: nn.Module, x: torch.Tensor, chunk_size: int = DEFAULT_CHUNK,
             method: str = "auto") -> torch.Tensor:
    """Self-leverage tr(K_ii) = ‖J_i‖²_F for every coordinate: (N,).

    method "auto" uses the per-layer closed form when the model is a chain of Linear layers
    and parameter-free per-coordinate modules (all nint_lite models, plain nn.Sequential MLPs),
    else "jacobian" (vmap(jacrev), any model). Computed chunk by chunk.
    """
    x = _check_x(model, x)
    _check_chunk(chunk_size)
    _params(model)
    if method not in ("auto", "closed_form", "jacobian"):
        raise ValueError(f"unknown method {method!r}; valid: 'auto', 'closed_form', 'jacobian'")
    chain = _linear_chain(model) if method != "jacobian" else None
    if method == "closed_form" and chain is None:
        raise ValueError("closed_form needs a chain of nn.Linear layers and parameter-free modules")
    out = []
    for xc in x.split(chunk_size):
        if chain is not None:
            out.append(_diagonal_closed_form(*chain, xc))
        else:
            out.append(jacobian(model, xc, chunk_size=min(chunk_size, 1024)).pow(2).sum((1, 2)))
    return torch.cat(out)


# --------------------------------------------------------------------------- K v and scores

def matvec(model: nn.Module, x: torch.Tensor, v: torch.Tensor,
           chunk_size: int = DEFAULT_CHUNK, precond: dict | None = None) -> torch.Tensor:
    """K v for all coordinates: (N, C), with v: (N, C). Never forms K or J.

    Pass 1 (VJP): u = Jᵀ v = Σ_chunks J_chunkᵀ v_chunk, a parameter-shaped dict.
    Pass 2 (JVP): (K v)_chunk = J_chunk u, chunk by chunk.
    The result does not depend on chunk_size (up to float rounding).
    precond: {name: tensor} of parameter shapes, a diagonal P applied between the passes, giving
        J P Jᵀ v (e.g. Adam's 1/(√v̂ + ε), see nint_lite.beyond.adam_preconditioner).
    """
    x = _check_x(model, x)
    _check_chunk(chunk_size)
    v = _check_v(v, x.shape[0], _out_channels(model, x), "v")
    u = vjp_sum(model, x, v, chunk_size)
    if precond is not None:
        if set(precond) != set(u):
            raise ValueError("precond must hold one tensor per trainable parameter, by name")
        u = {k: u[k] * precond[k] for k in u}
    return jvp_chunks(model, x, u, chunk_size)


def vjp_sum(model: nn.Module, x: torch.Tensor, v: torch.Tensor, chunk_size: int) -> dict:
    """Pass 1 of K v: u = Jᵀ v = Σ_chunks J_chunkᵀ v_chunk, a {name: parameter-shaped} dict.
    (nint_lite.lab.distributed all-reduces it across ranks between the two passes.)"""
    params, f = _params(model), _batched(model)
    u = {k: torch.zeros_like(p) for k, p in params.items()}
    for xc, vc in zip(x.split(chunk_size), v.split(chunk_size)):
        _, vjp_fn = vjp(lambda p: f(p, xc), params)
        (g,) = vjp_fn(vc.to(dtype=next(iter(params.values())).dtype))
        for k in u:
            u[k] += g[k]
    return u


def jvp_chunks(model: nn.Module, x: torch.Tensor, u: dict, chunk_size: int,
               per_chunk=None) -> torch.Tensor:
    """Pass 2 of K v: J u chunk by chunk, each chunk's (n, C) result mapped by per_chunk (e.g.
    a norm, so no N×C temporary is kept) and concatenated."""
    params, f = _params(model), _batched(model)
    # jvp returns (f(params, x), J u): the tangent is the SECOND element. Keeping the first is
    # exactly the official NINT code's bug (see output_norm_scores).
    outs = (jvp(lambda p: f(p, xc), (params,), (u,))[1] for xc in x.split(chunk_size))
    return torch.cat([o if per_chunk is None else per_chunk(o) for o in outs])


def nint_scores(model: nn.Module, x: torch.Tensor, residual: torch.Tensor,
                chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """NINT's score ‖(K r)_i‖₂ over channels: (N,), with residual r = f(x) − y: (N, C)."""
    return matvec(model, x, residual, chunk_size).norm(dim=1)


def output_norm_scores(model: nn.Module, x: torch.Tensor, residual: torch.Tensor,
                       chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """THE OFFICIAL CODE'S BUG, kept for teaching and ablations: (N,) = ‖f(x_i)‖².

    The official implementation writes `w, _ = torch.func.jvp(f, (params,), (v,))`; jvp returns
    (primal, tangent), so `w` is the network output f(x), not K r, and the residual is ignored.
    """
    x = _check_x(model, x)
    _check_chunk(chunk_size)
    params, f = _params(model), _batched(model)
    _check_v(residual, x.shape[0], _out_channels(model, x), "residual")
    u = {k: torch.zeros_like(p) for k, p in params.items()}  # the tangent is discarded anyway
    out = []
    for xc in x.split(chunk_size):
        w, _ = jvp(lambda p: f(p, xc), (params,), (u,))  # the buggy unpack, verbatim
        out.append(w.pow(2).sum(1))
    return torch.cat(out)
