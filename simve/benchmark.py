"""``simve benchmark``: train (or reuse) every model over several seeds, evaluate them with the
same probes, and write one results folder: ``results.json``, ``table.md`` and figures.

Rows: the anchors (raw pixels, a random encoder), every model, and each discriminative model
twice, at its backbone's natural width and at SimVE's latent size (``name (d=D)``), so that no
model wins by dimension alone. An optional sweep of SimVE's settings (any SimVE option such as
``prior_var`` or ``sigma_x``, or the training's ``views``, ``lr``, ``epochs``) adds points to the
content-vs-style figure, between "keeps everything" and "invariant".
Runs live outside the results folder (checkpoints are large); a finished run is reused, an
interrupted one resumed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from simve.data import load_dataset
from simve.errors import SimveError
from simve.evaluate.report import (
    RawPixels,
    cached_results,
    comparison_table,
    evaluate,
    finite,
    machine,
    markdown_table,
    summarise,
    versions,
)
from simve.models import MODELS, build_model, model_options
from simve.models.generative import default_latent_dim
from simve.plots import save_tradeoff
from simve.train import CONFIG, TrainConfig, load_trained, train_or_resume

TRAINING_KNOBS = {"views": int, "lr": float, "epochs": int}  # swept through the TrainConfig, not the model


@dataclass
class BenchmarkSpec:
    data: str
    models: tuple[str, ...]
    seeds: int
    epochs: int
    out: Path
    runs: Path
    data_root: str | None = None
    limit: int | None = None
    probes: tuple[str, ...] = ("linear", "mlp", "knn", "mean")
    particles: int = 100
    max_train: int = 10_000
    sweep: dict[str, list] = field(default_factory=dict)
    anchors: bool = True


def _knob_value(name: str, text: str):
    """A sweep value: typed for the training knobs, a number where it is one for SimVE's options
    (whole numbers for ``latent_dim``), else the word (``likelihood=gaussian``; the model checks it)."""
    if name in TRAINING_KNOBS:
        return TRAINING_KNOBS[name](text)
    try:
        return int(text) if name == "latent_dim" else float(text)
    except ValueError:
        return text


def parse_sweep(items: list[str]) -> dict[str, list]:
    """``["prior_var=0.01,0.1", "views=2,4"]`` -> ``{"prior_var": [0.01, 0.1], "views": [2, 4]}``."""
    sweepable = [*model_options("simve"), *TRAINING_KNOBS]
    sweep = {}
    for item in items:
        name, _, values = item.partition("=")
        if name not in sweepable or not values:
            raise SimveError(f"--sweep takes NAME=V1,V2,... with NAME among {', '.join(sweepable)}, got {item!r}")
        try:
            sweep[name] = [_knob_value(name, v.strip()) for v in values.split(",")]
        except ValueError:
            raise SimveError(f"--sweep {name}: values must be numbers, got {values!r}") from None
    return sweep


@dataclass(frozen=True)
class Variant:
    """One trained row: the model, its options, and the training settings it changes."""

    model: str
    options: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # views, lr, epochs

    def config(self, spec: BenchmarkSpec, seed: int) -> TrainConfig:
        settings = {"epochs": spec.epochs, **self.training}
        return TrainConfig(model=self.model, data=spec.data, data_root=spec.data_root, limit=spec.limit, seed=seed,
                           model_options=self.options, **settings)


def _variants(spec: BenchmarkSpec, image_shape) -> dict[str, Variant]:
    """Row name -> variant, for every trained row."""
    latent = default_latent_dim(image_shape)
    rows = {}
    for name in spec.models:
        if name not in MODELS:
            raise SimveError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        rows[name] = Variant(name)
        if not MODELS[name].generative:
            rows[f"{name} (d={latent})"] = Variant(name, {"latent_dim": latent})
    for knob, values in spec.sweep.items():
        for value in values:
            shown = f"{value:g}" if isinstance(value, (int, float)) else value
            setting = {knob: value}
            rows[f"simve {knob}={shown}"] = (Variant("simve", training=setting) if knob in TRAINING_KNOBS
                                             else Variant("simve", setting))
    return rows


def _run_dir(spec: BenchmarkSpec, row: str, seed: int) -> Path:
    slug = row.replace(" (d=", "-d").replace(")", "").replace(" ", "-").replace("=", "")
    return spec.runs / f"{slug}-s{seed}"


def _evaluated(spec: BenchmarkSpec, row: str, variant: Variant, seed: int) -> dict:
    """Train (or reuse) one run and evaluate it (or reuse its evaluation)."""
    run_dir = _run_dir(spec, row, seed)
    config = variant.config(spec, seed)

    def train_and_evaluate() -> dict:
        train_or_resume(config, run_dir)
        _, data, model = load_trained(run_dir)
        return evaluate(model, data, probes=spec.probes, seed=seed, max_train=spec.max_train,
                        particles=spec.particles, views=config.views)

    key = {"probes": list(spec.probes), "epochs": config.epochs}
    return cached_results(run_dir / "eval" / "benchmark.json", key, train_and_evaluate)


def _anchors(spec: BenchmarkSpec, seed: int) -> dict[str, dict]:
    """The evaluations of the two anchors on the seed's data (cached in the runs folder)."""
    data = load_dataset(spec.data, spec.data_root, limit=spec.limit, seed=seed)
    torch.manual_seed(seed)
    anchors = {"raw pixels": RawPixels(), "random encoder": build_model("simclr", data.image_shape)}
    key = {"probes": list(spec.probes), "max_train": spec.max_train}
    return {row: cached_results(_run_dir(spec, f"anchor {row}", seed).with_suffix(".json"), key,
                         lambda model=model: evaluate(model, data, probes=spec.probes, seed=seed,
                                                      max_train=spec.max_train, progress=False))
            for row, model in anchors.items()}


def run_benchmark(spec: BenchmarkSpec, command: str) -> str:
    started = time.time()
    per_row: dict[str, list[dict]] = {}
    data = load_dataset(spec.data, spec.data_root, limit=spec.limit)
    variants = _variants(spec, data.image_shape)  # checked before any work
    for seed in range(spec.seeds if spec.anchors else 0):  # the anchors, on each seed's split
        for row, results in _anchors(spec, seed).items():
            per_row.setdefault(row, []).append(results)
    for row, variant in variants.items():
        for seed in range(spec.seeds):
            print(f"[{time.time() - started:.0f}s] {row}, seed {seed}", file=sys.stderr, flush=True)
            per_row.setdefault(row, []).append(_evaluated(spec, row, variant, seed))
    return _write(spec, data, per_row, command, time.time() - started)


def _mean_task_table(per_row: dict[str, list[dict]], probes) -> str:
    """Per task and probe, the mean over seeds, for every row: one markdown table per row."""
    parts = []
    for row, runs in per_row.items():
        merged = json.loads(json.dumps(runs[0]))
        for name, task in merged["tasks"].items():
            for probe in task["probes"]:
                values = [r["tasks"][name]["probes"][probe]["test_accuracy"] for r in runs]
                task["probes"][probe]["test_accuracy"] = sum(values) / len(values)
        merged.pop("generative", None)
        merged.pop("metrics", None)
        parts.append(f"### {row}\n\n" + markdown_table(merged, probes))
    return "\n".join(parts)


def _write(spec: BenchmarkSpec, data, per_row: dict[str, list[dict]], command: str, seconds: float) -> str:
    spec.out.mkdir(parents=True, exist_ok=True)
    summaries = {row: [summarise(r) for r in runs] for row, runs in per_row.items()}
    generative = {row: [r["generative"] for r in runs if "generative" in r] for row, runs in per_row.items()}
    header = (
        f"# simve benchmark: {spec.data}\n\n"
        f"Made by `{command}` in {seconds / 60:.0f} min on {machine()}.\n"
        f"Data: {len(data.train)} train, {len(data.val)} validation, {len(data.test)} test images; "
        f"{spec.epochs} epochs, {spec.seeds} seeds (mean ± std). Probes fitted on at most {spec.max_train} train "
        f"images, hyper-parameters chosen on validation, test scored once.\n\n"
        "Columns: linear-probe test accuracy (%) on the content (class) task and the mean over style tasks "
        "whose factor the training augmentations keep, perturb, or neither (attributes); L_align and L_uniform "
        "on l2-normalised test features.\n\n"
    )
    lines = [header, comparison_table(summaries)]
    if any(generative.values()):
        lines.append("\nGenerative bounds on the test set (nats per view; mean over seeds):\n\n"
                     "| model | ELBO | IWAE | reconstruction MSE |\n|---|---|---|---|")
        for row, values in generative.items():
            if values:
                mean = {k: sum(v[k] for v in values) / len(values)
                        for k in ("elbo_per_view", "iwae_per_view", "reconstruction_mse")}
                lines.append(f"| {row} | {mean['elbo_per_view']:.1f} | {mean['iwae_per_view']:.1f} | "
                             f"{mean['reconstruction_mse']:.4f} |")
    lines.append("\n## Every task and probe (mean over seeds)\n\n" + _mean_task_table(per_row, spec.probes))
    table = "\n".join(lines) + "\n"
    (spec.out / "table.md").write_text(table)
    meta = {"command": command, "seconds": seconds, "versions": versions(), "epochs": spec.epochs, "seeds": spec.seeds,
            "data": {"name": spec.data, "train": len(data.train), "val": len(data.val), "test": len(data.test)}}
    (spec.out / "results.json").write_text(json.dumps(finite({"meta": meta, "rows": per_row}), indent=1) + "\n")
    _figures(spec, summaries)
    return table


def _figures(spec: BenchmarkSpec, summaries: dict[str, list[dict]]) -> None:
    figures = spec.out / "figures"
    means = {row: {k: sum(s[k] for s in runs) / len(runs) for k in runs[0]} for row, runs in summaries.items()}
    groups = {row: _group(row, spec) for row in means}
    save_tradeoff(means, figures / "content_vs_style.png", groups)
    for row in spec.models:
        run_figures = _run_dir(spec, row, 0) / "figures"
        for name in ("reconstructions", "samples", "same_content_new_style"):
            source = run_figures / f"{name}.png"
            if source.exists():
                (figures / f"{row}_{name}.png").write_bytes(source.read_bytes())
    _embedding_figure(spec, figures)


def _group(row: str, spec: BenchmarkSpec) -> str:
    if row in ("raw pixels", "random encoder"):
        return "anchor"
    if row.startswith("simve ") and row not in spec.models:
        return "sweep"
    return "generative" if MODELS[row.split(" ")[0]].generative else "discriminative"


def _embedding_figure(spec: BenchmarkSpec, figures: Path) -> None:
    """PCA of the test features of seed 0, coloured by content and by the first style factor."""
    import matplotlib.pyplot as plt

    from simve.evaluate.features import extract_features

    rows = [r for r in spec.models if (_run_dir(spec, r, 0) / CONFIG).exists()][:4]
    if not rows:
        return
    fig, axes = plt.subplots(2, len(rows), figsize=(3.2 * len(rows), 6.2), squeeze=False)
    for k, row in enumerate(rows):
        _, data, model = load_trained(_run_dir(spec, row, 0))
        test = data.test.subset(slice(0, 2000))
        features = extract_features(model, test)
        centred = features - features.mean(0)
        coords = centred @ torch.linalg.svd(centred, full_matrices=False).Vh[:2].T
        colours = [test.labels, test.factors[:, 0] if test.factors is not None else test.labels]
        titles = ["content", data.factors[0].name if data.factors else "content"]
        for r in range(2):
            axes[r, k].scatter(coords[:, 0], coords[:, 1], c=colours[r].numpy(), s=3, cmap="tab10")
            axes[r, k].set_title(f"{row}: {titles[r]}", fontsize=9)
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
    fig.savefig(figures / "embeddings_pca.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
