"""Wang & Isola (2020): train on alignment and uniformity alone.

    loss = mean_{j<k} L_align(f(x_j), f(x_k)) + w * mean_j L_uniform(f(x_j))

on the l2-normalised outputs of a linear head (alpha = 2, t = 2 by default).
"""

import dataclasses
import itertools

import torch

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.nets.heads import HEADS
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class AlignUniformOptions(DiscriminativeOptions):
    head: str = option("linear", "projection head", choices=HEADS)
    align_alpha: float = option(2.0, "exponent alpha of L_align", positive=True)
    uniform_t: float = option(2.0, "scale t of L_uniform", positive=True)
    uniform_weight: float = option(1.0, "weight w of L_uniform")


@register("align-uniform")
class AlignUniform(Discriminative):
    Options = AlignUniformOptions
    min_views = 2
    table_position = 8

    def objective(self, views):
        o = self.options
        z = self.whole_batch(self.project(views))
        pairs = itertools.combinations(range(z.shape[1]), 2)
        align = torch.stack([losses.align(z[:, j], z[:, k], o.align_alpha) for j, k in pairs]).mean()
        uniform = torch.stack([losses.uniform(z[:, j], o.uniform_t) for j in range(z.shape[1])]).mean()
        return align + o.uniform_weight * uniform
