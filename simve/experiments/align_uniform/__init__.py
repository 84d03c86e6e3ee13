"""Wang & Isola (ICML 2020): alignment and uniformity on the hypersphere track downstream accuracy.

    L_align   = E_{(x, x+) ~ p_pos} || f(x) - f(x+) ||_2^2                 in [0, 4]
    L_uniform = log E_{x, y ~ p_data, x != y} exp(-2 || f(x) - f(y) ||_2^2)   in [-8, 0]

on l2-normalised features. The paper trains many encoders, finds that lower L_align and L_uniform go
with a higher linear-probe accuracy, and that training on ``L_align + w * L_uniform`` alone matches
or beats the contrastive loss. The study trains a grid of encoders on the glyphs through the run
layer (:mod:`simve.runs`), each configuration over several seeds: SimCLR at several temperatures,
align-uniform at several ``uniform_weight``, ``uniform_t``, ``align_alpha`` and budgets, SimVE and the
VAE; measures each (:mod:`simve.experiments.align_uniform.measure`: both metrics on validation features of the
representation and of the loss space, linear-probe test accuracy on the content); and reports the
rank correlations, the best align-uniform against the best SimCLR (best: mean *validation* accuracy)
at each budget, and the collapsed encoders. A configuration is ``METHOD[:KNOB=VALUE...]`` with the
model's options and ``epochs`` as knobs: ``simclr:temperature=0.1``, ``align-uniform:uniform_weight=4:epochs=1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from simve.errors import SimveError
from simve.experiments.align_uniform.figures import save_figure
from simve.experiments.align_uniform.measure import (
    CONTRASTIVE,
    MEASURE_KEY,
    METRICS,
    SPACES,
    collapse,
    compare,
    correlations,
    measure,
    trade_off,
)
from simve.experiments.common import experiment, write_experiment
from simve.models import MODELS, build_model
from simve.runs import Variant, Workspace, evaluated, parse_variant, run_folder, timer
from simve.stats import mean_std, plus_minus
from simve.train import TrainConfig

NAME = "align-uniform"
FIGURE_NOTE = ("Figure: `align_uniform.png`, one row per feature space (representation, loss space): L_align "
               "against L_uniform coloured by accuracy, marker by method (the paper's figure), then accuracy against "
               "each metric; one point per encoder.")

DEFAULT_GRID = (
    "simclr:temperature=0.05", "simclr:temperature=0.1", "simclr:temperature=0.2", "simclr:temperature=0.5",
    "simclr:temperature=0.2:epochs=1",
    "align-uniform", "align-uniform:uniform_weight=0.1", "align-uniform:uniform_weight=0.3",
    "align-uniform:uniform_weight=4", "align-uniform:uniform_t=1", "align-uniform:align_alpha=1",
    "align-uniform:epochs=1",
    "simve", "vae",
)


@dataclass
class Settings:
    seeds: int = 3
    limit: int = 3000
    epochs: int = 3
    batch_size: int = 64
    grid: tuple[str, ...] = field(default=DEFAULT_GRID, metadata={
        "help": "encoders to train, each METHOD[:KNOB=VALUE...], e.g. simclr:temperature=0.1,align-uniform:epochs=1"})
    data: str = "glyphs"
    runs: str = "runs/experiments/align-uniform"


@dataclass(frozen=True)
class Configuration:
    """One point of the grid: a method, the options given to it, and the epochs it trains."""

    method: str
    options: tuple[tuple[str, object], ...]
    epochs: int

    @property
    def label(self) -> str:
        return Variant(self.method, self.options).label

    def train_config(self, settings: Settings, seed: int) -> TrainConfig:
        return TrainConfig(model=self.method, data=settings.data, epochs=self.epochs, limit=settings.limit,
                           batch_size=settings.batch_size, seed=seed, model_options=dict(self.options))


def parse_configuration(spec: str, default_epochs: int) -> Configuration:
    """``"simclr:temperature=0.1:epochs=2"`` -> Configuration; refuses unknown methods and knobs, and
    training settings other than ``epochs``."""
    variant = parse_variant(spec)
    training = dict(variant.training)
    if set(training) - {"epochs"}:
        raise SimveError(f"grid entry {spec!r}: of the training settings only epochs can vary, got "
                         f"{', '.join(sorted(set(training) - {'epochs'}))}")
    return Configuration(variant.model, variant.options, training.get("epochs", default_epochs))


def parse_grid(settings: Settings) -> list[Configuration]:
    """The grid's configurations, each checked by building its model once (before any training)."""
    for name in ("seeds", "epochs", "batch_size", "limit"):
        if getattr(settings, name) < 1:
            raise SimveError(f"{name} must be a whole number >= 1, got {getattr(settings, name)}")
    if not settings.grid:
        raise SimveError("the grid is empty; give at least one configuration, e.g. --grid simclr,align-uniform")
    configurations = [parse_configuration(spec, settings.epochs) for spec in settings.grid]
    if len(set(configurations)) < len(configurations):
        raise SimveError("the grid lists a configuration twice; give each once")
    for configuration in configurations:
        try:
            build_model(configuration.method, (1, 28, 28), **dict(configuration.options))
        except (TypeError, ValueError) as err:
            raise SimveError(f"grid entry {configuration.label!r}: {err}") from None
    return configurations


# ------------------------------------------------------------------------------ one encoder


# ------------------------------------------------------------------------------ the study


def summarise(configuration: Configuration, runs: list[dict]) -> dict:
    """One row: the configuration and the mean and std over seeds of every measured number."""
    row = {"method": configuration.method, "options": dict(configuration.options), "epochs": configuration.epochs,
           "label": configuration.label, "generative": MODELS[configuration.method].generative}
    for key in [p + m for p in SPACES for m in METRICS] + ["accuracy", "val_accuracy"]:
        stats = mean_std(r[key] for r in runs)
        row[key], row[key + "_std"] = stats["mean"], stats["std"]
    return row


# ------------------------------------------------------------------------------ outputs


def _pm(mean: float, std: float, scale: float = 1.0, digits: int = 3) -> str:
    return plus_minus({"mean": mean, "std": std}, scale, digits)


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("s" if n > 1 else "")


def comparison_sentence(comparison: dict, seeds: int) -> str:
    au, simclr = comparison["align-uniform"], comparison["simclr"]
    spread = ("within" if comparison["verdict"] == "matches" else "beyond") + " the combined std over seeds"
    if seeds == 1:
        spread = "one seed: no spread to judge the difference by"
    return (f"At {_epochs(comparison['epochs'])}, training on L_align + L_uniform alone (best on validation: "
            f"`{au['label']}`, "
            f"{_pm(au['accuracy'], au['accuracy_std'], 100, 1)} %) {comparison['verdict']} the best SimCLR "
            f"(`{simclr['label']}`, {_pm(simclr['accuracy'], simclr['accuracy_std'], 100, 1)} %): "
            f"{100 * comparison['difference']:+.1f} points ({spread}).")


def correlation_sentence(space: str, scope: str, found: dict) -> str:
    where = f"{space.capitalize()} features, {found['align']['n']} {'contrastive ' if scope == 'contrastive' else ''}encoders"
    finite = {METRICS[m]: c["rho"] for m, c in found.items() if math.isfinite(c["rho"])}
    if not finite:
        return f"{where}: too few distinct points for a rank correlation."
    rhos = ", ".join(f"{metric} {rho:+.2f}" for metric, rho in finite.items())
    lower = [metric for metric, rho in finite.items() if rho < 0]
    not_lower = [metric for metric, rho in finite.items() if rho >= 0]
    parts = [f"a lower {' and '.join(lower)} {'goes' if len(lower) == 1 else 'go'} with a higher accuracy"] if lower else []
    parts += [f"a lower {' and '.join(not_lower)} {'does' if len(not_lower) == 1 else 'do'} not"] if not_lower else []
    return f"{where} (rho: {rhos}): {'; '.join(parts)}."


def trade_off_sentence(found: dict) -> str | None:
    finite = {space: c["rho"] for space, c in found.items() if math.isfinite(c["rho"])}
    if not finite:
        return None
    rhos = ", ".join(f"{rho:+.2f} ({space})" for space, rho in finite.items())
    kind = ("move against each other: along this grid a lower L_align comes with a higher L_uniform"
            if all(rho < 0 for rho in finite.values()) else "do not consistently trade off against each other")
    return f"Over the contrastive encoders L_align and L_uniform {kind} (rho between them: {rhos})."


def collapse_sentence(found: dict) -> str | None:
    if not found["count"]:
        return None
    low, high = (100 * a for a in found["accuracy"])
    accuracy = f"{low:.1f} %" if round(low, 1) == round(high, 1) else f"{low:.1f} to {high:.1f} %"
    rho = found["align_rho_contrastive_without"]["rho"]
    without = (f"; without them, rho(accuracy, L_align) over the contrastive encoders is {rho:+.2f}"
               if math.isfinite(rho) else "")
    return (f"{found['count']} encoder(s) collapsed (loss-space L_uniform > {found['threshold']}: every feature near "
            f"one point; {', '.join(f'`{label}`' for label in found['labels'])}): perfectly aligned (loss-space "
            f"L_align <= {found['max_head_align']:.3f}) yet only {accuracy} accurate{without}.")


def generative_sentence(rows: list[dict]) -> str | None:
    generative = [r for r in rows if r["generative"]]
    contrastive = [r for r in rows if r["method"] in CONTRASTIVE]
    if not generative or not contrastive:
        return None

    def span(key: str, scale: float = 1.0, digits: int = 2) -> str:
        values = [scale * r[key] for r in contrastive]
        return f"{min(values):.{digits}f} to {max(values):.{digits}f}"

    where = "; ".join(f"`{r['label']}` at L_align {r['align']:.2f}, L_uniform {r['uniform']:.2f}, "
                      f"{100 * r['accuracy']:.1f} %" for r in generative)
    return (f"The generative encoders, not trained for uniformity, land at {where} (representation features); the "
            f"contrastive ones span L_align {span('align')}, L_uniform {span('uniform')} and "
            f"{span('accuracy', 100, 1)} %.")


def findings(settings: Settings, rows: list[dict], found: dict, comparisons: list[dict], traded: dict,
             collapsed: dict) -> list[str]:
    """The sentences of 'What the numbers show', each computed from the numbers."""
    lines = [correlation_sentence(space, scope, by_metric)
             for space, scopes in found.items() for scope, by_metric in scopes.items()]
    lines += [comparison_sentence(c, settings.seeds) for c in comparisons] or [
        "No comparison: the grid has no SimCLR and align-uniform configurations at a common number of epochs."]
    optional = (trade_off_sentence(traded), collapse_sentence(collapsed), generative_sentence(rows))
    return lines + [s for s in optional if s]


def markdown(settings: Settings, data, rows: list[dict], found: dict, lines: list[str]) -> str:
    header = (f"Data: {settings.data}, {len(data.train)} train / {len(data.val)} validation / {len(data.test)} test "
              f"images; batch {settings.batch_size}; {settings.seeds} seed(s) per configuration (mean ± std). "
              "L_align (alpha 2) and L_uniform (t 2) on l2-normalised validation features: of the representation "
              "(what the probe sees: backbone output, posterior mean) and of the loss space (the projection head's "
              "output, on which SimCLR and align-uniform compute their loss: Wang & Isola's encoder output; the "
              "same as the representation for the generative models). Accuracy: linear probe on the "
              "representation, content (digit) task, regularisation chosen on validation, test scored once.\n\n")
    columns = ("method", "knobs", "epochs", "L_align", "L_uniform", "L_align + L_uniform", "loss space: L_align",
               "loss space: L_uniform", "accuracy (%)")
    table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        knobs = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "defaults"
        cells = [_pm(r[k], r[k + "_std"]) for k in ("align", "uniform", "sum", "head_align", "head_uniform")]
        table.append(f"| {r['method']} | {knobs} | {r['epochs']} | " + " | ".join(cells)
                     + f" | {_pm(r['accuracy'], r['accuracy_std'], 100, 1)} |")
    table += ["", "Spearman rank correlation with the accuracy, over encoders (every configuration and seed):", "",
              "| features | metric | rho (all) | p (all) | rho (contrastive) | p (contrastive) |",
              "|---|---|---|---|---|---|"]
    for space, scopes in found.items():
        for metric, label in METRICS.items():
            a, c = scopes["all"][metric], scopes["contrastive"][metric]
            table.append(f"| {space} | {label} | {a['rho']:+.2f} | {a['p']:.2g} | {c['rho']:+.2f} | {c['p']:.2g} |")
    table += ["", "## What the numbers show", ""] + [f"- {line}" for line in lines] + ["", FIGURE_NOTE]
    return header + "\n".join(table) + "\n"


@experiment(NAME, Settings, "Wang & Isola: L_align and L_uniform of many encoders against linear-probe accuracy")
def run(settings: Settings, out_dir: Path, command: str) -> dict:
    configurations = parse_grid(settings)
    elapsed, workspace = timer(), Workspace()
    jobs = [(c, seed) for c in configurations for seed in range(settings.seeds)]
    measured: dict[Configuration, list[dict]] = {c: [] for c in configurations}
    for configuration, seed in tqdm(jobs, desc=NAME, unit="run"):
        config = configuration.train_config(settings, seed)
        measured[configuration].append(evaluated(
            config, run_folder(settings.runs, config), NAME, MEASURE_KEY,
            lambda model, config: measure(model, workspace.data(config), config.seed)))
    encoders = [{"method": c.method, "label": c.label, "epochs": c.epochs, "seed": seed, **m}
                for c, runs in measured.items() for seed, m in enumerate(runs)]
    rows = [summarise(c, runs) for c, runs in measured.items()]
    found, comparisons, traded, collapsed = correlations(encoders), compare(rows), trade_off(encoders), collapse(encoders)
    lines = findings(settings, rows, found, comparisons, traded, collapsed)
    save_figure(encoders, {m for m in MODELS if MODELS[m].generative}, SPACES, METRICS, Path(out_dir) / "align_uniform.png")
    results = {"rows": rows, "encoders": encoders, "correlations": found, "comparisons": comparisons,
               "align_uniform_trade_off": traded, "collapsed": collapsed, "findings": lines}
    data = workspace.data(configurations[0].train_config(settings, 0))
    write_experiment(out_dir, NAME, settings, command, elapsed(), markdown(settings, data, rows, found, lines), results)
    return results
