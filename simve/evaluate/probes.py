"""Probes on frozen features: hyper-parameters chosen on validation, the test split scored once.

Every probe takes ``(features (N, d) float, labels (N,) int)`` for train, val and test. With
``f(x)`` the frozen feature, ``z`` its standardised version (mean and std of the training
features, for ``linear`` and ``mlp`` only) and ``c`` ranging over the classes seen in train:

- ``linear``: multinomial logistic regression, ``min_{W,b} mean_i CE(W z_i + b, y_i) + l2 ||W||_F^2``,
  fitted full-batch with L-BFGS; ``l2`` from ``L2_GRID`` chosen on val (warm-started from the
  strongest penalty down, stopping once two weaker penalties in a row score below the best);
- ``mlp``: ``p(y | x) = softmax(W_2 relu(W_1 z + b_1) + b_2)``, 256 hidden units, Adam (lr 2e-3) on
  mini-batches of 512 with the penalty ``wd/2 (||W_1||^2 + ||W_2||^2)``; ``wd`` from
  ``WEIGHT_DECAY_GRID`` and the number of epochs (val accuracy every 2 epochs, the best weights kept;
  training stops after 5 readings without a better one, or at 200 epochs) chosen jointly on val;
- ``knn``: ``s(x, x_i) = cos(f(x), f(x_i))``; predict the majority label among the ``k`` most similar
  training points, ties broken by the larger sum of similarities (then the lower class index);
  ``k`` from ``K_GRID`` (capped at the number of training points) chosen on val;
- ``mean``: Arora et al.'s mean classifier, ``W_c = mean_{i: y_i = c} f(x_i)``, predict
  ``argmax_c W_c^T f(x)`` on the *raw* features (no standardisation, no normalisation, no bias),
  no hyper-parameter.

Each result lists in ``on_edge`` the hyper-parameters chosen at an end of their grid (or, for the
MLP's epochs, at the last epoch allowed): there the grid may cap the result.

Selection ties on val go to the simpler model: the stronger ``l2`` / ``wd``, the fewer epochs,
the larger ``k``. ``max_train`` caps the training points used to fit (all four probes): a random
subset drawn with ``seed`` that keeps at least one point of every class; val and test are used in
full. Labels may be any integers; val and test may not hold a class that train lacks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch
import torch.nn.functional as F

from simve.errors import SimveError

PROTOCOL = 2  # raised whenever the grids or stopping rules change, so that cached evaluations are redone
L2_GRID = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
WEIGHT_DECAY_GRID = (1e-2, 1e-4)
K_GRID = (1, 3, 5, 10, 20, 50)
MLP_HIDDEN, MLP_MAX_EPOCHS, MLP_EVAL_EVERY, MLP_BATCH_SIZE, MLP_LR = 256, 200, 2, 512, 2e-3
MLP_PATIENCE = 5  # evaluations (of eval_every epochs) without a better val accuracy before the MLP stops

Part = tuple[torch.Tensor, torch.Tensor]


# ---------------------------------------------------------------------------------------------- input


def _check_part(name: str, part) -> Part:
    if not isinstance(part, (tuple, list)) or len(part) != 2:
        raise SimveError(f"{name} must be a pair (features, labels), got {type(part).__name__}")
    x, y = (torch.as_tensor(p) for p in part)
    if x.ndim != 2 or not x.is_floating_point():
        raise SimveError(f"{name} features must be a float (N, d) tensor, got {x.dtype} of shape {tuple(x.shape)}")
    if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise SimveError(f"{name} labels must be an integer (N,) tensor, got {y.dtype} of shape {tuple(y.shape)}")
    if len(x) != len(y):
        raise SimveError(f"{name} has {len(x)} feature rows but {len(y)} labels")
    if len(x) == 0:
        raise SimveError(f"{name} is empty")
    if not torch.isfinite(x).all():
        raise SimveError(f"{name} features hold NaN or inf")
    return x.detach().cpu().float().contiguous(), y.detach().cpu().long()


def _prepare(train, val, test, seed: int, max_train: int | None) -> tuple[Part, Part, Part, int]:
    """Validated float32 features, labels remapped to ``0..C-1`` and the subsampled train split."""
    parts = [_check_part(name, part) for name, part in (("train", train), ("val", val), ("test", test))]
    dims = {name: p[0].shape[1] for name, p in zip(("train", "val", "test"), parts)}
    if len(set(dims.values())) != 1:
        raise SimveError(f"feature dimensions differ between splits: {dims}")
    classes = torch.unique(parts[0][1])
    if len(classes) < 2:
        raise SimveError(f"train holds {len(classes)} class(es); a probe needs at least 2")
    for name, (_, y) in zip(("val", "test"), parts[1:]):
        unseen = torch.unique(y)[~torch.isin(torch.unique(y), classes)]
        if len(unseen):
            raise SimveError(f"{name} holds class(es) {unseen.tolist()} absent from train; the probe cannot predict them")
    remapped = [(x, torch.searchsorted(classes, y)) for x, y in parts]
    remapped[0] = _subsample(*remapped[0], len(classes), seed, max_train)
    return remapped[0], remapped[1], remapped[2], len(classes)


def _subsample(x: torch.Tensor, y: torch.Tensor, n_classes: int, seed: int, max_train: int | None) -> Part:
    """At most ``max_train`` points, drawn at random with ``seed``, with every class kept."""
    if max_train is None or len(x) <= max_train:
        return x, y
    if max_train < n_classes:
        raise SimveError(f"max_train={max_train} is below the {n_classes} classes of train")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    labels = y[order]
    first = torch.ones(len(x), dtype=torch.bool)  # the first point of each class in the random order
    sorted_labels, by_label = torch.sort(labels, stable=True)
    first[by_label[1:][sorted_labels[1:] == sorted_labels[:-1]]] = False
    rank = torch.arange(len(x)) + (~first).long() * len(x)
    keep = order[torch.argsort(rank)[:max_train]].sort().values
    return x[keep], y[keep]


def _standardise(train: Part, *parts: Part) -> list[Part]:
    mean, scale = train[0].mean(0), train[0].std(0).clamp_min(1e-6)
    return [((x - mean) / scale, y) for x, y in (train, *parts)]


def _train_row_space(train: Part, *parts: Part) -> list[Part]:
    """Coordinates in the span of the training features when there are fewer points than dimensions.

    An l2-penalised linear model fitted from zero keeps its weights in that span (every gradient
    ``X^T r / n + 2 l2 W`` lies in it: the representer theorem), so with ``Q`` an orthonormal basis
    of it, ``x W = (x Q)(Q^T W)`` and the fit on ``x Q`` gives the same predictions, n dims instead of d.
    """
    x_train = train[0]
    if x_train.shape[0] >= x_train.shape[1]:
        return [train, *parts]
    basis = torch.linalg.qr(x_train.T.double()).Q.to(x_train.dtype)  # (d, n)
    return [(x @ basis, y) for x, y in (train, *parts)]


def _on_edge(choices: dict[str, tuple[float, list[float]]]) -> list[str]:
    """The hyper-parameters whose chosen value is the first or last of a grid of more than one value
    (a sign that the grid may cap the result)."""
    return [name for name, (value, grid) in choices.items() if len(grid) > 1 and value in (min(grid), max(grid))]


def _accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predictions == labels).double().mean())


# ---------------------------------------------------------------------------------------------- linear


def _fit_logistic(x1: torch.Tensor, x1t: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, l2: float,
                  max_iter: int) -> torch.Tensor:
    """L-BFGS on ``theta`` ((d + 1, C), last row the bias) with a hand-written gradient (no autograd).

    The logits and the residual are held classes-first, ``(C, n)``: with few classes, ``theta^T x1^T`` (``x1t``
    the contiguous transpose of ``x1``) and ``r^T x1`` run about three times faster on a CPU than ``x1 theta``
    and ``x1^T r``, whose narrow outputs the matmul kernels handle poorly."""
    n = len(x1)
    onehot_t = F.one_hot(y, theta.shape[1]).T.to(x1.dtype)
    mask = torch.ones_like(theta)
    mask[-1] = 0.0  # the bias is not penalised
    theta = theta.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([theta], lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-6, tolerance_change=1e-10)

    def closure():
        with torch.no_grad():
            logits_t = theta.T @ x1t
            log_z = torch.logsumexp(logits_t, 0, keepdim=True)
            weights = theta * mask
            loss = (log_z.squeeze(0) - logits_t.gather(0, y[None]).squeeze(0)).mean() + l2 * weights.pow(2).sum()
            residual_t = (logits_t - log_z).exp_().sub_(onehot_t)
            theta.grad = (residual_t @ x1).T.contiguous() / n + 2 * l2 * weights
        return loss

    optimiser.step(closure)
    return theta.detach()


def linear_probe(
    train: Part,
    val: Part,
    test: Part,
    l2_grid: Iterable[float] = L2_GRID,
    max_iter: int = 100,
    patience: int = 2,
    seed: int = 0,
    max_train: int | None = None,
) -> dict:
    """Multinomial logistic regression, ``l2`` chosen on ``val``; ``test`` scored once.

    Returns ``test_accuracy``, ``val_accuracy``, ``chosen`` (``{"l2": ...}``), ``val_curve`` (val
    accuracy of every ``l2``) and ``seconds``.
    """
    start = time.perf_counter()
    train, val, test, n_classes = _prepare(train, val, test, seed, max_train)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _train_row_space(*_standardise(train, val, test))
    ones = torch.ones(1, dtype=x_train.dtype)
    x1_train, x1_val, x1_test = (torch.cat([x, ones.expand(len(x), 1)], 1) for x in (x_train, x_val, x_test))
    grid = sorted({float(v) for v in l2_grid}, reverse=True)  # strongest first: warm starts
    if not grid or grid[-1] < 0:
        raise SimveError(f"l2_grid must hold non-negative penalties, got {grid}")
    theta = torch.zeros(x1_train.shape[1], n_classes)
    x1t_train = x1_train.T.contiguous()
    best, curve, worse = None, [], 0
    for l2 in grid:
        theta = _fit_logistic(x1_train, x1t_train, y_train, theta, l2, max_iter)
        accuracy = _accuracy((x1_val @ theta).argmax(1), y_val)
        curve.append({"l2": l2, "val_accuracy": accuracy})
        if best is None or accuracy > best[0]:  # ties keep the stronger penalty
            best, worse = (accuracy, l2, theta), 0
        else:
            worse += 1
            if worse == patience:  # val accuracy fell for `patience` weaker penalties in a row: stop there
                break
    val_accuracy, l2, theta = best
    return {"test_accuracy": _accuracy((x1_test @ theta).argmax(1), y_test), "val_accuracy": val_accuracy,
            "chosen": {"l2": l2}, "on_edge": _on_edge({"l2": (l2, grid)}), "val_curve": curve,
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------- mlp


def mlp_probe(
    train: Part,
    val: Part,
    test: Part,
    weight_decays: Iterable[float] = WEIGHT_DECAY_GRID,
    hidden: int = MLP_HIDDEN,
    max_epochs: int = MLP_MAX_EPOCHS,
    eval_every: int = MLP_EVAL_EVERY,
    patience: int = MLP_PATIENCE,
    batch_size: int = MLP_BATCH_SIZE,
    lr: float = MLP_LR,
    seed: int = 0,
    max_train: int | None = None,
) -> dict:
    """One-hidden-layer MLP; ``wd`` and the epoch count chosen jointly on ``val``; ``test`` scored once.

    The models of all ``weight_decays`` train side by side (same initialisation and mini-batches,
    stacked weights, one matmul), each with its own Adam state. Val accuracy is read every
    ``eval_every`` epochs and the best (wd, epoch) weights are kept; training stops after ``patience``
    readings without a better one (early stopping), or at ``max_epochs``.
    """
    start = time.perf_counter()
    train, val, test, n_classes = _prepare(train, val, test, seed, max_train)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _standardise(train, val, test)
    decays = sorted({float(v) for v in weight_decays}, reverse=True)
    if not decays or decays[-1] < 0:
        raise SimveError(f"weight_decays must hold non-negative penalties, got {decays}")
    if max_epochs < 1 or eval_every < 1 or batch_size < 1 or hidden < 1:
        raise SimveError("max_epochs, eval_every, batch_size and hidden must be positive")
    g, d, n = len(decays), x_train.shape[1], len(x_train)
    generator = torch.Generator().manual_seed(seed)
    bound1, bound2 = d**-0.5, hidden**-0.5  # torch.nn.Linear's default initialisation, shared by the g models
    w1 = ((torch.rand(d, hidden, generator=generator) * 2 - 1) * bound1).repeat(1, g)
    b1 = ((torch.rand(hidden, generator=generator) * 2 - 1) * bound1).repeat(g)
    w2 = ((torch.rand(1, hidden, n_classes, generator=generator) * 2 - 1) * bound2).repeat(g, 1, 1)
    b2 = ((torch.rand(1, 1, n_classes, generator=generator) * 2 - 1) * bound2).repeat(g, 1, 1)
    params = [p.requires_grad_(True) for p in (w1, b1, w2, b2)]
    decay1 = torch.tensor(decays).repeat_interleave(hidden)  # per column of w1
    decay2 = torch.tensor(decays)[:, None, None]
    optimiser = torch.optim.Adam(params, lr=lr)

    def forward(x: torch.Tensor) -> torch.Tensor:  # (g, N, C) logits
        h = torch.relu(x @ w1 + b1).view(len(x), g, hidden).transpose(0, 1)
        return torch.baddbmm(b2, h, w2)

    def predictions(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([forward(x[i : i + 4096]).argmax(2) for i in range(0, len(x), 4096)], 1)

    best, curve, waited = None, [], 0
    with torch.enable_grad():
        for epoch in range(1, max_epochs + 1):
            for index in torch.randperm(n, generator=generator).split(batch_size):
                logits = forward(x_train[index])
                loss = F.cross_entropy(logits.reshape(-1, n_classes), y_train[index].repeat(g)) * g
                optimiser.zero_grad(set_to_none=False)
                loss.backward()
                with torch.no_grad():  # L2 penalty wd/2 ||W||^2 on the weights (coupled, as Adam's weight_decay)
                    w1.grad.add_(w1 * decay1)
                    w2.grad.add_(w2 * decay2)
                optimiser.step()
            if epoch % eval_every and epoch != max_epochs:
                continue
            accuracies = (predictions(x_val) == y_val).double().mean(1).tolist()
            for wd, accuracy in zip(decays, accuracies):
                curve.append({"weight_decay": wd, "epochs": epoch, "val_accuracy": accuracy})
            i = max(range(g), key=lambda j: (accuracies[j], -j))  # ties: the stronger decay
            if best is None or accuracies[i] > best[0]:  # ties: the fewer epochs
                with torch.no_grad():
                    weights = (w1.view(d, g, hidden)[:, i].clone(), b1.view(g, hidden)[i].clone(), w2[i].clone(),
                               b2[i].clone())
                best, waited = (accuracies[i], decays[i], epoch, weights), 0
            else:
                waited += 1
                if waited >= patience:
                    break
    val_accuracy, wd, epochs, (v1, c1, v2, c2) = best
    test_predictions = (torch.relu(x_test @ v1 + c1) @ v2 + c2).argmax(1)
    return {"test_accuracy": _accuracy(test_predictions, y_test), "val_accuracy": val_accuracy,
            "chosen": {"weight_decay": wd, "epochs": epochs}, "on_edge": _on_edge({"weight_decay": (wd, decays)})
            + (["epochs"] if epochs == max_epochs else []),
            "trained_epochs": epoch, "val_curve": curve,
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------- knn


def _knn_votes(queries: torch.Tensor, keys: torch.Tensor, key_labels: torch.Tensor, n_classes: int,
               ks: list[int], chunk: int) -> torch.Tensor:
    """Predictions ``(len(ks), N)`` of the cosine kNN majority vote for each ``k`` in ``ks``."""
    k_max = max(ks)
    index = torch.tensor(ks) - 1
    chunk = max(1, min(chunk, 2**25 // len(keys)))  # at most 32M similarities (128 MB) at a time
    out = []
    for i in range(0, len(queries), chunk):
        similarity, neighbours = (queries[i : i + chunk] @ keys.T).topk(k_max, dim=1)  # sorted, most similar first
        onehot = F.one_hot(key_labels[neighbours], n_classes).double()  # (q, k_max, C)
        counts = onehot.cumsum(1)[:, index]  # (q, len(ks), C) votes among the first k
        weight = (onehot * similarity.double()[..., None]).cumsum(1)[:, index]  # sums of similarities, in [-k, k]
        score = counts + weight / (2 * torch.tensor(ks, dtype=torch.float64)[:, None] + 1)  # tie-break < 1 vote
        out.append(score.argmax(2).T)
    return torch.cat(out, 1)


def knn_probe(
    train: Part,
    val: Part,
    test: Part,
    ks: Iterable[int] = K_GRID,
    chunk: int = 1024,
    seed: int = 0,
    max_train: int | None = None,
) -> dict:
    """Cosine kNN majority vote, ``k`` chosen on ``val``; ``test`` scored once."""
    start = time.perf_counter()
    train, val, test, n_classes = _prepare(train, val, test, seed, max_train)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = ((F.normalize(x, dim=1), y) for x, y in (train, val, test))
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise SimveError(f"ks must be positive integers, got {ks}")
    grid = sorted({min(k, len(x_train)) for k in ks})
    accuracies = (_knn_votes(x_val, x_train, y_train, n_classes, grid, chunk) == y_val).double().mean(1).tolist()
    curve = [{"k": k, "val_accuracy": a} for k, a in zip(grid, accuracies)]
    val_accuracy, k = max((a, k) for k, a in zip(grid, accuracies))  # ties: the larger k
    test_predictions = _knn_votes(x_test, x_train, y_train, n_classes, [k], chunk)[0]
    return {"test_accuracy": _accuracy(test_predictions, y_test), "val_accuracy": val_accuracy, "chosen": {"k": k},
            "on_edge": _on_edge({"k": (k, grid)}), "val_curve": curve, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------- mean


def mean_classifier(x: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``(C, d)`` class means of the raw features: row ``c`` is ``mean_{i: y_i = c} x_i``."""
    sums = torch.zeros(n_classes, x.shape[1], dtype=torch.float64).index_add_(0, y, x.double())
    return sums / torch.bincount(y, minlength=n_classes).clamp_min(1)[:, None]


def mean_probe(train: Part, val: Part, test: Part, seed: int = 0, max_train: int | None = None) -> dict:
    """Arora et al.'s mean classifier on raw features: ``argmax_c W_c^T f(x)``, no hyper-parameter."""
    start = time.perf_counter()
    (x_train, y_train), (x_val, y_val), (x_test, y_test), n_classes = _prepare(train, val, test, seed, max_train)
    weights = mean_classifier(x_train, y_train, n_classes)
    val_accuracy, test_accuracy = (_accuracy((x.double() @ weights.T).argmax(1), y)
                                   for x, y in ((x_val, y_val), (x_test, y_test)))
    return {"test_accuracy": test_accuracy, "val_accuracy": val_accuracy, "chosen": {},
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------- api

PROBE_FUNCTIONS = {"linear": linear_probe, "mlp": mlp_probe, "knn": knn_probe, "mean": mean_probe}
PROBES = tuple(PROBE_FUNCTIONS)  # their names, in the order tables show them


def run_probe(kind: str, train: Part, val: Part, test: Part, seed: int = 0, max_train: int | None = 10_000) -> dict:
    """Run probe ``kind`` (one of ``PROBES``) with its default grid.

    Returns ``{"test_accuracy", "val_accuracy", "chosen": {hyper-parameters chosen on val}, "seconds"}``
    plus ``val_curve`` (val accuracy of each candidate) for the probes that select. At most
    ``max_train`` training points (a random subset drawn with ``seed``, every class kept; ``None``:
    all) are used to fit; the result is deterministic given ``seed``.
    """
    if kind not in PROBE_FUNCTIONS:
        raise SimveError(f"unknown probe {kind!r}; choose one of {', '.join(PROBES)}")
    return PROBE_FUNCTIONS[kind](train, val, test, seed=seed, max_train=max_train)


def run_probes(kinds: Iterable[str], train: Part, val: Part, test: Part, seed: int = 0,
               max_train: int | None = 10_000) -> dict[str, dict]:
    """``run_probe`` for each kind in ``kinds``, keyed by kind (all kinds checked before any runs)."""
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in PROBE_FUNCTIONS]
    if unknown:
        raise SimveError(f"unknown probe(s) {', '.join(map(repr, unknown))}; choose from {', '.join(PROBES)}")
    return {kind: run_probe(kind, train, val, test, seed=seed, max_train=max_train) for kind in kinds}
