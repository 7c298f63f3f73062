"""Other ways to score coordinates with the kernel, as NINT scores: sender, leverage, last layer, Adam.

    sender_scores(model, x, r)          (N,)    ≈ r_iᵀ (K²)_ii r_i: how much training on x_i moves f
    last_layer_matvec(model, x, v)      (N, C)  K v of the last layer only: (H Hᵀ + 1) v, cheap
    adam_preconditioner(model, opt)     {name: tensor}  Adam's 1/(√v̂ + ε), for ntk.matvec(precond=)

Importing this module registers five scores for the NTK set of NINT (samplers.register_score),
so make_sampler("nint", score=...) takes them:

    "sender"      sender_scores with 4 random probes and the sampler's generator
                  (another count: score=functools.partial(sender, probes=16))
    "leverage"    ‖r_i‖ · tr K_ii: the error weighted by self-leverage only (no coupling)
    "last_layer"  ‖(K_last r)_i‖ with the last layer's kernel
    "adam"        ‖(J P Jᵀ r)_i‖ with Adam's preconditioner P, the kernel Adam's step uses
                  (P = I before the optimizer's first step, or with no optimizer on the view)
    "random"      uniform noise: random picks in place of the NTK set (a control, protocol v2)

Each score is fn(view, sampler) -> (N,): view.model, view.coords (N, d), view.residuals() (N, C),
view.optimizer (or None); sampler.chunk_size and sampler.generator.
Built in notebooks/08_beyond_the_paper.ipynb.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import ntk
from ..models import INR
from ..samplers import register_score

__all__ = ["sender_scores", "last_layer_matvec", "adam_preconditioner", "sender", "leverage",
           "last_layer", "adam", "random"]


def sender_scores(model: nn.Module, x: torch.Tensor, residual: torch.Tensor, probes: int = 4,
                  generator: torch.Generator | None = None, chunk_size: int = ntk.DEFAULT_CHUNK) -> torch.Tensor:
    """How much a gradient step on x_i ALONE would move the whole function: (N,) ≈ r_iᵀ (K²)_ii r_i.

    NINT's ‖(K r)_i‖ is the receiver's view (how much the full-batch step moves f(x_i)). Training
    on x_i changes f(x_j) by −η K_ji r_i for every j; summed over j the squared change is
    r_iᵀ (Σ_j K_ij K_ji) r_i = r_iᵀ J_i F J_iᵀ r_i with F = JᵀJ. Random signs z (N, C) give
    E[Jᵀz zᵀJ] = F, and J_iᵀ r_i · Jᵀ z = r_iᵀ (K z)_i, so
        score_i ≈ mean over probes of (r_iᵀ (K z)_i)²,
    an unbiased estimate from `probes` K·z products (VJP→JVP each), never forming K.
    x: (N, d), residual: (N, C).
    """
    x = ntk._check_x(model, x)
    r = ntk._check_v(residual, x.shape[0], ntk._out_channels(model, x), "residual")
    if not isinstance(probes, int) or isinstance(probes, bool) or probes <= 0:
        raise ValueError(f"probes must be a positive int, got {probes!r}")
    acc = torch.zeros(x.shape[0], dtype=r.dtype, device=r.device)
    for _ in range(probes):
        z = torch.randint(0, 2, r.shape, generator=generator, device=r.device).to(r.dtype) * 2 - 1
        acc += (r * ntk.matvec(model, x, z, chunk_size)).sum(1) ** 2
    return acc / probes


def _trunk(model: nn.Module):
    """(features fn x -> H (n, h), last nn.Linear) for models ending in a Linear layer."""
    if type(model).forward is INR.forward and isinstance(model.net[-1], nn.Linear):
        return (lambda x: model.net[:-1](model.encoding(x))), model.net[-1]
    if type(model).forward is nn.Sequential.forward and isinstance(model[-1], nn.Linear):
        return model[:-1], model[-1]
    raise ValueError("last_layer_matvec needs an nint_lite INR or an nn.Sequential ending in nn.Linear")


def last_layer_matvec(model: nn.Module, x: torch.Tensor, v: torch.Tensor,
                      chunk_size: int = ntk.DEFAULT_CHUNK) -> torch.Tensor:
    """K_last v: (N, C), the NTK of the last Linear layer's parameters only. x: (N, d), v: (N, C).

    For out = W h + b, J_i over (W, b) gives K_last(x_i, x_j) = (h_iᵀ h_j + 1)·I_C, so
    K_last v = H (Hᵀ v) + 1 (1ᵀ v): two forward passes of the trunk, no autograd at all — a
    cheap stand-in for K v (how good a stand-in is what notebook 08 measures).
    """
    x = ntk._check_x(model, x)
    feats, last = _trunk(model)
    v = ntk._check_v(v, x.shape[0], last.out_features, "v")
    with torch.no_grad():
        htv = sum(feats(xc).T @ vc for xc, vc in zip(x.split(chunk_size), v.split(chunk_size)))  # (h, C)
        total = v.sum(0) if last.bias is not None else torch.zeros_like(v[0])
        return torch.cat([feats(xc) @ htv + total for xc in x.split(chunk_size)])


def adam_preconditioner(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict | None:
    """Adam's diagonal preconditioner 1 / (√v̂ + ε) per parameter, by name (parameter shapes),
    from the optimizer's state (v̂ the bias-corrected second moment); None before its first step."""
    names = {id(p): k for k, p in model.named_parameters() if p.requires_grad}
    out = {}
    for group in optimizer.param_groups:
        beta2, eps = group["betas"][1], group["eps"]
        for p in group["params"]:
            st = optimizer.state.get(p, {})
            if id(p) not in names or "exp_avg_sq" not in st:
                return None
            step = float(st["step"])
            vhat = st["exp_avg_sq"] / (1 - beta2 ** step)
            out[names[id(p)]] = 1.0 / (vhat.sqrt() + eps)
    return out or None


# --------------------------------------------------------------------------- NINT scores

def sender(view, sampler, probes: int = 4) -> torch.Tensor:
    """NINT score "sender": sender_scores with the sampler's generator (so runs are seeded)."""
    return sender_scores(view.model, view.coords, view.residuals(), probes, sampler.generator,
                         sampler.chunk_size)


def leverage(view, sampler) -> torch.Tensor:
    """NINT score "leverage": ‖r_i‖ · tr K_ii."""
    return view.residuals().norm(dim=1) * ntk.diagonal(view.model, view.coords, sampler.chunk_size)


def last_layer(view, sampler) -> torch.Tensor:
    """NINT score "last_layer": ‖(K_last r)_i‖."""
    return last_layer_matvec(view.model, view.coords, view.residuals(), sampler.chunk_size).norm(dim=1)


def adam(view, sampler) -> torch.Tensor:
    """NINT score "adam": ‖(J P Jᵀ r)_i‖, P = Adam's preconditioner (I before its first step)."""
    opt = getattr(view, "optimizer", None)
    pre = adam_preconditioner(view.model, opt) if opt is not None else None
    return ntk.matvec(view.model, view.coords, view.residuals(), sampler.chunk_size, precond=pre).norm(dim=1)


def random(view, sampler) -> torch.Tensor:
    """NINT score "random", a control: uniform noise from the sampler's generator, so the NTK
    set becomes B·share random picks (cached and refreshed exactly like the NTK set). It asks
    whether NINT's early NTK phase helps through the kernel or only through its share."""
    g = sampler.generator
    return torch.rand(view.n, generator=g, device=g.device)


for _name, _fn in (("sender", sender), ("leverage", leverage), ("last_layer", last_layer), ("adam", adam),
                   ("random", random)):
    register_score(_name, _fn)
