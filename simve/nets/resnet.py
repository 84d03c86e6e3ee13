"""ResNet18-class nets for square colour images (side 16, 32, 64, ...), the size of the official
SimVAE code's colour nets, so that speed and results can be compared like for like
(``--net resnet18``).

The encoder is a ResNet18 at half width: an ImageNet-style stem (7x7 convolution of stride 2 and a
3x3 max-pool, so a 32x32 image is 8x8 after it), then four stages of two residual blocks with 32, 64,
128 and 256 channels (strides 1, 2, 2, 2) and global average pooling: features ``(..., 256)``. The
decoder mirrors it: a linear map to 512 channels at ``side/16``, three stages that double the side
(nearest upsampling, then a residual block) down to 256, 128 and 64 channels, a fourth residual
block at 64 and a 7x7 transposed convolution of stride 2 to the image.
"""

from __future__ import annotations

from torch import nn

from simve.nets.conv import ImageNet, MapDecoder, ResidualBlock

WIDTHS, BLOCKS = (32, 64, 128, 256), 2


class ResNet18Backbone(ImageNet):
    """Image ``(..., C, H, W)`` -> features ``(..., 256)``."""

    def __init__(self, image_shape: tuple[int, int, int]):
        layers = [nn.Conv2d(image_shape[0], 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.MaxPool2d(3, 2, 1)]
        c_in = 64
        for stage, width in enumerate(WIDTHS):
            for block in range(BLOCKS):
                layers.append(ResidualBlock(c_in, width, stride=2 if stage and not block else 1))
                c_in = width
        super().__init__(image_shape, nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), WIDTHS[-1])


class ResNet18Decoder(MapDecoder):
    """Latent ``(..., d)`` -> unconstrained image ``(..., C, H, W)``."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int]):
        side = image_shape[1] // 16
        project = nn.Sequential(nn.Linear(latent_dim, 512 * side**2), nn.ReLU())  # made first: the init order
        layers, c_in = [], 512
        for width in (256, 128, 64):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), ResidualBlock(c_in, width, stride=1)]
            c_in = width
        layers += [ResidualBlock(64, 64, stride=1), nn.ConvTranspose2d(64, image_shape[0], 7, 2, 3, output_padding=1)]
        super().__init__(image_shape, project, (512, side, side), nn.Sequential(*layers))
