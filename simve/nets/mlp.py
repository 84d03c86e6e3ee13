"""The reference MLP for small images: 784-2000-500-500 and its mirror (any image size)."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

HIDDEN = (2000, 500, 500)


def _stack(widths: tuple[int, ...]) -> nn.Sequential:
    layers = []
    for w_in, w_out in itertools.pairwise(widths):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPBackbone(nn.Module):
    """Flattened image ``(..., C, H, W)`` -> features ``(..., 500)`` through 2000-500-500, ReLU."""

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.layers = _stack((math.prod(image_shape), *HIDDEN))
        self.out_dim = HIDDEN[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[: x.dim() - 3]
        return self.layers(x.reshape(-1, math.prod(self.image_shape))).reshape(*lead, self.out_dim)


class MLPDecoder(nn.Module):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)`` through 500-500-2000."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.layers = nn.Sequential(_stack((latent_dim, *reversed(HIDDEN))),
                                    nn.Linear(HIDDEN[0], math.prod(image_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        return self.layers(z.reshape(-1, z.shape[-1])).reshape(*lead, *self.image_shape)
