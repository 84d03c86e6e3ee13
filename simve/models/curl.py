"""Contrastive learning with latent classes (Arora et al. 2019), on views.

View 1 of a datum is the anchor x, view 2 its similar point x+, and view 1 of k other data of
the batch (chosen at random, so a class collision can happen as in the theory) the negatives.
The loss acts on f itself (no head by default), kept on the sphere of radius R as the bound
assumes ||f|| <= R:

    k negatives:  l({f(x)^T (f(x+) - f(x-_i))}_i),  l logistic or hinge
    block:        l(f(x)^T (mean_j f(x+_j) - mean_j f(x-_j))), the block being views 2..J
                  of the datum and of one other datum.
"""

import dataclasses

import torch
import torch.nn.functional as F

from simve import losses
from simve.errors import SimveError
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.nets.heads import HEADS
from simve.settings import option

KINDS = ("logistic", "hinge")


@dataclasses.dataclass(frozen=True)
class CURLOptions(DiscriminativeOptions):
    head: str = option("none", "projection head", choices=HEADS)
    negatives: int = option(4, "negatives k per anchor", positive=True)
    curl_loss: str = option("logistic", "the loss l of the margins", choices=KINDS)
    block: bool = option(False, "one negative block (views 2..J of another datum) instead of k negatives")
    radius: float = option(5.0, "radius R of the sphere f lives on", positive=True)


@register("curl")
class CURL(Discriminative):
    Options = CURLOptions
    min_views = 2

    def objective(self, views):
        o = self.options
        f = o.radius * F.normalize(self.whole_batch(self.project(views)), dim=-1)
        batch = f.shape[0]
        wanted = 1 if o.block else o.negatives
        if wanted > batch - 1:
            raise SimveError(f"curl: {wanted} negatives need a batch of at least {wanted + 1} data, got {batch}")
        offsets = 1 + torch.randperm(batch - 1, device=f.device)[:wanted]
        others = (torch.arange(batch, device=f.device)[:, None] + offsets) % batch  # (B, k)
        if o.block:
            return losses.contrastive_block(f[:, 0], f[:, 1:], f[others[:, 0], 1:], o.curl_loss)
        return losses.contrastive_negatives(f[:, 0], f[:, 1], f[others, 0], o.curl_loss)
