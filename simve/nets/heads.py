"""Heads on a backbone: the Gaussian head of the generative encoders, the representation (a
backbone, optionally mapped to ``latent_dim``) and the projection heads of the discriminative models.
"""

from __future__ import annotations

import torch
from torch import nn

from simve.errors import SimveError

HEADS = ("mlp", "linear", "none")


class GaussianHead(nn.Module):
    """Features -> the location and scale of a diagonal Gaussian: ``loc, softplus(.) + 1e-4``."""

    def __init__(self, backbone: nn.Module, latent_dim: int):
        super().__init__()
        self.backbone = backbone
        self.out = nn.Linear(backbone.out_dim, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, raw_scale = self.out(self.backbone(x)).chunk(2, dim=-1)
        return loc, nn.functional.softplus(raw_scale) + 1e-4


class Representation(nn.Module):
    """A backbone, optionally followed by a linear map to ``latent_dim``."""

    def __init__(self, backbone: nn.Module, latent_dim: int | None):
        super().__init__()
        self.backbone = backbone
        if latent_dim is not None and latent_dim < 1:
            raise SimveError(f"latent size must be a whole number >= 1, got {latent_dim}")
        self.to_latent = nn.Identity() if latent_dim is None else nn.Linear(backbone.out_dim, latent_dim)
        self.out_dim = backbone.out_dim if latent_dim is None else latent_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.backbone(x))


def projection_head(kind: str, in_dim: int, out_dim: int, hidden: int = 512) -> nn.Module:
    """``mlp``: Linear-BN-ReLU-Linear; ``linear``; ``none`` (the identity)."""
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "none":
        return nn.Identity()
    raise SimveError(f"unknown projection head {kind!r}; choose one of {', '.join(HEADS)}")


def flat_apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` (which may hold BatchNorm1d) on ``x`` ``(..., D)`` with its leading dims flattened."""
    return module(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
