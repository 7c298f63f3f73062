"""Self-checks for the exercises: nl.checks.<name>(my_fn) tests the learner's function.

Used by the exercises of notebooks 01–08 (as nl.checks, an alias of nint_lite.classroom.checks).

Each check runs the learner's function on fresh random inputs, compares it with an independent
reference (the package's function, an analytic answer, or an explicit kernel), prints a short
verdict, and raises AssertionError with what differs on failure — naming the plausible mistake
when the answer reproduces one. CI runs them on the solutions.

    make_grid(my_fn)          notebook 01: my_fn(shape) -> (prod(shape), len(shape)) grid in [-1, 1]
    psnr_by_hand(my_fn)       notebook 01: my_fn(pred, target, data_range=1.0) -> dB (float)
    siren_init_bounds(my_fn)  notebook 01: my_fn(fan_in, w0, first) -> SIREN weight bound
    k_times_v(my_fn)          notebook 02: my_fn(model, x, v) -> K v, (N, C)
    jacobian(my_fn)           notebook 02: my_fn(model, x) -> J, (N, C, P)
    k_times_v_chunked(my_fn)  notebook 02: my_fn(model, x, v, chunk_size) -> K v, (N, C)
    self_leverage(my_fn)      notebook 03: my_fn(model, x) -> tr K_ii, (N,)
    coupling_row(my_fn)       notebook 03: my_fn(model, x, q) -> tr K(x_q, x_j), (N,)
    int_selection(my_fn)      notebook 04: my_fn(residual (N, C), B) -> top-B indices by Σ_c |r|
    nint_mix(my_fn)           notebook 04: my_fn(score, error, B, n_ntk, n_rand, generator) -> indices
    train_step(my_fn)         notebook 05: my_fn(model, opt, x, y, indices): one step on the subset MSE
    uniform_indices(my_fn)    notebook 05: my_fn(n, B, generator) -> B distinct uniform indices
    time_to(my_fn)            notebook 05: my_fn(seconds, psnr, target) -> first time PSNR ≥ target, or None
    si_snr_by_hand(my_fn)     notebook 06: my_fn(pred (N,), target (N,)) -> SI-SNR in dB
    iou_by_hand(my_fn)        notebook 06: my_fn(pred_sdf (N,), target_sdf (N,)) -> IoU of the insides
    paired_ratio(my_fn)       notebook 07: my_fn(times, full_times) -> median per-seed ratio, or None
    sender_scores(my_fn)      notebook 08: my_fn(model, x, r, probes, generator) -> ≈ r_iᵀ (K²)_ii r_i

Only core modules are imported here (torch, no plotting); the 3D IoU comes from nint_lite.shapes
inside iou_by_hand.
"""
from __future__ import annotations

import copy
import math

import torch

from .. import ntk
from ..metrics import psnr, si_snr
from ..models import make_model
from ..signals import grid

__all__ = ["make_grid", "psnr_by_hand", "siren_init_bounds", "k_times_v", "jacobian", "k_times_v_chunked",
           "self_leverage", "coupling_row", "int_selection", "nint_mix", "train_step", "uniform_indices",
           "time_to", "si_snr_by_hand", "iou_by_hand", "paired_ratio", "sender_scores"]


def _fail(name: str, msg: str):
    print(f"✗ {name}: {msg}")
    raise AssertionError(f"{name}: {msg}")


def _check_indices(name, idx, n, count):
    if not torch.is_tensor(idx):
        _fail(name, f"expected a tensor of indices, got {type(idx).__name__}")
    if idx.ndim != 1:
        _fail(name, f"indices must be 1-D (B,), got shape {tuple(idx.shape)}")
    if idx.dtype not in (torch.int64, torch.int32):
        _fail(name, f"indices must be integers (torch.long), got {idx.dtype}")
    if idx.numel() != count:
        _fail(name, f"expected {count} indices, got {idx.numel()}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= n):
        _fail(name, f"indices must lie in [0, {n}), got range [{idx.min().item()}, {idx.max().item()}]")
    if torch.unique(idx).numel() != idx.numel():
        _fail(name, f"indices must be distinct; {idx.numel() - torch.unique(idx).numel()} repeated")


def _compare(name, out, ref, tol, hints=(), case=""):
    """out must have ref's shape and max |out − ref| ≤ tol · max |ref|. On failure, name the first
    plausible mistake (alt, message) in `hints` whose alt the answer reproduces."""
    if not torch.is_tensor(out):
        _fail(name, f"expected a tensor of shape {tuple(ref.shape)}, got {type(out).__name__}{case}")
    out = out.detach().to(ref.dtype)
    scale = ref.abs().max().clamp_min(1e-12)
    ok = tuple(out.shape) == tuple(ref.shape) and ((out - ref).abs().max() / scale).item() <= tol
    if ok:
        return
    hint = next((f" — {msg}" for alt, msg in hints if tuple(alt.shape) == tuple(out.shape)
                 and ((out - alt.to(out.dtype)).abs().max() / scale).item() <= tol), "")
    if tuple(out.shape) != tuple(ref.shape):
        _fail(name, f"shape {tuple(ref.shape)} expected, got {tuple(out.shape)}{case}{hint}")
    _fail(name, f"max relative error {((out - ref).abs().max() / scale).item():.1e} "
                f"(tolerance {tol:.0e}){case}{hint}")


def _as_float(name, out):
    try:
        return float(out)
    except (TypeError, ValueError):
        _fail(name, f"expected a number (float), got {type(out).__name__}")


def _small(trial, n, c, name="siren", hidden=8):
    g = torch.Generator().manual_seed(500 + trial)
    model = make_model(name, 2, c, hidden=hidden, layers=2, seed=trial)
    return model, torch.rand(n, 2, generator=g) * 2 - 1, torch.randn(n, c, generator=g)


# --------------------------------------------------------------------------- notebook 01


def make_grid(fn):
    """fn(shape) must return nl.grid(shape): every node of [-1, 1]^d, endpoints included, row-major."""
    name = "make_grid"
    shapes = [(4, 5), (7,), (2, 3, 4), (1, 6)]
    for shape in shapes:
        ref, d = grid(shape), len(shape)
        mesh = lambda axes, ij="ij": torch.meshgrid(*axes, indexing=ij)  # noqa: E731
        lin = [torch.linspace(-1, 1, n) for n in shape]
        centres = [(torch.arange(n) + 0.5) / n * 2 - 1 for n in shape]
        hints = [(torch.stack(mesh(lin, "xy"), -1).reshape(-1, d),
                  "indexing='xy' swaps the first two axes: use indexing='ij' (row-major)"),
                 (ref.flip(1), "the columns are reversed: column k must vary along axis k"),
                 (torch.stack(mesh(lin), 0).reshape(-1, d), "stack the meshes on the last axis (dim=-1), then reshape"),
                 (torch.stack(mesh(centres), -1).reshape(-1, d),
                  "these are pixel centres; the grid includes both ends −1 and 1 (torch.linspace)")]
        _compare(name, fn(shape), ref, 1e-6, hints, f" for shape {shape}")
    print(f"✓ {name}: matches nl.grid for shapes {', '.join(map(str, shapes))}")


def psnr_by_hand(fn):
    """fn(pred, target, data_range=1.0) must return 10·log10(data_range² / MSE) in dB (a number)."""
    name = "psnr_by_hand"
    for trial, (shape, rng) in enumerate([((50, 1), 1.0), ((40, 3), 1.0), ((64, 1), 2.0)]):
        g = torch.Generator().manual_seed(400 + trial)
        target = torch.rand(shape, generator=g) * rng - (rng - 1)   # values in [0, 1] or [−1, 1]
        pred = target + 0.05 * trial + 0.1 * torch.randn(shape, generator=g)
        ref = psnr(pred, target, data_range=rng)
        out = fn(pred.clone(), target.clone()) if rng == 1 else fn(pred.clone(), target.clone(), rng)
        try:
            out = float(out)
        except (TypeError, ValueError):
            _fail(name, f"expected a number (float), got {type(out).__name__}")
        if not abs(out - ref) <= 1e-4:
            mse, sq = torch.mean((pred - target) ** 2).item(), torch.sum((pred - target) ** 2).item()
            hints = [(20 * math.log10(rng ** 2 / mse), "that is 20·log10; PSNR is 10·log10(range² / MSE)"),
                     (10 * math.log10(rng / mse), "square the range: the peak power is data_range²"),
                     (10 * math.log10(rng ** 2 / sq), "MSE is the mean over all elements, not the sum"),
                     (10 * math.log(rng ** 2 / mse), "use log10, not the natural log"),
                     (10 * math.log10(rng ** 2 / math.sqrt(mse)), "divide by the MSE, not the RMSE"),
                     (10 * math.log10(1 / mse), "use data_range: with values in [−1, 1] the range is 2")]
            hint = next((f" — {m}" for v, m in hints if abs(out - v) <= 1e-4), "")
            _fail(name, f"got {out:.4f} dB, expected {ref:.4f} dB (data_range={rng}, shape {shape}){hint}")
    print(f"✓ {name}: matches nl.psnr to 1e-4 dB, with data_range 1 and 2")


def siren_init_bounds(fn):
    """fn(fan_in, w0, first) must return SIREN's weight bound: 1/fan_in for the first layer, else
    sqrt(6/fan_in)/w0 — checked analytically and against the weights of nl.make_model("siren")."""
    name = "siren_init_bounds"
    for fan_in, w0, first in [(2, 30.0, True), (3, 30.0, True), (128, 30.0, False), (64, 1.0, False), (256, 10.0, False)]:
        ref = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / w0
        out = float(fn(fan_in, w0, first))
        if not math.isclose(out, ref, rel_tol=1e-6):
            hints = [(1.0 / (fan_in * w0), "the first layer's bound 1/fan_in is not divided by w0"),
                     (math.sqrt(6.0 / fan_in) / w0, "the first layer uses U(−1/fan_in, 1/fan_in)"),
                     (math.sqrt(6.0 / fan_in), "hidden layers divide sqrt(6/fan_in) by w0"),
                     (math.sqrt(6.0) / fan_in / w0, "the square root covers the ratio: sqrt(6 / fan_in)"),
                     (1.0 / fan_in, "1/fan_in is the first layer's rule; hidden layers use sqrt(6/fan_in)/w0")]
            hint = next((f" — {m}" for v, m in hints if math.isclose(out, v, rel_tol=1e-6)), "")
            _fail(name, f"got {out:.6g} for fan_in={fan_in}, w0={w0}, first={first}; expected {ref:.6g}{hint}")
    model = make_model("siren", 2, 1, hidden=64, layers=3, seed=7, w0=20.0)
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    for k, lin in enumerate(linears):
        bound, wmax = float(fn(lin.in_features, 20.0, k == 0)), lin.weight.abs().max().item()
        if not 0.9 * bound <= wmax <= bound:
            _fail(name, f"layer {k}: nl.make_model's weights reach {wmax:.4g}, your bound is {bound:.4g}")
    print(f"✓ {name}: right bounds on 5 layer shapes and on every layer of nl.make_model('siren', w0=20)")


# --------------------------------------------------------------------------- notebook 02


def k_times_v(fn, trials: int = 3):
    """fn(model, x, v) must return K v with K the empirical NTK: (N, C). Tolerance 1e-4 relative."""
    name = "k_times_v"
    for trial in range(trials):
        g = torch.Generator().manual_seed(100 + trial)
        n, c = (13, 3) if trial % 2 else (9, 1)
        model = make_model("siren", 2, c, hidden=16, layers=2, seed=trial)
        x = torch.rand(n, 2, generator=g) * 2 - 1
        v = torch.randn(n, c, generator=g)
        ref = ntk.matvec(model, x, v)
        out = fn(model, x, v)
        if not torch.is_tensor(out) or tuple(out.shape) != (n, c):
            got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            _fail(name, f"shape (N, C) = ({n}, {c}) expected, got {got}")
        out = out.detach()
        err = (out - ref).abs()
        rel = (err.max() / ref.abs().max()).item()
        if rel > 1e-4:
            i = int(err.amax(1).argmax())
            hint = ""
            if torch.allclose(out, model(x).detach(), atol=1e-5):
                hint = " — this is f(x): jvp returns (primal, tangent), keep the tangent"
            _fail(name, f"max relative error {rel:.1e} at coordinate {i} (trial {trial + 1}){hint}")
    print(f"✓ {name}: matches nl.ntk.matvec on {trials} random models and inputs (rel. error ≤ 1e-4)")


def jacobian(fn):
    """fn(model, x) must return the per-coordinate Jacobian J: (N, C, P), parameters flattened in
    model.named_parameters() order (as nl.ntk.jacobian)."""
    name = "jacobian"
    for trial, (n, c) in enumerate([(7, 1), (5, 3)]):
        model, x, _ = _small(trial, n, c)
        ref = ntk.jacobian(model, x)
        hints = [(ref.transpose(1, 2), "transposed: the layout is (N, C, P), channels before parameters"),
                 (ref[:, 0], "keep the channel axis: (N, C, P) even when C = 1"),
                 (model(x).detach()[..., None].expand_as(ref),
                  "these are f(x): jvp returns (primal, tangent), keep the tangent")]
        _compare(name, fn(model, x), ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c})")
    print(f"✓ {name}: matches nl.ntk.jacobian (N, C, P) for C = 1 and C = 3 (rel. error ≤ 1e-4)")


def k_times_v_chunked(fn):
    """fn(model, x, v, chunk_size) must return K v (N, C) for any chunk size: u = Σ_chunks J_chunkᵀ
    v_chunk over ALL chunks first, then one JVP per chunk."""
    name = "k_times_v_chunked"
    for trial, (n, c, chunk) in enumerate([(13, 3, 4), (9, 1, 1), (10, 3, 32)]):
        model, x, v = _small(trial, n, c)
        ref = ntk.matvec(model, x, v)
        last = v.clone()
        last[: (n - 1) // chunk * chunk] = 0                      # only the last chunk's VJP kept
        hints = [(torch.cat([ntk.matvec(model, xc, vc) for xc, vc in zip(x.split(chunk), v.split(chunk))]),
                  "each chunk used only its own u: accumulate u over ALL chunks, then one JVP per chunk"),
                 (ntk.matvec(model, x, last), "u holds only the last chunk's VJP: add (+=) every chunk's"),
                 (model(x).detach(), "this is f(x): jvp returns (primal, tangent), keep the tangent")]
        _compare(name, fn(model, x, v.clone(), chunk), ref, 1e-4, hints,
                 f" (trial {trial + 1}, N={n}, C={c}, chunk_size={chunk})")
    print(f"✓ {name}: matches nl.ntk.matvec for chunk sizes 4, 1 and larger than N (rel. error ≤ 1e-4)")


# --------------------------------------------------------------------------- notebook 03


def self_leverage(fn):
    """fn(model, x) must return tr K_ii = ‖J_i‖²_F = Σ_c ‖J_ic‖² for every coordinate: (N,)."""
    name = "self_leverage"
    for trial, (n, c, family) in enumerate([(11, 1, "siren"), (9, 3, "siren"), (10, 3, "relu")]):
        model, x, _ = _small(trial, n, c, family)
        J = ntk.jacobian(model, x)
        ref = J.pow(2).sum((1, 2))
        hints = [(ref.sqrt(), "that is ‖J_i‖; self-leverage is the squared norm ‖J_i‖²"),
                 (J[:, 0].pow(2).sum(1), "sum over all channels: tr K_ii = Σ_c ‖J_ic‖²"),
                 (J.pow(2).sum(2), "one number per coordinate: sum the channels too")]
        _compare(name, fn(model, x), ref, 1e-4, hints, f" (trial {trial + 1}, {family}, N={n}, C={c})")
    print(f"✓ {name}: matches ‖J_i‖² from nl.ntk.jacobian for SIREN and ReLU, C = 1 and 3")


def coupling_row(fn):
    """fn(model, x, q) must return the kernel row tr K(x_q, x_j) = Σ_c K(x_q, x_j)_cc for all j: (N,)."""
    name = "coupling_row"
    for trial, (n, c, q) in enumerate([(12, 3, 5), (10, 1, 0), (15, 3, 14)]):
        model, x, _ = _small(trial, n, c)
        blocks = ntk.matrix(model, x[q:q + 1], x)[0]              # (N, C, C), Jacobian contraction
        ref = blocks.diagonal(dim1=-2, dim2=-1).sum(-1)
        hints = [(blocks[:, 0, 0], "only channel 0: add one matvec per channel, v one-hot at (q, c)"),
                 (blocks.sum((-2, -1)), "that also sums the cross-channel entries K_cd, c ≠ d: keep channel c "
                                        "of the matvec with v one-hot at (q, c)")]
        out = fn(model, x, q)
        _compare(name, out, ref, 1e-4, hints, f" (trial {trial + 1}, N={n}, C={c}, q={q})")
    print(f"✓ {name}: matches the trace of row q of nl.ntk.matrix for C = 1 and 3")


# --------------------------------------------------------------------------- notebook 04


def int_selection(fn, trials: int = 4):
    """fn(residual (N, C), B) must return the B indices with the largest Σ_c |r_ic| (any order)."""
    name = "int_selection"
    for trial in range(trials):
        g = torch.Generator().manual_seed(200 + trial)
        n, c = 50 + 17 * trial, 1 + 2 * (trial % 2)
        r = torch.randn(n, c, generator=g)
        b = 5 + 3 * trial
        ref = set(torch.topk(r.abs().sum(1), b).indices.tolist())
        idx = fn(r.clone(), b)
        _check_indices(name, idx, n, b)
        got = set(idx.tolist())
        if got != ref:
            l2 = set(torch.topk(r.norm(dim=1), b).indices.tolist())
            hint = " — that is the ℓ2 norm; INT sums |r| over channels" if got == l2 and c > 1 else ""
            _fail(name, f"{len(got - ref)} of {b} indices are not among the top-B by Σ_c|r| "
                        f"(trial {trial + 1}, N={n}, C={c}){hint}")
    print(f"✓ {name}: picks exactly the top-B by Σ_c |r| on {trials} random residuals")


def nint_mix(fn, trials: int = 4):
    """fn(score (N,), error (N,), B, n_ntk, n_rand, generator) must return B distinct indices:
    the top n_ntk by score, then the top (B − n_ntk − n_rand) by error among the rest, then
    n_rand uniformly random among the remaining coordinates."""
    name = "nint_mix"
    for trial in range(trials):
        g = torch.Generator().manual_seed(300 + trial)
        n = 80 + 10 * trial
        score, error = torch.rand(n, generator=g), torch.rand(n, generator=g)
        b, n_ntk, n_rand = 20, [6, 0, 3, 20][trial], [10, 14, 0, 0][trial]
        idx = fn(score.clone(), error.clone(), b, n_ntk, n_rand, torch.Generator().manual_seed(trial))
        _check_indices(name, idx, n, b)
        got = set(idx.tolist())
        ntk_set = set(torch.topk(score, n_ntk).indices.tolist())
        if not ntk_set <= got:
            _fail(name, f"{len(ntk_set - got)} of the top-{n_ntk} NTK-score coordinates are missing (trial {trial + 1})")
        rest_err = error.clone()
        rest_err[list(ntk_set)] = -1
        n_err = b - n_ntk - n_rand
        err_set = set(torch.topk(rest_err, n_err).indices.tolist())
        if not err_set <= got:
            _fail(name, f"{len(err_set - got)} of the top-{n_err} error coordinates (outside the NTK set) "
                        f"are missing (trial {trial + 1}); pick errors among the coordinates not already taken")
    # the random part must actually be random: two generators, two different draws
    g_score, g_err = torch.rand(200, generator=torch.Generator().manual_seed(9)), torch.rand(200, generator=torch.Generator().manual_seed(10))
    a = set(fn(g_score, g_err, 40, 5, 30, torch.Generator().manual_seed(1)).tolist())
    c = set(fn(g_score, g_err, 40, 5, 30, torch.Generator().manual_seed(2)).tolist())
    if a == c:
        _fail(name, "the random part did not change with the generator: draw it with the `generator` argument")
    print(f"✓ {name}: NTK top, error top among the rest and a random remainder on {trials} cases")


# --------------------------------------------------------------------------- notebook 05


def _step(model, opt, x, y, idx, zero=True, full=False, reduce=torch.mean):
    """The reference for train_step, and (with zero / full / reduce) the mistakes it names.
    Written out on purpose rather than calling nl.train_step: the exercise is a textbook step
    (zero_grad, forward, backward, opt.step), while train.train_step only accumulates gradients
    chunk by chunk, so the check stays independent of the code it teaches."""
    sel = slice(None) if full else idx
    loss = reduce((model(x[sel]) - y[sel]) ** 2)
    if zero:
        opt.zero_grad()
    loss.backward()
    opt.step()


def train_step(fn):
    """fn(model, opt, x, y, indices) must take one optimizer step on the MSE over the selected
    coordinates (zero_grad, forward on x[indices], backward, step). Two steps in a row are
    compared with a reference on a copy of the model, once with Adam and once with SGD."""
    name = "train_step"
    wrong = {"forgot opt.zero_grad(): gradients add up across steps": dict(zero=False),
             "trained on all coordinates: use only x[indices], y[indices]": dict(full=True),
             "the loss is the mean squared error, not the sum": dict(reduce=torch.sum)}
    for trial, (make_opt, label) in enumerate([(lambda p: torch.optim.Adam(p, lr=1e-3), "Adam"),
                                               (lambda p: torch.optim.SGD(p, lr=0.05), "SGD")]):
        model, x, y = _small(trial, 40, 3 - 2 * trial, hidden=16)
        g = torch.Generator().manual_seed(600 + trial)
        steps = [torch.randperm(40, generator=g)[:8] for _ in range(2)]
        start = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        runs = {}
        for label_w, kw in [(None, {})] + list(wrong.items()):
            m = copy.deepcopy(model)
            opt = make_opt(m.parameters())
            for idx in steps:
                _step(m, opt, x, y, idx, **kw)
            runs[label_w] = torch.nn.utils.parameters_to_vector(m.parameters()).detach() - start
        opt = make_opt(model.parameters())
        for idx in steps:
            fn(model, opt, x.clone(), y.clone(), idx.clone())
        out = torch.nn.utils.parameters_to_vector(model.parameters()).detach() - start
        hints = [(d, msg) for msg, d in runs.items() if msg is not None]
        _compare(name, out, runs[None], 1e-3, hints, f" (parameter change after 2 {label} steps)")
    print(f"✓ {name}: the same parameter updates as the reference step, over 2 steps with Adam and with SGD")


def uniform_indices(fn):
    """fn(n, B, generator) must return B distinct indices drawn uniformly from 0..n−1 with `generator`."""
    name = "uniform_indices"
    for n, b in [(10, 3), (50, 50), (100, 1)]:
        idx = fn(n, b, torch.Generator().manual_seed(1))
        if torch.is_tensor(idx) and torch.unique(idx).numel() < idx.numel():
            _fail(name, f"{idx.numel() - torch.unique(idx).numel()} repeated indices (n={n}, B={b}) — "
                        "torch.randint draws with replacement: use torch.randperm(n, generator=...)[:B]")
        _check_indices(name, idx, n, b)
    same = [fn(20, 5, torch.Generator().manual_seed(3)).tolist() for _ in range(2)]
    if same[0] != same[1]:
        _fail(name, "the same generator seed gave different indices: draw with the `generator` argument, "
                    "not the global random state")
    if len({tuple(fn(20, 5, torch.Generator().manual_seed(s)).tolist()) for s in range(5)}) == 1:
        _fail(name, "five generator seeds gave the same indices: the draw is not random")
    g, draws, n, b = torch.Generator().manual_seed(4), 3000, 12, 3
    counts = torch.bincount(torch.cat([fn(n, b, g) for _ in range(draws)]), minlength=n).double()
    expected, sd = draws * b / n, math.sqrt(draws * (b / n) * (1 - b / n))
    if (counts - expected).abs().max() > 6 * sd:
        hint = " — randperm(B) only permutes 0..B−1: permute all n, then keep B" if counts[b:].sum() == 0 else ""
        _fail(name, f"not uniform: over {draws} draws index counts range {int(counts.min())}..{int(counts.max())}, "
                    f"expected {expected:.0f} ± {6 * sd:.0f}{hint}")
    print(f"✓ {name}: distinct, in range, reproducible with the generator and uniform over {draws} draws")


def time_to(fn):
    """fn(seconds, psnr, target) must return the training seconds at the FIRST evaluation whose
    PSNR is ≥ target, or None if none is."""
    name = "time_to"
    secs = [0.0, 1.5, 3.0, 4.5, 6.0]
    cases = [([10.0, 26.0, 20.0, 27.0, 29.0], 25.0), ([10.0, 20.0, 25.0, 24.0, 28.0], 25.0),
             ([10.0, 20.0, 25.0, 24.0, 28.0], 30.0), ([12.0, 20.0, 25.0, 24.0, 28.0], 5.0),
             ([10.0, 20.0, 23.0, 24.0, 24.5], 24.2)]
    for psnr_, target in cases:
        hit = [i for i, p in enumerate(psnr_) if p >= target]
        ref = secs[hit[0]] if hit else None
        out = fn(list(secs), list(psnr_), target)
        try:
            out = None if out is None else float(out)
        except (TypeError, ValueError):
            _fail(name, f"expected a number of seconds or None, got {type(out).__name__}")
        if (out is None) != (ref is None) or (ref is not None and not math.isclose(out, ref, abs_tol=1e-9)):
            strict = [i for i, p in enumerate(psnr_) if p > target]
            hints = [(secs[strict[0]] if strict else None, "PSNR equal to the target counts: use ≥, not >"),
                     (secs[hit[-1]] if hit else None, "return the FIRST time the target is reached, not the last"),
                     (hit[0] if hit else None, "return the training seconds, not the evaluation's index"),
                     (float("nan"), "return None when the target is never reached")]
            hint = next((f" — {m}" for v, m in hints if v is not None and out is not None
                         and (math.isnan(v) and math.isnan(out) or math.isclose(out, v, abs_tol=1e-9))), "")
            if ref is None and out is not None and not hint:
                hint = " — return None when the target is never reached"
            _fail(name, f"got {out!r}, expected {ref!r} for target {target} dB with PSNR {psnr_}{hint}")
    print(f"✓ {name}: first time PSNR ≥ target, or None, on {len(cases)} histories")


# --------------------------------------------------------------------------- notebook 06


def si_snr_by_hand(fn):
    """fn(pred, target) on 1-D waveforms must return the scale-invariant SNR in dB."""
    name = "si_snr_by_hand"
    for trial in range(3):
        g = torch.Generator().manual_seed(600 + trial)
        target = torch.randn(200, generator=g, dtype=torch.float64) + 0.3 * trial
        pred = (0.5 + trial) * target + 0.2 * torch.randn(200, generator=g, dtype=torch.float64) + 0.1
        ref = si_snr(pred, target)
        out = _as_float(name, fn(pred.clone(), target.clone()))
        if not abs(out - ref) <= 1e-3:
            def proj(p, t):
                s_ = (p @ t) / (t @ t) * t
                return 10 * math.log10(float(s_ @ s_) / float((p - s_) @ (p - s_)))
            pc, tc = pred - pred.mean(), target - target.mean()
            hints = [(proj(pred, target), "subtract each waveform's mean first (zero-mean)"),
                     (ref / 2, "use energies (squared norms): 10·log10(‖s‖² / ‖e‖²)"),
                     (10 * math.log10(float(tc @ tc) / float((pc - tc) @ (pc - tc))),
                      "that is the plain SNR: scale the target by ⟨p,t⟩/‖t‖² first (scale invariance)")]
            hint = next((f" — {m}" for v, m in hints if abs(out - v) <= 1e-3), "")
            _fail(name, f"got {out:.4f} dB, expected {ref:.4f} dB (trial {trial}){hint}")
    print(f"✓ {name}: matches nl.si_snr to 1e-3 dB, for scaled and offset predictions")


def iou_by_hand(fn):
    """fn(pred_sdf, target_sdf) must return |A ∩ B| / |A ∪ B| of the insides (SDF < 0), 1 if both are empty."""
    from ..shapes import iou   # the 3D extra; imported here so the other checks need only the core

    name = "iou_by_hand"
    cases = []
    for trial in range(3):
        g = torch.Generator().manual_seed(700 + trial)
        x = torch.rand(500, 3, generator=g) * 2 - 1
        cases.append((x.norm(dim=1) - 0.6 - 0.1 * trial, x.norm(dim=1) - 0.6 + 0.05 * torch.randn(500, generator=g)))
    cases.append((torch.ones(10), torch.ones(10)))             # nothing inside either
    for k, (p, t) in enumerate(cases):
        ref = iou(p, t)
        out = _as_float(name, fn(p.clone(), t.clone()))
        if not (out == out and abs(out - ref) <= 1e-6):  # NaN fails here too
            a, b = p < 0, t < 0
            hints = [(iou(-p, -t), "inside is where the signed distance is NEGATIVE"),
                     ((a & b).sum().item() / max(1, b.sum().item()), "divide by the union, not by the target's inside"),
                     ((a & b).sum().item() / max(1, (a.sum() + b.sum()).item()), "the union counts shared nodes once: |A| + |B| − |A ∩ B|")]
            hint = next((f" — {m}" for v, m in hints if abs(out - v) <= 1e-6), "")
            if k == len(cases) - 1:
                hint = " — when both shapes are empty they agree perfectly: return 1"
            _fail(name, f"got {out!r}, expected {ref:.6f} (case {k}){hint}")
    print(f"✓ {name}: matches nl.iou on {len(cases)} pairs of fields, the empty case included")


# --------------------------------------------------------------------------- notebook 07


def paired_ratio(fn):
    """fn(times, full_times) must return the median over seeds of times[i] / full_times[i] (seed i
    is a paired comparison: same initial weights), or None if any seed has None (never reached)."""
    import statistics

    name = "paired_ratio"
    cases = [([2.0, 3.0, 9.0], [4.0, 4.0, 10.0]), ([1.0, 1.0, 1.0, 5.0], [2.0, 4.0, 1.0, 5.0]),
             ([3.0, 1.0, 2.0], [6.0, 1.0, 8.0]), ([2.0, None, 3.0], [4.0, 4.0, 4.0]),
             ([2.0, 3.0, 3.0], [4.0, None, 4.0])]
    for times, full in cases:
        miss = None in times or None in full
        ref = None if miss else statistics.median(a / b for a, b in zip(times, full))
        out = fn(list(times), list(full))
        try:
            out = None if out is None else float(out)
        except (TypeError, ValueError):
            _fail(name, f"expected a number or None, got {type(out).__name__}")
        if (out is None) != (ref is None) or (ref is not None and not math.isclose(out, ref, rel_tol=1e-9)):
            hint = ""
            if ref is None:
                hint = " — a seed that never reached the target has no ratio: return None"
            else:
                for v, m in ((statistics.median(times) / statistics.median(full),
                              "that is the ratio of medians; pair each seed with its own full-batch run"),
                             (statistics.mean(a / b for a, b in zip(times, full)),
                              "that is the mean; use the median (robust to one slow run)"),
                             (statistics.median(b / a for a, b in zip(times, full)), "divide by the full-batch time")):
                    if out is not None and math.isclose(out, v, rel_tol=1e-9):
                        hint = f" — {m}"
                        break
            _fail(name, f"got {out!r}, expected {ref!r} for times {times} vs full {full}{hint}")
    print(f"✓ {name}: median of per-seed ratios, None when a seed missed, on {len(cases)} cases")


# --------------------------------------------------------------------------- notebook 08


def sender_scores(fn):
    """fn(model, x, r, probes, generator) must estimate r_iᵀ (K²)_ii r_i for every i: (N,), from
    K·z products with random ±1 probes z (compared with the exact value from an explicit K)."""
    name = "sender_scores"
    model = make_model("siren", 2, 2, hidden=8, layers=2, seed=8)
    x = grid((5, 5))
    r = torch.randn(25, 2, generator=torch.Generator().manual_seed(800))
    k = ntk.matrix(model, x).permute(0, 2, 1, 3).reshape(50, 50).double()
    k2 = k @ k
    rd = r.double()
    exact = torch.stack([rd[i] @ k2[2 * i:2 * i + 2, 2 * i:2 * i + 2] @ rd[i] for i in range(25)])
    out = fn(model, x, r.clone(), 3000, torch.Generator().manual_seed(0))
    if not torch.is_tensor(out) or tuple(out.shape) != (25,):
        _fail(name, f"expected a tensor of shape (25,), got "
                    f"{tuple(out.shape) if torch.is_tensor(out) else type(out).__name__}")
    err = ((out.double() - exact).abs().max() / exact.max()).item()
    if not err < 0.1:
        kr = ntk.matvec(model, x, r).norm(dim=1).double()
        diag = torch.stack([k2[2 * i:2 * i + 2, 2 * i:2 * i + 2].trace() for i in range(25)])
        hints = [(kr ** 2, "that is ‖(K r)_i‖² (the receiver's view); project each probe's K z onto r_i"),
                 (exact.sqrt(), "square each probe's r_i·(K z)_i before averaging"),
                 (diag, "weight by the residual: r_i·(K z)_i, not ‖(K z)_i‖")]
        hint = next((f" — {m}" for v, m in hints
                     if ((out.double() - v).abs().max() / v.abs().max()).item() < 0.15), "")
        _fail(name, f"max relative error {err:.3f} against the exact r_iᵀ (K²)_ii r_i (3000 probes; "
                    f"expected < 0.1){hint}")
    print(f"✓ {name}: within {err:.3f} (relative) of the exact r_iᵀ (K²)_ii r_i with 3000 probes")
