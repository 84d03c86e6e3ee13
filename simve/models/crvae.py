"""CR-VAE (Sinha & Dieng 2021): the VAE on every view plus a consistency penalty.

View 1 of each datum plays the image x and views 2..J its augmentations t(x)::

    loss = -ELBO_VAE + lambda * sum_{j >= 2} KL(q(z | x_1) || q(z | x_j))

The penalty is a ``pyro.factor`` in the guide (a term of ``log q``, so it lowers the ELBO
objective); it is listed in ``penalty_sites``, so bounds on ``log p(x)`` leave it out.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
from torch.distributions import kl_divergence

from simve.errors import SimveError
from simve.models.base import register
from simve.models.vae import VAE


@register("cr-vae")
class CRVAE(VAE):
    min_views = 2
    penalty_sites = ("consistency",)

    def __init__(self, encoder, decoder, likelihood, latent_dim: int, consistency_weight: float = 1.0):
        super().__init__(encoder, decoder, likelihood, latent_dim)
        if not consistency_weight >= 0:
            raise SimveError(f"consistency_weight (lambda) must be >= 0, got {consistency_weight}")
        self.consistency_weight = float(consistency_weight)

    @classmethod
    def build(cls, image_shape, *, latent_dim=None, net="auto", likelihood=None, sigma_x=0.1,
              consistency_weight=1.0):
        return cls(**cls.components(image_shape, latent_dim, net, likelihood, sigma_x),
                   consistency_weight=consistency_weight)

    def guide(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2):
            with pyro.plate("views", n_views, dim=-1):
                loc, scale = self.encoder(views)
                pyro.sample("z", dist.Normal(loc, scale).to_event(1))
            q = dist.Normal(loc, scale)
            anchor = dist.Normal(loc[..., :1, :], scale[..., :1, :])
            penalty = kl_divergence(anchor, q)[..., 1:, :].sum((-2, -1))
            pyro.factor("consistency", self.consistency_weight * penalty.unsqueeze(-1), has_rsample=True)
