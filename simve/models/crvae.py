"""CR-VAE (Sinha & Dieng 2021): the VAE on every view plus a consistency penalty.

View 1 of each datum plays the image x and views 2..J its augmentations t(x)::

    loss = -ELBO_VAE + lambda * sum_{j >= 2} KL(q(z | x_1) || q(z | x_j))

The penalty is a ``pyro.factor`` in the guide (a term of ``log q``, so it lowers the ELBO
objective); it is listed in ``penalty_sites``, so bounds on ``log p(x)`` leave it out.
"""

from __future__ import annotations

import dataclasses

import pyro
import pyro.distributions as dist
from torch.distributions import kl_divergence

from simve.models.base import register
from simve.models.generative import GenerativeOptions
from simve.models.vae import VAE
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class CRVAEOptions(GenerativeOptions):
    consistency_weight: float = option(1.0, "weight of the consistency term", at_least=0, symbol="lambda")


@register("cr-vae")
class CRVAE(VAE):
    Options = CRVAEOptions
    min_views = 2
    penalty_sites = (*VAE.penalty_sites, "consistency")
    table_position = 4

    @property
    def consistency_weight(self) -> float:
        return float(self.options.consistency_weight)

    def guide(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2):
            with pyro.plate("views", n_views, dim=-1):
                loc, scale = self.encoder(views)
                self.sample_posterior(loc, scale)
            q = dist.Normal(loc, scale)
            anchor = dist.Normal(loc[..., :1, :], scale[..., :1, :])
            penalty = kl_divergence(anchor, q)[..., 1:, :].sum((-2, -1))
            pyro.factor("consistency", self.consistency_weight * penalty.unsqueeze(-1), has_rsample=True)
