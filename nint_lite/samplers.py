"""Which coordinates to train on each step: NINT and every baseline, behind one interface.

    sampler = make_sampler("nint", ratio=0.2, seed=0)
    sampler.setup(view)                      # once per fit
    sel = sampler.select(t, view)            # each step t = 0 … T−1 -> Selection
    loss = sampler.loss(pred, target, sel, t, view)

`view` (a `View`) is everything a sampler may look at: coords (N, d), values (N, C), the grid
shape and kind, the model, T, and `view.residuals()` — f(X) − Y over all N, computed lazily under
inference mode in chunks and cached for the step, so samplers that need no full pass never
trigger one. Each sampler owns a seeded `torch.Generator`; nothing global is touched.

    full       all N every step
    uniform    B uniformly at random, fresh each step (no full pass)
    int        top-B by Σ_c |r| (INT, ICML 2024), dense or incremental re-selection
    egra       Canny edges, shifted 6–9 pixels, weighted multinomial (as in the EVOS/NINT tables)
    soft       Soft Mining (CVPR 2024): Langevin-moved positions + importance weights, grid-snapped
    evos       EVOS (CVPR 2025): key iterations on all N, error + Laplacian fitness, mutation
    expansive  Expansive Supervision (ICME 2025): edge anchors (half the budget) + uniform
    nint       NINT: NTK top by ‖(K r)_i‖ + error top + uniform, with the paper's share decay

Every sampler works on any regular grid — images, audio (N,), volumes (D, H, W). The image
methods generalise as follows on 1D and 3D grids: "edges" (egra, expansive) are the 10 % of
nodes with the largest gradient magnitude (Canny needs 2D), Soft Mining's edge PDF is the
gradient magnitude and its positions move in d dimensions, EVOS's Laplacian is the (2d+1)-point
stencil.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import ntk, schedules

__all__ = ["make_sampler", "SAMPLERS", "Selection", "View", "Sampler"]


@dataclass
class Selection:
    """indices: (B,) long on the run's device; weights: (B,) per-sample loss weights or None;
    full: True when indices are all N in order (the trainer then skips the gather)."""

    indices: torch.Tensor
    weights: torch.Tensor | None = None
    full: bool = False


class View:
    """What a sampler may look at during a fit (see module docstring)."""

    def __init__(self, model, coords, values, shape, kind="image", steps=1, chunk_size=65536,
                 forward=None):
        self.model, self.coords, self.values = model, coords, values
        self.forward = forward or model  # e.g. a torch.compile'd forward of the same model
        self.shape, self.kind, self.steps, self.chunk_size = tuple(shape), kind, int(steps), chunk_size
        self._residuals = None

    @property
    def n(self) -> int:
        return self.coords.shape[0]

    @property
    def device(self) -> torch.device:
        return self.coords.device

    def new_step(self):
        """Forget the cached residuals: the model changed."""
        self._residuals = None

    def residuals(self) -> torch.Tensor:
        """f(X) − Y for all N coordinates: (N, C), no autograd, chunked, cached per step."""
        if self._residuals is None:
            was = self.model.training
            self.model.eval()
            # no_grad, not inference_mode: NINT feeds r to a VJP as a cotangent.
            r = torch.empty_like(self.values)  # filled in place: no N-sized temporaries
            with torch.no_grad():
                for s in range(0, self.n, self.chunk_size):
                    r[s:s + self.chunk_size] = self.forward(self.coords[s:s + self.chunk_size])
                r -= self.values
            self._residuals = r
            self.model.train(was)
        return self._residuals


def _check_share(name, v):
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    return float(v)


class Sampler:
    """Base class: ratio ρ0 ∈ (0, 1], a ratio schedule, and a seeded generator."""

    name = "base"

    def __init__(self, ratio: float = 0.2, seed: int = 0, schedule: str = "constant"):
        schedules.ratio(schedule, 0, 1, ratio)  # validates ratio and schedule name
        self.rho0, self.seed, self.schedule = float(ratio), int(seed), schedule

    def setup(self, view: View):
        self.n = view.n
        self.generator = torch.Generator(device=view.device).manual_seed(self.seed)

    def batch_size(self, t: int, T: int) -> int:
        return max(1, min(self.n, round(schedules.ratio(self.schedule, t, T, self.rho0) * self.n)))

    def select(self, t: int, view: View) -> Selection:
        raise NotImplementedError

    def loss(self, pred, target, sel: Selection, t: int, view: View) -> torch.Tensor:
        """Mean squared error over the selection, per-sample weighted when sel.weights is set."""
        per = torch.mean((pred - target) ** 2, dim=1)
        return per.mean() if sel.weights is None else (sel.weights * per).mean()

    # --- helpers shared by subclasses
    def _random_excluding(self, k: int, excluded: torch.Tensor | None) -> torch.Tensor:
        """k distinct indices uniformly from those not in `excluded` (a bool mask or index tensor)."""
        keys = torch.rand(self.n, generator=self.generator, device=self.generator.device)
        if excluded is not None and excluded.numel():
            keys[excluded] = 2.0  # never among the k smallest
        return torch.topk(keys, k, largest=False).indices

    def _need_grid(self, view):
        if not 1 <= len(view.shape) <= 3 or min(view.shape) < 2 or math.prod(view.shape) != view.n:
            raise ValueError(f"the {self.name!r} sampler needs a regular 1D, 2D or 3D grid of N "
                             f"nodes (each side ≥ 2); got grid {view.shape} for N={view.n}")


class Full(Sampler):
    name = "full"

    def __init__(self, ratio: float = 1.0, seed: int = 0, schedule: str = "constant"):
        super().__init__(1.0, seed, "constant")

    def select(self, t, view):
        return Selection(torch.arange(view.n, device=view.device), full=True)


class Uniform(Sampler):
    name = "uniform"

    def select(self, t, view):
        b = self.batch_size(t, view.steps)
        return Selection(torch.randperm(self.n, generator=self.generator, device=view.device)[:b])


class INT(Sampler):
    """Top-B by the ℓ1 residual over channels; re-selected per the interval strategy."""

    name = "int"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", interval="dense"):
        super().__init__(ratio, seed, schedule)
        schedules.is_selection_step(interval, 0, 1)
        self.interval = interval

    def setup(self, view):
        super().setup(view)
        self.cached = None
        self.selections = 0

    def select(self, t, view):
        if self.cached is None or schedules.is_selection_step(self.interval, t, view.steps):
            err = view.residuals().abs().sum(1)
            self.cached = torch.topk(err, self.batch_size(t, view.steps)).indices
            self.selections += 1
        return Selection(self.cached)


def _gray(view) -> np.ndarray:
    """The target as one channel on its grid (*shape): BT.709 luma for RGB, else the mean."""
    v = view.values.detach().cpu()
    if v.shape[1] == 3:
        v = v @ torch.tensor([0.2125, 0.7154, 0.0721])
    else:
        v = v.mean(1)
    return v.reshape(view.shape).numpy()


def _gradient_magnitude(view) -> np.ndarray:
    """|∇ target| per node, flat (N,): Sobel on images, central differences on other grids."""
    from scipy import ndimage

    g = _gray(view)
    if g.ndim == 2:
        return np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1)).ravel()
    grads = np.gradient(g)
    grads = grads if isinstance(grads, (list, tuple)) else [grads]
    return np.sqrt(sum(d ** 2 for d in grads)).ravel()


def canny_edges(view) -> torch.Tensor:
    """Flat indices of the target's edge nodes. Images: Canny (scikit-image, σ = 1, thresholds
    30/40 on 0–255). 1D/3D grids: the 10 % of nodes with the largest gradient magnitude."""
    if len(view.shape) == 2:
        from skimage.feature import canny

        edges = canny(_gray(view) * 255.0, sigma=1.0, low_threshold=30, high_threshold=40).ravel()
    else:
        mag = _gradient_magnitude(view)
        edges = mag > np.quantile(mag, 0.9)
    return torch.from_numpy(np.flatnonzero(edges)).to(view.device)


class EGRA(Sampler):
    """Edge pixels shifted by a random 6–9 along the flat index, weight p·E' + (1 − p)·4096/640000."""

    name = "egra"
    P_EDGE, BASE = 0.0025, 4096 / 640000

    def setup(self, view):
        self._need_grid(view)
        super().setup(view)
        self.edges = canny_edges(view)

    def weights(self) -> torch.Tensor:
        """This step's sampling weights (N,): marked pixels p + (1 − p)·base, the rest (1 − p)·base."""
        g = self.generator
        shift = torch.randint(6, 10, self.edges.shape, generator=g, device=g.device)
        marked = torch.zeros(self.n, dtype=torch.bool, device=g.device)
        marked[(self.edges + shift) % self.n] = True
        return self.P_EDGE * marked + (1 - self.P_EDGE) * self.BASE

    def select(self, t, view):
        # Sampling without replacement ∝ w, via the Gumbel-top-k trick (any N, any device).
        u = torch.rand(self.n, generator=self.generator, device=view.device).clamp_min(1e-20)
        keys = self.weights().log() - torch.log(-torch.log(u))
        return Selection(torch.topk(keys, self.batch_size(t, view.steps)).indices)


def _sobel_pdf(view) -> torch.Tensor:
    mag = _gradient_magnitude(view) + 1e-8
    return torch.from_numpy(mag / mag.sum()).float().to(view.device)


class SoftMining(Sampler):
    """Soft Mining with Langevin updates (a = 20, b = 0.02, in [-1, 1] coordinate units; the
    drift a·∇log L is capped at one pixel per step, see select()).

    B continuous positions persist across steps; each moves along ∇ log L plus noise, where L is
    the squared error against the bilinearly interpolated target. The last 10 % are re-drawn
    uniformly and the lowest-loss 10 % (and any that left the domain) from the Sobel-edge PDF.
    Positions are snapped to the nearest pixel for training (coincident ones merged, their
    weights summed): a grid version of the continuous method.
    """

    name = "soft"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", a=20.0, b=0.02, eps=1e-6):
        super().__init__(ratio, seed, schedule)
        self.a, self.b, self.eps = a, b, eps

    def setup(self, view):
        self._need_grid(view)
        super().setup(view)
        self.pdf = _sobel_pdf(view)
        # grid sides as a tensor (for arithmetic on positions) and as Python ints (for shapes and
        # the step size: reading a device tensor back every step would sync with a GPU)
        self.dims = torch.tensor(view.shape, device=view.device)
        self.sides = tuple(int(n) for n in view.shape)
        # the target as (1, C, *shape) for grid_sample; a 1D signal becomes a 1 × N image
        shape = view.shape if len(view.shape) > 1 else (1, view.shape[0])
        self.img = view.values.T.reshape(1, -1, *shape)
        self.u = None

    def _from_pdf(self, k):
        g = self.generator
        idx = torch.multinomial(self.pdf, k, replacement=True, generator=g)
        jitter = (torch.rand(k, len(self.dims), generator=g, device=g.device) - 0.5) * 2 / (self.dims - 1)
        return (self._node_coords(idx) + jitter).clamp(-1, 1)

    def _node_coords(self, idx):  # flat node index -> its (k, d) coordinates in [-1, 1]
        sub = torch.stack(torch.unravel_index(idx, self.sides), 1)
        return sub / (self.dims - 1) * 2 - 1

    def _uniform(self, k):
        return torch.rand(k, len(self.dims), generator=self.generator, device=self.generator.device) * 2 - 1

    def _target(self, u):  # (multi)linear target at positions u (k, d) in grid-axis order
        # grid_sample wants the last grid axis first: (x, y[, z]); 1D pads a y = 0 row.
        xy = u.flip(1) if u.shape[1] > 1 else torch.cat([u, torch.zeros_like(u)], 1)
        grid = xy.view(1, -1, *([1] * (self.img.ndim - 3)), xy.shape[1])
        return F.grid_sample(self.img, grid, align_corners=True).reshape(self.img.shape[1], -1).T

    def select(self, t, view):
        bsz = self.batch_size(t, view.steps)
        if self.u is None or len(self.u) != bsz:
            self.u = self._uniform(bsz)
        u = self.u.clone().requires_grad_(True)
        with torch.enable_grad():
            loss = ((view.model(u) - self._target(u)) ** 2).sum(1)
            (grad,) = torch.autograd.grad(torch.log(loss + self.eps).sum(), u)
        loss = loss.detach()
        with torch.no_grad():
            # a·∇log L in [-1, 1] units is hundreds of pixels for a SIREN (its gradients are
            # large), which would send every position out of the domain each step; cap the drift
            # at one pixel so positions really move along the loss landscape.
            drift = self.a * grad
            pix = 2.0 / (max(self.sides) - 1)
            drift = drift * (pix / drift.norm(dim=1, keepdim=True).clamp_min(pix))
            u = u.detach() + drift + self.b * torch.randn(u.shape, generator=self.generator,
                                                          device=u.device)
            k = max(1, bsz // 10)
            u[-k:] = self._uniform(k)
            low = torch.topk(loss[:-k], min(k, bsz - k), largest=False).indices
            out = (u.abs() > 1).any(1)
            out[low] = True
            out[-k:] = False
            if out.any():
                u[out] = self._from_pdf(int(out.sum()))
        self.u = u
        sub = ((u + 1) / 2 * (self.dims - 1)).round().long()  # nearest node, per axis
        idx = torch.zeros(len(u), dtype=torch.long, device=u.device)
        for k, side in enumerate(self.sides):  # row-major flat index
            idx = idx * side + sub[:, k]
        self.last_idx = idx
        uniq, inv = torch.unique(idx, return_inverse=True)
        # Coincident positions are merged into one node that counts as many times; loss() then
        # multiplies in the importance weights from each node's current ℓ1 error.
        counts = view.values.new_zeros(len(uniq)).index_add_(
            0, inv, torch.ones(len(inv), dtype=view.values.dtype, device=inv.device))
        return Selection(uniq, weights=counts * len(uniq) / bsz)

    def loss(self, pred, target, sel, t, view):
        per = torch.mean((pred - target) ** 2, dim=1)
        e = (pred - target).detach().abs().mean(1).clamp_min(self.eps)
        w = e ** (-schedules.soft_exponent(t))
        w = torch.minimum(w.clamp_min(0.2), w.mean() + w.std(unbiased=False))
        return (sel.weights * w * per).mean()


class EVOS(Sampler):
    """Key iterations train on all N and refresh the fitness; others train on the offspring
    (B coordinates) plus 0.5·ρ0·N uniformly random mutations, i.e. 1.5·B coordinates."""

    name = "evos"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", lap_weight=1e-5, lap_until=0.3):
        super().__init__(ratio, seed, schedule)
        self.lap_weight, self.lap_until = lap_weight, lap_until

    def setup(self, view):
        self._need_grid(view)
        super().setup(view)
        self.shape = view.shape
        self.offspring = None
        self.keys = 0
        self.lap_target = self._laplacian(view.values)

    def _laplacian(self, values):  # (N, C) -> (N,) (2d+1)-point Laplacian of the gray signal
        v = values @ torch.tensor([0.2125, 0.7154, 0.0721], device=values.device) if values.shape[1] == 3 else values.mean(1)
        d = len(self.shape)
        k = torch.zeros((3,) * d, device=values.device, dtype=values.dtype)
        for axis in range(d):  # +1 at both axis neighbours, −2d at the centre (4-neighbour in 2D)
            for side in (0, 2):
                k[tuple(side if a == axis else 1 for a in range(d))] = 1.0
        k[(1,) * d] = -2.0 * d
        conv = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
        return conv(v.view(1, 1, *self.shape), k.view(1, 1, *k.shape), padding=1).flatten()

    def select(self, t, view):
        if self.offspring is None or schedules.evos_is_key(t, view.steps):
            self.keys += 1
            return Selection(torch.arange(view.n, device=view.device), full=True)
        mutation = self._random_excluding(max(1, round(0.5 * self.rho0 * self.n)), self.offspring)
        return Selection(torch.cat([self.offspring, mutation]))

    def loss(self, pred, target, sel, t, view):
        loss = torch.mean((pred - target) ** 2)
        if sel.full:  # key iteration: fitness from this forward, and the Laplacian term early on
            lap_err = (self._laplacian(pred) - self.lap_target) ** 2
            self._update_offspring(((pred - target) ** 2).detach().sum(1), lap_err.detach(), t, view)
            if t < self.lap_until * view.steps:
                loss = loss + self.lap_weight * lap_err.mean()
        return loss

    def _update_offspring(self, err, lap, t, view):
        b = self.batch_size(t, view.steps)
        top_e, top_l = torch.topk(err, b).indices, torch.topk(lap, b).indices
        in_both = torch.zeros(self.n, dtype=torch.bool, device=err.device)
        in_both[top_e] = True
        both = top_l[in_both[top_l]]
        taken = torch.zeros_like(in_both)
        taken[both] = True
        rest = b - len(both)
        share_e = err.mean() / (err.mean() + lap.mean() + 1e-12)
        n_e = int(torch.round(rest * share_e))  # one host sync, on key iterations only
        from_e = top_e[~taken[top_e]][:n_e]
        taken[from_e] = True
        from_l = top_l[~taken[top_l]][:rest - len(from_e)]
        self.offspring = torch.cat([both, from_e, from_l])


class Expansive(Sampler):
    """Canny edge anchors (at most half the budget, a fixed random subset if more) every step,
    plus uniform random coordinates for the rest."""

    name = "expansive"

    def setup(self, view):
        self._need_grid(view)
        super().setup(view)
        self.edges = canny_edges(view)
        self.anchors = None  # re-picked for this view (a stale set would belong to another fit)

    def select(self, t, view):
        b = self.batch_size(t, view.steps)
        half = b // 2
        if self.anchors is None or len(self.anchors) > half:
            pick = torch.randperm(len(self.edges), generator=self.generator, device=view.device)[:half]
            self.anchors = self.edges[pick]
        rest = self._random_excluding(b - len(self.anchors), self.anchors)
        return Selection(torch.cat([self.anchors, rest]))


class NINT(Sampler):
    """NINT's mix: an NTK set (top ‖(K r)_i‖), an error set (top ‖r_i‖ among the rest) and a
    random set (ξ·B uniformly among the rest), disjoint.

    Paper (default): NTK share (1 − ξ)·exp(−λ t / α), ξ = 0.7, λ = 1, α = 10; the score is
    recomputed every `refresh` (= α) steps and the cached ranking reused in between.
    ntk_share=float: hold the NTK share constant instead (for ablations).
    variant="official": the released code's schedule — share 0.3·exp(floor(−c/10)) with a
        selection counter c = t + 1, refresh at c = 1 and every α-th c, NTK switched off for
        good once the share falls below 1e-3, ℓ1 error, cached NTK index set reused as is.
    score="output_norm": THE OFFICIAL CODE'S BUG (‖f(x_i)‖², see ntk.output_norm_scores).

    Beyond the paper (notebook 08), other kernel scores for the NTK set:
        "sender"      ≈ r_iᵀ (K²)_ii r_i: how much training on x_i alone moves all of f
                      (ntk.sender_scores, `probes` random K·z products)
        "leverage"    ‖r_i‖ · tr K_ii: the error weighted by self-leverage only (no coupling)
        "last_layer"  ‖(K_last r)_i‖ with the last layer's kernel (cheap, ntk.last_layer_matvec)
        "adam"        ‖(J P Jᵀ r)_i‖ with Adam's preconditioner P (the kernel Adam's step uses)
        "error"       ‖r_i‖, no kernel at all: the control for the rules above (with ntk_share
                      and refresh it is a stale error set; see notebook 08)
    With ntk_share + xi = 1 there is no error part, so no full forward pass is needed between
    refreshes: the batch is the cached score set plus uniform picks, nearly as cheap as uniform.
    pick="sample": draw the NTK set ∝ score without replacement instead of taking the top.
    """

    name = "nint"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", xi=0.7, lam=1.0, alpha=10,
                 refresh=None, ntk_share=None, variant="paper", score="ntk", chunk_size=ntk.DEFAULT_CHUNK,
                 pick="top", probes=4):
        super().__init__(ratio, seed, schedule)
        self.xi = _check_share("xi", xi)
        if ntk_share is not None:
            _check_share("ntk_share", ntk_share)
            if ntk_share + self.xi > 1.0 + 1e-9:
                raise ValueError(f"ntk_share + xi must be ≤ 1, got {ntk_share} + {xi}")
        if variant not in ("paper", "official"):
            raise ValueError(f"unknown variant {variant!r}; valid: 'paper', 'official'")
        if score not in SCORES:
            raise ValueError(f"unknown score {score!r}; valid: {', '.join(SCORES)} "
                             "('output_norm' is the official bug)")
        if pick not in ("top", "sample"):
            raise ValueError(f"unknown pick {pick!r}; valid: 'top', 'sample'")
        if alpha <= 0 or (refresh is not None and refresh <= 0):
            raise ValueError("alpha and refresh must be positive")
        self.lam, self.alpha, self.refresh = lam, alpha, int(refresh or alpha)
        self.ntk_share, self.variant, self.score, self.chunk_size = ntk_share, variant, score, chunk_size
        self.pick, self.probes = pick, int(probes)

    def setup(self, view):
        super().setup(view)
        self.cache, self.last_refresh, self.refreshes, self.off = None, None, 0, False

    def share(self, t: int) -> float:
        """The NTK share of the batch at step t (0 once the official variant switched it off)."""
        if self.ntk_share is not None:
            return self.ntk_share
        if self.variant == "official":
            return 0.0 if self.off else schedules.nint_share_official(t + 1)
        return schedules.nint_share(t, self.xi, self.lam, self.alpha)

    def _due(self, t):
        if self.variant == "official":
            c = t + 1
            return c == 1 or c % self.alpha == 0
        return self.last_refresh is None or t - self.last_refresh >= self.refresh

    def scores(self, view) -> torch.Tensor:
        m, x, r, c = view.model, view.coords, view.residuals(), self.chunk_size
        if self.score == "ntk":
            return ntk.nint_scores(m, x, r, c)
        if self.score == "output_norm":
            return ntk.output_norm_scores(m, x, r, c)
        if self.score == "sender":
            return ntk.sender_scores(m, x, r, self.probes, self.generator, c)
        if self.score == "leverage":
            return r.norm(dim=1) * ntk.diagonal(m, x, c)
        if self.score == "error":
            return r.norm(dim=1)
        if self.score == "last_layer":
            return ntk.last_layer_matvec(m, x, r, c).norm(dim=1)
        # "adam": before Adam's first step there is no second moment yet; P = I then
        opt = getattr(view, "optimizer", None)
        pre = ntk.adam_preconditioner(m, opt) if opt is not None else None
        return ntk.matvec(m, x, r, c, precond=pre).norm(dim=1)

    def _rank(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        """k indices: the top scores, or (pick="sample") drawn ∝ score without replacement
        (Gumbel top-k on log score, with the sampler's generator), best first."""
        if self.pick == "top":
            return torch.topk(scores, k).indices
        u = torch.rand(scores.shape, generator=self.generator, device=scores.device).clamp_min(1e-20)
        keys = scores.clamp_min(1e-30).log() - torch.log(-torch.log(u))
        return torch.topk(keys, k).indices

    def select(self, t, view):
        b = self.batch_size(t, view.steps)
        share = self.share(t)
        n_ntk = round(share * b)
        if self._due(t):
            if self.variant == "official" and share < 1e-3:
                self.off, n_ntk = True, 0
            # The official code scores at every due refresh until switched off, whatever B is.
            if n_ntk > 0 or (self.variant == "official" and not self.off):
                self.cache = self._rank(self.scores(view), n_ntk)  # sorted, best first
                self.last_refresh, self.refreshes = t, self.refreshes + 1
        if self.variant == "official" and not self.off and self.cache is not None:
            ntk_idx = self.cache  # reused as is until the next refresh (even if share(t)·B rounds to 0)
        elif self.off or n_ntk == 0 or self.cache is None:
            ntk_idx = self.cache[:0] if self.cache is not None else torch.zeros(0, dtype=torch.long, device=view.device)
        else:
            ntk_idx = self.cache[:n_ntk]
        # min(): round(ξ·B) + round(share·B) can exceed B by one (e.g. B = 205 at t = 0).
        n_rand = min(round(self.xi * b), b - len(ntk_idx))
        n_err = max(0, b - len(ntk_idx) - n_rand)
        taken = torch.zeros(self.n, dtype=torch.bool, device=view.device)
        taken[ntk_idx] = True
        parts = [ntk_idx]
        if n_err:
            r = view.residuals()
            err = r.abs().sum(1) if self.variant == "official" else r.norm(dim=1)
            err = err.masked_fill(taken, -1.0)
            err_idx = torch.topk(err, n_err).indices
            taken[err_idx] = True
            parts.append(err_idx)
        if n_rand:
            parts.append(self._random_excluding(n_rand, taken))
        return Selection(torch.cat(parts))


SCORES = ("ntk", "output_norm", "sender", "leverage", "last_layer", "adam", "error")
SAMPLERS = {s.name: s for s in (Full, Uniform, INT, EGRA, SoftMining, EVOS, Expansive, NINT)}


def make_sampler(name: str, ratio: float = 0.2, **params) -> Sampler:
    """Build a sampler by name (see SAMPLERS); params go to its constructor (seed, schedule, …)."""
    if isinstance(name, Sampler):
        return name
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; valid names: {', '.join(SAMPLERS)}")
    try:
        return SAMPLERS[name](ratio=ratio, **params)
    except TypeError as e:
        raise ValueError(f"bad parameter for sampler {name!r}: {e}") from None
