"""ResNet18 nets for square colour images (side 16, 32, 64, ...), the size of the official SimVAE
code's colour nets, so that speed and results can be compared like for like (``--net resnet18``).

The encoder is torchvision's ResNet18 with the small-image stem (a 3x3 convolution of stride 1 and
no max-pool, as is usual for 32x32 data) and without its classifier: features ``(..., 512)``, 11.2 M
parameters. The decoder mirrors it: a linear map to a ``side/8``-sized map of 512 channels, then
three stages of two residual blocks that double the resolution (nearest upsampling) and halve the
channels (512 -> 256 -> 128 -> 64), and a 3x3 convolution to the image's channels.
"""

from __future__ import annotations

import torch
from torch import nn

from simve.torchvision_compat import models as torchvision_models


class ResNet18Backbone(nn.Module):
    """Image ``(..., C, H, W)`` -> features ``(..., 512)``."""

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        net = torchvision_models().resnet18()
        net.conv1 = nn.Conv2d(image_shape[0], 64, 3, 1, 1, bias=False)
        net.maxpool, net.fc = nn.Identity(), nn.Identity()
        self.net = net
        self.out_dim = 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[: x.dim() - 3]
        return self.net(x.reshape(-1, *self.image_shape)).reshape(*lead, self.out_dim)


class UpBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(up(x)))))) + shortcut(up(x)))``; ``up`` doubles the side when asked."""

    def __init__(self, c_in: int, c_out: int, upsample: bool):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest") if upsample else nn.Identity()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Identity() if c_in == c_out else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False),
                                                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet18Decoder(nn.Module):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)``."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.side = image_shape[1] // 8
        self.project = nn.Linear(latent_dim, 512 * self.side**2)
        stages = []
        for c_in, c_out in ((512, 256), (256, 128), (128, 64)):
            stages += [UpBlock(c_in, c_out, upsample=True), UpBlock(c_out, c_out, upsample=False)]
        self.layers = nn.Sequential(*stages, nn.Conv2d(64, image_shape[0], 3, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.project(z.reshape(-1, z.shape[-1])).view(-1, 512, self.side, self.side)
        return self.layers(torch.relu(h)).reshape(*lead, *self.image_shape)
