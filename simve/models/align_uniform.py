"""Wang & Isola (2020): train on alignment and uniformity alone.

    loss = mean_{j<k} L_align(f(x_j), f(x_k)) + w * mean_j L_uniform(f(x_j))

on the l2-normalised outputs of a linear head (alpha = 2, t = 2 by default).
"""

import itertools
from typing import ClassVar

import torch

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative


@register("align-uniform")
class AlignUniform(Discriminative):
    knobs: ClassVar[dict] = {"head": "linear", "align_alpha": 2.0, "uniform_t": 2.0, "uniform_weight": 1.0}
    positive = ("align_alpha", "uniform_t")
    min_views = 2

    def loss(self, views):
        self.check_views(views)
        z = self.project(views)
        pairs = itertools.combinations(range(z.shape[1]), 2)
        align = torch.stack([losses.align(z[:, j], z[:, k], self.align_alpha) for j, k in pairs]).mean()
        uniform = torch.stack([losses.uniform(z[:, j], self.uniform_t) for j in range(z.shape[1])]).mean()
        return align + self.uniform_weight * uniform
