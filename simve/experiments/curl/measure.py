"""A representation f on latent classes (:mod:`simve.experiments.curl.data`): held-out contrastive losses,
the mean classifier, Arora et al.'s bound and linear probes.

Losses are in bits: the logistic loss l(v) = log2(1 + sum_i exp(-v_i)), so that l(0) = 1 for k = 1
(``simve.losses.contrastive_negatives`` / ``contrastive_block`` use the natural logarithm; their values
are divided by ln 2). The contrastive losses, with x+_j ~ D_c and x-_j ~ D_{c-} (one negative class):

    k negatives:  L_un(f) = E[ l({ f(x)^T (f(x+) - f(x-_i)) }_{i=1..k}) ]
    block of b:   L_un^block(f) = E[ l( f(x)^T (mean_j f(x+_j) - mean_j f(x-_j)) ) ],  j = 1..b.

The mean classifier of f has the class means W_c = mu_c = E_{x~D_c} f(x) as weights and predicts
argmax_c W_c^T f(x); its supervised loss averaged over the 2-way tasks {c, c'} is

    L_sup^mu(f) = sum_{c != c'} rho(c) rho(c') / (1 - tau) E_{x~D_c}[ l(W_c^T f(x) - W_c'^T f(x)) ].

For k = 1 and any f, L_un(f) = (1 - tau) L_un^{≠}(f) + tau L_un^{=}(f), Jensen's inequality over x+
and x- gives L_un^{≠}(f) >= L_sup^mu(f) and L_un^{=}(f) >= l(0) = 1, hence the paper's bound

    L_sup^mu(f) <= (L_un(f) - tau) / (1 - tau),

an inequality between expectations that holds for every f (trained or not, even the raw input). It
is checked on held-out data (:class:`Heldout`), with the k = 1 loss L_un^(1)(f): mu_c from a labelled
held-out set, L_sup^mu on a separate test set, L_un^(1) on fresh held-out tuples (its standard error
from ``CHUNKS`` equal chunks). Estimating mu_c from finitely many points can only raise the expected
L_sup^mu (l is convex in W), so the check errs on the strict side. The bound holds with the block loss
as well, and is tighter there: for the same f, L_un^block(f) <= L_un^(1)(f) (Jensen again, a mean of b
draws is less spread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from simve import losses
from simve.evaluate.probes import linear_probe, mean_classifier, mean_probe
from simve.experiments.curl.data import LatentClasses, Objective, Tuples

LN2 = math.log(2)
CHUNKS = 20  # held-out L_un is averaged over this many equal chunks; their spread gives its standard error

Part = tuple[Tensor, Tensor]


def contrastive_loss(f, batch: Tuples) -> Tensor:
    """The objective the tuples were drawn for, in nats: k negatives, or one block when b > 1."""
    anchor = f(batch.anchor)
    if batch.positives.shape[1] > 1:
        return losses.contrastive_block(anchor, f(batch.positives), f(batch.negatives[:, 0]), "logistic")
    return losses.contrastive_negatives(anchor, f(batch.positives[:, 0]), f(batch.negatives[:, :, 0]), "logistic")


@dataclass(frozen=True)
class Heldout:
    """Held-out data of one seed, shared by every representation."""

    mean_set: Part  # per_class points per class: mu_c, and the probes' training set
    val: Part  # most_labels per class: the probes' l2
    test: Part  # per_class per class
    train_pool: Part  # most_labels per class, nested: the sample-complexity curves
    tuples: dict[Objective, Tuples]  # fresh held-out tuples for every objective (k = 1 included)
    pairs: list[tuple[int, int]]  # the 2-way tasks of the linear probe

    @classmethod
    def draw(cls, source: LatentClasses, objectives: list[Objective], per_class: int, most_labels: int,
             n_tuples: int, pairs: int, generator: torch.Generator) -> Heldout:
        mean_set, val = source.labelled(per_class, generator), source.labelled(most_labels, generator)
        test, train_pool = source.labelled(per_class, generator), source.labelled(most_labels, generator)
        tuples = {o: source.tuples(n_tuples, o, generator) for o in dict.fromkeys([Objective(1), *objectives])}
        every_pair = torch.combinations(torch.arange(len(source.rho)), 2)
        chosen = every_pair[torch.randperm(len(every_pair), generator=generator)[:pairs]]
        return cls(mean_set, val, test, train_pool, tuples, [tuple(p) for p in chosen.tolist()])


def heldout_loss(f, batch: Tuples, keep: Tensor | None = None) -> tuple[float, float]:
    """Mean and standard error (over ``CHUNKS`` chunks) of the contrastive loss in bits, on the rows ``keep``."""
    rows = torch.arange(len(batch.anchor)) if keep is None else keep.nonzero().squeeze(1)
    with torch.no_grad():
        values = torch.tensor([float(contrastive_loss(f, batch.rows(part))) / LN2 for part in rows.chunk(CHUNKS)])
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def mean_classifier_tasks(train: Part, test: Part, rho: Tensor) -> dict:
    """L_sup^mu (bits) and the accuracy of the mean classifier on the 2-way tasks (weighted by
    rho(c) rho(c') / (1 - tau)) and on the C-way task, W_c the class means of ``train``."""
    (x_train, y_train), (x_test, y_test) = train, test
    n_classes = len(rho)
    weights = mean_classifier(x_train, y_train, n_classes).float()
    scores = x_test @ weights.T  # (N, C)
    pair_loss, pair_accuracy = torch.zeros(n_classes, n_classes), torch.zeros(n_classes, n_classes)
    for c in range(n_classes):
        mine = y_test == c
        anchor = x_test[mine]
        for other in range(n_classes):
            if other == c:
                continue
            positive, negative = weights[c].expand_as(anchor), weights[other].expand(len(anchor), 1, -1)
            pair_loss[c, other] = losses.contrastive_negatives(anchor, positive, negative, "logistic") / LN2
            pair_accuracy[c, other] = (scores[mine, c] > scores[mine, other]).float().mean()
    task = torch.outer(rho, rho).fill_diagonal_(0)
    task /= task.sum()  # rho(c) rho(c') / (1 - tau) for c != c'
    return {"L_sup_mu": float((task * pair_loss).sum()), "two_way_mean": float((task * pair_accuracy).sum()),
            "c_way_mean": float((scores.argmax(1) == y_test).float().mean())}


def _restrict(part: Part, pair: tuple[int, int]) -> Part:
    x, y = part
    keep = (y == pair[0]) | (y == pair[1])
    return x[keep], y[keep]


def linear_tasks(train: Part, val: Part, test: Part, pairs: list[tuple[int, int]], seed: int) -> dict:
    """Linear-probe test accuracy on the C-way task and averaged over the 2-way tasks ``pairs``."""
    two_way = [linear_probe(*(_restrict(p, pair) for p in (train, val, test)), seed=seed)["test_accuracy"]
               for pair in pairs]
    return {"c_way_linear": linear_probe(train, val, test, seed=seed)["test_accuracy"],
            "two_way_linear": sum(two_way) / len(two_way) if two_way else math.nan}


def sample_complexity(pool: Part, val: Part, test: Part, labels_per_class: tuple[int, ...], classes: int,
                      seed: int) -> dict[str, list[float]]:
    """C-way test accuracy of the mean classifier and the linear probe with n labelled points per class
    (the first n C rows of the nested feature pools: n to fit, n more to choose the probe's l2)."""
    curves = {"mean": [], "linear": []}
    for n in labels_per_class:
        rows = n * classes
        train_n, val_n = (pool[0][:rows], pool[1][:rows]), (val[0][:rows], val[1][:rows])
        curves["mean"].append(mean_probe(train_n, val_n, test)["test_accuracy"])
        curves["linear"].append(linear_probe(train_n, val_n, test, seed=seed)["test_accuracy"])
    return curves


def featurise(f, part: Part) -> Part:
    with torch.no_grad():
        return f(part[0]).float(), part[1]


def measure(f, objective: Objective | None, source: LatentClasses, heldout: Heldout,
            labels_per_class: tuple[int, ...], seed: int) -> dict:
    """Every number of one representation f (``objective``: its training objective, None for the others),
    the bound (L_un^(1) - tau)/(1 - tau) included, and with a block's own loss for a block."""
    k1 = heldout.tuples[Objective(1)]
    L_un, L_un_se = heldout_loss(f, heldout.tuples[objective] if objective else k1)
    L_un1, L_un1_se = heldout_loss(f, k1)
    same, different = (heldout_loss(f, k1, keep)[0] for keep in (k1.collides[:, 0], ~k1.collides[:, 0]))
    tau = source.tau
    row = {"L_un": L_un, "L_un_se": L_un_se, "L_un1": L_un1, "L_un1_se": L_un1_se, "L_un1_same_class": same,
           "L_un1_different_class": different, "bound": (L_un1 - tau) / (1 - tau), "bound_se": L_un1_se / (1 - tau)}
    if objective and objective.block > 1:  # the bound with the block's own loss
        row |= {"bound_block": (L_un - tau) / (1 - tau), "bound_block_se": L_un_se / (1 - tau)}
    mean_set, val, test, pool = (featurise(f, p) for p in (heldout.mean_set, heldout.val, heldout.test,
                                                           heldout.train_pool))
    row |= mean_classifier_tasks(mean_set, test, source.rho)
    row |= linear_tasks(mean_set, val, test, heldout.pairs, seed)
    row["curves"] = sample_complexity(pool, val, test, labels_per_class, len(source.rho), seed)
    return row
