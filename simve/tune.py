"""``simve tune``: choose a model's settings on the validation split, then score the choice on test once.

A declared grid (every combination of ``--grid KEY=V1,V2,...``, the keys being the model's options or
the training settings) is trained through the run layer over the given seeds. Each point is scored on
the validation split alone: the probes are fitted on train, their own hyper-parameters chosen on
validation, and their accuracy read on validation (the test split stands aside, untouched). The
criterion is declared before the run:

- ``content``: the highest mean validation content accuracy (linear probe);
- ``style``: the highest mean validation accuracy on the style the augmentations perturb;
- ``pareto``: every point on the content-vs-perturbed-style front (no other point at least as good on
  both and better on one).

Only the chosen points are then evaluated on the test split, once each. The results go to
``OUT/<model>[-<fixed settings>]/`` (``table.md``, ``results.json``: the whole grid with its validation scores, the choice,
the test scores of the choice, the command) and ``OUT/index.md`` lists every model tuned into ``OUT``
with its grid size, so that unequal tuning effort shows.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from simve.errors import SimveError
from simve.evaluate.curve import curve_points, curve_table, with_rise
from simve.evaluate.report import comparison_table, summarise
from simve.io import read_json, write_text
from simve.models import MODELS
from simve.plots import save_curves, save_tradeoff, save_tuning_map
from simve.presets import with_preset
from simve.runs import (
    RunsSpec,
    Variant,
    Workspace,
    compute_used,
    data_label,
    evaluated,
    parse_variant,
    plural,
    run_folder,
    timer,
    train_many,
    write_results,
)
from simve.stats import STD_CONVENTION, mean_std
from simve.train import TrainConfig, read_curve

CRITERIA = ("content", "style", "pareto")
SCORES = {"content": "content", "style": "style_perturbed"}


@dataclass(kw_only=True)
class TuneSpec(RunsSpec):
    """A tuning: :class:`simve.runs.RunsSpec`, the model, its grid and fixed settings, and the criterion."""

    model: str
    grid: dict[str, list[str]]  # key -> values as written (typed by parse_variant)
    criterion: str
    fixed: dict[str, str] = field(default_factory=dict)  # settings every point shares

    @property
    def name(self) -> str:
        """The results folder's name: the model and its fixed settings (``simclr-latent_dim10``)."""
        return "".join([self.model, *(f"-{k}{v}" for k, v in self.fixed.items())])


def grid_points(spec: TuneSpec, image_shape) -> list[Variant]:
    """Every combination of the grid over the fixed settings (and the preset), checked before any work."""
    if spec.criterion not in CRITERIA:
        raise SimveError(f"criterion must be one of {', '.join(CRITERIA)}, got {spec.criterion!r}")
    if spec.model not in MODELS:
        raise SimveError(f"unknown model {spec.model!r}; choose one of {', '.join(MODELS)}")
    if not spec.grid:
        raise SimveError("the grid is empty: give at least one --grid KEY=V1,V2")
    if set(spec.grid) & set(spec.fixed):
        raise SimveError(f"{', '.join(sorted(set(spec.grid) & set(spec.fixed)))} is both in --grid and --set")
    points = []
    for values in itertools.product(*spec.grid.values()):
        settings = {**spec.fixed, **dict(zip(spec.grid, values))}
        text = ":".join([spec.model, *(f"{k}={v}" for k, v in settings.items())])
        points.append(with_preset(parse_variant(text), spec.preset, image_shape))
    return points


def pareto_front(scores: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (at least as good on both, better on one)."""
    return [i for i, (a, b) in enumerate(scores)
            if not any((c >= a and d >= b) and (c > a or d > b) for c, d in scores)]


class Tuning:
    """One model's grid on one dataset: validation scores for every point, test for the chosen."""

    def __init__(self, spec: TuneSpec):
        self.spec, self.workspace = spec, Workspace()
        self.data = self.workspace.data(self.config(Variant(spec.model), spec.seeds[0]))
        self.points = grid_points(spec, self.data.image_shape)

    def config(self, variant: Variant, seed: int) -> TrainConfig:
        return self.spec.config(variant, seed)

    def scored(self, variant: Variant, scored: str) -> list[dict]:
        """The summaries of ``variant`` over the seeds, with the probes read on ``scored`` (val or test)."""
        s, results = self.spec, []
        for seed in s.seeds:
            config = self.config(variant, seed)

            def measure(model, config, scored=scored):
                return self.workspace.evaluate(model, config, s.probes, s.max_train, scored=scored)

            key = {"probes": list(s.probes), "max_train": s.max_train, "scored": scored, "seed": seed}
            folder = run_folder(s.runs, config)
            results.append({**summarise(evaluated(config, folder, f"tune-{scored}", key, measure)),
                            **compute_used(config, folder, len(self.workspace.data(config).train))})
        return results

    def choose(self, means: list[dict[str, float]]) -> list[int]:
        """The chosen points' indices, from each point's mean validation scores."""
        if self.spec.criterion == "pareto":
            return pareto_front([(m["content"], _finite(m["style_perturbed"])) for m in means])
        key = SCORES[self.spec.criterion]
        return [max(range(len(means)), key=lambda i: _finite(means[i][key]))]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def run_tuning(spec: TuneSpec, command: str) -> str:
    """Train and score the grid, choose, score the choice on test, write ``OUT/<model>`` and ``OUT/index.md``."""
    elapsed = timer()
    tuning = Tuning(spec)
    train_many([(tuning.config(v, seed), run_folder(spec.runs, tuning.config(v, seed))) for v in tuning.points
                for seed in spec.seeds], spec.jobs, spec.cluster)
    validation = [tuning.scored(v, "val") for v in tuning.points]
    labels = [v.label for v in tuning.points]
    curves = {label: [curve_points(read_curve(run_folder(spec.runs, tuning.config(v, seed)))) for seed in spec.seeds]
              for label, v in zip(labels, tuning.points)} if spec.curve != "off" else {}
    means = {label: {k: mean_std(r[k] for r in runs)["mean"] for k in runs[0]} for label, runs in zip(labels, validation)}
    chosen = tuning.choose(list(means.values()))
    test = {i: tuning.scored(tuning.points[i], "test") for i in chosen}
    table = _table(spec, tuning, labels, validation, chosen, test, curves)
    results = {"grid": [{"label": label, "model_options": dict(v.options), "training": dict(v.training),
                         "validation": runs} for label, v, runs in zip(labels, tuning.points, validation)],
               "criterion": spec.criterion, "chosen": [labels[i] for i in chosen],
               "test": {labels[i]: runs for i, runs in test.items()}}
    meta = {"data": data_label(spec.data), "model": spec.model, "name": spec.name, "grid": spec.grid, "fixed": spec.fixed, "preset": spec.preset,
            "epochs": spec.epochs, "seeds": list(spec.seeds), "grid_size": len(tuning.points)}
    out = spec.out / spec.name
    save_tradeoff(means, out / "validation_content_vs_style.png",
                  {label: "sweep" if i in chosen else "generative" if MODELS[spec.model].generative else "discriminative"
                   for i, label in enumerate(labels)})
    if curves:
        save_curves(curves, out / "curves.png", {label: "generative" if MODELS[spec.model].generative
                                                 else "discriminative" for label in labels})
    write_results(out, f"simve tune: {spec.name} on {spec.data}", command, elapsed(), table, results, meta,
                  sections={"curves": curves} if curves else None)
    write_index(spec.out)
    return table


def _table(spec: TuneSpec, tuning: Tuning, labels, validation, chosen, test, curves) -> str:
    data = tuning.data
    lines = [f"Data: {data_label(spec.data)}, {len(data.train)} train, {len(data.val)} validation ({len(data.test)} test, scored "
             f"only for the chosen settings); {plural(spec.epochs, 'epoch')}, {plural(len(spec.seeds), 'seed')}: {STD_CONVENTION}. "
             f"Grid of {len(tuning.points)} points: "
             + "; ".join(f"{k} in {{{', '.join(v)}}}" for k, v in spec.grid.items())
             + (f"; fixed {', '.join(f'{k}={v}' for k, v in spec.fixed.items())}" if spec.fixed else "")
             + (f"; preset {spec.preset}" if spec.preset else "")
             + f". Criterion, declared before the run: {spec.criterion}.", "",
             "## The grid, scored on the validation split (linear probe, %)", "",
             comparison_table(with_rise(dict(zip(labels, validation)), curves)),
             *([curve_table(curves, dict(zip(labels, validation)), "curves.png"), ""] if curves else []),
             f"Chosen on validation: {', '.join(f'`{labels[i]}`' for i in chosen)}.", "",
             "## The chosen settings, scored on the test split once", "",
             comparison_table({labels[i]: runs for i, runs in test.items()})]
    return "\n".join(lines)


def _point_means(point: dict) -> dict[str, float]:
    return {k: mean_std(r[k] for r in point["validation"])["mean"] for k in ("content", "style_perturbed")}


def knob_effects(stored: dict) -> list[str]:
    """What each grid key did, one line per key: for each of its values, the mean validation content and
    perturbed style over the grid points that have it (the other keys averaged out)."""
    meta, grid = stored["meta"], stored["results"]["grid"]
    points = [({**p["model_options"], **p["training"]}, _point_means(p)) for p in grid]
    lines = []
    for key, values in meta["grid"].items():
        cells = []
        for value in values:
            variant = parse_variant(f"{meta['model']}:{key}={value}")
            typed = dict((*variant.options, *variant.training))[key]
            means = [m for settings, m in points if settings.get(key) == typed]
            if means:
                content, style = (100 * mean_std(m[k] for m in means)["mean"] for k in ("content", "style_perturbed"))
                cells.append(f"{value}: {content:.1f} / {style:.1f}")
        lines.append(f"- {meta['name']}, `{key}`: " + "; ".join(cells))
    return lines


def write_index(out: Path) -> Path:
    """``index.md``: every model tuned into ``out``, its grid size, criterion, choice and test scores, what each
    knob did on validation, and ``content_vs_style.png``: every grid point of every model, the choices starred."""
    rows = ["| model | grid points | epochs | seeds | criterion | chosen | test content | test style perturbed |",
            "|---|---|---|---|---|---|---|---|"]
    effects, points = [], {}
    for path in sorted(out.glob("*/results.json")):
        stored = read_json(path)
        meta, results = stored["meta"], stored["results"]
        for label in results["chosen"]:
            runs = results["test"][label]
            cells = [f"{100 * mean_std(r[k] for r in runs)['mean']:.1f}" for k in ("content", "style_perturbed")]
            rows.append(f"| {meta['name']} | {meta['grid_size']} | {meta['epochs']} | {len(meta['seeds'])} | "
                        f"{results['criterion']} | `{label}` | {cells[0]} | {cells[1]} |")
        effects += knob_effects(stored)
        points.setdefault(meta["model"], []).extend(
            (100 * m["style_perturbed"], 100 * m["content"], p["label"] in results["chosen"])
            for p, m in ((p, _point_means(p)) for p in results["grid"]))
    if points:
        save_tuning_map(points, out / "content_vs_style.png")
    text = (f"# Tuning on {out.name}\n\nEach model's settings chosen on the validation split "
            "(its folder: the grid, the command, the validation scores); test scored once per chosen setting.\n\n"
            + "\n".join(rows) + "\n\n## What each knob did (validation, linear probe %: content / perturbed style)\n\n"
            "For each grid key and value, the mean over that folder's grid points with the value (its other keys "
            "averaged out).\n\n" + "\n".join(effects) + "\n\n![every grid point, content against perturbed style]"
            "(content_vs_style.png)\n")
    return write_text(out / "index.md", text)
