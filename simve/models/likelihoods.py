"""Decoder likelihoods p(x | z): the decoder's unconstrained output ``out`` read as a distribution.

- ``bernoulli``: ``Bernoulli(logits=out)`` on pixels in [0, 1]; non-binary targets are allowed
  (``log p = x log sigmoid(out) + (1 - x) log(1 - sigmoid(out))``), as in Pyro's VAE example.
- ``gaussian``: ``Normal(sigmoid(out), sigma_x)`` with ``sigma_x`` fixed (a number), or learned:
  one shared value (``"learned"``) or one per pixel (``"learned-pixel"``), kept positive by a softplus.
- ``continuous-bernoulli``: ``ContinuousBernoulli(logits=out)``, the normalised version of the first.

Each gives a Pyro distribution whose event is the whole image ``(C, H, W)``.
"""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch
from torch import nn

from simve.errors import SimveError

NAMES = ("bernoulli", "gaussian", "continuous-bernoulli")
SIGMA_MODES = ("learned", "learned-pixel")


class Likelihood(nn.Module):
    def forward(self, out: torch.Tensor) -> dist.TorchDistribution:
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """The image the decoder output stands for, in [0, 1]."""
        return self(out).base_dist.mean


class Bernoulli(Likelihood):
    def forward(self, out):
        return dist.Bernoulli(logits=out, validate_args=False).to_event(3)


class ContinuousBernoulli(Likelihood):
    def forward(self, out):
        return dist.ContinuousBernoulli(logits=out, validate_args=False).to_event(3)


class Gaussian(Likelihood):
    """``Normal(link(out), sigma_x)``; ``link`` is the sigmoid for images, the identity for tests."""

    def __init__(self, image_shape: tuple[int, int, int], sigma_x: float | str = 0.1, link: str = "sigmoid"):
        super().__init__()
        if link not in ("sigmoid", "identity"):
            raise SimveError(f"link must be 'sigmoid' or 'identity', got {link!r}")
        self.squash = link == "sigmoid"
        if isinstance(sigma_x, str):
            shape = image_shape if sigma_x == "learned-pixel" else (1, 1, 1)
            start = torch.full(shape, math.log(math.expm1(0.1)))  # softplus(start) = 0.1
            self.raw_sigma = nn.Parameter(start)
        else:
            self.register_buffer("fixed_sigma", torch.tensor(float(sigma_x)))

    @property
    def sigma(self) -> torch.Tensor:
        if hasattr(self, "raw_sigma"):
            return nn.functional.softplus(self.raw_sigma) + 1e-3
        return self.fixed_sigma

    def forward(self, out):
        loc = torch.sigmoid(out) if self.squash else out
        return dist.Normal(loc, self.sigma.expand_as(loc), validate_args=False).to_event(3)


def parse_sigma(sigma_x) -> float | str:
    """``sigma_x`` as a positive number or one of the learned modes; refuse anything else."""
    if isinstance(sigma_x, str) and sigma_x in SIGMA_MODES:
        return sigma_x
    try:
        value = float(sigma_x)
    except (TypeError, ValueError):
        raise SimveError(f"sigma_x must be a positive number or one of {', '.join(SIGMA_MODES)}, got {sigma_x!r}") from None
    if not value > 0:
        raise SimveError(f"sigma_x must be positive, got {value}")
    return value


def build_likelihood(name: str, image_shape: tuple[int, int, int], sigma_x=0.1) -> Likelihood:
    if name == "bernoulli":
        return Bernoulli()
    if name == "continuous-bernoulli":
        return ContinuousBernoulli()
    if name == "gaussian":
        return Gaussian(image_shape, parse_sigma(sigma_x))
    raise SimveError(f"unknown likelihood {name!r}; choose one of {', '.join(NAMES)}")
