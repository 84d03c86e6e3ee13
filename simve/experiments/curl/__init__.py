"""Arora et al. (ICML 2019): contrastive learning on latent classes, the mean classifier and its bound.

Encoders (:mod:`simve.experiments.curl.nets`) trained on latent classes (:mod:`simve.experiments.curl.data`) with k in
``negatives`` negatives or a block of b in ``blocks`` (k = 1), a supervised one (a linear head, cross-entropy),
the untrained one and the raw input, measured on held-out data (:mod:`simve.experiments.curl.measure`): contrastive
losses, the bound L_sup^mu <= (L_un^(1) - tau)/(1 - tau), mean-classifier and linear-probe accuracy, and the
labelled sample complexity (n in ``labels_per_class`` labels per class). Mean ± sample std over ``seeds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from simve.errors import SimveError
from simve.experiments.common import experiment, write_experiment
from simve.experiments.curl.data import LatentClasses, Objective
from simve.experiments.curl.figures import plot_negatives, plot_sample_complexity
from simve.experiments.curl.measure import CHUNKS, Heldout, contrastive_loss, measure
from simve.experiments.curl.nets import SphereMLP
from simve.runs import timer
from simve.stats import mean_std, plus_minus
from simve.train import fit

RAW, UNTRAINED, SUPERVISED = "raw input", "untrained encoder", "supervised encoder"
METRICS = ("L_un", "L_un1", "L_sup_mu", "bound", "two_way_mean", "two_way_linear", "c_way_mean", "c_way_linear")


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


def objectives(s: Settings) -> list[Objective]:
    return [Objective(k) for k in s.negatives] + [Objective(1, b) for b in s.blocks]


def untrained(s: Settings, seed: int) -> SphereMLP:
    """The encoder of the settings, initialised from ``seed`` (the start of every trained one)."""
    torch.manual_seed(seed)
    return SphereMLP(s.input_dim, s.hidden, s.feature_dim, s.radius)


def train_contrastive(source: LatentClasses, objective: Objective, s: Settings, seed: int) -> SphereMLP:
    f, g = untrained(s, seed), torch.Generator().manual_seed(10_000 + seed)
    return fit(f, lambda: contrastive_loss(f, source.tuples(s.batch_size, objective, g)), s.steps, s.lr).eval()


def train_supervised(source: LatentClasses, s: Settings, seed: int) -> SphereMLP:
    """The net and a linear head, cross-entropy on as many fresh labelled points as k = ``curve_negatives`` tuples."""
    f, g = untrained(s, seed), torch.Generator().manual_seed(10_000 + seed)
    head = nn.Linear(s.feature_dim, s.classes)

    def batch_loss() -> Tensor:
        y = source.classes((s.batch_size * (2 + s.curve_negatives),), g)
        return nn.functional.cross_entropy(head(f(source.points(y, g))), y)

    fit(nn.ModuleList([f, head]), batch_loss, s.steps, s.lr)
    return f.eval()


def run_seed(s: Settings, seed: int, progress) -> tuple[dict[str, dict], dict]:
    """Train every encoder of one seed and evaluate every representation: rows by name, and the data facts."""
    generator = torch.Generator().manual_seed(seed)
    source = LatentClasses.draw(s.classes, s.input_dim, s.separation, s.class_skew, s.noise, generator)
    heldout = Heldout.draw(source, objectives(s), s.heldout_per_class, max(s.labels_per_class), s.heldout_tuples,
                           s.pairs, generator)

    def row(f, objective: Objective | None = None) -> dict:
        return measure(f, objective, source, heldout, s.labels_per_class, seed)

    rows = {}
    for objective in objectives(s):
        rows[objective.name] = row(train_contrastive(source, objective, s, seed), objective)
        progress.update()
    rows[SUPERVISED] = row(train_supervised(source, s, seed))
    progress.update()
    rows[UNTRAINED], rows[RAW] = row(untrained(s, seed).eval()), row(nn.Identity())
    collisions = heldout.tuples[Objective(1)].collides.float().mean()
    return rows, {"tau": source.tau, "collision_rate": float(collisions), "rho": source.rho}


def summarise(per_seed: list[dict[str, dict]]) -> tuple[dict, dict]:
    """Mean and std over seeds of every metric, and of every point of the sample-complexity curves."""
    summary = {n: {m: mean_std([rows[n][m] for rows in per_seed]) for m in (*METRICS, "bound_block")
                   if m in per_seed[0][n]} for n in per_seed[0]}
    curves = {n: {probe: [mean_std(list(points)) for points in zip(*(rows[n]["curves"][probe] for rows in per_seed))]
                  for probe in ("mean", "linear")} for n in per_seed[0]}
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
    s, out_dir = settings, Path(out_dir)
    check_settings(s)
    elapsed = timer()
    with tqdm(total=s.seeds * (len(objectives(s)) + 1), desc="curl: encoders trained", unit="encoder") as progress:
        per_seed, facts = map(list, zip(*(run_seed(s, seed, progress) for seed in range(s.seeds))))
    summary, curves = summarise(per_seed)
    results = {"tau": facts[0]["tau"], "collision_rate": mean_std([f["collision_rate"] for f in facts]),
               "rho": facts[0]["rho"], "summary": summary, "curves": curves, "bound_check": bound_check(per_seed),
               "per_seed": per_seed}
    by_k, by_block = [(k, Objective(k).name) for k in s.negatives], [(b, Objective(1, b).name) for b in (1, *s.blocks)]
    results["figures"] = [path.name for path in (
        plot_sample_complexity(curves, _curve_names(s), s.labels_per_class, s.classes, out_dir / "sample_complexity.png"),
        plot_negatives(summary, by_k, by_block if s.blocks else [], results["tau"], out_dir / "negatives.png"))]
    write_experiment(out_dir, "curl", s, command, elapsed(), table(s, results), results)
    return results


def _curve_names(s: Settings) -> list[str]:
    return [Objective(s.curve_negatives).name, SUPERVISED, UNTRAINED, RAW]


def table(s: Settings, results: dict) -> str:
    summary, curves, tau = results["summary"], results["curves"], results["tau"]
    lines = [
        (f"Latent classes: C = {s.classes}, D = {s.input_dim}, ||m_c|| = {s.separation}, sigma = {s.noise}, "
        f"class_skew = {s.class_skew}; encoder {s.input_dim}-{s.hidden}-{s.feature_dim} on the sphere of radius "
        f"R = {s.radius}; {s.steps} Adam steps of {s.batch_size} fresh tuples; {s.seeds} seeds (mean ± sample std). "
        f"Losses in bits (logistic loss with log2, l(0) = 1). tau = sum rho^2 = {tau:.4f}; held-out k = 1 tuples "
        f"collide at {plus_minus(results['collision_rate'])}."),
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
        losses_ = [plus_minus(row[m]) for m in ("L_un", "L_un1", "L_sup_mu", "bound")]
        accuracies = [plus_minus(row[m], 100, 1) for m in METRICS[4:]]
        lines.append(f"| {name} | {' | '.join(losses_ + accuracies)} |")
    lines += ["", (f"Labelled sample complexity: C-way test accuracy (%) with n labels per class (the linear probe "
              f"chooses its l2 on n more per class); chance {100 / s.classes:.1f} %."), "",
              "| representation | probe | " + " | ".join(f"n = {n}" for n in s.labels_per_class) + " |",
              "|---|---|" + "---|" * len(s.labels_per_class)]
    for name in _curve_names(s):
        for probe in ("mean", "linear"):
            cells = " | ".join(plus_minus(point, 100, 1) for point in curves[name][probe])
            lines.append(f"| {name} | {probe} | {cells} |")
    return "\n".join(lines + ["", "What it shows:", ""] + findings(s, results, results["bound_check"])) + "\n"


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
    best = max(((o.name, 100 * summary[o.name]["c_way_mean"]["mean"]) for o in objectives(s)), key=lambda p: p[1])

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

