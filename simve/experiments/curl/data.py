"""Latent classes (Arora et al., ICML 2019): similar pairs, negatives and blocks, drawn afresh.

C classes with probabilities rho (uniform, or rho(c) ∝ c^-s with ``class_skew`` s > 0); class c has a
mean m_c = r u_c (u_c a random unit vector of R^D, r = ``separation``) and D_c = N(m_c, sigma^2 I_D)
(sigma = ``noise``). A similar pair is x, x+ ~ D_c with c ~ rho; each negative x-_i ~ D_{c_i} with
c_i ~ rho drawn afresh, so a negative shares the anchor's class with probability

    tau = P(c- = c) = sum_c rho(c)^2     (1/C when rho is uniform).

A block of b replaces x+ by x+_1..x+_b ~ D_c and the (single) negative by x-_1..x-_b ~ D_{c-}.
Unlabelled data are unlimited: every call draws fresh tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Objective:
    """k negatives of one point each (block = 1), or one negative block of ``block`` points (k = 1)."""

    negatives: int
    block: int = 1

    @property
    def name(self) -> str:
        return f"contrastive k={self.negatives}" if self.block == 1 else f"contrastive block b={self.block}"


@dataclass(frozen=True)
class Tuples:
    anchor: Tensor  # (n, D)
    positives: Tensor  # (n, b, D)
    negatives: Tensor  # (n, k, b, D)
    collides: Tensor  # (n, k) bool: negative class == anchor class

    def rows(self, index: Tensor) -> Tuples:
        return Tuples(self.anchor[index], self.positives[index], self.negatives[index], self.collides[index])


@dataclass(frozen=True)
class LatentClasses:
    means: Tensor  # (C, D)
    rho: Tensor  # (C,)
    noise: float

    @classmethod
    def draw(cls, classes: int, input_dim: int, separation: float, class_skew: float, noise: float,
             generator: torch.Generator) -> LatentClasses:
        """C = ``classes`` means of norm ``separation`` in R^``input_dim``, rho(c) ∝ c^-``class_skew``."""
        means = separation * F.normalize(torch.randn(classes, input_dim, generator=generator), dim=1)
        weights = torch.arange(1, classes + 1, dtype=torch.float64) ** -class_skew
        return cls(means, (weights / weights.sum()).float(), noise)

    @property
    def tau(self) -> float:
        return float((self.rho.double() ** 2).sum())

    def classes(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.multinomial(self.rho, math.prod(shape), replacement=True, generator=generator).view(shape)

    def points(self, classes: Tensor, generator: torch.Generator) -> Tensor:
        noise = torch.randn(*classes.shape, self.means.shape[1], generator=generator)
        return self.means[classes] + self.noise * noise

    def labelled(self, per_class: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``per_class`` points of every class, classes cycling (0, 1, .., C-1, 0, ..): the first n C rows
        hold n points per class, so smaller labelled sets are nested in larger ones."""
        y = torch.arange(len(self.rho)).repeat(per_class)
        return self.points(y, generator), y

    def tuples(self, n: int, objective: Objective, generator: torch.Generator) -> Tuples:
        c = self.classes((n,), generator)
        negative = self.classes((n, objective.negatives), generator)
        positives = self.points(c[:, None].expand(n, objective.block), generator)
        negatives = self.points(negative[:, :, None].expand(n, objective.negatives, objective.block), generator)
        return Tuples(self.points(c, generator), positives, negatives, negative == c[:, None])
