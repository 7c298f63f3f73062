"""The exercise checks of notebooks/02_*.ipynb (nint_lite/classroom/checks/nb02.py): each passes
on a solution, fails naming each plausible mistake, and rejects an answer that calls the package."""
import torch
from torch.func import functional_call, jvp, vjp

from check_cases import make_tests
from nint_lite import ntk


def _params(model):
    return {k: p.detach() for k, p in model.named_parameters()}


def _fx(model, x):
    return lambda p: functional_call(model, p, (x,))  # noqa: E731


# ---- kernel_spectrum: eigenvalues of K from J

def _spec(model, x, mode="ok"):
    J = ntk.jacobian(model, x)                                    # allowed: the building block of §2
    n, c, p = J.shape
    s2 = torch.linalg.svdvals(J.reshape(n * c, p)).pow(2)
    if mode == "ok":
        return torch.cat([s2, s2.new_zeros(max(0, n * c - p))])
    if mode == "gram":                                            # another correct route: JᵀJ is P×P
        ev = torch.linalg.eigvalsh(J.reshape(n * c, p).T @ J.reshape(n * c, p)).flip(0)
        return torch.cat([ev, ev.new_zeros(max(0, n * c - p))])[: n * c]
    return {"sigma": lambda: torch.cat([s2.sqrt(), s2.new_zeros(max(0, n * c - p))]),
            "ascending": lambda: torch.cat([s2, s2.new_zeros(max(0, n * c - p))]).flip(0),
            "no_pad": lambda: s2,
            "form_K": lambda: torch.linalg.eigvalsh(J.reshape(n * c, p) @ J.reshape(n * c, p).T).flip(0),
            "full_svd": lambda: torch.cat([torch.linalg.svd(J.reshape(n * c, p))[1].pow(2),
                                           s2.new_zeros(max(0, n * c - p))])}[mode]()


def _spec_package(model, x):
    K = ntk.matrix(model, x)                                      # (N, N, C, C)
    n, c = K.shape[0], K.shape[2]
    return torch.linalg.eigvalsh(K.permute(0, 2, 1, 3).reshape(n * c, n * c)).flip(0)


# ---- k_times_v_chunked

def _chunked(model, x, v, chunk, mode="ok"):
    params = _params(model)
    u = {k: torch.zeros_like(p) for k, p in params.items()}
    outs = []
    for xc, vc in zip(x.split(chunk), v.split(chunk)):
        (g,) = vjp(_fx(model, xc), params)[1](vc)
        if mode == "block":
            outs.append(jvp(_fx(model, xc), (params,), (g,))[1])
            continue
        u = g if mode == "overwrite" else {k: u[k] + g[k] for k in u}
        if mode == "first_only":
            break
    if mode == "block":
        return torch.cat(outs)
    keep = 0 if mode == "primal" else 1
    if mode == "whole":                                           # one JVP over all of x at once
        return jvp(_fx(model, x), (params,), (u,))[keep]
    return torch.cat([jvp(_fx(model, xc), (params,), (u,))[keep] for xc in x.split(chunk)])


def _unchunked(model, x, v, chunk):                               # right numbers, unbounded memory
    fx, params = _fx(model, x), _params(model)
    (u,) = vjp(fx, params)[1](v)
    return jvp(fx, (params,), (u,))[1]


# ---- leverage_closed_form: tr K_ii by the per-layer formula

def _lev(net, x, mode="ok"):
    h, zs, sq = x, [], []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            sq.append(h.detach().pow(2).sum(1) + (0.0 if mode == "no_bias" else 1.0))
            h = m(h)
            zs.append(h)
        else:
            h = m(h)
    wrt = zs
    if mode == "post_act":                                        # δ after each activation instead
        wrt, hh = [], x
        for k, m in enumerate(net):
            hh = m(hh)
            if not isinstance(m, torch.nn.Linear) or k == len(net) - 1:
                wrt.append(hh)
        h = hh
    out = torch.zeros(x.shape[0])
    for fc in ([h.sum(1)] if mode == "sum_channels" else h.unbind(1)):
        deltas = torch.autograd.grad(fc.sum(), wrt, retain_graph=True)
        for d, s2 in zip(deltas, sq):
            out += d.pow(2).sum(1) * s2
    return out.detach()


def _lev_per_sample(net, x):                                      # right numbers, per-sample gradients
    from torch.func import jacrev, vmap
    params = _params(net)
    jac = vmap(jacrev(lambda p, xi: functional_call(net, p, (xi[None],))[0]), in_dims=(None, 0))(params, x)
    return sum(j.pow(2).flatten(1).sum(1) for j in jac.values())


def _lev_loop(net, x):                                            # right numbers, a pass per coordinate
    return torch.cat([_lev(net, x[i:i + 1]) for i in range(x.shape[0])])


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "kernel_spectrum": (_spec, [(lambda m, x: _spec(m, x, "sigma"), "singular values σ"),
                                (lambda m, x: _spec(m, x, "ascending"), "largest first"),
                                (lambda m, x: _spec(m, x, "no_pad"), "pad with zeros"),
                                (lambda m, x: _spec(m, x, "form_K"), "as large as K"),
                                (lambda m, x: _spec(m, x, "full_svd"), "full_matrices=False")]),
    "k_times_v_chunked": (_chunked, [(lambda m, x, v, c: _chunked(m, x, v, c, "block"), "ALL chunks"),
                                     (lambda m, x, v, c: _chunked(m, x, v, c, "overwrite"), "last chunk"),
                                     (lambda m, x, v, c: _chunked(m, x, v, c, "first_only"), "first chunk"),
                                     (lambda m, x, v, c: _chunked(m, x, v, c, "primal"), "primal, tangent"),
                                     (lambda m, x, v, c: _chunked(m, x, v, c, "whole"), "one call"),
                                     (_unchunked, "one call")]),
    "leverage_closed_form": (_lev, [(lambda n, x: _lev(n, x, "no_bias"), "bias is missing"),
                                    (lambda n, x: _lev(n, x, "post_act"), "OUTPUT z"),
                                    (lambda n, x: _lev(n, x, "ok").sqrt(), "its square"),
                                    (lambda n, x: _lev(n, x, "sum_channels"), "one backward per channel"),
                                    (_lev_per_sample, "per-sample gradients"),
                                    (_lev_loop, "pass per")]),
}

PACKAGE = {  # check: an answer that only calls the package's own implementation
    "kernel_spectrum": lambda m, x: _spec_package(m, x),
    "k_times_v_chunked": lambda m, x, v, c: ntk.matvec(m, x, v, chunk_size=c),
    "leverage_closed_form": lambda net, x: ntk.diagonal(net, x),
}

globals().update(make_tests(CASES, PACKAGE))


def test_kernel_spectrum_accepts_the_gram_route():
    from nint_lite.classroom import checks
    checks.kernel_spectrum(lambda m, x: _spec(m, x, "gram"))


def test_k_times_v_chunked_rejects_forming_the_kernel():
    from nint_lite.classroom import checks
    import pytest
    with pytest.raises(AssertionError, match="package's own implementation"):
        checks.k_times_v_chunked(lambda m, x, v, c: torch.einsum("ijcd,jd->ic", ntk.matrix(m, x), v))
