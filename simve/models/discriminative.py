"""What the discriminative models share: a backbone (the representation) and a projection head.

The backbone is the same net family as the generative models' encoders (``--net``); its output
at its natural width is the representation used downstream, or, with ``latent_dim``, a final
linear layer maps it to that size (to compare with SimVE at equal dimension). The loss is
computed on the head's output (``project``): an MLP (Linear-BN-ReLU-Linear), a linear map, or
none.

Trained on several processes, the batch-wide losses take :meth:`Discriminative.whole_batch` of
their inputs: every rank's rows, with gradients (see :mod:`simve.distributed`).
"""

from __future__ import annotations

import dataclasses

import torch

from simve import distributed
from simve.models.base import Options, SSLModel
from simve.nets import NETS, build_backbone
from simve.nets.heads import HEADS, Representation, flat_apply, projection_head
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class DiscriminativeOptions(Options):
    """What every discriminative model takes: its backbone, representation size and head."""

    net: str = option("auto", "backbone family (auto: the MLP for small gray images, else conv)",
                      choices=("auto", *NETS))
    latent_dim: int | None = option(None, "representation size: a linear map from the backbone to D "
                                          "(default: the backbone's natural width)")
    head: str = option("mlp", "projection head", choices=HEADS)
    head_dim: int = option(128, "projection head output size", positive=True)


class Discriminative(SSLModel):
    """A representation network ``encoder`` and a head ``projector``; subclasses define ``Options`` and
    ``objective``."""

    Options = DiscriminativeOptions
    capabilities = frozenset({"project"})

    def __init__(self, image_shape: tuple[int, int, int], options: DiscriminativeOptions | None = None):
        super().__init__(options)
        o = self.options
        self.encoder = Representation(build_backbone(o.net, image_shape), o.latent_dim)
        self.projector = projection_head(o.head, self.encoder.out_dim, o.head_dim)

    @classmethod
    def build(cls, image_shape, options):
        return cls(tuple(image_shape), options)

    @property
    def projection_dim(self) -> int:
        return self.encoder.out_dim if self.options.head == "none" else self.options.head_dim

    def whole_batch(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, ...)`` of every rank while training on several processes, ``(W B, ...)``, with
        gradients; this rank's ``z`` otherwise (one process, or eval mode: the validation loss)."""
        return distributed.gather(z) if self.training else z

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The representation: the backbone output (mapped to ``latent_dim`` where given)."""
        return self.encoder(images)

    def project(self, images: torch.Tensor) -> torch.Tensor:
        """The head's output, on which the loss is computed: ``(..., C, H, W) -> (..., head_dim)``."""
        return flat_apply(self.projector, self.encoder(images))
