"""Self-checks for the exercises of notebooks/08_*.ipynb (see nint_lite.classroom.checks).

    sender_scores       §1  r_iᵀ (K²)_ii r_i from random ±1 probes and K·z products (200 probes)
    lookahead_decrease  §1  the linearised loss decrease of one plain gradient step on a batch
    last_layer_sender   §3  the exact sender score of the last-layer kernel, in O(N h²)
"""
from __future__ import annotations

import torch

from ... import ntk
from ...beyond import scores
from ._common import _as_float, _compare, _fail, _small, run_forbidden

__all__ = ["sender_scores", "lookahead_decrease", "last_layer_sender"]

# forming K (or J) explicitly turns the kernel exercises into a one-liner; the K·v product
# ntk.matvec, the building block they are meant to use, stays allowed
_FORM_K = (ntk.matrix, ntk.jacobian)


def _explicit_k(model, x):
    """K as an (N·C, N·C) float64 matrix, rows ordered (i, c)."""
    k = ntk.matrix(model, x)
    n, c = k.shape[0], k.shape[2]
    return k.permute(0, 2, 1, 3).reshape(n * c, n * c).double()


def sender_scores(fn):
    """fn(model, x, r, probes, generator) must estimate r_iᵀ (K²)_ii r_i for every i: (N,), as the
    mean over `probes` random ±1 vectors z (N, C) of (r_iᵀ (K z)_i)², with K z from nl.ntk.matvec —
    never forming K. With 200 probes drawn as the statement says (one
    torch.randint(0, 2, r.shape, generator=generator) per probe) the answer must equal the same
    estimate computed with an explicit K; probes drawn another way are compared, more loosely, with
    the exact value. Calling nl.beyond.sender_scores, ntk.matrix or ntk.jacobian fails."""
    name, m = "sender_scores", 200
    model, x, r = _small(8, 25, 2)
    k = _explicit_k(model, x)
    c, rd = r.shape[1], r.double()
    blocks = [(k @ k)[c * i:c * i + c, c * i:c * i + c] for i in range(len(r))]
    exact = torch.stack([rd[i] @ b @ rd[i] for i, b in enumerate(blocks)])
    # the estimate from the very probes the statement's recipe draws, with K z from the explicit K
    g = torch.Generator().manual_seed(0)
    zs = [torch.randint(0, 2, r.shape, generator=g).double() * 2 - 1 for _ in range(m)]
    kz = [(k @ z.reshape(-1)).reshape(-1, c) for z in zs]
    same = torch.stack([(rd * q).sum(1) ** 2 for q in kz]).mean(0)
    kr = (k @ rd.reshape(-1)).reshape(-1, c)
    hints = [(kr.pow(2).sum(1), "that is ‖(K r)_i‖², the receiver's view: project each probe's (K z)_i "
                                "onto r_i, then square"),
             (torch.stack([(rd * q).sum(1) ** 2 for q in kz]).mean(0).sqrt(),
              "no square root: the score is the mean of the squares (r_i·(K z)_i)²"),
             (torch.stack([(rd * q).sum(1) for q in kz]).mean(0).pow(2),
              "square each probe's r_i·(K z)_i before averaging, not the average afterwards"),
             (torch.stack([q.pow(2).sum(1) for q in kz]).mean(0),
              "weight by the residual: r_i·(K z)_i, not ‖(K z)_i‖"),
             (same * m, "average over the probes: divide the sum by `probes`")]
    out = run_forbidden(name, fn, model, x, r.clone(), m, torch.Generator().manual_seed(0),
                        forbidden=(scores.sender_scores, scores.sender, *_FORM_K))
    if torch.is_tensor(out):
        out = out.detach().double()
        if out.shape == same.shape and ((out - same).abs().max() / same.abs().max()).item() <= 1e-4:
            err = ((out - exact).abs().max() / exact.abs().max()).item()
            print(f"✓ {name}: equals the {m}-probe estimate from the same probes with an explicit K "
                  f"(and lies within {err:.2f}, relative, of the exact r_iᵀ (K²)_ii r_i)")
            return
        hint = next((f" — {h}" for alt, h in hints if out.shape == alt.shape
                     and ((out - alt).abs().max() / alt.abs().max()).item() <= 1e-3), None)
        if hint:
            _fail(name, f"does not match the {m}-probe estimate{hint}")
    # probes drawn some other way: a Monte Carlo estimate, within ~15 % of the exact value at 200
    # probes here; allow 35 %
    _compare(name, out, exact, 0.35, hints=hints[:1] + hints[3:4],
             case=f" (against the exact r_iᵀ (K²)_ii r_i, {m} probes; not the same-probe estimate either: "
                  "draw one torch.randint(0, 2, r.shape, generator=generator) per probe)")
    err = ((out - exact).abs().max() / exact.abs().max()).item()
    print(f"✓ {name}: within {err:.2f} (relative) of the exact r_iᵀ (K²)_ii r_i with {m} probes "
          "(drawn differently from the statement's recipe)")


def lookahead_decrease(fn):
    """fn(model, x, r, idx, lr) must return the decrease L − L′ (a float) of the full loss
    L = ½ Σ_j ‖r_j‖² over all N coordinates that the LINEARISED model predicts for one plain
    gradient step of size lr on the batch loss ½ Σ_{i∈idx} ‖r_i‖²: the step moves f by −lr·K v,
    v = r on idx and 0 elsewhere, so L′ = ½ ‖r − lr·K v‖². x: (N, d), r: (N, C), idx: (B,) long.
    Compared with an explicit K in float64; calling ntk.matrix or ntk.jacobian fails."""
    name = "lookahead_decrease"
    for trial, (n, c, b) in enumerate(((30, 1, 6), (24, 3, 5))):
        model, x, r = _small(80 + trial, n, c)
        g = torch.Generator().manual_seed(880 + trial)
        idx = torch.randperm(n, generator=g)[:b]
        k, rd = _explicit_k(model, x), r.double().reshape(-1)
        mask = torch.zeros(n, c, dtype=torch.bool)
        mask[idx] = True
        v = torch.where(mask.reshape(-1), rd, torch.zeros_like(rd))
        kv, kr = k @ v, k @ rd
        lr = 0.7 * float(rd @ kv) / float(kv @ kv)      # large enough for the ½ lr² ‖K v‖² term to matter
        ref = 0.5 * rd @ rd - 0.5 * (rd - lr * kv) @ (rd - lr * kv)
        m = mask.reshape(-1)
        hints = [(lr * (rd @ kr) - 0.5 * lr ** 2 * (kr @ kr),
                  "you stepped on all N coordinates: zero r outside idx before the K·v product"),
                 (lr * (rd @ kv), "that is only the first-order term lr·rᵀK v; the linearised loss after "
                                  "the step is ½‖r − lr·K v‖², which adds back ½ lr²‖K v‖²"),
                 (-ref, "sign: return the decrease L − L′ (positive when the loss falls)"),
                 (0.5 * rd[m] @ rd[m] - 0.5 * (rd - lr * kv)[m] @ (rd - lr * kv)[m],
                  "measure the loss over all N coordinates, not only the batch: the step moves f everywhere"),
                 (ref / (n * c), "use the sums ½ Σ‖r_j‖² as stated, not means")]
        out = run_forbidden(name, fn, model, x, r.clone(), idx.clone(), lr, forbidden=_FORM_K)
        out = torch.tensor(_as_float(name, out), dtype=torch.float64)
        _compare(name, out, ref, 1e-3, hints=[(torch.as_tensor(a), h) for a, h in hints],
                 case=f" (N={n}, C={c}, batch of {b})")
    print(f"✓ {name}: the linearised decrease ½‖r‖² − ½‖r − lr·K v‖² matches an explicit K "
          "(two problems, relative tolerance 1e-3)")


def last_layer_sender(fn):
    """fn(model, x, r) must return the EXACT sender score of the last-layer kernel, (N,):
    r_iᵀ (K_last²)_ii r_i = ‖r_i‖² Σ_j (h_iᵀ h_j + 1)², h_i = model.net[:-1](x)[i] the last hidden
    features — in O(N h²) (a (h+1)×(h+1) Gram matrix), not by forming the N×N kernel. x: (N, d),
    r: (N, C). Compared with the explicit (H Hᵀ + 1)²; calling nl.beyond.last_layer_matvec or
    nl.beyond.sender_scores fails."""
    name = "last_layer_sender"
    for trial, (n, c, hid) in enumerate(((40, 1, 8), (30, 3, 12))):
        model, x, r = _small(90 + trial, n, c, hidden=hid)
        with torch.no_grad():
            h = model.net[:-1](model.encoding(x)).double()
        rd = r.double()
        kl = h @ h.T + 1                                          # (N, N): K_last = (H Hᵀ + 1) ⊗ I_C
        r2 = rd.pow(2).sum(1)
        ref = r2 * kl.pow(2).sum(1)
        hints = [(r2 * (h @ h.T).pow(2).sum(1), "the bias: the last layer's kernel is H Hᵀ + 1, so append a "
                                                 "column of ones to H"),
                 (kl.pow(2).sum(1), "weight by the residual: multiply by ‖r_i‖²"),
                 (r2.sqrt() * kl.pow(2).sum(1), "‖r_i‖² (squared), not ‖r_i‖: the score is quadratic in r_i"),
                 (r2 * kl.diagonal().pow(2), "that keeps only j = i (self-leverage); the sender score sums "
                                             "the coupling to every j"),
                 (r2 * kl.sum(1), "square each coupling (h_iᵀh_j + 1) before summing over j"),
                 (r2 * kl.sum(1).pow(2), "square each coupling, then sum over j (not the square of the sum)")]
        out = run_forbidden(name, fn, model, x, r.clone(), forbidden=(scores.last_layer_matvec,
                                                                     scores.sender_scores, scores.sender))
        if torch.is_tensor(out):
            out = out.detach().double()
        _compare(name, out, ref, 1e-4, hints=hints, case=f" (N={n}, C={c}, hidden {hid})")
    print(f"✓ {name}: ‖r_i‖² Σ_j (h_iᵀh_j + 1)² matches the explicit last-layer kernel (two problems)")
