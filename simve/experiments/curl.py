"""Arora et al. (ICML 2019): contrastive learning on latent classes, the mean classifier and its bound.

Data (latent classes). C classes with probabilities rho (uniform, or rho(c) ∝ c^-s with ``class_skew``
s > 0); class c has a mean m_c = r u_c (u_c a random unit vector of R^D, r = ``separation``) and
D_c = N(m_c, sigma^2 I_D). A similar pair is x, x+ ~ D_c with c ~ rho; each negative x-_i ~ D_{c_i}
with c_i ~ rho drawn afresh, so a negative shares the anchor's class with probability
tau = P(c- = c) = sum_c rho(c)^2 (1/C when rho is uniform). Unlabelled data are unlimited: every
training step draws fresh tuples, so what varies in the downstream tasks is the number of labels.

Encoder. f(x) = R g(x) / ||g(x)||, g an MLP D -> hidden -> d (ReLU): f lives on the sphere of
radius R, the paper's assumption ||f(x)|| <= R (as in simve/models/curl.py). It is trained with

    k negatives:  L_un(f) = E[ l({ f(x)^T (f(x+) - f(x-_i)) }_{i=1..k}) ]
    block of b:   L_un^block(f) = E[ l( f(x)^T (mean_j f(x+_j) - mean_j f(x-_j)) ) ],  j = 1..b,

x+_j ~ D_c and x-_j ~ D_{c-} (one negative class), with the logistic loss l(v) = log2(1 + sum_i
exp(-v_i)) (``simve.losses.contrastive_negatives`` / ``contrastive_block``, which use the natural
logarithm; every loss here is divided by ln 2 so that l(0) = 1 for k = 1 as in the paper).

Downstream. The mean classifier of f has the class means W_c = mu_c = E_{x~D_c} f(x) as weights and
predicts argmax_c W_c^T f(x); its supervised loss averaged over the 2-way tasks {c, c'} is

    L_sup^mu(f) = sum_{c != c'} rho(c) rho(c') / (1 - tau) E_{x~D_c}[ l(W_c^T f(x) - W_c'^T f(x)) ].

For k = 1 and any f, L_un(f) = (1 - tau) L_un^{≠}(f) + tau L_un^{=}(f), Jensen's inequality over x+
and x- gives L_un^{≠}(f) >= L_sup^mu(f) and L_un^{=}(f) >= l(0) = 1, hence the paper's bound

    L_sup^mu(f) <= (L_un(f) - tau) / (1 - tau),

an inequality between expectations that holds for every f (trained or not, even the raw input). It
is checked on held-out data for every representation, with the k = 1 loss L_un^(1)(f): mu_c from a
labelled held-out set, L_sup^mu on a separate test set, L_un^(1) on fresh held-out tuples (its
standard error from 20 equal chunks). Estimating mu_c from finitely many points can only raise the
expected L_sup^mu (l is convex in W), so the check errs on the strict side. The bound holds with the
block loss as well, and is tighter there: for the same f, L_un^block(f) <= L_un^(1)(f) (Jensen
again, a mean of b draws is less spread).

What is measured, per seed (mean ± std over seeds):
- for k in ``negatives``, each block size b in ``blocks`` (with k = 1), a supervised encoder (the
  same net plus a linear head, cross-entropy on fresh labelled draws, per step as many points as a
  batch of k = ``curve_negatives`` tuples holds), the untrained encoder and the raw input: the
  held-out L_un of its own objective (L_un^(1) for the last three), L_un^(1), L_sup^mu, the bound,
  2-way and C-way accuracy of the mean classifier (mu from ``heldout_per_class`` labelled points per
  class) and of a linear probe (trained on the same points, l2 chosen on ``max(labels_per_class)``
  validation points per class; the 2-way probe on ``pairs`` random pairs of classes);
- labelled sample complexity: C-way test accuracy against n labels per class (n in
  ``labels_per_class``) for the mean classifier and the linear probe (fitted on n points per class,
  l2 chosen on n further labelled points per class) on the contrastive features (k =
  ``curve_negatives``), the supervised encoder, the untrained encoder and the raw input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from simve import losses
from simve.errors import SimveError
from simve.evaluate.probes import linear_probe, mean_classifier, mean_probe
from simve.experiments.common import experiment, mean_std, plus_minus, timer, write_outputs

LN2 = math.log(2)
CHUNKS = 20  # held-out L_un is averaged over this many equal chunks; their spread gives its standard error


@dataclass
class Settings:
    classes: int = 32
    input_dim: int = 128
    separation: float = 3.0
    noise: float = 1.0
    class_skew: float = 0.0
    hidden: int = 128
    feature_dim: int = 32
    radius: float = 3.0
    negatives: tuple[int, ...] = (1, 2, 4, 8, 16)
    blocks: tuple[int, ...] = (2, 4, 8)
    curve_negatives: int = 4
    labels_per_class: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-3
    heldout_per_class: int = 400
    heldout_tuples: int = 20000
    pairs: int = 20
    seeds: int = 3


def check_settings(s: Settings) -> None:
    """Raise :class:`SimveError` for settings that cannot run, before any work."""
    at_least = {"classes": 2, "input_dim": 1, "hidden": 1, "feature_dim": 1, "steps": 1, "batch_size": 1,
                "heldout_per_class": 2, "heldout_tuples": CHUNKS, "pairs": 0, "seeds": 1}
    for name, least in at_least.items():
        if getattr(s, name) < least:
            raise SimveError(f"curl: {name} must be at least {least}, got {getattr(s, name)}")
    for name in ("separation", "noise", "radius", "lr"):
        if not getattr(s, name) > 0:
            raise SimveError(f"curl: {name} must be positive, got {getattr(s, name)}")
    if not s.class_skew >= 0:
        raise SimveError(f"curl: class_skew must be >= 0 (0 is uniform rho), got {s.class_skew}")
    if not s.negatives or min(s.negatives) < 1:
        raise SimveError(f"curl: negatives must list numbers of negatives >= 1, got {s.negatives}")
    if s.blocks and min(s.blocks) < 2:
        raise SimveError(f"curl: block sizes must be >= 2 (a block of 1 is k = 1), got {s.blocks}")
    if s.curve_negatives not in s.negatives:
        raise SimveError(f"curl: curve_negatives ({s.curve_negatives}) must be one of negatives {s.negatives}")
    if not s.labels_per_class or min(s.labels_per_class) < 1:
        raise SimveError(f"curl: labels_per_class must list counts >= 1, got {s.labels_per_class}")
    if s.pairs > s.classes * (s.classes - 1) // 2:
        raise SimveError(f"curl: pairs ({s.pairs}) exceeds the {s.classes * (s.classes - 1) // 2} pairs of classes")


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Objective:
    """k negatives of one point each (block = 1), or one negative block of ``block`` points (k = 1)."""

    negatives: int
    block: int = 1

    @property
    def name(self) -> str:
        return f"contrastive k={self.negatives}" if self.block == 1 else f"contrastive block b={self.block}"


@dataclass(frozen=True)
class Tuples:
    anchor: Tensor  # (n, D)
    positives: Tensor  # (n, b, D)
    negatives: Tensor  # (n, k, b, D)
    collides: Tensor  # (n, k) bool: negative class == anchor class

    def rows(self, index: Tensor) -> Tuples:
        return Tuples(self.anchor[index], self.positives[index], self.negatives[index], self.collides[index])


@dataclass(frozen=True)
class LatentClasses:
    means: Tensor  # (C, D)
    rho: Tensor  # (C,)
    noise: float

    @classmethod
    def draw(cls, s: Settings, generator: torch.Generator) -> LatentClasses:
        means = s.separation * F.normalize(torch.randn(s.classes, s.input_dim, generator=generator), dim=1)
        weights = torch.arange(1, s.classes + 1, dtype=torch.float64) ** -s.class_skew
        return cls(means, (weights / weights.sum()).float(), s.noise)

    @property
    def tau(self) -> float:
        return float((self.rho.double() ** 2).sum())

    def classes(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.multinomial(self.rho, math.prod(shape), replacement=True, generator=generator).view(shape)

    def points(self, classes: Tensor, generator: torch.Generator) -> Tensor:
        noise = torch.randn(*classes.shape, self.means.shape[1], generator=generator)
        return self.means[classes] + self.noise * noise

    def labelled(self, per_class: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``per_class`` points of every class, classes cycling (0, 1, .., C-1, 0, ..): the first n C rows
        hold n points per class, so smaller labelled sets are nested in larger ones."""
        y = torch.arange(len(self.rho)).repeat(per_class)
        return self.points(y, generator), y

    def tuples(self, n: int, objective: Objective, generator: torch.Generator) -> Tuples:
        c = self.classes((n,), generator)
        negative = self.classes((n, objective.negatives), generator)
        positives = self.points(c[:, None].expand(n, objective.block), generator)
        negatives = self.points(negative[:, :, None].expand(n, objective.negatives, objective.block), generator)
        return Tuples(self.points(c, generator), positives, negatives, negative == c[:, None])


# ---------------------------------------------------------------------------------------------- encoders


class SphereMLP(nn.Module):
    """f(x) = R g(x) / ||g(x)||, g: D -> hidden -> d with a ReLU; any leading dimensions."""

    def __init__(self, s: Settings):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(s.input_dim, s.hidden), nn.ReLU(), nn.Linear(s.hidden, s.feature_dim))
        self.radius = s.radius

    def forward(self, x: Tensor) -> Tensor:
        return self.radius * F.normalize(self.g(x), dim=-1)


def contrastive_loss(f, batch: Tuples) -> Tensor:
    """The objective the tuples were drawn for, in nats: k negatives, or one block when b > 1."""
    anchor = f(batch.anchor)
    if batch.positives.shape[1] > 1:
        return losses.contrastive_block(anchor, f(batch.positives), f(batch.negatives[:, 0]), "logistic")
    return losses.contrastive_negatives(anchor, f(batch.positives[:, 0]), f(batch.negatives[:, :, 0]), "logistic")


def _optimise(module: nn.Module, batch_loss, s: Settings, generator: torch.Generator) -> None:
    optimiser = torch.optim.Adam(module.parameters(), lr=s.lr)
    for _ in range(s.steps):
        loss = batch_loss(generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def train_contrastive(source: LatentClasses, objective: Objective, s: Settings, seed: int) -> SphereMLP:
    torch.manual_seed(seed)
    f = SphereMLP(s)
    _optimise(f, lambda g: contrastive_loss(f, source.tuples(s.batch_size, objective, g)), s,
              torch.Generator().manual_seed(10_000 + seed))
    return f.eval()


def train_supervised(source: LatentClasses, s: Settings, seed: int) -> SphereMLP:
    """The same net with a linear head on f, cross-entropy on labelled draws (as many as the points of
    the k = ``curve_negatives`` tuples)."""
    torch.manual_seed(seed)
    f = SphereMLP(s)
    head = nn.Linear(s.feature_dim, s.classes)
    batch = s.batch_size * (2 + s.curve_negatives)

    def batch_loss(g: torch.Generator) -> Tensor:
        y = source.classes((batch,), g)
        return F.cross_entropy(head(f(source.points(y, g))), y)

    _optimise(nn.ModuleList([f, head]), batch_loss, s, torch.Generator().manual_seed(10_000 + seed))
    return f.eval()


def untrained(s: Settings, seed: int) -> SphereMLP:
    torch.manual_seed(seed)
    return SphereMLP(s).eval()


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Heldout:
    """Held-out data of one seed, shared by every representation."""

    mean_set: tuple[Tensor, Tensor]  # heldout_per_class points per class: mu_c, and the probes' training set
    val: tuple[Tensor, Tensor]  # max(labels_per_class) per class: the probes' l2
    test: tuple[Tensor, Tensor]  # heldout_per_class per class
    train_pool: tuple[Tensor, Tensor]  # max(labels_per_class) per class, nested: the sample-complexity curves
    tuples: dict[Objective, Tuples]  # fresh held-out tuples for every objective (k = 1 included)
    pairs: list[tuple[int, int]]  # the 2-way tasks of the linear probe

    @classmethod
    def draw(cls, source: LatentClasses, objectives: list[Objective], s: Settings, generator: torch.Generator):
        most = max(s.labels_per_class)
        mean_set, val = source.labelled(s.heldout_per_class, generator), source.labelled(most, generator)
        test, train_pool = source.labelled(s.heldout_per_class, generator), source.labelled(most, generator)
        tuples = {o: source.tuples(s.heldout_tuples, o, generator) for o in dict.fromkeys([Objective(1), *objectives])}
        every_pair = torch.combinations(torch.arange(s.classes), 2)
        chosen = every_pair[torch.randperm(len(every_pair), generator=generator)[: s.pairs]]
        return cls(mean_set, val, test, train_pool, tuples, [tuple(p) for p in chosen.tolist()])


def heldout_loss(f, batch: Tuples, keep: Tensor | None = None) -> tuple[float, float]:
    """Mean and standard error (over ``CHUNKS`` chunks) of the contrastive loss in bits, on the rows ``keep``."""
    rows = torch.arange(len(batch.anchor)) if keep is None else keep.nonzero().squeeze(1)
    with torch.no_grad():
        values = torch.tensor([float(contrastive_loss(f, batch.rows(part))) / LN2 for part in rows.chunk(CHUNKS)])
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def mean_classifier_tasks(train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], rho: Tensor) -> dict:
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


def _restrict(part: tuple[Tensor, Tensor], pair: tuple[int, int]) -> tuple[Tensor, Tensor]:
    x, y = part
    keep = (y == pair[0]) | (y == pair[1])
    return x[keep], y[keep]


def linear_tasks(train, val, test, pairs: list[tuple[int, int]], seed: int) -> dict:
    """Linear-probe test accuracy on the C-way task and averaged over the 2-way tasks ``pairs``."""
    two_way = [linear_probe(*(_restrict(p, pair) for p in (train, val, test)), seed=seed)["test_accuracy"]
               for pair in pairs]
    return {"c_way_linear": linear_probe(train, val, test, seed=seed)["test_accuracy"],
            "two_way_linear": sum(two_way) / len(two_way) if two_way else math.nan}


def featurise(f, part: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        return f(part[0]).float(), part[1]


def evaluate(f, objective: Objective | None, source: LatentClasses, heldout: Heldout, s: Settings, seed: int) -> dict:
    """Every number of one representation f (``objective``: its training objective, None for the others)."""
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
    row["curves"] = sample_complexity(pool, val, test, s, seed)
    return row


def sample_complexity(pool, val, test, s: Settings, seed: int) -> dict[str, list[float]]:
    """C-way test accuracy of the mean classifier and the linear probe with n labelled points per class
    (the first n C rows of the nested feature pools: n to fit, n more to choose the probe's l2)."""
    curves = {"mean": [], "linear": []}
    for n in s.labels_per_class:
        rows = n * s.classes
        train_n, val_n = (pool[0][:rows], pool[1][:rows]), (val[0][:rows], val[1][:rows])
        curves["mean"].append(mean_probe(train_n, val_n, test)["test_accuracy"])
        curves["linear"].append(linear_probe(train_n, val_n, test, seed=seed)["test_accuracy"])
    return curves


# ---------------------------------------------------------------------------------------------- run

RAW, UNTRAINED, SUPERVISED = "raw input", "untrained encoder", "supervised encoder"
METRICS = ("L_un", "L_un1", "L_sup_mu", "bound", "two_way_mean", "two_way_linear", "c_way_mean", "c_way_linear")
BLOCK_METRICS = ("bound_block",)


def objectives(s: Settings) -> list[Objective]:
    return [Objective(k) for k in s.negatives] + [Objective(1, b) for b in s.blocks]


def run_seed(s: Settings, seed: int, progress) -> tuple[dict[str, dict], dict]:
    """Train every encoder of one seed and evaluate every representation: rows by name, and the data facts."""
    generator = torch.Generator().manual_seed(seed)
    source = LatentClasses.draw(s, generator)
    heldout = Heldout.draw(source, objectives(s), s, generator)
    rows = {}
    for objective in objectives(s):
        rows[objective.name] = evaluate(train_contrastive(source, objective, s, seed), objective, source, heldout, s,
                                        seed)
        progress.update()
    rows[SUPERVISED] = evaluate(train_supervised(source, s, seed), None, source, heldout, s, seed)
    progress.update()
    rows[UNTRAINED] = evaluate(untrained(s, seed), None, source, heldout, s, seed)
    rows[RAW] = evaluate(nn.Identity(), None, source, heldout, s, seed)
    collisions = heldout.tuples[Objective(1)].collides.float().mean()
    return rows, {"tau": source.tau, "collision_rate": float(collisions), "rho": source.rho}


def summarise(per_seed: list[dict[str, dict]]) -> tuple[dict, dict]:
    """Mean and std over seeds of every metric, and of every point of the sample-complexity curves."""
    names = list(per_seed[0])
    summary = {n: {m: mean_std([rows[n][m] for rows in per_seed]) for m in (*METRICS, *BLOCK_METRICS)
                   if m in per_seed[0][n]} for n in names}
    curves = {n: {probe: [mean_std(list(points)) for points in zip(*(rows[n]["curves"][probe] for rows in per_seed))]
                  for probe in ("mean", "linear")} for n in names}
    return summary, curves


def bound_check(per_seed: list[dict[str, dict]]) -> dict:
    """Slack of the bound, (L_un - tau)/(1 - tau) - L_sup^mu, in every (representation, seed), with L_un the
    k = 1 loss and, for blocks, also the block loss; the slack also in standard errors of the L_un estimate."""
    cases = [{"representation": name, "seed": seed, "loss": "block" if key == "bound_block" else "k = 1",
              "slack": row[key] - row["L_sup_mu"],
              "slack_in_standard_errors": (row[key] - row["L_sup_mu"]) / max(row[f"{key}_se"], 1e-12)}
             for seed, rows in enumerate(per_seed) for name, row in rows.items()
             for key in ("bound", "bound_block") if key in row]
    return {"holds": sum(case["slack"] >= 0 for case in cases), "cases": len(cases),
            "tightest": min(cases, key=lambda case: case["slack_in_standard_errors"])}


@experiment("curl", Settings, "Arora et al. 2019: contrastive loss with k negatives and blocks on latent classes; "
            "the mean classifier, its bound and labelled sample complexity")
def run(settings: Settings, out_dir: Path, command: str) -> dict:
    check_settings(settings)
    elapsed = timer()
    trainings = len(objectives(settings)) + 1
    per_seed, facts = [], []
    with tqdm(total=settings.seeds * trainings, desc="curl: encoders trained", unit="encoder") as progress:
        for seed in range(settings.seeds):
            rows, data = run_seed(settings, seed, progress)
            per_seed.append(rows)
            facts.append(data)
    summary, curves = summarise(per_seed)
    results = {"tau": facts[0]["tau"], "collision_rate": mean_std([f["collision_rate"] for f in facts]),
               "rho": facts[0]["rho"], "summary": summary, "curves": curves, "bound_check": bound_check(per_seed),
               "per_seed": per_seed}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results["figures"] = [plot_sample_complexity(settings, curves, out_dir / "sample_complexity.png").name,
                          plot_negatives(settings, summary, results["tau"], out_dir / "negatives.png").name]
    write_outputs(out_dir, "curl", settings, command, elapsed(), table(settings, results), results)
    return results


# ---------------------------------------------------------------------------------------------- table


def _cell(stats: dict[str, float], percent: bool = False) -> str:
    return plus_minus(stats, 100, 1) if percent else plus_minus(stats)


def _curve_names(s: Settings) -> list[str]:
    return [Objective(s.curve_negatives).name, SUPERVISED, UNTRAINED, RAW]


def table(s: Settings, results: dict) -> str:
    summary, curves, check = results["summary"], results["curves"], results["bound_check"]
    tau, collisions = results["tau"], results["collision_rate"]
    lines = [
        (f"Latent classes: C = {s.classes}, D = {s.input_dim}, ||m_c|| = {s.separation}, sigma = {s.noise}, "
        f"class_skew = {s.class_skew}; encoder {s.input_dim}-{s.hidden}-{s.feature_dim} on the sphere of radius "
        f"R = {s.radius}; {s.steps} Adam steps of {s.batch_size} fresh tuples; {s.seeds} seeds (mean ± std). "
        f"Losses in bits (logistic loss with log2, l(0) = 1). tau = sum rho^2 = {tau:.4f}; held-out k = 1 tuples "
        f"collide at {_cell(collisions)}."),
        "",
        ("Mean classifier: W_c = class means of f over "
        f"{s.heldout_per_class} labelled held-out points per class; the linear probe is trained on the same "
        f"points. L_un: each row's own objective; L_un^(1): the k = 1 loss of the same f; 2-way: averaged over "
        f"all pairs (mean classifier) or {s.pairs} random pairs (linear probe). Accuracies in %."),
        "",
        ("| representation | L_un (own) | L_un^(1) | L_sup^mu (2-way) | (L_un^(1) - tau)/(1 - tau) | 2-way mean | "
        "2-way linear | C-way mean | C-way linear |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        losses_ = [_cell(row[m]) for m in ("L_un", "L_un1", "L_sup_mu", "bound")]
        accuracies = [_cell(row[m], percent=True) for m in METRICS[4:]]
        lines.append(f"| {name} | {' | '.join(losses_ + accuracies)} |")
    lines += ["", (f"Labelled sample complexity: C-way test accuracy (%) with n labels per class (the linear probe "
              f"chooses its l2 on n more per class); chance {100 / s.classes:.1f} %."), "",
              "| representation | probe | " + " | ".join(f"n = {n}" for n in s.labels_per_class) + " |",
              "|---|---|" + "---|" * len(s.labels_per_class)]
    for name in _curve_names(s):
        for probe in ("mean", "linear"):
            cells = " | ".join(_cell(point, percent=True) for point in curves[name][probe])
            lines.append(f"| {name} | {probe} | {cells} |")
    return "\n".join(lines + ["", "What it shows:", ""] + findings(s, results, check)) + "\n"


def findings(s: Settings, results: dict, check: dict) -> list[str]:
    """Sentences computed from the numbers."""
    summary, curves = results["summary"], results["curves"]
    contrastive, fewest = Objective(s.curve_negatives).name, s.labels_per_class[0]

    def at(name: str, i: int, probe: str = "mean") -> float:
        return 100 * curves[name][probe][i]["mean"]

    catch_up = [n for i, n in enumerate(s.labels_per_class) if at(RAW, i) >= at(contrastive, 0)]
    raw_needs = (f"the raw input needs n = {catch_up[0]} to match it" if catch_up else
                 f"the raw input stays below it up to n = {s.labels_per_class[-1]}")
    tightest = check["tightest"]
    accuracy = [(o.name, 100 * summary[o.name]["c_way_mean"]["mean"]) for o in objectives(s)]
    best = max(accuracy, key=lambda pair: pair[1])

    def listing(objectives_: list[Objective], metric: str, scale: float = 1, digits: int = 3) -> str:
        return ", ".join(f"{scale * summary[o.name][metric]['mean']:.{digits}f}" for o in objectives_)

    by_k = [Objective(k) for k in s.negatives]
    lines = [
        (f"- With n = {fewest} label(s) per class the mean classifier reaches {at(contrastive, 0):.1f} % on the "
         f"contrastive features (k = {s.curve_negatives}), {at(SUPERVISED, 0):.1f} % on the supervised encoder, "
         f"{at(UNTRAINED, 0):.1f} % on the untrained encoder and {at(RAW, 0):.1f} % on the raw input; {raw_needs}."),
        (f"- The bound L_sup^mu <= (L_un - tau)/(1 - tau) holds in {check['holds']} of {check['cases']} cases "
         f"(every representation and seed with L_un the k = 1 loss, and the block rows with their block loss); the "
         f"tightest is {tightest['representation']} (seed {tightest['seed']}, {tightest['loss']} loss), slack "
         f"{tightest['slack']:.3f} bits = {tightest['slack_in_standard_errors']:.1f} standard errors."),
        (f"- For k = {', '.join(map(str, s.negatives))} negatives: L_un^(1) {listing(by_k, 'L_un1')}, L_sup^mu "
         f"{listing(by_k, 'L_sup_mu')} bits; C-way mean-classifier accuracy {listing(by_k, 'c_way_mean', 100, 1)} "
         f"%. The best contrastive setting is {best[0]} ({best[1]:.1f} %), the supervised encoder reaches "
         f"{100 * summary[SUPERVISED]['c_way_mean']['mean']:.1f} % and the raw input "
         f"{100 * summary[RAW]['c_way_mean']['mean']:.1f} % with {s.heldout_per_class} labels per class."),
    ]
    if s.blocks:
        by_b, single = [Objective(1, b) for b in s.blocks], summary[Objective(1).name]
        tighter = all(summary[o.name]["bound_block"]["mean"] < summary[o.name]["bound"]["mean"] for o in by_b)
        lines.append(
            f"- Blocks of b = {', '.join(map(str, s.blocks))} similar points (k = 1): L_sup^mu "
            f"{listing(by_b, 'L_sup_mu')} bits against {single['L_sup_mu']['mean']:.3f} for single points; the bound "
            f"with their own block loss is {listing(by_b, 'bound_block')} bits, "
            f"{'tighter than' if tighter else 'not always below'} the one with their k = 1 loss "
            f"({listing(by_b, 'bound')}); C-way mean-classifier accuracy {listing(by_b, 'c_way_mean', 100, 1)} % "
            f"against {100 * single['c_way_mean']['mean']:.1f} %.")
    return lines


# ---------------------------------------------------------------------------------------------- figures


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_sample_complexity(s: Settings, curves: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    colours = dict(zip(_curve_names(s), ("tab:blue", "tab:green", "0.6", "tab:red")))
    for ax, probe, title in zip(axes, ("mean", "linear"), ("mean classifier", "linear probe")):
        for name, colour in colours.items():
            mean = [100 * p["mean"] for p in curves[name][probe]]
            std = [100 * p["std"] for p in curves[name][probe]]
            ax.errorbar(s.labels_per_class, mean, yerr=std, marker="o", ms=4, capsize=3, color=colour, label=name)
        ax.axhline(100 / s.classes, color="k", ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_xticks(s.labels_per_class, [str(n) for n in s.labels_per_class])
        ax.set_xlabel("labelled points per class")
        ax.set_title(f"{s.classes}-way task, {title}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, -0.06))
    return _save(fig, path)


def plot_negatives(s: Settings, summary: dict, tau: float, path: Path) -> Path:
    """Accuracy, L_un and the bound against k negatives (solid) and block size b with k = 1 (dashed)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    sweeps = [("k negatives", "-", "o", [(k, Objective(k).name) for k in s.negatives])]
    if s.blocks:
        sweeps.append(("block of b, k = 1", "--", "s", [(b, Objective(1, b).name) for b in (1, *s.blocks)]))
    panels = [
        (axes[0], "downstream accuracy", 100, "test accuracy (%)",
         (("c_way_mean", "C-way mean classifier", "tab:blue"), ("c_way_linear", "C-way linear probe", "tab:orange"))),
        (axes[1], "held-out contrastive loss", 1, "loss (bits)",
         (("L_un", "L_un (own objective)", "tab:purple"), ("L_un1", "L_un^(1) (k = 1 loss)", "tab:brown"))),
        (axes[2], f"the bound (tau = {tau:.3f}) and the mean classifier's loss", 1, "loss (bits)",
         (("bound", "(L_un^(1) - tau)/(1 - tau)", "tab:red"), ("L_sup_mu", "L_sup^mu (2-way)", "tab:green"))),
    ]
    for ax, title, scale, ylabel, metrics in panels:
        for metric, label, colour in metrics:
            for sweep, style, marker, points in sweeps:
                _sweep_line(ax, summary, [(x, name, metric) for x, name in points], scale, ls=style, marker=marker,
                            color=colour, label=f"{label}, {sweep}")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
    if s.blocks:
        own_loss = [(1, Objective(1).name, "bound")] + [(b, Objective(1, b).name, "bound_block") for b in s.blocks]
        _sweep_line(axes[2], summary, own_loss, 1, ls=":", marker="^", color="tab:red",
                    label="(L_un^block - tau)/(1 - tau), block of b, k = 1")
    ticks = sorted({1, *s.negatives, *s.blocks})
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("k negatives, or block size b")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    return _save(fig, path)


def _sweep_line(ax, summary: dict, points: list[tuple[int, str, str]], scale: float, **style) -> None:
    """One line of a sweep through ``points`` (x, row name, metric), mean ± std over seeds."""
    mean = [scale * summary[name][metric]["mean"] for _, name, metric in points]
    std = [scale * summary[name][metric]["std"] for _, name, metric in points]
    ax.errorbar([x for x, _, _ in points], mean, yerr=std, ms=4, capsize=3, **style)
