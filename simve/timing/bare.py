"""The bare step: a generative model's objective written in plain torch, to time the Pyro step against."""

from __future__ import annotations

import copy
import math

import torch

from simve.errors import SimveError

LOG_2PI = math.log(2 * math.pi)

class BareELBO(torch.nn.Module):
    """``-ELBO`` per datum in plain torch on copies of a generative model's encoder and decoder:
    ``z = loc + scale eps``, ``log p(x | z)`` (Bernoulli as ``-BCE with logits``, Gaussian with a
    fixed sigma in closed form), the prior (SimVE's closed-form ``log p(z_1..J)``, else N(0, I)) and
    ``log q(z | x) = -sum (eps^2 / 2 + log scale + log(2 pi) / 2)``, the model's beta and
    reconstruction weight applied: the single-sample estimator ``Trace_ELBO`` computes."""

    def __init__(self, model):
        super().__init__()
        self.encoder, self.decoder = copy.deepcopy(model.encoder), copy.deepcopy(model.decoder)
        self.likelihood = type(model.likelihood).__name__
        if self.likelihood not in ("Bernoulli", "Gaussian") or hasattr(model.likelihood, "raw_sigma"):
            raise SimveError(f"no bare step for the {self.likelihood} likelihood with these settings")
        self.sigma = float(model.likelihood.sigma) if self.likelihood == "Gaussian" else None
        self.log_prior = model.log_p_views if hasattr(model, "log_p_views") else self.standard_normal
        self.beta = float(getattr(model.options, "beta", 1.0))
        self.recon_weight = float(model.options.recon_weight)

    @staticmethod
    def standard_normal(z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.pow(2) + LOG_2PI).sum((-2, -1))

    def loss(self, views: torch.Tensor) -> torch.Tensor:
        loc, scale = self.encoder(views)
        eps = torch.empty_like(loc).normal_()
        z = loc + scale * eps
        out = self.decoder(z)
        if self.likelihood == "Bernoulli":
            log_lik = -torch.nn.functional.binary_cross_entropy_with_logits(out, views, reduction="sum")
        else:
            log_lik = -(0.5 * ((views - torch.sigmoid(out)) / self.sigma).pow(2).sum()
                        + views.numel() * (math.log(self.sigma) + 0.5 * LOG_2PI))
        log_q = -(0.5 * eps.pow(2) + scale.log() + 0.5 * LOG_2PI).sum()
        elbo = self.recon_weight * log_lik + self.beta * (self.log_prior(z).sum() - log_q)
        return -elbo / views.shape[0]


def check_bare(model, bare: BareELBO, views: torch.Tensor) -> None:
    """Same parameters and noise: the same loss and gradients, else the comparison means nothing."""
    losses, grads = [], []
    for module in (model, bare):
        params = [*module.encoder.parameters(), *module.decoder.parameters()]
        module.zero_grad(set_to_none=True)
        torch.manual_seed(123)
        loss = module.loss(views)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in params]))
        module.zero_grad(set_to_none=True)
    gap = float((grads[0] - grads[1]).norm() / grads[0].norm().clamp_min(1e-30))  # float32 sums differ in order
    if not (math.isclose(*losses, rel_tol=1e-4) and gap < 1e-3):
        raise SimveError(f"the bare step disagrees with {model.name}'s loss ({losses[0]:.6g} vs {losses[1]:.6g})")


