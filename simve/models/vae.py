"""VAE and beta-VAE: each augmented view on its own, ``z ~ N(0, I)``, ``x ~ p(x | z)``.

    ELBO = sum_j E_q[log p(x_j | z_j)] - beta * KL(q(z_j | x_j) || N(0, I))

beta = 1 is the VAE; the beta-VAE weights the latent terms by ``poutine.scale(beta)``.
"""

from __future__ import annotations

import dataclasses

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from simve.models.base import register
from simve.models.generative import GenerativeModel, GenerativeOptions
from simve.settings import option


@register("vae")
class VAE(GenerativeModel):
    table_position = 2

    @property
    def beta(self) -> float:
        """The weight of the latent terms: 1, the true ELBO."""
        return 1.0

    def model(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2), pyro.plate("views", n_views, dim=-1):
            with poutine.scale(scale=self.beta):
                prior = dist.Normal(views.new_zeros(self.latent_dim), 1.0).to_event(1)
                z = pyro.sample("z", prior)
            self.observe(views, z)

    def guide(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2), pyro.plate("views", n_views, dim=-1):
            loc, scale = self.encoder(views)
            with poutine.scale(scale=self.beta):
                self.sample_posterior(loc, scale)

    def prior_latents(self, n):
        return torch.randn(n, self.latent_dim, device=self.device)


@dataclasses.dataclass(frozen=True)
class BetaVAEOptions(GenerativeOptions):
    beta: float = option(4.0, "weight of the KL term", positive=True)


@register("beta-vae")
class BetaVAE(VAE):
    Options = BetaVAEOptions
    table_position = 3

    @property
    def beta(self) -> float:
        return float(self.options.beta)
