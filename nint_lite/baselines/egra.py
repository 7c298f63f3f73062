"""EGRA: edge pixels, shifted by a random 6–9 along the flat index, sampled with extra weight.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import torch

from ..samplers import Sampler, Selection
from .edges import canny_edges, need_grid


class EGRA(Sampler):
    """Edge pixels shifted by a random 6–9 along the flat index, weight p·E' + (1 − p)·4096/640000."""

    name = "egra"
    P_EDGE, BASE = 0.0025, 4096 / 640000

    def setup(self, view):
        need_grid(self, view)
        super().setup(view)
        self.edges = canny_edges(view)

    def weights(self) -> torch.Tensor:
        """This step's sampling weights (N,): marked pixels p + (1 − p)·base, the rest (1 − p)·base."""
        g = self.generator
        shift = torch.randint(6, 10, self.edges.shape, generator=g, device=g.device)
        marked = torch.zeros(self.n, dtype=torch.bool, device=g.device)
        marked[(self.edges + shift) % self.n] = True
        return self.P_EDGE * marked + (1 - self.P_EDGE) * self.BASE

    def select(self, t, view=None):
        # Sampling without replacement ∝ w, via the Gumbel-top-k trick (any N, any device).
        u = torch.rand(self.n, generator=self.generator, device=self.generator.device).clamp_min(1e-20)
        keys = self.weights().log() - torch.log(-torch.log(u))
        return Selection(torch.topk(keys, self.batch_size(t, self.view.steps)).indices)
