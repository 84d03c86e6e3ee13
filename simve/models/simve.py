"""SimVE: the hierarchical content/style latent model of self-supervised learning (DESIGN §2).

For a datum seen through J >= 2 views::

    y     ~ N(0, s_y^2 I)       content, shared by the views ("flat": p(y) = 1)
    z_j   ~ N(y, s^2 I)         one latent per view; z_j - y is the view's style
    x_j   ~ p(x | z_j)          the decoder likelihood

The guide is ``q(z_j | x_j) = N(loc(x_j), diag scale(x_j)^2)``, one encoder for every view; y is
never given a free variational family, because given the z's it is Gaussian in closed form,
``p(y | z_1..J) = N(m, v I)`` with ``v = 1 / (1/s_y^2 + J/s^2)`` and ``m = v sum_j z_j / s^2``.

- ``content_guide="marginal"`` (default): y is integrated out and ``log p(z_1..J)`` enters
  through ``pyro.factor``. Per latent dimension the z's are jointly ``N(0, s^2 I + s_y^2 11^T)``:

      log p(z_1..J) = -1/2 sum_k [ W_k / s^2 + J zbar_k^2 / (s^2 + J s_y^2)
                                   + J log 2pi + (J - 1) log s^2 + log(s^2 + J s_y^2) ]

  with ``zbar`` the mean of the z's and ``W_k = sum_j (z_jk - zbar_k)^2``; for the flat prior
  ``log p(z_1..J) = -1/2 sum_k [ W_k / s^2 + (J - 1) log(2 pi s^2) + log J ]``.
- ``content_guide="sampled"``: the guide draws y from ``p(y | z_1..J)`` and the model has the
  sites y and z | y. Since ``log p(y) + sum_j log p(z_j | y) - log p(y | z) = log p(z_1..J)``
  for every y, both give the same ELBO (for the same z's, exactly).

    ELBO = sum_j E_q[log p(x_j | z_j)] + beta * E_q[log p(z_1..J) - sum_j log q(z_j | x_j)]

with the correct Gaussian entropy (not the reference code's pi-weighted one); beta = 1 is the
true ELBO, other values reweight the latent terms through ``poutine.scale``.
"""

from __future__ import annotations

import dataclasses
import math

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from simve.errors import SimveError
from simve.models.base import register
from simve.models.generative import GenerativeModel, GenerativeOptions
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class SimVEOptions(GenerativeOptions):
    prior_var: float = option(0.15, "variance s^2 of each view's z around the content y", positive=True, symbol="s^2")
    content_prior: str = option("gaussian", "prior of the content y: gaussian N(0, s_y^2 I) or flat",
                                choices=("gaussian", "flat"))
    content_scale: float = option(1.0, "s_y of the gaussian content prior", symbol="s_y")
    content_guide: str = option("marginal", "integrate y out (marginal, a pyro.factor) or sample it from p(y | z)",
                                choices=("marginal", "sampled"))
    beta: float = option(1.0, "weight of the latent terms (1: the true ELBO)", positive=True)

    def check(self):
        if not self.content_scale >= 0 or (self.content_guide == "sampled" and self.content_scale == 0):
            raise SimveError(f"content_scale (s_y) must be positive (>= 0 with the marginal guide), "
                             f"got {self.content_scale}")


@register("simve")
class SimVE(GenerativeModel):
    Options = SimVEOptions
    capabilities = GenerativeModel.capabilities | {"new_style"}
    min_views = 2
    table_position = 1

    def __init__(self, encoder, decoder, likelihood, latent_dim: int, options: SimVEOptions | None = None):
        super().__init__(encoder, decoder, likelihood, latent_dim, options)
        o = self.options
        self.prior_var, self.content_prior, self.content_scale = float(o.prior_var), o.content_prior, float(o.content_scale)
        self.content_guide, self.beta = o.content_guide, float(o.beta)

    @property
    def flat(self) -> bool:
        return self.content_prior == "flat"

    # --- the closed forms -----------------------------------------------------------------

    def log_p_views(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z_1..J)`` with y integrated out: z ``(..., J, d)`` -> ``(...)``."""
        n_views = z.shape[-2]
        s2 = self.prior_var
        mean = z.mean(-2)
        within = (z - mean.unsqueeze(-2)).pow(2).sum((-2, -1))
        d = z.shape[-1]
        if self.flat:
            return -0.5 * (within / s2 + d * ((n_views - 1) * math.log(2 * math.pi * s2) + math.log(n_views)))
        total = s2 + n_views * self.content_scale**2
        return -0.5 * (within / s2 + n_views * mean.pow(2).sum(-1) / total
                       + d * (n_views * math.log(2 * math.pi) + (n_views - 1) * math.log(s2) + math.log(total)))

    def content_posterior(self, z: torch.Tensor) -> tuple[torch.Tensor, float]:
        """``p(y | z_1..J) = N(m, v I)``: z ``(..., J, d)`` -> m ``(..., d)`` and v."""
        n_views = z.shape[-2]
        precision = n_views / self.prior_var + (0.0 if self.flat else 1.0 / self.content_scale**2)
        var = 1.0 / precision
        return var * z.sum(-2) / self.prior_var, var

    # --- the Pyro programs ----------------------------------------------------------------

    def model(self, views):
        batch, n_views = views.shape[:2]
        zeros = views.new_zeros(self.latent_dim)
        view_plate = pyro.plate("views", n_views, dim=-1)
        with pyro.plate("data", batch, dim=-2):
            with poutine.scale(scale=self.beta):
                if self.content_guide == "sampled":
                    content = dist.Normal(zeros, 1.0).mask(False) if self.flat else dist.Normal(zeros, self.content_scale)
                    y = pyro.sample("y", content.to_event(1))
                    with view_plate:
                        z = pyro.sample("z", dist.Normal(y, math.sqrt(self.prior_var)).to_event(1))
                else:
                    with view_plate:
                        # The z's are not independent across views once y is integrated out: their
                        # joint density enters through the factor below, not through this site.
                        z = pyro.sample("z", dist.Normal(zeros, 1.0).to_event(1).mask(False))
                    pyro.factor("content", self.log_p_views(z).unsqueeze(-1))
            with view_plate:
                self.observe(views, z)

    def guide(self, views):
        batch, n_views = views.shape[:2]
        with pyro.plate("data", batch, dim=-2), poutine.scale(scale=self.beta):
            with pyro.plate("views", n_views, dim=-1):
                loc, scale = self.encoder(views)
                z = self.sample_posterior(loc, scale)
            if self.content_guide == "sampled":
                mean, var = self.content_posterior(z)
                pyro.sample("y", dist.Normal(mean.unsqueeze(-2), math.sqrt(var)).to_event(1))

    # --- generation -----------------------------------------------------------------------

    def prior_latents(self, n):
        """``z = y + s eps`` with ``y ~ N(0, s_y^2 I)``; the flat prior has no samples, so
        ``y ~ N(0, I)`` stands in for it."""
        scale = 1.0 if self.flat else self.content_scale
        y = scale * torch.randn(n, self.latent_dim, device=self.device)
        return self.style_latents(y, 1)[:, 0]

    def style_latents(self, content: torch.Tensor, n_styles: int) -> torch.Tensor:
        """``n_styles`` draws ``z ~ N(y, s^2 I)`` around each content ``y`` ``(N, d)``: ``(N, S, d)``."""
        noise = torch.randn(content.shape[0], n_styles, self.latent_dim, device=content.device)
        return content.unsqueeze(1) + math.sqrt(self.prior_var) * noise

    def same_content_new_style(self, images: torch.Tensor, n_styles: int) -> torch.Tensor:
        """Each image's content ``y = loc(x)`` decoded with ``n_styles`` new styles: ``(N, S, C, H, W)``."""
        return self.decode(self.style_latents(self.embed(images), n_styles))
