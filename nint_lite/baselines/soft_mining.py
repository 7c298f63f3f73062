"""Soft Mining (CVPR 2024): Langevin-moved positions and importance weights, snapped to the grid.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..samplers import Sampler, Selection
from .edges import gradient_magnitude, need_grid


def soft_exponent(t: int) -> float:
    """Soft Mining's importance-weight exponent r_t = min(t / 1000, 0.6)."""
    return min(t / 1000.0, 0.6)


class SoftMining(Sampler):
    """Soft Mining with Langevin updates (a = 20, b = 0.02, in [-1, 1] coordinate units; the
    drift a·∇log L is capped at one pixel per step, see select()).

    B continuous positions persist across steps; each moves along ∇ log L plus noise, where L is
    the squared error against the bilinearly interpolated target. The last 10 % are re-drawn
    uniformly and the lowest-loss 10 % (and any that left the domain) from the Sobel-edge PDF.
    Positions are snapped to the nearest pixel for training (a node hit by two positions is
    trained twice): a grid version of the continuous method. In d dimensions positions move in
    d dimensions, with (multi)linear interpolation of the target through grid_sample.
    Every step has the same shapes whatever the data (no unique, no masks), so it never makes
    the host wait for a GPU, and edge positions are drawn by inverse-CDF sampling, which works
    for any number of nodes (torch.multinomial stops at 2^24).
    """

    name = "soft"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", a=20.0, b=0.02, eps=1e-6):
        super().__init__(ratio, seed, schedule)
        self.a, self.b, self.eps = a, b, eps

    def setup(self, view):
        need_grid(self, view)
        super().setup(view)
        mag = torch.from_numpy(gradient_magnitude(view) + 1e-8).double()
        # the Sobel-edge PDF as its CDF, in float64 so that millions of nodes still sum exactly
        self.cdf = (mag.cumsum(0) / mag.sum()).to(view.device)
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
        u = torch.rand(k, generator=g, device=g.device, dtype=torch.float64)
        idx = torch.searchsorted(self.cdf, u).clamp_max(len(self.cdf) - 1)  # inverse CDF
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

    def select(self, t, view=None):
        view = view or self.view
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
            out = (u.abs() > 1).any(1).index_fill(0, low, True)
            out[-k:] = False
            # a fresh edge position for every slot, kept where the old one is out: the same
            # shapes every step, where drawing exactly out.sum() of them would sync
            u = torch.where(out[:, None], self._from_pdf(bsz), u)
        self.u = u
        sub = ((u + 1) / 2 * (self.dims - 1)).round().long()  # nearest node, per axis
        idx = torch.zeros(len(u), dtype=torch.long, device=u.device)
        for k, side in enumerate(self.sides):  # row-major flat index
            idx = idx * side + sub[:, k]
        return Selection(idx)

    def loss(self, pred, target, sel, t=0, view=None):
        """Importance-weighted MSE: w = e^(−r_t) from each position's ℓ1 error e, at least 0.2
        and at most mean + std of the batch's weights (a batch statistic: see train_step)."""
        per = torch.mean((pred - target) ** 2, dim=1)
        e = (pred - target).detach().abs().mean(1).clamp_min(self.eps)
        w = e ** (-soft_exponent(t))
        w = torch.minimum(w.clamp_min(0.2), w.mean() + w.std(unbiased=False))
        return (w * per if sel.weights is None else sel.weights * w * per).mean()
