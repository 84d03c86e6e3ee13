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


class ImageNet(nn.Module):
    """``layers`` on images ``(..., C, H, W)``, their leading dims flattened: features ``(..., out_dim)``."""

    def __init__(self, image_shape: tuple[int, int, int], layers: nn.Sequential, out_dim: int):
        super().__init__()
        self.image_shape, self.layers, self.out_dim = tuple(image_shape), layers, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[: x.dim() - 3]
        return self.layers(x.reshape(-1, *self.image_shape)).reshape(*lead, self.out_dim)


class MapDecoder(nn.Module):
    """Latents ``(..., d)`` -> ``project`` -> a ``map_shape`` (channels, side, side) map -> ``layers`` ->
    unconstrained images ``(..., C, H, W)``."""

    def __init__(self, image_shape: tuple[int, int, int], project: nn.Module, map_shape: tuple[int, int, int],
                 layers: nn.Sequential):
        super().__init__()
        self.image_shape, self.project, self.map_shape, self.layers = tuple(image_shape), project, map_shape, layers

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.project(z.reshape(-1, z.shape[-1])).view(-1, *self.map_shape)
        return self.layers(h).reshape(*lead, *self.image_shape)


class ConvBackbone(ImageNet):
    """Image ``(..., C, H, W)`` -> features ``(..., 160)``."""

    def __init__(self, image_shape: tuple[int, int, int]):
        stem, *stages = WIDTHS
        layers = [nn.Conv2d(image_shape[0], stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()]
        for c_in, c_out in zip(WIDTHS[:-1], stages):
            layers.append(ResidualBlock(c_in, c_out, stride=2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(image_shape, nn.Sequential(*layers), WIDTHS[-1])


class ConvDecoder(MapDecoder):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)``: a 4x4 map, doubled to size."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int]):
        channels, side = image_shape[0], image_shape[1]
        widths = [128]
        while 4 * 2 ** len(widths) < side:
            widths.append(max(32, widths[-1] // 2))
        project = nn.Sequential(nn.Linear(latent_dim, widths[0] * 16), nn.ReLU())  # made first: the init order
        layers = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))
        super().__init__(image_shape, project, (widths[0], 4, 4), nn.Sequential(*layers))
