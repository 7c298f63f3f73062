"""EVOS (CVPR 2025): evolutionary selection — key iterations on all N, then offspring + mutation.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..samplers import Sampler, Selection
from .edges import gray, need_grid


def evos_is_key(t: int, T: int) -> bool:
    """EVOS key iteration (train on all N, recompute fitness): t mod ⌊100 − 50 t / T⌋ = 1."""
    return t % math.floor(100 - 50 * t / T) == 1


class EVOS(Sampler):
    """Key iterations train on all N and refresh the fitness; others train on the offspring
    (B coordinates) plus 0.5·ρ0·N uniformly random mutations, i.e. 1.5·B coordinates."""

    name = "evos"
    fixed_shape = False  # key iterations train on all N, the others on 1.5·B

    def __init__(self, ratio=0.2, seed=0, schedule="constant", lap_weight=1e-5, lap_until=0.3):
        super().__init__(ratio, seed, schedule)
        self.lap_weight, self.lap_until = lap_weight, lap_until

    def setup(self, view):
        need_grid(self, view)
        super().setup(view)
        self.shape = view.shape
        self.all = torch.arange(view.n, device=view.device)
        self.offspring = None
        self.keys = 0
        self.lap_target = self._laplacian(view.values)

    def _laplacian(self, values):  # (N, C) -> (N,) (2d+1)-point Laplacian of the gray signal
        d = len(self.shape)
        k = torch.zeros((3,) * d, device=values.device, dtype=values.dtype)
        for axis in range(d):  # +1 at both axis neighbours, −2d at the centre (4-neighbour in 2D)
            for side in (0, 2):
                k[tuple(side if a == axis else 1 for a in range(d))] = 1.0
        k[(1,) * d] = -2.0 * d
        conv = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
        return conv(gray(values).view(1, 1, *self.shape), k.view(1, 1, *k.shape), padding=1).flatten()

    def select(self, t, view=None):
        view = view or self.view
        if self.offspring is None or evos_is_key(t, view.steps):
            self.keys += 1
            return Selection(self.all, full=True)
        mutation = self._random_excluding(max(1, round(0.5 * self.rho0 * self.n)), self.offspring)
        return Selection(torch.cat([self.offspring, mutation]))

    def loss(self, pred, target, sel, t=0, view=None):
        view = view or self.view
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
