"""VAE and beta-VAE: each augmented view on its own, ``z ~ N(0, I)``, ``x ~ p(x | z)``.

    ELBO = sum_j E_q[log p(x_j | z_j)] - beta * KL(q(z_j | x_j) || N(0, I))

beta = 1 is the VAE; the beta-VAE weights the latent terms by ``poutine.scale(beta)``.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from simve.errors import SimveError
from simve.models.base import register
from simve.models.generative import GenerativeModel


@register("vae")
class VAE(GenerativeModel):
    def __init__(self, encoder, decoder, likelihood, latent_dim: int, beta: float = 1.0):
        super().__init__(encoder, decoder, likelihood, latent_dim)
        if not beta > 0:
            raise SimveError(f"beta must be positive, got {beta}")
        self.beta = float(beta)

    @classmethod
    def build(cls, image_shape, *, latent_dim=None, net="auto", likelihood=None, sigma_x=0.1):
        return cls(**cls.components(image_shape, latent_dim, net, likelihood, sigma_x))

    def model(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2), pyro.plate("views", n_views, dim=-1):
            with poutine.scale(scale=self.beta):
                prior = dist.Normal(views.new_zeros(self.latent_dim), 1.0).to_event(1)
                z = pyro.sample("z", prior)
            pyro.sample("x", self.likelihood(self.decoder(z)), obs=views)

    def guide(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2), pyro.plate("views", n_views, dim=-1):
            loc, scale = self.encoder(views)
            with poutine.scale(scale=self.beta):
                pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def prior_latents(self, n):
        return torch.randn(n, self.latent_dim, device=self.device)


@register("beta-vae")
class BetaVAE(VAE):
    @classmethod
    def build(cls, image_shape, *, latent_dim=None, net="auto", likelihood=None, sigma_x=0.1, beta=4.0):
        return cls(**cls.components(image_shape, latent_dim, net, likelihood, sigma_x), beta=beta)
