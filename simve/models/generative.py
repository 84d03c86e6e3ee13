"""What the generative models share: encoder, decoder and likelihood, the ELBO as a loss, and
the importance-weighted bounds used to evaluate them.

A generative model is a Pyro ``model(views)`` and ``guide(views)`` over views ``(B, J, C, H, W)``
with the plates ``data`` (dim -2) and ``views`` (dim -1). Its loss is Pyro's ``Trace_ELBO``
used as a differentiable loss, so the one torch training loop serves it. The torch optimiser
owns the parameters (they are ordinary module parameters), so the programs need no
``pyro.module`` registration.

Bounds for evaluation: with ``w_k = p(x, z_k) / q(z_k | x)`` for ``z_k ~ q``,
``ELBO = mean_k log w_k`` and ``IWAE_K = log (1/K) sum_k w_k``, both ``<= log p(x)``, the latter
rising with ``K``. They are computed without the reweighting of ``poutine.scale`` (beta) and
without the model's penalty terms (``penalty_sites``), so they bound the true marginal likelihood.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO
from pyro.poutine.util import site_is_subsample

from simve.models import likelihoods
from simve.models.base import Options, SSLModel
from simve.nets import NETS, build_decoder, build_encoder
from simve.settings import option


def default_latent_dim(image_shape: tuple[int, int, int]) -> int:
    """DESIGN's defaults: 10 for 28x28 data, 64 for colour."""
    return 10 if image_shape[0] == 1 else 64


@dataclasses.dataclass(frozen=True)
class GenerativeOptions(Options):
    """What every generative model takes: its nets and its likelihood."""

    latent_dim: int | None = option(None, "latent dimension d (default 10 for 1-channel images, 64 for colour)")
    net: str = option("auto", "encoder/decoder family (auto: the MLP for small gray images, else conv)",
                      choices=("auto", *NETS))
    likelihood: str | None = option(None, "decoder likelihood (default bernoulli for 1 channel, gaussian for colour)",
                                    choices=likelihoods.NAMES)
    sigma_x: float | str = option(0.1, "Gaussian likelihood scale: a number, or learned (shared) / learned-pixel")
    recon_weight: float = option(1.0, "weight of the reconstruction term, 1/sigma^2 in the official SimVAE code "
                                      "(exp(4.6) = 99.5 there, also for the Bernoulli likelihood); 1: the true ELBO",
                                 positive=True)
    entropy: str = option("correct", "the posterior's entropy term: correct (the Gaussian's, 1/2 sum log sigma^2 + "
                                     "const), or official: the official SimVAE code's 1/2 sum 2 pi log sigma^2",
                          choices=("correct", "official"))
    recon_anneal: int = option(0, "steps over which the reconstruction weight falls geometrically from recon_weight "
                                  "to 1, the true ELBO (a KL warm-up by another name); 0: recon_weight throughout",
                               at_least=0)


def annealed_weight(start: float, steps: int, step: int) -> float:
    """The reconstruction weight at optimiser step ``step`` (1, 2, ...) of an anneal over ``steps`` steps:

        w_t = start ** max(0, 1 - (t - 1) / steps)

    ``start`` at step 1, 1 from step ``steps + 1`` on, falling geometrically in between. Relative to the
    latent terms this is a KL weight rising from ``1 / start`` to 1; Adam's step is nearly invariant to
    the loss's overall scale, so the two schedules optimise alike. ``steps = 0``: ``start`` throughout."""
    if steps == 0:
        return start
    return start ** max(0.0, 1.0 - (step - 1) / steps)


class GenerativeModel(SSLModel):
    """Encoder ``q(z | x) = N(loc(x), diag scale(x)^2)``, decoder and likelihood ``p(x | z)``."""

    Options = GenerativeOptions
    generative = True
    capabilities = frozenset({"reconstruct", "sample", "bounds"})
    penalty_sites: ClassVar[tuple[str, ...]] = ("official_entropy",)  # guide or model terms outside the bound

    def __init__(self, encoder, decoder, likelihood, latent_dim: int, options: Options | None = None):
        super().__init__(options)
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.latent_dim = latent_dim
        self._elbo = Trace_ELBO(max_plate_nesting=2)
        self.recon_scale = float(self.options.recon_weight)  # the weight of the step in progress

    def begin_step(self, step: int) -> None:
        self.recon_scale = annealed_weight(self.options.recon_weight, self.options.recon_anneal, step)

    @classmethod
    def build(cls, image_shape, options):
        """Encoder, decoder and likelihood for ``image_shape`` (defaults chosen from it), then the model."""
        latent_dim = default_latent_dim(image_shape) if options.latent_dim is None else options.latent_dim
        likelihood = options.likelihood or ("bernoulli" if image_shape[0] == 1 else "gaussian")
        return cls(build_encoder(options.net, image_shape, latent_dim), build_decoder(options.net, latent_dim, image_shape),
                   likelihoods.build_likelihood(likelihood, image_shape, options.sigma_x), latent_dim, options)

    def model(self, views: torch.Tensor) -> None:
        raise NotImplementedError

    def guide(self, views: torch.Tensor) -> None:
        raise NotImplementedError

    def observe(self, views: torch.Tensor, z: torch.Tensor) -> None:
        """The likelihood site ``x_j ~ p(x | z_j)``, its log density weighted by ``recon_weight``, annealed
        where ``recon_anneal`` says (``poutine.scale``; the bounds leave the weight out)."""
        with poutine.scale(scale=self.recon_scale):
            pyro.sample("x", self.likelihood(self.decoder(z)), obs=views)

    def sample_posterior(self, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """The guide's site ``z ~ q(z | x) = N(loc, diag scale^2)``; with ``entropy="official"`` also the
        factor that turns the Gaussian's entropy into the official code's::

            H_official - H = 1/2 sum_d 2 pi log sigma_d^2 - 1/2 sum_d log sigma_d^2 = (pi - 1/2) sum_d log sigma_d^2

        (constants aside). A guide factor is a term of ``log q``, so it enters with the opposite sign; it is a
        penalty site, which the bounds leave out."""
        z = pyro.sample("z", dist.Normal(loc, scale).to_event(1))
        if self.options.entropy == "official":
            pyro.factor("official_entropy", -(math.pi - 0.5) * 2 * scale.log().sum(-1), has_rsample=True)
        return z

    def prior_latents(self, n: int) -> torch.Tensor:
        """``n`` latents drawn from the model's prior, ``(n, d)``."""
        raise NotImplementedError

    def objective(self, views: torch.Tensor) -> torch.Tensor:
        """Negative ELBO per datum (its J views together), averaged over the batch."""
        return self._elbo.differentiable_loss(self.model, self.guide, views) / views.shape[0]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``loc(x)``."""
        return self.encoder(images)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image of ``p(x | z)``."""
        return self.likelihood.mean(self.decoder(z))

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.embed(images))

    def sample(self, n: int) -> torch.Tensor:
        """Mean images of ``n`` draws from the prior."""
        return self.decode(self.prior_latents(n))

    def log_weights(self, views: torch.Tensor, particles: int) -> torch.Tensor:
        """``log w_k = log p(x, z_k) - log q(z_k | x)`` per particle and datum, ``(K, B)``."""
        guide = poutine.block(self.guide, hide=list(self.penalty_sites))
        model = poutine.block(self.model, hide=list(self.penalty_sites))
        with pyro.plate("particles", particles, dim=-3):
            guide_trace = poutine.trace(guide).get_trace(views)
            model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(views)
        shape = (particles, views.shape[0])
        return _log_density(model_trace, shape) - _log_density(guide_trace, shape)

    def bounds(self, views: torch.Tensor, particles: int) -> dict[str, torch.Tensor]:
        """Per-datum ELBO (mean over particles) and IWAE_K bounds on ``log p(x_1..J)``, ``(B,)`` each."""
        log_w = self.log_weights(views, particles)
        return {"elbo": log_w.mean(0), "iwae": torch.logsumexp(log_w, 0) - math.log(particles)}


def _log_density(trace, shape: tuple[int, int]) -> torch.Tensor:
    """Sum of every sample site's log density, unscaled by ``poutine.scale``, ``(K, B)``.

    Sites are batched ``(K, B, J)`` (one per view) or ``(K, B, 1)`` (one per datum), the
    particle dimension possibly broadcast. Masks set on a distribution (``.mask(False)``) hold.
    """
    trace.compute_log_prob()
    return sum(
        torch.broadcast_to(site["unscaled_log_prob"], (*shape, site["unscaled_log_prob"].shape[-1])).sum(-1)
        for site in trace.nodes.values() if "unscaled_log_prob" in site and not site_is_subsample(site)
    )
