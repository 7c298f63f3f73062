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
    """Soft Mining (Kheradmand et al., CVPR 2024) with Langevin updates, as run in the EVOS/NINT
    tables (the LMC sampler of github.com/zwx-open/EVOS-INR); a = 20, b = 0.02 in [-1, 1] units.
    That code trains at positions rounded to pixels with the pixel's own target and divides the
    gradient by correction²·L; here (paper-notes §3) positions stay continuous with an
    interpolated target, and the division is by w_j·L_j, so the drift is a·∇log L_j / B.

    B continuous positions u (B, d) persist across steps, and the model TRAINS on them: the
    Selection carries coords = u (a leaf that requires grad) and targets = the (multi)linear
    interpolation of the signal at u (grid_sample, so the target's dependence on u is in the
    graph). The training backward of the batch-mean loss mean_j w_j L_j leaves
    u.grad_j = w_j ∇L_j / B, and the next select() moves u_j by the Langevin step
        u_j ← u_j + a · u.grad_j / (w_j · max(L_j, eps)) + b · ε     (= a ∇log L_j / B + b ε)
    with no extra pass: a step costs one forward and one backward on B points, like uniform
    (lab.bench.bench_steps, 64², SIREN 3×128, 1 thread on the shared 2-core CPU: 1.13–1.23 ×
    uniform's step; the rest is select's ~45 small tensor ops and the interpolation's backward).
    The drift stays capped at one pixel per step: measured at 64² (sample_signal("astronaut"),
    SIREN 3×128, ρ = 0.2, 300 steps, fit's default lr) the uncapped a·∇log L_j / B has median
    49 pixels (10th percentile 4, 90th 187): the 1/B does not tame ∇log L = ∇L / L where L is
    small, and 64 % of the positions would leave the domain (and be re-drawn) every step.
    Then the last 10 % are re-drawn uniformly and the lowest-loss 10 % (and any that left the
    domain) from the Sobel-edge PDF. Selection.indices are the nearest nodes (for records and
    plots). Every step has the same shapes whatever the data (no unique, no masks), so it never
    makes the host wait for a GPU, and edge positions are drawn by inverse-CDF sampling, which
    works for any number of nodes (torch.multinomial stops at 2^24).
    Without a training step in between (select called twice), positions move by noise only.
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
        self._set_grid(view.shape, view.device)
        # the target as (1, C, *shape) for grid_sample; a 1D signal becomes a 1 × N image
        shape = view.shape if len(view.shape) > 1 else (1, view.shape[0])
        self.img = view.values.T.reshape(1, -1, *shape)
        self.u = self.per = self.w = None  # positions; last per-point loss and weight

    def _set_grid(self, shape, device):
        # grid sides as Python ints (for shapes and the step size: reading a device tensor back
        # every step would sync with a GPU) and as tensors for arithmetic on positions
        self.sides = tuple(int(n) for n in shape)
        self.dims = torch.tensor(self.sides, device=device)
        self.cell = 2.0 / (self.dims - 1).float()  # node spacing per axis, in [-1, 1] units
        strides = [1] * len(self.sides)  # row-major flat index = Σ sub · stride
        for k in range(len(self.sides) - 2, -1, -1):
            strides[k] = strides[k + 1] * self.sides[k + 1]
        self.strides = torch.tensor(strides, device=device)

    def _from_pdf(self, k):
        g = self.generator
        u = torch.rand(k, generator=g, device=g.device, dtype=torch.float64)
        idx = torch.searchsorted(self.cdf, u).clamp_max(len(self.cdf) - 1)  # inverse CDF
        jitter = (torch.rand(k, len(self.dims), generator=g, device=g.device) - 0.5) * self.cell
        return (self._node_coords(idx) + jitter).clamp(-1, 1)

    def _node_coords(self, idx):  # flat node index -> its (k, d) coordinates in [-1, 1]
        # arithmetic, not unravel_index + stack (those cost more than the rest of select)
        return (idx[:, None] // self.strides % self.dims) * self.cell - 1

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
            u = self._uniform(bsz)
        else:
            with torch.no_grad():
                u = self.u.detach().clone()
                if self.u.grad is not None and self.per is not None:  # the last training backward's
                    # ∂(mean_j w_j L_j)/∂u_j = w_j ∇L_j / B, so this is a·∇log L_j / B
                    drift = self.a * self.u.grad / (self.w * self.per.clamp_min(self.eps))[:, None]
                    # uncapped, the median drift is ~49 pixels a step (class docstring), which
                    # would send most positions out of the domain every step: cap at one pixel
                    pix = 2.0 / (max(self.sides) - 1)
                    u += drift * (pix / drift.norm(dim=1, keepdim=True).clamp_min(pix))
                u += self.b * torch.randn(u.shape, generator=self.generator, device=u.device)
                k = max(1, bsz // 10)
                u[-k:] = self._uniform(k)
                out = (u.abs() > 1).any(1)
                if self.per is not None:
                    low = torch.topk(self.per[:-k], min(k, bsz - k), largest=False).indices
                    out = out.index_fill(0, low, True)
                out[-k:] = False
                # a fresh edge position for every slot, kept where the old one is out: the same
                # shapes every step, where drawing exactly out.sum() of them would sync
                u = torch.where(out[:, None], self._from_pdf(bsz), u)
        self.u, self.per, self.w = u.requires_grad_(True), None, None
        with torch.enable_grad():
            target = self._target(self.u)  # (B, C), differentiable in u
        with torch.no_grad():
            sub = ((u + 1) / self.cell).round().long()  # nearest node, per axis
        return Selection((sub * self.strides).sum(1), coords=self.u, targets=target)

    def loss(self, pred, target, sel, t=0, view=None):
        """Importance-weighted MSE: w = e^(−r_t) from each position's ℓ1 error e, at least 0.2
        and at most mean + std of the batch's weights (a batch statistic: see train_step).
        Keeps the per-point loss L_j and weight w_j (detached) for the next Langevin step."""
        per = torch.mean((pred - target) ** 2, dim=1)
        e = (pred - target).detach().abs().mean(1).clamp_min(self.eps)
        w = e ** (-soft_exponent(t))
        w = torch.minimum(w.clamp_min(0.2), w.mean() + w.std(unbiased=False))
        w = w if sel.weights is None else sel.weights * w
        self.per, self.w = per.detach(), w
        return (w * per).mean()

    def state_dict(self) -> dict:
        """The base state plus the positions' gradient (the next step's drift)."""
        state = super().state_dict()
        state["u_grad"] = None if self.u is None or self.u.grad is None else self.u.grad.cpu()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.u is not None:
            self.u = self.u.detach().requires_grad_(True)
            if state.get("u_grad") is not None:
                self.u.grad = state["u_grad"].to(self.u.device)
