"""EVOS (Zhang et al., CVPR 2025): evolutionary selection — key iterations on all N compute the
fitness, the steps in between train on offspring + mutation.

Follows the official code (github.com/zwx-open/EVOS-INR, trainer/img_sampling_trainer.py:
_update_freeze_info with crossover "select", _get_selection_mask, _compute_sample_loss).

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..samplers import Sampler, Selection
from .edges import gray, need_grid


def evos_is_key(t: int, T: int) -> bool:
    """EVOS key iteration: t mod ⌊100 − 50 t / T⌋ = 1, with t the official epoch counter, which
    starts at 1 (the sampler passes its step + 1; 72 keys in 5000 steps)."""
    return t % math.floor(100 - 50 * t / T) == 1


class EVOS(Sampler):
    """EVOS as in the official code (EVOS, Zhang et al. CVPR 2025, github.com/zwx-open/EVOS-INR).

    Key iterations — official epoch e = t + 1 with e mod ⌊100 − 50 e/T⌋ = 1, so the very first
    step (e = 1) is one, as in the official loop, and no other rule — train on all N and compute
    the fitness: squared error averaged over channels, and lap_weight (1e-5) × the squared error
    of the (2d+1)-point Laplacian of the gray signal. Offspring: n_off = B − n_mut coordinates,
    the top n_off of each fitness, intersection first, the rest split floor(rest · ē/(ē + l̄))
    from the error ranking and the remainder from the Laplacian one (ē, l̄ the fitness means; the
    1e-5 scale makes the error ranking dominate). Every other step trains on exactly
    B = round(ρN) distinct coordinates: the offspring plus n_mut = round(m·N), m = 0.5·ρ
    (official init_mutation_ratio 0.5 × use ratio), uniformly among the non-offspring.
    Loss: MSE, plus lap_weight × the Laplacian error while t < lap_until = 1500 steps (an
    absolute count, the official use_laplace_epoch): on key steps over all N; on the others over
    the selected pixels of a "pseudo-full" prediction (the key step's, with this batch's
    predictions written in), as the official code does.
    """

    name = "evos"
    fixed_shape = False  # key iterations train on all N, the others on B

    def __init__(self, ratio=0.2, seed=0, schedule="constant", lap_weight=1e-5, lap_until=1500,
                 mutation=0.5):
        super().__init__(ratio, seed, schedule)
        self.lap_weight, self.lap_until, self.mutation = lap_weight, int(lap_until), mutation

    def setup(self, view):
        need_grid(self, view)
        super().setup(view)
        self.shape = view.shape
        self.all = torch.arange(view.n, device=view.device)
        self.offspring = self.order = self.key_pred = None
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

    def is_key(self, t: int, T: int) -> bool:
        return evos_is_key(t + 1, T)  # official epochs count from 1

    def counts(self, t: int, T: int) -> tuple[int, int]:
        """(offspring, mutation) sizes of a non-key step: they add up to B = round(ρ_t N)."""
        b = self.batch_size(t, T)
        n_mut = min(b, round(self.mutation * self.rho0 * self.n))
        return b - n_mut, n_mut

    def select(self, t, view=None):
        view = view or self.view
        if self.is_key(t, view.steps):
            self.keys += 1
            return Selection(self.all, full=True)
        n_off, n_mut = self.counts(t, view.steps)
        offspring = self.order[:n_off]  # the offspring, then (a growing ratio) the next by error
        return Selection(torch.cat([offspring, self._random_excluding(n_mut, offspring)]))

    def loss(self, pred, target, sel, t=0, view=None):
        view = view or self.view
        loss = torch.mean((pred - target) ** 2)
        lap_on = t < self.lap_until and self.lap_weight > 0
        if sel.full:  # key iteration: fitness from this forward, and the Laplacian term early on
            lap_err = (self._laplacian(pred) - self.lap_target) ** 2
            err = ((pred - target) ** 2).detach().mean(1)
            self.key_pred = pred.detach()
            self._update_offspring(err, self.lap_weight * lap_err.detach(), t, view)
            return loss + self.lap_weight * lap_err.mean() if lap_on else loss
        if lap_on and self.key_pred is not None:  # the key step's prediction with this batch in
            full = self.key_pred.index_copy(0, sel.indices, pred)
            lap_err = (self._laplacian(full) - self.lap_target)[sel.indices] ** 2
            loss = loss + self.lap_weight * lap_err.mean()
        return loss

    def _update_offspring(self, err, lap, t, view):
        """err, lap: (N,) the two fitness maps (lap already × lap_weight). Sets self.offspring:
        n_off indices, the intersection of the two top-n_off sets first."""
        k = self.counts(t + 1, view.steps)[0]  # sized for the non-key steps that follow
        top_e, top_l = torch.topk(err, k).indices, torch.topk(lap, k).indices
        in_e = torch.zeros(self.n, dtype=torch.bool, device=err.device).index_fill(0, top_e, True)
        both = top_l[in_e[top_l]]
        taken = torch.zeros_like(in_e).index_fill(0, both, True)
        rest = k - len(both)
        # official: int(rest · mean(err) / (mean(lap) + mean(err))) — a floor; one host sync,
        # on key iterations only
        n_e = int(rest * err.mean() / (lap.mean() + err.mean() + 1e-30))
        from_e = top_e[~taken[top_e]][:n_e]
        from_l = top_l[~taken[top_l]][:rest - len(from_e)]
        self.offspring = torch.cat([both, from_e, from_l])
        taken.index_fill_(0, self.offspring, True)  # the rest by error, for ratio schedules that grow
        by_err = torch.argsort(err.masked_fill(taken, -1.0), descending=True)[:self.n - k]
        self.order = torch.cat([self.offspring, by_err])
