"""Contrastive learning on a Gaussian mixture finds the Fisher subspace (Bansal, Kavis & Sanghavi, arXiv 2411.03517).

Data. K components in R^D with equal weights, means mu_k and one shared covariance Sigma::

    x | k ~ N(mu_k, Sigma),   Sigma = a U U^T + S,   U^T (mu_k - mu_bar) = 0,   S U = 0,

where U (D x m, orthonormal, m = r = K - 1) spans the *nuisance* directions and the anisotropy a
is their variance. The means are a regular simplex (pairwise distance ``separation``, mu_bar = 0)
in an r-dimensional subspace; S has variances log-spaced in [0.5, 2] along a random basis of the
complement of U, a basis that is not aligned with the means, so the Fisher subspace differs from the
span of the means. Each seed draws the geometry (and the standard normal noise) once per D and only
a changes across the sweep. As a grows the nuisance directions become the top principal directions.

Views (positive pairs), setting ``augment``:

- ``independent``: two independent draws from the same component, the paper's augmentation;
- ``coupled``: x' = mu_k + rho (x - mu_k) + sqrt(1 - rho^2) (x'' - mu_k) with x'' a fresh draw,
  so the two views share a fraction rho of their noise (same marginal law, correlation rho).

Methods, each a linear map W (r x D) whose row space is compared; inputs are centred with the
training mean:

- ``lda-true``: the Fisher subspace from the true parameters, the top r generalised eigenvectors of
  S_b v = lambda Sigma v with S_b = (1/K) sum_k (mu_k - mu_bar)(mu_k - mu_bar)^T, i.e. the row space
  span{Sigma^-1 (mu_k - mu_bar)};
- ``lda``: the same from labelled training samples (within-class scatter^-1 between-class scatter);
- ``infonce``: f(x) = W x trained with :func:`simve.losses.info_nce` on the pairs (Adam);
- ``simve``: :class:`simve.models.simve.SimVE` with a linear Gaussian encoder q(z | x) = N(W x + b,
  diag softplus(V x + c)^2), a linear decoder and a Gaussian likelihood N(D z + e, sigma^2 I) with one
  learned sigma, prior s^2 = ``prior_var`` and a N(0, I) content prior, fitted on the same pairs (J = 2
  views); its subspace is the row space of W. It is a probabilistic-PCA-like model of the pairs: its ELBO
  rewards explaining each view's variance with r latent dimensions and isotropic noise, which pulls it to
  the high-variance (nuisance) directions like PCA, while its content term pulls it to what the two views
  share, the more so the smaller s^2;
- ``pca``: the top r principal directions of all training views pooled;
- ``random``: a Gaussian random W, the anchor.

Metrics, against the true parameters (S_w = Sigma):

- principal angles theta_i between row(W) and the Fisher subspace (cos theta_i are the singular values
  of Q_W^T Q_F for orthonormal bases); reported: the largest in degrees and mean_i sin^2 theta_i;
- the Fisher ratio J(W) = tr((W S_w W^T)^-1 W S_b W^T) divided by J of ``lda-true`` (1 = optimal);
- k-means (K clusters, k-means++ and restarts) on held-out samples projected by W and whitened with
  their own (label-free) covariance, so the score depends only on the subspace: accuracy under the best
  matching of clusters to labels (Hungarian) and normalised mutual information (arithmetic mean).

Two modalities (CLIP), setting ``clip``: one latent s = mu_k + eps, eps ~ N(0, I) as above without
nuisance; modality A sees x_A = A_1 s_A + sqrt(a) U_A g_A and modality B x_B = A_2 s_B + sqrt(a) U_B g_B,
with s_A, s_B independent draws of the same component, A_1, A_2 random well-conditioned maps (singular
values sqrt of log-spaced [0.5, 2]) and U_A, U_B modality-specific nuisance directions (m = r, orthogonal
to that modality's mean differences, g ~ N(0, I)). Two linear encoders trained with :func:`simve.losses.clip`
on (x_A, x_B); each is compared with the Fisher subspace of its own modality, beside PCA and random.
``clip`` trains on the raw inputs; ``clip-whitened`` on each modality multiplied by its own (label-free)
Sigma_total^-1/2, the encoder read back as W Sigma_total^-1/2. Both search the same linear maps, so they
share their optima, but from a random start the raw version must first escape a plateau where both
encoders see mostly nuisance (each encoder's gradient towards the signal is proportional to the signal the
other already carries), which slows it down as a grows; whitening removes that plateau.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn
from tqdm.auto import tqdm

from simve import losses
from simve.errors import SimveError
from simve.experiments.common import experiment, mean_std, plus_minus, timer, write_outputs
from simve.models.likelihoods import Gaussian
from simve.models.simve import SimVE
from simve.nets import GaussianHead

NAME = "gmm-fisher"
METHODS = ("lda-true", "lda", "infonce", "simve", "pca", "random")
CLIP_METHODS = ("clip", "clip-whitened", "pca", "random")
AUGMENTS = ("independent", "coupled")
METRICS = ("angle", "distance", "fisher_ratio", "accuracy", "nmi")
CLIP_METRICS = ("angle_a", "angle_b", "fisher_ratio_a", "fisher_ratio_b")
BASE_VARIANCES = (0.5, 2.0)  # the spectrum of S (and of A A^T) is log-spaced between these


@dataclass
class Settings:
    dims: tuple[int, ...] = (10, 50)  # D, the ambient dimensions swept
    anisotropies: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)  # a, the variance of the nuisance directions
    seeds: int = 3  # each seed draws a new geometry, new samples and new initialisations
    components: int = 4  # K; every map has rank r = K - 1
    separation: float = 3.0  # the distance between any two means
    augment: str = "independent"  # how the two views of a pair are drawn: independent or coupled
    rho: float = 0.5  # coupled views: the fraction of noise they share
    train_pairs: int = 10000  # pairs every method learns from (LDA reads their first view and its label)
    test_samples: int = 2000  # held-out samples for k-means
    steps: int = 1000  # Adam steps of InfoNCE, SimVE and CLIP
    batch_size: int = 128  # pairs per step
    lr: float = 0.01
    temperature: float = 0.5  # InfoNCE and CLIP
    prior_var: float = 0.15  # SimVE's s^2
    methods: tuple[str, ...] = METHODS
    kmeans_restarts: int = 5
    clip: bool = True  # also run the two-modality variant


def check_settings(s: Settings) -> None:
    """Refuse settings the experiment cannot run, in one line each."""
    rank = s.components - 1
    if s.components < 2:
        raise SimveError(f"components must be at least 2, got {s.components}")
    if not s.dims or min(s.dims) < 2 * rank + 1 or len(set(s.dims)) < len(s.dims):
        raise SimveError(f"dims must be a non-empty list of distinct dimensions >= 2 (components - 1) + 1 = "
                         f"{2 * rank + 1}, got {s.dims}")
    if (not s.anisotropies or len(set(s.anisotropies)) < len(s.anisotropies)
            or not all(a > 0 and math.isfinite(a) for a in s.anisotropies)):
        raise SimveError(f"anisotropies must be a non-empty list of distinct positive numbers, got {s.anisotropies}")
    for name in ("seeds", "steps", "kmeans_restarts"):
        if getattr(s, name) < 1:
            raise SimveError(f"{name} must be at least 1, got {getattr(s, name)}")
    if s.batch_size < 2 or s.train_pairs < s.batch_size:
        raise SimveError(f"need 2 <= batch_size <= train_pairs, got batch_size {s.batch_size} and train_pairs "
                         f"{s.train_pairs}")
    if s.test_samples < s.components:
        raise SimveError(f"test_samples must be at least components ({s.components}), got {s.test_samples}")
    for name in ("separation", "lr", "temperature", "prior_var"):
        if not getattr(s, name) > 0:
            raise SimveError(f"{name} must be positive, got {getattr(s, name)}")
    if s.augment not in AUGMENTS:
        raise SimveError(f"augment must be one of {', '.join(AUGMENTS)}, got {s.augment!r}")
    if not 0 <= s.rho < 1:
        raise SimveError(f"rho must be in [0, 1), got {s.rho}")
    unknown = [m for m in s.methods if m not in METHODS]
    if not s.methods or unknown:
        raise SimveError(f"methods must be a non-empty list of {', '.join(METHODS)}, got {', '.join(s.methods) or 'none'}")


# ------------------------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class Geometry:
    """A mixture before its anisotropy is set: means (K, D), nuisance directions (D, m), signal factor (D, P)."""

    means: Tensor
    nuisance: Tensor
    signal: Tensor

    def at(self, anisotropy: float) -> Mixture:
        return Mixture(self.means, torch.cat([math.sqrt(anisotropy) * self.nuisance, self.signal], dim=1))


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
        centred = self.means - self.means.mean(0)
        return centred.T @ centred / len(self.means)

    def sample(self, labels: Tensor, noise: Tensor) -> Tensor:
        return self.means[labels] + noise @ self.factor.T


def random_orthogonal(n: int, generator: torch.Generator) -> Tensor:
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
    """One modality of the CLIP variant: x = A s + sqrt(a) U g with A random and well conditioned."""
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


# ------------------------------------------------------------------------------------ subspaces, metrics


def fisher_directions(within: Tensor, between: Tensor, rank: int) -> Tensor:
    """LDA's map (rank, D): the top generalised eigenvectors of ``between v = lambda within v``."""
    chol = torch.linalg.cholesky(within)
    whitened = torch.linalg.solve_triangular(chol, torch.linalg.solve_triangular(chol, between, upper=False).T,
                                             upper=False)
    vectors = torch.linalg.eigh((whitened + whitened.T) / 2).eigenvectors[:, -rank:]
    return torch.linalg.solve_triangular(chol.T, vectors, upper=True).T


def principal_angles(w: Tensor, reference: Tensor) -> Tensor:
    """Principal angles (radians, ascending) between the row spaces of ``w`` and ``reference``."""
    qa, qb = torch.linalg.qr(w.T.double())[0], torch.linalg.qr(reference.T.double())[0]
    return torch.arccos(torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)).flip(0)


def fisher_ratio(w: Tensor, within: Tensor, between: Tensor) -> float:
    """tr((W S_w W^T)^-1 W S_b W^T)."""
    w = w.double()
    return float(torch.linalg.solve(w @ within @ w.T, w @ between @ w.T).trace())


def kmeans(x: Tensor, k: int, restarts: int, generator: torch.Generator, iterations: int = 100) -> Tensor:
    """Lloyd's k-means from k-means++ starts; the labels (N,) of the restart with the least inertia."""
    best, best_inertia = None, math.inf
    for _ in range(restarts):
        centres = x[torch.randint(len(x), (1,), generator=generator)]
        for _ in range(k - 1):
            nearest = torch.cdist(x, centres).min(1).values.pow(2)
            centres = torch.cat([centres, x[torch.multinomial(nearest, 1, generator=generator)]])
        for _ in range(iterations):
            labels = torch.cdist(x, centres).argmin(1)
            moved = torch.stack([x[labels == j].mean(0) if (labels == j).any() else centres[j] for j in range(k)])
            if torch.equal(moved, centres):
                break
            centres = moved
        inertia = float(torch.cdist(x, centres).min(1).values.pow(2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def clustering_scores(predicted: Tensor, labels: Tensor, k: int) -> tuple[float, float]:
    """Accuracy under the best one-to-one matching of clusters to labels, and NMI (arithmetic mean)."""
    counts = torch.zeros(k, k, dtype=torch.float64)
    counts.index_put_((predicted, labels), torch.ones(len(labels), dtype=torch.float64), accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    accuracy = float(counts[rows, cols].sum()) / len(labels)
    joint = counts / counts.sum()
    p_cluster, p_label = joint.sum(1), joint.sum(0)
    outer = p_cluster[:, None] * p_label[None, :]
    mutual = float(torch.where(joint > 0, joint * (joint / outer).log(), 0.0).sum())
    entropy = [float(-(p[p > 0] * p[p > 0].log()).sum()) for p in (p_cluster, p_label)]
    mean_entropy = sum(entropy) / 2
    return accuracy, mutual / mean_entropy if mean_entropy > 0 else 0.0


def whitening(x: Tensor) -> Tensor:
    """Sigma^-1/2 (symmetric) of the covariance of the centred rows of ``x`` (N, D)."""
    values, vectors = torch.linalg.eigh(x.T @ x / (len(x) - 1))
    return vectors / values.clamp_min(1e-12).sqrt() @ vectors.T


# ---------------------------------------------------------------------------------------------- methods


def train(module: nn.Module, loss_of: Callable[[Tensor], Tensor], n: int, s: Settings) -> None:
    """Adam on ``loss_of(indices)`` over ``s.steps`` minibatches of ``s.batch_size`` of the n training pairs."""
    optimiser = torch.optim.Adam(module.parameters(), lr=s.lr)
    for _ in range(s.steps):
        loss = loss_of(torch.randint(n, (s.batch_size,)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def infonce_map(pairs: Tensor, rank: int, s: Settings) -> Tensor:
    encoder = nn.Linear(pairs.shape[-1], rank, bias=False)
    train(encoder, lambda idx: losses.info_nce(encoder(pairs[idx]), s.temperature), len(pairs), s)
    return encoder.weight.detach()


class VectorBackbone(nn.Module):
    """A vector held as a 1 x 1 x D image, flattened back: ``(..., 1, 1, D) -> (..., D)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(-3)


class LinearDecoder(nn.Module):
    """``z (..., d) -> D z + e`` as a 1 x 1 x D image."""

    def __init__(self, latent_dim: int, dim: int):
        super().__init__()
        self.linear = nn.Linear(latent_dim, dim)

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z).unflatten(-1, (1, 1, -1))


def simve_map(pairs: Tensor, rank: int, s: Settings) -> Tensor:
    """SimVE on the pairs as views (B, 2, 1, 1, D); the row space of its encoder's mean."""
    dim = pairs.shape[-1]
    model = SimVE(GaussianHead(VectorBackbone(dim), rank), LinearDecoder(rank, dim),
                  Gaussian((1, 1, dim), "learned", link="identity"), rank, prior_var=s.prior_var)
    views = pairs.unflatten(-1, (1, 1, dim))
    train(model, lambda idx: model.loss(views[idx]), len(pairs), s)
    return model.encoder.out.weight[:rank].detach()


def lda_estimate(x: Tensor, labels: Tensor, rank: int) -> Tensor:
    """LDA from labelled samples: within-class scatter^-1 between-class scatter."""
    classes = labels.unique()
    means = torch.stack([x[labels == c].mean(0) for c in classes])
    within = sum(((x[labels == c] - m).T @ (x[labels == c] - m)) for c, m in zip(classes, means)) / len(x)
    weights = torch.stack([(labels == c).double().mean() for c in classes])
    centred = means - weights @ means
    return fisher_directions(within, centred.T * weights @ centred, rank)


def pca_map(x: Tensor, rank: int) -> Tensor:
    centred = x - x.mean(0)
    return torch.linalg.eigh(centred.T @ centred / len(x)).eigenvectors[:, -rank:].T


def subspace_scores(w: Tensor, mixture: Mixture, fisher: Tensor) -> dict[str, float]:
    angles = principal_angles(w, fisher)
    best = fisher_ratio(fisher, mixture.covariance, mixture.between)
    return {"angle": math.degrees(float(angles.max())), "distance": float(angles.sin().pow(2).mean()),
            "fisher_ratio": fisher_ratio(w, mixture.covariance, mixture.between) / best}


# ------------------------------------------------------------------------------------------ one setting


SEED_STREAMS = (*METHODS, "data", *(f"two-modality {m}" for m in CLIP_METHODS))


def stream_seed(seed: int, dim: int, stream: str) -> int:
    """The seed of one random stream (a method's training, the data): fixed per (seed, D, stream), the same for
    every anisotropy and whichever other methods run."""
    return 1_000_003 * seed + 1009 * dim + SEED_STREAMS.index(stream)


def fit_method(method: str, train_pairs: Tensor, train_labels: Tensor, mixture: Mixture, rank: int,
               s: Settings) -> Tensor:
    """One method's map W (rank, D) from centred training pairs (n, 2, D)."""
    if method == "lda-true":
        return fisher_directions(mixture.covariance, mixture.between, rank)
    if method == "lda":
        return lda_estimate(train_pairs[:, 0], train_labels, rank)
    if method == "pca":
        return pca_map(train_pairs.flatten(0, 1), rank)
    if method == "random":
        return torch.randn(rank, train_pairs.shape[-1], dtype=torch.float64)
    trainer = {"infonce": infonce_map, "simve": simve_map}[method]
    return trainer(train_pairs.float(), rank, s).double()


def held_out_clustering(w: Tensor, test: Tensor, labels: Tensor, seed: int, s: Settings) -> dict[str, float]:
    """k-means on the held-out samples projected by ``w`` and whitened: accuracy and NMI."""
    projected = test @ w.T
    projected = projected - projected.mean(0)
    clusters = kmeans(projected @ whitening(projected), s.components, s.kmeans_restarts,
                      torch.Generator().manual_seed(seed))
    accuracy, nmi = clustering_scores(clusters, labels, s.components)
    return {"accuracy": accuracy, "nmi": nmi}


def run_mixture(geometry: Geometry, anisotropy: float, noise: dict[str, Tensor], labels: dict[str, Tensor],
                seed: int, s: Settings) -> list[dict]:
    """Every method on one mixture: rows of subspace and clustering scores."""
    rank = s.components - 1
    mixture = geometry.at(anisotropy)
    pairs = mixture.sample(labels["train"][:, None], noise["train"])
    centre = pairs.flatten(0, 1).mean(0)
    test = mixture.sample(labels["test"], noise["test"]) - centre
    fisher = fisher_directions(mixture.covariance, mixture.between, rank)
    dim, rows = pairs.shape[-1], []
    for method in s.methods:
        with torch.random.fork_rng():
            torch.manual_seed(stream_seed(seed, dim, method))
            w = fit_method(method, pairs - centre, labels["train"], mixture, rank, s)
        rows.append({"dim": dim, "anisotropy": anisotropy, "seed": seed, "method": method,
                     **subspace_scores(w, mixture, fisher), **held_out_clustering(w, test, labels["test"], seed, s)})
    return rows


def clip_maps(data: list[Tensor], rank: int, s: Settings, whitened: bool) -> list[Tensor]:
    """CLIP's two linear encoders, trained on the centred modalities (each (n, D)), as maps of the raw inputs.

    ``whitened``: each modality is first multiplied by its own Sigma_total^-1/2 (label free) and the encoder
    W is read back as W Sigma_total^-1/2. Linear encoders of whitened and raw inputs are the same function
    class, so this changes only the conditioning of the optimisation, not the optimum.
    """
    preconditioners = [whitening(x) if whitened else torch.eye(x.shape[1], dtype=x.dtype) for x in data]
    inputs = [(x @ p).float() for x, p in zip(data, preconditioners)]
    encoders = nn.ModuleList([nn.Linear(x.shape[1], rank, bias=False) for x in inputs])
    train(encoders, lambda idx: losses.clip(encoders[0](inputs[0][idx]), encoders[1](inputs[1][idx]), s.temperature),
          len(data[0]), s)
    return [e.weight.detach().double() @ p for e, p in zip(encoders, preconditioners)]


def fit_clip_method(method: str, data: list[Tensor], rank: int, s: Settings) -> list[Tensor]:
    """One method's maps (rank, D) for the two modalities."""
    if method == "pca":
        return [pca_map(x, rank) for x in data]
    if method == "random":
        return [torch.randn(rank, x.shape[1], dtype=torch.float64) for x in data]
    return clip_maps(data, rank, s, whitened=method == "clip-whitened")


def run_clip(modalities: tuple[Geometry, Geometry], anisotropy: float, noise: tuple[Tensor, Tensor],
             labels: Tensor, seed: int, s: Settings) -> list[dict]:
    """The two-modality variant on one anisotropy: every CLIP method's angle to each modality's Fisher subspace."""
    rank, dim = s.components - 1, modalities[0].means.shape[1]
    mixtures = [g.at(anisotropy) for g in modalities]
    data = [m.sample(labels, n) for m, n in zip(mixtures, noise)]
    data = [x - x.mean(0) for x in data]
    fishers = [fisher_directions(m.covariance, m.between, rank) for m in mixtures]
    rows = []
    for method in CLIP_METHODS:
        with torch.random.fork_rng():
            torch.manual_seed(stream_seed(seed, dim, f"two-modality {method}"))
            maps = fit_clip_method(method, data, rank, s)
        scores = [subspace_scores(w, m, f) for w, m, f in zip(maps, mixtures, fishers)]
        rows.append({"dim": dim, "anisotropy": anisotropy, "seed": seed, "method": method,
                     "angle_a": scores[0]["angle"], "angle_b": scores[1]["angle"],
                     "fisher_ratio_a": scores[0]["fisher_ratio"], "fisher_ratio_b": scores[1]["fisher_ratio"]})
    return rows


def draw_problem(seed: int, dim: int, s: Settings) -> dict:
    """Everything random about one (seed, D) that the anisotropy sweep shares: geometry, labels, noise."""
    generator = torch.Generator().manual_seed(stream_seed(seed, dim, "data"))
    rank = s.components - 1
    geometry = make_geometry(dim, s.components, s.separation, generator)
    labels = {"train": torch.randint(s.components, (s.train_pairs,), generator=generator),
              "test": torch.randint(s.components, (s.test_samples,), generator=generator)}
    width = geometry.nuisance.shape[1] + geometry.signal.shape[1]
    noise = {"train": pair_noise(s.train_pairs, width, s.augment, s.rho, generator),
             "test": torch.randn(s.test_samples, width, generator=generator, dtype=torch.float64)}
    problem = {"geometry": geometry, "labels": labels, "noise": noise}
    if s.clip:
        latent = simplex(s.components, s.separation) @ random_orthogonal(dim, generator)[:, :rank].T
        modalities = (make_modality(latent, generator), make_modality(latent, generator))
        problem["clip"] = {"modalities": modalities,
                           "noise": tuple(torch.randn(s.train_pairs, dim + rank, generator=generator,
                                                      dtype=torch.float64) for _ in modalities)}
    return problem


# ------------------------------------------------------------------------------------ summaries, outputs


def summarise(rows: list[dict], metrics: tuple[str, ...]) -> list[dict]:
    """Mean and std over seeds per (D, anisotropy, method), in the order of the first seed's rows."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dim"], row["anisotropy"], row["method"]), []).append(row)
    summary = []
    for (dim, anisotropy, method), members in groups.items():
        entry = {"dim": dim, "anisotropy": anisotropy, "method": method, "seeds": len(members)}
        for metric in metrics:
            entry[metric] = mean_std(m[metric] for m in members)
        summary.append(entry)
    return summary


def lookup(summary: list[dict], method: str, metric: str) -> dict[tuple, float]:
    return {(e["dim"], e["anisotropy"]): e[metric]["mean"] for e in summary if e["method"] == method}


def worst_by_anisotropy(summary: list[dict], method: str, metrics: tuple[str, ...]) -> str:
    """``method``'s largest mean over D (and over ``metrics``) at each anisotropy, as text."""
    worst: dict[float, float] = {}
    for e in summary:
        if e["method"] == method:
            value = max(e[m]["mean"] for m in metrics)
            worst[e["anisotropy"]] = max(worst.get(e["anisotropy"], -math.inf), value)
    return ", ".join(f"{value:.1f}° at {anisotropy:g}" for anisotropy, value in sorted(worst.items()))


def findings(summary: list[dict], clip_summary: list[dict], s: Settings) -> list[str]:
    """What the numbers show, in sentences computed from them."""
    lines = []
    angle = {m: lookup(summary, m, "angle") for m in s.methods}
    cells = sorted(next(iter(angle.values())))
    top = max(s.anisotropies)
    if "infonce" in angle and "pca" in angle:
        better = [c for c in cells if angle["infonce"][c] < angle["pca"][c]]
        lines.append(f"InfoNCE's largest angle to the Fisher subspace is below PCA's in {len(better)} of {len(cells)} "
                     f"(D, anisotropy) cells; at anisotropy {top:g} it is "
                     + ", ".join(f"{angle['infonce'][(d, top)]:.1f}° against PCA's {angle['pca'][(d, top)]:.1f}° "
                                 f"(D = {d})" for d in s.dims) + ".")
    for method in s.methods:
        ratio, accuracy = (list(lookup(summary, method, k).values()) for k in ("fisher_ratio", "accuracy"))
        lines.append(f"{method}: largest angle (worst D) {worst_by_anisotropy(summary, method, ('angle',))}; "
                     f"Fisher ratio {min(ratio):.3f} to {max(ratio):.3f}; k-means accuracy {100 * min(accuracy):.1f} "
                     f"to {100 * max(accuracy):.1f} %.")
    if {"simve", "pca", "infonce"} <= set(angle):
        below_pca = sum(angle["simve"][c] < angle["pca"][c] for c in cells)
        below_infonce = sum(angle["simve"][c] < angle["infonce"][c] for c in cells)
        lines.append(f"SimVE's angle is below PCA's in {below_pca} and below InfoNCE's in {below_infonce} of "
                     f"{len(cells)} cells.")
    for method in CLIP_METHODS if clip_summary else ():
        lines.append(f"Two modalities, {method}: largest angle of either encoder to its modality's Fisher subspace "
                     f"(worst D) {worst_by_anisotropy(clip_summary, method, ('angle_a', 'angle_b'))}.")
    return lines


def pm(entry: dict, metric: str, scale: float = 1.0, digits: int = 1) -> str:
    return plus_minus(entry[metric], scale, digits)


def markdown(summary: list[dict], clip_summary: list[dict], lines: list[str], s: Settings) -> str:
    rank = s.components - 1
    text = [(f"K = {s.components} components (r = {rank}), separation {s.separation:g}, augmentation "
            f"{s.augment}{f' (rho {s.rho:g})' if s.augment == 'coupled' else ''}; {s.train_pairs} training pairs, "
            f"{s.test_samples} held-out samples; InfoNCE, SimVE and CLIP: {s.steps} Adam steps of {s.batch_size} "
            f"pairs (lr {s.lr:g}, temperature {s.temperature:g}, SimVE prior_var {s.prior_var:g}); mean ± std over "
            f"{s.seeds} seeds. Angle: largest principal angle to the Fisher subspace; distance: mean sin² of the "
            "angles; Fisher ratio relative to LDA from the true parameters; k-means on the whitened projection "
            "of held-out samples."), "",
            "| D | anisotropy | method | largest angle (°) | distance | Fisher ratio | k-means acc (%) | NMI |",
            "|---|---|---|---|---|---|---|---|"]
    text += [f"| {e['dim']} | {e['anisotropy']:g} | {e['method']} | {pm(e, 'angle')} | {pm(e, 'distance', digits=3)} | "
             f"{pm(e, 'fisher_ratio', digits=3)} | {pm(e, 'accuracy', 100)} | {pm(e, 'nmi', digits=3)} |"
             for e in summary]
    if clip_summary:
        text += ["", "Two modalities (CLIP): each map's angle to the Fisher subspace of its own modality.", "",
                 "| D | anisotropy | method | angle A (°) | angle B (°) | Fisher ratio A | Fisher ratio B |",
                 "|---|---|---|---|---|---|---|"]
        text += [f"| {e['dim']} | {e['anisotropy']:g} | {e['method']} | {pm(e, 'angle_a')} | {pm(e, 'angle_b')} | "
                 f"{pm(e, 'fisher_ratio_a', digits=3)} | {pm(e, 'fisher_ratio_b', digits=3)} |" for e in clip_summary]
    text += ["", "What the numbers show:", ""] + [f"- {line}" for line in lines]
    return "\n".join(text)


COLOURS = {"lda-true": "black", "lda": "0.5", "infonce": "tab:blue", "simve": "tab:red", "pca": "tab:orange",
           "random": "tab:green", "clip": "tab:purple",
           "clip-whitened": "tab:cyan"}
LINESTYLES = ("-", "--", ":", "-.")


def plot_panel(ax, summary: list[dict], methods, metric: str, dims, label: str, scale: float = 1.0) -> None:
    """One line per method and D (linestyle), mean ± std band over seeds, against the anisotropy."""
    for method in methods:
        for dim, style in zip(dims, LINESTYLES * len(dims)):
            entries = sorted((e for e in summary if e["method"] == method and e["dim"] == dim),
                             key=lambda e: e["anisotropy"])
            x = [e["anisotropy"] for e in entries]
            mean = torch.tensor([scale * e[metric]["mean"] for e in entries])
            std = torch.tensor([scale * e[metric]["std"] for e in entries])
            ax.plot(x, mean, style, marker="o", ms=3, color=COLOURS[method])
            ax.fill_between(x, mean - std, mean + std, color=COLOURS[method], alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("anisotropy a (variance of the nuisance directions)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)


def add_legend(fig, methods, dims) -> None:
    """One legend below the panels: a colour per method, a linestyle per D."""
    handles = [plt.Line2D([], [], color=COLOURS[m], marker="o", ms=3, label=m) for m in methods]
    handles += [plt.Line2D([], [], color="0.2", ls=style, label=f"D = {d}") for d, style in zip(dims, LINESTYLES * len(dims))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.06))


def save_figures(summary: list[dict], clip_summary: list[dict], s: Settings, out_dir: Path) -> list[Path]:
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    panels = (("angle", "largest principal angle to the Fisher subspace (°)", 1.0),
              ("fisher_ratio", "Fisher ratio / LDA's", 1.0), ("accuracy", "k-means accuracy on held-out data (%)", 100))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, (metric, label, scale) in zip(axes, panels):
        plot_panel(ax, summary, s.methods, metric, s.dims, label, scale)
    add_legend(fig, s.methods, s.dims)
    fig.suptitle(f"GMM, K = {s.components}: which subspace each method finds ({s.augment} views, {s.seeds} seeds)")
    paths = [figures / "fisher_subspace.png"]
    fig.savefig(paths[0], dpi=120, bbox_inches="tight")
    plt.close(fig)
    if clip_summary:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
        for ax, key, name in zip(axes, ("angle_a", "angle_b"), ("A", "B")):
            plot_panel(ax, clip_summary, CLIP_METHODS, key, s.dims, f"modality {name}: largest angle to its Fisher "
                       "subspace (°)")
        add_legend(fig, CLIP_METHODS, s.dims)
        fig.suptitle("Two modalities: CLIP's encoders against each modality's Fisher subspace")
        paths.append(figures / "clip.png")
        fig.savefig(paths[1], dpi=120, bbox_inches="tight")
        plt.close(fig)
    return paths


@experiment(NAME, Settings, "InfoNCE, CLIP and SimVE on a Gaussian mixture against the Fisher (LDA) subspace")
def run(settings: Settings, out_dir: Path, command: str) -> dict:
    check_settings(settings)
    elapsed = timer()
    rows, clip_rows = [], []
    configs = [(seed, dim) for seed in range(settings.seeds) for dim in settings.dims]
    with tqdm(total=len(configs) * len(settings.anisotropies), desc=NAME, unit="mixture") as bar:
        for seed, dim in configs:
            problem = draw_problem(seed, dim, settings)
            for anisotropy in settings.anisotropies:
                rows += run_mixture(problem["geometry"], anisotropy, problem["noise"], problem["labels"], seed,
                                    settings)
                if settings.clip:
                    clip = problem["clip"]
                    clip_rows += run_clip(clip["modalities"], anisotropy, clip["noise"], problem["labels"]["train"],
                                          seed, settings)
                bar.update()
    summary, clip_summary = summarise(rows, METRICS), summarise(clip_rows, CLIP_METRICS)
    lines = findings(summary, clip_summary, settings)
    figures = save_figures(summary, clip_summary, settings, Path(out_dir))
    results = {"summary": summary, "clip_summary": clip_summary, "findings": lines, "runs": rows, "clip_runs": clip_rows,
               "figures": [str(p.relative_to(out_dir)) for p in figures]}
    write_outputs(out_dir, NAME, settings, command, elapsed(), markdown(summary, clip_summary, lines, settings), results)
    return results
