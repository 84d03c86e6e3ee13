"""What the discriminative models share: a backbone (the representation) and a projection head.

The backbone is the same net family as the generative models' encoders (``--net``); its output
at its natural width is the representation used downstream, or, with ``latent_dim``, a final
linear layer maps it to that size (to compare with SimVE at equal dimension). The loss is
computed on the head's output (``project``): an MLP (Linear-BN-ReLU-Linear), a linear map, or
none.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from simve.errors import SimveError
from simve.models.base import SSLModel
from simve.nets import build_backbone

HEADS = ("mlp", "linear", "none")
SHARED = {"net": "auto", "latent_dim": None, "head": "mlp", "head_dim": 128}


class Representation(nn.Module):
    """A backbone, optionally followed by a linear map to ``latent_dim``."""

    def __init__(self, net: str, image_shape: tuple[int, int, int], latent_dim: int | None):
        super().__init__()
        self.backbone = build_backbone(net, image_shape)
        if latent_dim is not None and latent_dim < 1:
            raise SimveError(f"latent size must be a whole number >= 1, got {latent_dim}")
        self.to_latent = nn.Identity() if latent_dim is None else nn.Linear(self.backbone.out_dim, latent_dim)
        self.out_dim = self.backbone.out_dim if latent_dim is None else latent_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.backbone(x))


def projection_head(kind: str, in_dim: int, out_dim: int, hidden: int = 512) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "none":
        return nn.Identity()
    raise SimveError(f"unknown projection head {kind!r}; choose one of {', '.join(HEADS)}")


class Discriminative(SSLModel):
    """A representation network ``encoder`` and a head ``projector``; subclasses define ``knobs`` and ``loss``.

    ``knobs`` lists the method's own options and defaults; with the shared ones (``net``,
    ``latent_dim``, ``head``, ``head_dim``) they are what ``build`` accepts. Every knob becomes an
    attribute of the model.
    """

    knobs: ClassVar[dict[str, object]] = {}
    positive: ClassVar[tuple[str, ...]] = ()  # knobs that must be > 0

    def __init__(self, image_shape: tuple[int, int, int], **options):
        super().__init__()
        for name, value in options.items():
            setattr(self, name, value)
        for name in self.positive:
            if not options[name] > 0:
                raise SimveError(f"{self.name}: {name} must be positive, got {options[name]}")
        self.encoder = Representation(self.net, image_shape, self.latent_dim)
        self.projector = projection_head(self.head, self.encoder.out_dim, self.head_dim)

    @property
    def projection_dim(self) -> int:
        return self.encoder.out_dim if self.head == "none" else self.head_dim

    @classmethod
    def options(cls) -> dict[str, object]:
        return {**SHARED, **cls.knobs}

    @classmethod
    def build(cls, image_shape, **options):
        return cls(tuple(image_shape), **{**cls.options(), **options})

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The representation: the backbone output (mapped to ``latent_dim`` where given)."""
        return self.encoder(images)

    def project(self, images: torch.Tensor) -> torch.Tensor:
        """The head's output, on which the loss is computed: ``(..., C, H, W) -> (..., head_dim)``."""
        return _flat_apply(self.projector, self.encoder(images))


def _flat_apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply ``module`` (which may hold BatchNorm1d) to ``x`` ``(..., D)`` with its leading dims flattened."""
    return module(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
