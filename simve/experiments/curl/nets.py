"""An encoder on the sphere: f(x) = R g(x) / ||g(x)||, g an MLP D -> hidden -> d with a ReLU.

f lives on the sphere of radius R, Arora et al.'s assumption ||f(x)|| <= R (as in
:mod:`simve.models.curl`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SphereMLP(nn.Module):
    """f(x) = R g(x) / ||g(x)||, g: ``input_dim`` -> ``hidden`` -> ``feature_dim``; any leading dimensions."""

    def __init__(self, input_dim: int, hidden: int, feature_dim: int, radius: float):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim))
        self.radius = radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.radius * F.normalize(self.g(x), dim=-1)
