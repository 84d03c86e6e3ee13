"""Convolutional nets for square colour images whose side is 8 x a power of two (16, 32, 64, ...).

The encoder is a slim ResNet (a 3x3 stem, three residual stages that halve the resolution, global
average pooling; about 0.7M parameters); the decoder mirrors it with transposed convolutions
from a 4x4 map up to the image size.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

WIDTHS = (32, 64, 128, 160)  # stem, then one residual block per stage


class ResidualBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``, the first conv with ``stride``."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity() if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ConvBackbone(nn.Module):
    """Image ``(..., C, H, W)`` -> features ``(..., 160)``."""

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        stem, *stages = WIDTHS
        layers = [nn.Conv2d(image_shape[0], stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()]
        for c_in, c_out in zip(WIDTHS[:-1], stages):
            layers.append(ResidualBlock(c_in, c_out, stride=2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.layers = nn.Sequential(*layers)
        self.out_dim = WIDTHS[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[: x.dim() - 3]
        return self.layers(x.reshape(-1, *self.image_shape)).reshape(*lead, self.out_dim)


class ConvDecoder(nn.Module):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)``: a 4x4 map, doubled to size."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels, side = image_shape[0], image_shape[1]
        widths = [128]
        while 4 * 2 ** len(widths) < side:
            widths.append(max(32, widths[-1] // 2))
        self.project = nn.Sequential(nn.Linear(latent_dim, widths[0] * 16), nn.ReLU())
        layers = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))
        self.layers = nn.Sequential(*layers)
        self.first = widths[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.project(z.reshape(-1, z.shape[-1])).view(-1, self.first, 4, 4)
        return self.layers(h).reshape(*lead, *self.image_shape)
