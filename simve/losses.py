"""Self-supervised losses as small, pure torch functions, shared by the models and the metrics.

- ``info_nce``: NT-Xent / multi-positive InfoNCE over J >= 2 views (SimCLR, Chen et al. 2020).
- ``vicreg`` and ``vicreg_terms``: variance-invariance-covariance (Bardes et al. 2022).
- ``moco``: InfoNCE against a queue of momentum-encoder keys (MoCo v2, Chen et al. 2020).
- ``align`` and ``uniform``: alignment and uniformity on the hypersphere (Wang & Isola 2020).
- ``clip``: symmetric InfoNCE between two modalities (Radford et al. 2021).
- ``contrastive_negatives`` and ``contrastive_block``: the contrastive loss with k negatives and its
  block version (Arora et al. 2019).

Every function takes plain tensors, returns a scalar tensor, is differentiable, works on any device
and dtype, and raises :class:`SimveError` with a one-line message for wrong shapes or parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from simve.errors import SimveError

ARORA_KINDS = ("logistic", "hinge")


# ---------------------------------------------------------------------------------------- helpers


def _check(x: Tensor, name: str, dims: str, min_sizes: tuple[int, ...] | None = None) -> Tensor:
    """Check that ``x`` is a floating tensor with ``len(dims)`` dimensions named by ``dims`` (e.g. "BJD")."""
    if not isinstance(x, Tensor):
        raise SimveError(f"{name} must be a torch tensor of shape ({', '.join(dims)}), got {type(x).__name__}")
    if x.dim() != len(dims):
        raise SimveError(f"{name} must have shape ({', '.join(dims)}), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise SimveError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    for size, least, dim in zip(x.shape, min_sizes or (1,) * x.dim(), dims):
        if size < least:
            raise SimveError(f"{name} needs {dim} >= {least}, got shape {tuple(x.shape)}")
    return x


def _same(name_a: str, a: int, name_b: str, b: int) -> None:
    if a != b:
        raise SimveError(f"{name_a} ({a}) and {name_b} ({b}) must match")


def _positive(value: float, name: str) -> float:
    """``value`` as a float, which must be finite and > 0 (temperatures, exponents)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SimveError(f"{name} must be a positive number, got {value!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise SimveError(f"{name} must be a positive number, got {value}")
    return value


def _non_negative(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SimveError(f"{name} must be a non-negative number, got {value!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise SimveError(f"{name} must be a non-negative number, got {value}")
    return value


def _unit(x: Tensor) -> Tensor:
    """The rows (last dimension) of ``x`` scaled to unit l2 norm."""
    return F.normalize(x, dim=-1)


# --------------------------------------------------------------------------------- InfoNCE family


def info_nce(z: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent / multi-positive InfoNCE (Chen et al. 2020, SimCLR; Khosla et al. 2020 for J > 2).

    ``z`` of shape (B, J, D) holds projections of J >= 2 views of B data. With the N = B J views
    l2-normalised, ``s_ab = <z_a, z_b> / temperature`` and ``P(a)`` the other J - 1 views of a's datum,

        loss_a = -(1 / |P(a)|) sum_{p in P(a)} log( exp(s_ap) / sum_{b != a} exp(s_ab) ),

    and the result is the mean of ``loss_a`` over the N anchors, a scalar. J = 2 is SimCLR's NT-Xent.
    Its infimum is log(J - 1), reached when the views of a datum coincide and the data are far apart;
    all N views equal give log(N - 1).
    """
    B, J, D = _check(z, "z", "BJD", (1, 2, 1)).shape
    t = _positive(temperature, "temperature")
    n = B * J
    flat = _unit(z).reshape(n, D)
    self_pair = torch.eye(n, dtype=torch.bool, device=z.device)
    sims = (flat @ flat.T / t).masked_fill(self_pair, float("-inf"))
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    datum = torch.arange(B, device=z.device).repeat_interleave(J)
    positive = (datum[:, None] == datum[None, :]) & ~self_pair
    return -torch.where(positive, log_prob, 0.0).sum(dim=1).mean() / (J - 1)


def moco(query: Tensor, key: Tensor, queue: Tensor, temperature: float = 0.2) -> Tensor:
    """MoCo v2's InfoNCE (He et al. 2020; Chen et al. 2020): the positive key against a queue of negatives.

    ``query`` (B, D) from the encoder, ``key`` (B, D) from the momentum encoder and ``queue`` (K, D) of
    past keys are l2-normalised; ``logits_b = [q_b . k_b, q_b . queue^T] / temperature`` (B, 1 + K) and the
    loss is the mean cross-entropy with the positive at index 0, a scalar. ``key`` and ``queue`` are
    constants (detached here): no gradient reaches them.
    """
    B, D = _check(query, "query", "BD").shape
    _check(key, "key", "BD")
    _check(queue, "queue", "KD", (0, 1))
    if key.shape != query.shape:
        raise SimveError(f"key must have the shape of query {tuple(query.shape)}, got {tuple(key.shape)}")
    _same("queue's feature size", queue.shape[1], "query's", D)
    t = _positive(temperature, "temperature")
    q, k, negatives = _unit(query), _unit(key.detach()), _unit(queue.detach())
    logits = torch.cat([(q * k).sum(dim=1, keepdim=True), q @ negatives.T], dim=1) / t
    return F.cross_entropy(logits, torch.zeros(B, dtype=torch.long, device=query.device))


def clip(a: Tensor, b: Tensor, temperature: float = 0.07) -> Tensor:
    """CLIP's symmetric InfoNCE between two modalities (Radford et al. 2021).

    ``a`` and ``b`` (B, D), row i of each from the same datum, are l2-normalised;
    ``logits = a b^T / temperature`` (B, B) and the loss is
    ``(CE(logits, arange(B)) + CE(logits^T, arange(B))) / 2``, a scalar.
    """
    _check(a, "a", "BD")
    _check(b, "b", "BD")
    if a.shape != b.shape:
        raise SimveError(f"a and b must have the same shape (B, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    t = _positive(temperature, "temperature")
    logits = _unit(a) @ _unit(b).T / t
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


# ------------------------------------------------------------------------------------------ VICReg


def vicreg_terms(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> dict[str, Tensor]:
    """The three unweighted VICReg terms (Bardes et al. 2022) of ``z`` (B, J, D), J >= 2 views, B >= 2.

    - ``invariance``: the mean over view pairs j < k of ``mean_b ||z_bj - z_bk||^2 / D`` (``F.mse_loss``);
    - ``variance``: ``sum_j v(Z_j)`` with ``v(Z) = mean_d relu(gamma - sqrt(Var_b(Z_d) + eps))``;
    - ``covariance``: ``sum_j c(Z_j)`` with ``c(Z) = sum_{d != d'} Cov(Z)_{dd'}^2 / D``.

    Variances and covariances are unbiased (divided by B - 1). Returns scalars under those three keys.
    """
    B, J, D = _check(z, "z", "BJD", (2, 2, 1)).shape
    gamma = _positive(gamma, "gamma")
    eps = _non_negative(eps, "eps")
    first, second = torch.triu_indices(J, J, offset=1, device=z.device)
    invariance = F.mse_loss(z[:, first], z[:, second])  # every pair has B * D entries: mean of the pair means
    std = torch.sqrt(z.var(dim=0) + eps)  # (J, D)
    variance = F.relu(gamma - std).mean(dim=1).sum()
    centred = z - z.mean(dim=0)
    cov = torch.einsum("bjd,bje->jde", centred, centred) / (B - 1)  # (J, D, D)
    off_diagonal = cov.pow(2).sum(dim=(1, 2)) - cov.diagonal(dim1=1, dim2=2).pow(2).sum(dim=1)
    covariance = off_diagonal.sum() / D
    return {"invariance": invariance, "variance": variance, "covariance": covariance}


def vicreg(
    z: Tensor,
    invariance: float = 25.0,
    variance: float = 25.0,
    covariance: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg (Bardes et al. 2022) of ``z`` (B, J, D), a scalar:

        invariance * s + variance * sum_j v(Z_j) + covariance * sum_j c(Z_j),

    with the terms of :func:`vicreg_terms`; for J = 2 exactly the paper's loss (lambda = mu = 25, nu = 1).
    """
    weights = {
        "invariance": _non_negative(invariance, "invariance"),
        "variance": _non_negative(variance, "variance"),
        "covariance": _non_negative(covariance, "covariance"),
    }
    terms = vicreg_terms(z, gamma=gamma, eps=eps)
    return sum(weights[name] * terms[name] for name in weights)


# ------------------------------------------------------------------------------ alignment, uniformity


def align(x: Tensor, y: Tensor, alpha: float = 2.0) -> Tensor:
    """Wang & Isola's alignment ``E_b ||x_b - y_b||_2^alpha`` of positive pairs, a scalar.

    ``x`` and ``y`` (B, D), row b of each a positive pair, are l2-normalised first.
    0 for perfectly aligned pairs, at most 2^alpha.
    """
    _check(x, "x", "BD")
    _check(y, "y", "BD")
    if x.shape != y.shape:
        raise SimveError(f"x and y must have the same shape (B, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    alpha = _positive(alpha, "alpha")
    return torch.linalg.vector_norm(_unit(x) - _unit(y), dim=1).pow(alpha).mean()


def uniform(x: Tensor, t: float = 2.0) -> Tensor:
    """Wang & Isola's uniformity ``log E_{i != j} exp(-t ||x_i - x_j||_2^2)``, a scalar.

    The expectation is over the N (N - 1) / 2 distinct pairs of the l2-normalised rows of ``x`` (N, D),
    N >= 2. 0 when all rows coincide; about ``-2t + 2t^2 / D`` for many points uniform on the sphere.
    """
    _check(x, "x", "ND", (2, 1))
    t = _positive(t, "t")
    sq_dists = torch.pdist(_unit(x), p=2).pow(2)
    return torch.logsumexp(-t * sq_dists, dim=0) - math.log(sq_dists.numel())


# ----------------------------------------------------------------------------------------- Arora et al.


def _arora_loss(v: Tensor, kind: str) -> Tensor:
    """Arora et al.'s l(v) of v (B, k), averaged over B: logistic log(1 + sum_i exp(-v_i)), hinge max(0, 1 + max_i -v_i)."""
    if kind == "logistic":
        return torch.logsumexp(F.pad(-v, (1, 0)), dim=1).mean()  # the padded 0 is the "1 +"
    if kind == "hinge":
        return F.relu(1 - v.min(dim=1).values).mean()
    raise SimveError(f"kind must be one of {', '.join(ARORA_KINDS)}, got {kind!r}")


def contrastive_negatives(anchor: Tensor, positive: Tensor, negatives: Tensor, kind: str = "logistic") -> Tensor:
    """Arora et al. (2019)'s contrastive loss with k negatives, a scalar.

    ``anchor`` and ``positive`` (B, D), ``negatives`` (B, k, D), all features f(.) used as they are (raw
    inner products, no normalisation). With ``v_i = f(x)^T (f(x+) - f(x-_i))``, i = 1..k,

        logistic: l(v) = log(1 + sum_i exp(-v_i))        hinge: l(v) = max(0, 1 + max_i (-v_i)),

    averaged over B (natural logarithm).
    """
    B, D = _check(anchor, "anchor", "BD").shape
    _check(positive, "positive", "BD")
    _check(negatives, "negatives", "BkD")
    if positive.shape != anchor.shape:
        raise SimveError(f"positive must have the shape of anchor {tuple(anchor.shape)}, got {tuple(positive.shape)}")
    if negatives.shape[0] != B or negatives.shape[2] != D:
        raise SimveError(f"negatives must have shape ({B}, k, {D}) to match anchor, got {tuple(negatives.shape)}")
    v = torch.einsum("bd,bkd->bk", anchor, positive[:, None, :] - negatives)
    return _arora_loss(v, kind)


def contrastive_block(anchor: Tensor, positives: Tensor, negatives: Tensor, kind: str = "logistic") -> Tensor:
    """Arora et al. (2019)'s block contrastive loss, a scalar.

    ``anchor`` (B, D); ``positives`` and ``negatives`` (B, b, D): blocks of b points that share the anchor's
    class and b points of another class. The loss of :func:`contrastive_negatives` with k = 1 on the block
    means, ``l( f(x)^T (mean_i f(x+_i) - mean_i f(x-_i)) )``, averaged over B.
    """
    B, D = _check(anchor, "anchor", "BD").shape
    _check(positives, "positives", "BbD")
    _check(negatives, "negatives", "BbD")
    if positives.shape[0] != B or positives.shape[2] != D:
        raise SimveError(f"positives must have shape ({B}, b, {D}) to match anchor, got {tuple(positives.shape)}")
    if negatives.shape != positives.shape:
        raise SimveError(
            f"negatives must have the shape of positives {tuple(positives.shape)}, got {tuple(negatives.shape)}"
        )
    return contrastive_negatives(anchor, positives.mean(dim=1), negatives.mean(dim=1, keepdim=True), kind)
