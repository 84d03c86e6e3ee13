"""Encoders and decoders by name.

A *backbone* maps images ``(..., C, H, W)`` to features ``(..., out_dim)``; the generative
models put a Gaussian head on it, the discriminative ones use its output as the
representation (heads: :mod:`simve.nets.heads`). A *decoder* maps latents ``(..., d)`` to unconstrained images (logits or
means, read by the likelihood); ``mlp-small`` is the demo-sized MLP, ``mlp-tiny`` a smaller one for small images. ``"auto"`` picks the MLP for 1-channel images up to 32x32 and
the conv nets otherwise.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from simve.errors import SimveError
from simve.nets.conv import ConvBackbone, ConvDecoder
from simve.nets.heads import GaussianHead
from simve.nets.mlp import SMALL, TINY, MLPBackbone, MLPDecoder
from simve.nets.resnet import ResNet18Backbone, ResNet18Decoder

NETS = {"mlp": (MLPBackbone, MLPDecoder), "mlp-small": (partial(MLPBackbone, hidden=SMALL), partial(MLPDecoder, hidden=SMALL)),
        "mlp-tiny": (partial(MLPBackbone, hidden=TINY), partial(MLPDecoder, hidden=TINY)),
        "conv": (ConvBackbone, ConvDecoder),
        "resnet18": (ResNet18Backbone, ResNet18Decoder)}
MLP_MAX_INPUTS = 64 * 64 * 3  # beyond this the first layer alone is a few hundred MB


def resolve_net(name: str, image_shape: tuple[int, int, int]) -> str:
    """The net family for ``name`` ("auto" or a key of :data:`NETS`), refusing shapes it cannot take."""
    c, h, w = image_shape
    if name == "auto":
        name = "mlp" if c == 1 and h <= 32 and w <= 32 else "conv"
    if name not in NETS:
        raise SimveError(f"unknown net {name!r}; choose auto, {', '.join(NETS)}")
    if name.startswith("mlp") and c * h * w > MLP_MAX_INPUTS:
        raise SimveError(f"the MLP takes images of at most {MLP_MAX_INPUTS} values, got {c}x{h}x{w}; use --net conv")
    if name in ("conv", "resnet18") and not (h == w and h >= 16 and (h // 8) & (h // 8 - 1) == 0 and h % 8 == 0):
        raise SimveError(
            f"the {name} nets take square images of side 16, 32, 64, 128, ..., got {h}x{w}; use --net mlp"
        )
    return name


def build_backbone(name: str, image_shape: tuple[int, int, int]) -> nn.Module:
    return NETS[resolve_net(name, image_shape)][0](image_shape)


def build_encoder(name: str, image_shape: tuple[int, int, int], latent_dim: int) -> GaussianHead:
    backbone = build_backbone(name, image_shape)
    if not 1 <= latent_dim <= backbone.out_dim:
        raise SimveError(
            f"latent size must be between 1 and {backbone.out_dim} for the {resolve_net(name, image_shape)} "
            f"encoder, got {latent_dim}"
        )
    return GaussianHead(backbone, latent_dim)


def build_decoder(name: str, latent_dim: int, image_shape: tuple[int, int, int]) -> nn.Module:
    return NETS[resolve_net(name, image_shape)][1](latent_dim, image_shape)
