"""Contrastive learning with latent classes (Arora et al. 2019), on views.

View 1 of a datum is the anchor x, view 2 its similar point x+, and view 1 of k other data of
the batch (chosen at random, so a class collision can happen as in the theory) the negatives.
The loss acts on f itself (no head by default), kept on the sphere of radius R as the bound
assumes ||f|| <= R:

    k negatives:  l({f(x)^T (f(x+) - f(x-_i))}_i),  l logistic or hinge
    block:        l(f(x)^T (mean_j f(x+_j) - mean_j f(x-_j))), the block being views 2..J
                  of the datum and of one other datum.
"""

from typing import ClassVar

import torch
import torch.nn.functional as F

from simve import losses
from simve.errors import SimveError
from simve.models.base import register
from simve.models.discriminative import Discriminative

KINDS = ("logistic", "hinge")


@register("curl")
class CURL(Discriminative):
    knobs: ClassVar[dict] = {"head": "none", "negatives": 4, "curl_loss": "logistic", "block": False, "radius": 5.0}
    positive = ("negatives", "radius")
    min_views = 2

    def __init__(self, image_shape, **options):
        super().__init__(image_shape, **options)
        if self.curl_loss not in KINDS:
            raise SimveError(f"curl: curl_loss must be one of {', '.join(KINDS)}, got {self.curl_loss!r}")

    def loss(self, views):
        self.check_views(views)
        f = self.radius * F.normalize(self.project(views), dim=-1)
        batch = f.shape[0]
        wanted = 1 if self.block else self.negatives
        if wanted > batch - 1:
            raise SimveError(f"curl: {wanted} negatives need a batch of at least {wanted + 1} data, got {batch}")
        offsets = 1 + torch.randperm(batch - 1, device=f.device)[:wanted]
        others = (torch.arange(batch, device=f.device)[:, None] + offsets) % batch  # (B, k)
        if self.block:
            return losses.contrastive_block(f[:, 0], f[:, 1:], f[others[:, 0], 1:], self.curl_loss)
        return losses.contrastive_negatives(f[:, 0], f[:, 1], f[others, 0], self.curl_loss)
