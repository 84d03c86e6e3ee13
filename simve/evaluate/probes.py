"""Probes on frozen features.

``linear_probe``: multinomial logistic regression, ``min_W mean_i CE(W x_i + b, y_i) + l2 ||W||^2``
on standardised features (mean and scale from the training features), fitted full-batch with
L-BFGS; ``l2`` is chosen on the validation split and the test split is scored once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float, max_iter: int) -> torch.nn.Linear:
    layer = torch.nn.Linear(x.shape[1], n_classes, dtype=x.dtype)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    optimiser = torch.optim.LBFGS(layer.parameters(), lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.cross_entropy(layer(x), y) + l2 * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return layer


def _accuracy(layer: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((layer(x).argmax(1) == y).float().mean())


def linear_probe(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    l2_grid: tuple[float, ...] = L2_GRID,
    max_iter: int = 200,
) -> dict[str, float]:
    """Fit on ``train`` for each ``l2``, keep the best on ``val``, score ``test`` once.

    Each argument is ``(features (N, d), labels (N,))``. Returns the test accuracy, the
    validation accuracy and the chosen ``l2``.
    """
    mean, scale = train[0].mean(0), train[0].std(0).clamp_min(1e-6)
    x_train, x_val, x_test = ((part[0].double() - mean) / scale for part in (train, val, test))
    n_classes = int(max(train[1].max(), val[1].max(), test[1].max())) + 1
    with torch.enable_grad():
        fits = [(l2, _fit_logistic(x_train, train[1], n_classes, l2, max_iter)) for l2 in l2_grid]
    scores = [(_accuracy(layer, x_val, val[1]), l2, layer) for l2, layer in fits]
    val_accuracy, l2, layer = max(scores, key=lambda s: (s[0], s[1]))  # ties: the stronger penalty
    return {"test_accuracy": _accuracy(layer, x_test, test[1]), "val_accuracy": val_accuracy, "l2": l2}
