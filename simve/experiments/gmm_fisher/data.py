"""Gaussian mixtures whose large-variance directions carry no class information (Bansal, Kavis & Sanghavi,
arXiv 2411.03517), and positive pairs drawn from them.

Data. K components in R^D with equal weights, means mu_k and one shared covariance Sigma::

    x | k ~ N(mu_k, Sigma),   Sigma = a U U^T + S,   U^T (mu_k - mu_bar) = 0,   S U = 0,

where U (D x m, orthonormal, m = r = K - 1) spans the *nuisance* directions and the anisotropy a
is their variance. The means are a regular simplex (pairwise distance ``separation``, mu_bar = 0)
in an r-dimensional subspace; S has variances log-spaced in [0.5, 2] along a random basis of the
complement of U, a basis that is not aligned with the means, so the Fisher subspace differs from the
span of the means. A :class:`Problem` draws the geometry (and the standard normal noise) once and only
a changes across a sweep (:meth:`Geometry.at`). As a grows the nuisance directions become the top
principal directions.

Views (positive pairs), ``augment``:

- ``independent``: two independent draws from the same component, the paper's augmentation;
- ``coupled``: x' = mu_k + rho (x - mu_k) + sqrt(1 - rho^2) (x'' - mu_k) with x'' a fresh draw,
  so the two views share a fraction rho of their noise (same marginal law, correlation rho).

Two modalities: one latent s = mu_k + eps, eps ~ N(0, I) as above without nuisance; modality A sees
x_A = A_1 s_A + sqrt(a) U_A g_A and modality B x_B = A_2 s_B + sqrt(a) U_B g_B, with s_A, s_B independent
draws of the same component, A_1, A_2 random well-conditioned maps (singular values sqrt of log-spaced
[0.5, 2]) and U_A, U_B modality-specific nuisance directions (m = r, orthogonal to that modality's mean
differences, g ~ N(0, I)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

BASE_VARIANCES = (0.5, 2.0)  # the spectrum of S (and of A A^T) is log-spaced between these
AUGMENTS = ("independent", "coupled")  # how the two views of a pair are drawn (see Views above)


@dataclass(frozen=True)
class Mixture:
    """``x = means[k] + factor @ noise``, noise standard normal: Sigma = factor factor^T."""

    means: Tensor
    factor: Tensor

    @property
    def covariance(self) -> Tensor:
        return self.factor @ self.factor.T

    @property
    def between(self) -> Tensor:
        """S_b = (1/K) sum_k (mu_k - mu_bar)(mu_k - mu_bar)^T."""
        centred = self.means - self.means.mean(0)
        return centred.T @ centred / len(self.means)

    def sample(self, labels: Tensor, noise: Tensor) -> Tensor:
        return self.means[labels] + noise @ self.factor.T


@dataclass(frozen=True)
class Geometry:
    """A mixture before its anisotropy is set: means (K, D), nuisance directions (D, m), signal factor (D, P)."""

    means: Tensor
    nuisance: Tensor
    signal: Tensor

    def at(self, anisotropy: float) -> Mixture:
        return Mixture(self.means, torch.cat([math.sqrt(anisotropy) * self.nuisance, self.signal], dim=1))


@dataclass(frozen=True)
class Problem:
    """Everything random that a sweep over the anisotropy shares.

    ``labels`` and ``noise`` have a ``train`` part (n pairs: labels (n,), noise (n, 2, m + P)) and a
    ``test`` part (n' samples); ``modalities`` and ``modality_noise`` ((n, D + r) each, with the train
    labels) are the two-modality variant, or None."""

    geometry: Geometry
    labels: dict[str, Tensor]
    noise: dict[str, Tensor]
    modalities: tuple[Geometry, Geometry] | None = None
    modality_noise: tuple[Tensor, Tensor] | None = None


def random_orthogonal(n: int, generator: torch.Generator) -> Tensor:
    """A Haar-distributed orthogonal (n, n) matrix."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q * r.diagonal().sign()


def simplex(components: int, separation: float) -> Tensor:
    """K centred points in R^(K-1), every pair ``separation`` apart."""
    centred = torch.eye(components, dtype=torch.float64) - 1.0 / components
    basis = torch.linalg.qr(centred[:, : components - 1])[0]
    return separation / math.sqrt(2) * centred @ basis


def base_spectrum(n: int) -> Tensor:
    return torch.logspace(math.log10(BASE_VARIANCES[0]), math.log10(BASE_VARIANCES[1]), n, dtype=torch.float64)


def orthonormal_complement_directions(avoid: Tensor, m: int, generator: torch.Generator) -> Tensor:
    """``m`` random orthonormal directions (D, m) orthogonal to the columns of ``avoid`` (D, n)."""
    q = torch.linalg.qr(avoid)[0]
    g = torch.randn(avoid.shape[0], m, generator=generator, dtype=torch.float64)
    return torch.linalg.qr(g - q @ (q.T @ g))[0]


def make_geometry(dim: int, components: int, separation: float, generator: torch.Generator) -> Geometry:
    """The mixture of the module docstring: nuisance U, simplex means and S in the complement of U."""
    rank = components - 1
    q = random_orthogonal(dim, generator)
    nuisance, rest = q[:, :rank], q[:, rank:]
    means = simplex(components, separation) @ rest[:, :rank].T
    rotated = rest @ random_orthogonal(dim - rank, generator)  # eigenvectors of S, not aligned with the means
    return Geometry(means, nuisance, rotated * base_spectrum(dim - rank).sqrt())


def make_modality(latent_means: Tensor, generator: torch.Generator) -> Geometry:
    """One modality of the two-modality variant: x = A s + sqrt(a) U g with A random and well conditioned."""
    dim, rank = latent_means.shape[1], latent_means.shape[0] - 1
    a = random_orthogonal(dim, generator) * base_spectrum(dim).sqrt() @ random_orthogonal(dim, generator)
    means = latent_means @ a.T
    nuisance = orthonormal_complement_directions((means - means.mean(0)).T, rank, generator)
    return Geometry(means, nuisance, a)


def pair_noise(n: int, width: int, augment: str, rho: float, generator: torch.Generator) -> Tensor:
    """Standard normal noise (n, 2, width) for the two views; ``coupled`` shares a fraction rho of it."""
    noise = torch.randn(n, 2, width, generator=generator, dtype=torch.float64)
    if augment == "coupled":
        noise[:, 1] = rho * noise[:, 0] + math.sqrt(1 - rho**2) * noise[:, 1]
    return noise


def draw_problem(dim: int, components: int, separation: float, train_pairs: int, test_samples: int, augment: str,
                 rho: float, two_modalities: bool, generator: torch.Generator) -> Problem:
    """The geometry, labels and noise of one D (and the two modalities' where asked), all from ``generator``."""
    rank = components - 1
    geometry = make_geometry(dim, components, separation, generator)
    labels = {"train": torch.randint(components, (train_pairs,), generator=generator),
              "test": torch.randint(components, (test_samples,), generator=generator)}
    width = geometry.nuisance.shape[1] + geometry.signal.shape[1]
    noise = {"train": pair_noise(train_pairs, width, augment, rho, generator),
             "test": torch.randn(test_samples, width, generator=generator, dtype=torch.float64)}
    if not two_modalities:
        return Problem(geometry, labels, noise)
    latent = simplex(components, separation) @ random_orthogonal(dim, generator)[:, :rank].T
    modalities = (make_modality(latent, generator), make_modality(latent, generator))
    modality_noise = tuple(torch.randn(train_pairs, dim + rank, generator=generator, dtype=torch.float64)
                           for _ in modalities)
    return Problem(geometry, labels, noise, modalities, modality_noise)
