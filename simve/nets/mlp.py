"""The reference MLP for small images: 784-2000-500-500 and its mirror (any image size), and a demo-sized
one, 784-512-256, that steps several times faster."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

HIDDEN = (2000, 500, 500)
SMALL = (512, 256)  # the demo's nets: a fifth of the reference MLP's multiply-adds per image
TINY = (256, 128)  # for small images: at 14x14 a sixth of SMALL's multiply-adds per 28x28 image


def _stack(widths: tuple[int, ...]) -> nn.Sequential:
    layers = []
    for w_in, w_out in itertools.pairwise(widths):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPBackbone(nn.Module):
    """Flattened image ``(..., C, H, W)`` -> features ``(..., hidden[-1])`` through ``hidden`` (2000-500-500), ReLU."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...] = HIDDEN):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.layers = _stack((math.prod(image_shape), *hidden))
        self.out_dim = hidden[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[: x.dim() - 3]
        return self.layers(x.reshape(-1, math.prod(self.image_shape))).reshape(*lead, self.out_dim)


class MLPDecoder(nn.Module):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)`` through ``hidden`` reversed (500-500-2000)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], hidden: tuple[int, ...] = HIDDEN):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.layers = nn.Sequential(_stack((latent_dim, *reversed(hidden))),
                                    nn.Linear(hidden[0], math.prod(image_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        return self.layers(z.reshape(-1, z.shape[-1])).reshape(*lead, *self.image_shape)
