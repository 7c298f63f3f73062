"""Expansive Supervision (ICME 2025): edge anchors for up to half the budget, uniform for the rest.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import torch

from ..samplers import Sampler, Selection
from .edges import canny_edges, need_grid


class Expansive(Sampler):
    """Canny edge anchors (at most half the budget, a fixed random subset if more) every step,
    plus uniform random coordinates for the rest."""

    name = "expansive"

    def setup(self, view):
        need_grid(self, view)
        super().setup(view)
        self.edges = canny_edges(view)
        self.anchors = None  # re-picked for this view (a stale set would belong to another fit)

    def select(self, t, view=None):
        b = self.batch_size(t, self.view.steps)
        half = b // 2
        if self.anchors is None or len(self.anchors) > half:
            pick = torch.randperm(len(self.edges), generator=self.generator, device=self.generator.device)[:half]
            self.anchors = self.edges[pick]
        rest = self._random_excluding(b - len(self.anchors), self.anchors)
        return Selection(torch.cat([self.anchors, rest]))
