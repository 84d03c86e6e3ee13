"""Nets for vector data held as 1 x 1 x D images, so that the image models take it unchanged."""

from __future__ import annotations

from torch import Tensor, nn


class VectorBackbone(nn.Module):
    """A vector held as a 1 x 1 x D image, flattened back: ``(..., 1, 1, D) -> (..., D)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(-3)


class LinearDecoder(nn.Module):
    """``z (..., d) -> D z + e`` as a 1 x 1 x D image."""

    def __init__(self, latent_dim: int, dim: int):
        super().__init__()
        self.linear = nn.Linear(latent_dim, dim)

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z).unflatten(-1, (1, 1, -1))
