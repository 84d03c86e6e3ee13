"""How well a linear map W (r x D) keeps a Gaussian mixture's classes apart, against the true parameters
(S_w = Sigma, S_b the between-class scatter; see :mod:`simve.experiments.gmm_fisher.data`):

- the Fisher (LDA) subspace: the top r generalised eigenvectors of S_b v = lambda S_w v, i.e. the row space
  span{S_w^-1 (mu_k - mu_bar)};
- principal angles theta_i between row(W) and the Fisher subspace (cos theta_i are the singular values
  of Q_W^T Q_F for orthonormal bases); reported: the largest in degrees and mean_i sin^2 theta_i;
- the Fisher ratio J(W) = tr((W S_w W^T)^-1 W S_b W^T) divided by J of the Fisher subspace (1 = optimal);
- k-means (K clusters, k-means++ and restarts) on held-out samples projected by W and whitened with
  their own (label-free) covariance, so the score depends only on the subspace: accuracy under the best
  matching of clusters to labels (Hungarian) and normalised mutual information (arithmetic mean).
"""

from __future__ import annotations

import math

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from simve.experiments.gmm_fisher.data import Mixture


def fisher_directions(within: Tensor, between: Tensor, rank: int) -> Tensor:
    """LDA's map (rank, D): the top generalised eigenvectors of ``between v = lambda within v``."""
    chol = torch.linalg.cholesky(within)
    whitened = torch.linalg.solve_triangular(chol, torch.linalg.solve_triangular(chol, between, upper=False).T,
                                             upper=False)
    vectors = torch.linalg.eigh((whitened + whitened.T) / 2).eigenvectors[:, -rank:]
    return torch.linalg.solve_triangular(chol.T, vectors, upper=True).T


def lda_estimate(x: Tensor, labels: Tensor, rank: int) -> Tensor:
    """LDA from labelled samples: within-class scatter^-1 between-class scatter."""
    classes = labels.unique()
    means = torch.stack([x[labels == c].mean(0) for c in classes])
    within = sum(((x[labels == c] - m).T @ (x[labels == c] - m)) for c, m in zip(classes, means)) / len(x)
    weights = torch.stack([(labels == c).double().mean() for c in classes])
    centred = means - weights @ means
    return fisher_directions(within, centred.T * weights @ centred, rank)


def pca_map(x: Tensor, rank: int) -> Tensor:
    """The top ``rank`` principal directions (rank, D) of the rows of ``x``."""
    centred = x - x.mean(0)
    return torch.linalg.eigh(centred.T @ centred / len(x)).eigenvectors[:, -rank:].T


def whitening(x: Tensor) -> Tensor:
    """Sigma^-1/2 (symmetric) of the covariance of the centred rows of ``x`` (N, D)."""
    values, vectors = torch.linalg.eigh(x.T @ x / (len(x) - 1))
    return vectors / values.clamp_min(1e-12).sqrt() @ vectors.T


def principal_angles(w: Tensor, reference: Tensor) -> Tensor:
    """Principal angles (radians, ascending) between the row spaces of ``w`` and ``reference``."""
    qa, qb = torch.linalg.qr(w.T.double())[0], torch.linalg.qr(reference.T.double())[0]
    return torch.arccos(torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)).flip(0)


def fisher_ratio(w: Tensor, within: Tensor, between: Tensor) -> float:
    """tr((W S_w W^T)^-1 W S_b W^T)."""
    w = w.double()
    return float(torch.linalg.solve(w @ within @ w.T, w @ between @ w.T).trace())


def subspace_scores(w: Tensor, mixture: Mixture, fisher: Tensor) -> dict[str, float]:
    """The largest principal angle to ``fisher`` (degrees), the mean sin^2 and the relative Fisher ratio."""
    angles = principal_angles(w, fisher)
    best = fisher_ratio(fisher, mixture.covariance, mixture.between)
    return {"angle": math.degrees(float(angles.max())), "distance": float(angles.sin().pow(2).mean()),
            "fisher_ratio": fisher_ratio(w, mixture.covariance, mixture.between) / best}


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


def kmeans_scores(w: Tensor, x: Tensor, labels: Tensor, k: int, restarts: int,
                         generator: torch.Generator) -> dict[str, float]:
    """k-means on ``x`` (N, D) projected by ``w`` and whitened: accuracy and NMI against ``labels``."""
    projected = x @ w.T
    projected = projected - projected.mean(0)
    accuracy, nmi = clustering_scores(kmeans(projected @ whitening(projected), k, restarts, generator), labels, k)
    return {"accuracy": accuracy, "nmi": nmi}
