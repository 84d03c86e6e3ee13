"""``simve benchmark``: train (or reuse) every model over several seeds, evaluate them with the
same probes, and write one results folder: ``results.json``, ``table.md`` and figures.

Rows: the anchors (raw pixels, a random encoder), every model, and (``matched_dims``) each
discriminative model again at SimVE's latent size (``name (d=D)``, unless that variant is a row
already), so that no model wins by dimension alone. An optional sweep of SimVE's settings (any
SimVE option such as ``prior_var`` or ``sigma_x``, or the training's ``views``, ``lr``, ``epochs``)
adds points to the content-vs-style figure, between "keeps everything" and "invariant". Every run
goes through :mod:`simve.runs` (train or reuse, evaluation cached per run and evaluation settings,
data and tasks loaded once).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from simve.errors import SimveError
from simve.evaluate.batches import embed_images
from simve.evaluate.curve import curve_points, curve_table, with_rise
from simve.evaluate.generative import BOUNDS_PROTOCOL
from simve.evaluate.probes import PROBES, PROTOCOL
from simve.evaluate.report import comparison_table, markdown_table, summarise
from simve.io import read_json
from simve.models import MODELS, benchmark_models, build_model, option_hints
from simve.models.anchors import ANCHORS, PCA, RawPixels
from simve.models.generative import default_latent_dim
from simve.plots import save_curves, save_tradeoff
from simve.presets import with_preset
from simve.runs import (
    TRAINING_KNOBS,
    RunsSpec,
    Variant,
    Workspace,
    cached,
    compute_used,
    data_label,
    evaluated,
    parse_variant,
    plural,
    run_folder,
    timer,
    train_many,
    train_or_reuse,
    write_results,
)
from simve.settings import parse_pairs
from simve.stats import STD_CONVENTION, mean_std
from simve.train import TrainConfig, read_curve
from simve.train.config import STYLE_BINS

RANDOM_ENCODER = "simclr"  # the default random-encoder anchor: an untrained SimCLR encoder at its defaults


@dataclass(kw_only=True)
class BenchmarkSpec(RunsSpec):
    """A benchmark: :class:`simve.runs.RunsSpec` and its rows, anchors and evaluation."""

    models: tuple[str, ...] = field(default_factory=benchmark_models)
    seeds: tuple[int, ...] = (0, 1, 2)
    probes: tuple[str, ...] = PROBES
    particles: int = 100  # IWAE samples of the generative bounds (0: none)
    sweep: dict[str, list] = field(default_factory=dict)
    anchors: tuple[str, ...] = ANCHORS  # which anchor rows to show (none: a quick sweep)
    matched_dims: bool = True  # discriminative models again at SimVE's latent size (unless a row sets its own)
    title: str = ""  # the table's title (default: "simve benchmark: DATA")
    names: dict[str, str] = field(default_factory=dict)  # a row of ``models`` -> its name in tables and figures
    random_encoder: str = RANDOM_ENCODER  # the untrained model of the random-encoder anchor, a row (simclr:net=mlp-small)

    def evaluation(self, views: int, seed: int) -> dict:
        """The settings an evaluation depends on: its cache key."""
        return {"probes": list(self.probes), "max_train": self.max_train, "particles": self.particles,
                "views": views, "seed": seed, **({"bounds_protocol": BOUNDS_PROTOCOL} if self.particles else {})}


def parse_sweep(items: list[str]) -> dict[str, list]:
    """``["prior_var=0.01,0.1", "views=2,4"]`` -> ``{"prior_var": [0.01, 0.1], "views": [2, 4]}``, each value
    typed as its SimVE option or training setting declares."""
    return parse_pairs(items, {**option_hints("simve"), **TRAINING_KNOBS}, many=True, what="--sweep",
                       check=lambda key, value: TrainConfig.check(key, value) if key in TRAINING_KNOBS else None)


def benchmark_rows(spec: BenchmarkSpec, image_shape) -> tuple[dict[str, Variant], set[str]]:
    """Row name -> variant for every trained row, and the names of the sweep's rows."""
    latent = default_latent_dim(image_shape)
    parsed = {text: parse_variant(text) for text in spec.models}
    asked = {text: with_preset(variant, spec.preset, image_shape) for text, variant in parsed.items()}
    rows = {}
    for text, variant in asked.items():
        name = spec.names.get(text, parsed[text].label)
        rows[name] = variant
        if spec.matched_dims and not MODELS[variant.model].generative and "latent_dim" not in dict(variant.options):
            matched = Variant(variant.model, tuple(sorted({**dict(variant.options), "latent_dim": latent}.items())),
                              variant.training)
            if matched not in asked.values():  # a row of its own already (simclr:latent_dim=10 beside simclr)
                rows[f"{name} (d={latent})"] = matched
    swept = [Variant("simve", training=((knob, value),)) if knob in TRAINING_KNOBS else Variant("simve", ((knob, value),))
             for knob, values in spec.sweep.items() for value in values]
    rows.update({variant.label: with_preset(variant, spec.preset, image_shape) for variant in swept})
    return rows, {variant.label for variant in swept}


class Benchmark:
    """One benchmark's runs: every (row, seed) through the run layer, on data and tasks loaded once."""

    def __init__(self, spec: BenchmarkSpec):
        self.spec, self.workspace = spec, Workspace()
        self.data = self.workspace.data(self.anchor_config(spec.seeds[0]))
        self.variants, self.swept = benchmark_rows(spec, self.data.image_shape)  # checked before any work
        self.compute: dict[str, list[dict]] = {}
        self.curves: dict[str, list[list[dict]]] = {}  # row -> one curve (curve_points) per seed

    def anchor_config(self, seed: int) -> TrainConfig:
        """The untrained random encoder's config: also the key of a seed's data for the anchors."""
        s = self.spec
        return TrainConfig(model="simclr", data=s.data, data_root=s.data_root, limit=s.limit, seed=seed, epochs=1,
                           style_bins=s.style_bins)

    def config(self, row: str, seed: int) -> TrainConfig:
        return self.spec.config(self.variants[row], seed)

    def folder(self, row: str, seed: int) -> Path:
        return run_folder(self.spec.runs, self.config(row, seed))

    def measure(self, model, config: TrainConfig) -> dict:
        return self.workspace.evaluate(model, config, self.spec.probes, self.spec.max_train, self.spec.particles)

    def anchors(self, seed: int) -> dict[str, dict]:
        """The chosen anchors' evaluations on the seed's data (cached in the runs folder like runs; no bounds)."""
        config = self.anchor_config(seed)
        data = self.workspace.data(config)
        torch.manual_seed(seed)
        untrained = parse_variant(self.spec.random_encoder)
        random_encoder = build_model(untrained.model, data.image_shape, **dict(untrained.options))  # the seed's first draws
        models = {"raw pixels": RawPixels, "random encoder": lambda: random_encoder,
                  "pca": lambda: PCA(data.train.images, default_latent_dim(data.image_shape))}
        key = {**self.spec.evaluation(config.views, seed), "particles": 0, "limit": self.spec.limit,
               "probe_protocol": PROTOCOL}
        if self.spec.style_bins != STYLE_BINS:  # keyed only where it differs, so earlier anchors stay cached
            key["style_bins"] = self.spec.style_bins
        if self.spec.random_encoder != RANDOM_ENCODER:  # keyed likewise
            key["random_encoder"] = self.spec.random_encoder
        evaluations = {}
        for row in self.spec.anchors:
            print(f"anchor: {row}, seed {seed}", file=sys.stderr, flush=True)
            evaluations[row] = cached(self.spec.runs / f"anchor-{row.replace(' ', '-')}-s{seed}.json", key,
                                      lambda make=models[row]: self.workspace.evaluate(
                                          make(), config, self.spec.probes, self.spec.max_train))
        return evaluations

    def plain_rows(self) -> list[str]:
        """The rows of ``--models`` themselves (not the sweep's nor the matched-dimension copies): their
        figures are shown."""
        named = {self.spec.names.get(text, parse_variant(text).label) for text in self.spec.models}
        return [row for row in self.variants if row in named]

    def group(self, row: str) -> str:
        """The row's colour in the figures: anchor, sweep, generative or discriminative."""
        if row in ANCHORS or row in self.swept:
            return "anchor" if row in ANCHORS else "sweep"
        return "generative" if MODELS[self.variants[row].model].generative else "discriminative"

    def run(self) -> dict[str, list[dict]]:
        """Every row's evaluations, one per seed (anchors first)."""
        elapsed, per_row = timer(), {}
        train_many([(self.config(row, seed), self.folder(row, seed)) for row in self.variants
                    for seed in self.spec.seeds], self.spec.jobs, self.spec.cluster)
        for seed in self.spec.seeds if self.spec.anchors else ():
            for row, results in self.anchors(seed).items():
                per_row.setdefault(row, []).append(results)
        for row in self.variants:
            for seed in self.spec.seeds:
                print(f"[{elapsed():.0f}s] {row}, seed {seed}", file=sys.stderr, flush=True)
                config, folder = self.config(row, seed), self.folder(row, seed)
                key = self.spec.evaluation(config.views, seed)
                per_row.setdefault(row, []).append(evaluated(config, folder, "benchmark", key, self.measure))
                self.compute.setdefault(row, []).append(
                    compute_used(config, folder, len(self.workspace.data(config).train)))
                if config.curve != "off":
                    self.curves.setdefault(row, []).append(curve_points(read_curve(folder)))
        return per_row


def run_benchmark(spec: BenchmarkSpec, command: str) -> tuple[str, dict[str, list[dict]], dict[str, list[list[dict]]]]:
    """Train, evaluate and write the benchmark ``spec``; returns the summary table, every row's
    evaluations (one per seed) and the curves of the rows that read one (one list of points per seed)."""
    elapsed = timer()
    benchmark = Benchmark(spec)
    per_row = benchmark.run()
    summary = _write(benchmark, per_row, command, elapsed())
    _figures(benchmark, per_row)
    return summary, per_row, benchmark.curves


def _mean_task_table(per_row: dict[str, list[dict]], probes) -> str:
    """Per task and probe, the mean over seeds, for every row: one markdown table per row."""
    parts = []
    for row, runs in per_row.items():
        merged = {"tasks": {name: {**task, "probes": {
            probe: {"test_accuracy": mean_std(r["tasks"][name]["probes"][probe]["test_accuracy"] for r in runs)["mean"]}
            for probe in task["probes"]}} for name, task in runs[0]["tasks"].items()}}
        parts.append(f"### {row}\n\n" + markdown_table(merged, probes))
    return "\n".join(parts)


def _bounds_table(per_row: dict[str, list[dict]]) -> str:
    lines = ["Generative bounds on the test set (nats per view; mean over seeds):", "",
             "| model | ELBO | IWAE | reconstruction MSE |", "|---|---|---|---|"]
    for row, runs in per_row.items():
        values = [r["generative"] for r in runs if "generative" in r]
        if values:
            mean = {k: mean_std(v[k] for v in values)["mean"]
                    for k in ("elbo_per_view", "iwae_per_view", "reconstruction_mse")}
            lines.append(f"| {row} | {mean['elbo_per_view']:.1f} | {mean['iwae_per_view']:.1f} | "
                         f"{mean['reconstruction_mse']:.4f} |")
    return "\n".join(lines) if len(lines) > 4 else ""


def compute_table(compute: dict[str, list[dict]]) -> str:
    """Per trained row, the mean over seeds of what its training cost."""
    lines = [("Compute per run (mean over seeds): epochs, optimiser steps, encoder passes (training images x views "
              "x epochs) and training wall time on this machine:"), "",
             "| model | epochs | steps | encoder passes | train time (s) |", "|---|---|---|---|---|"]
    for row, runs in compute.items():
        mean = {k: mean_std(r[k] for r in runs)["mean"] for k in runs[0]}
        lines.append(f"| {row} | {mean['epochs']:g} | {mean['steps']:.0f} | {mean['encoder_passes']:.3g} | "
                     f"{mean['train_seconds']:.0f} |")
    total = sum(r["train_seconds"] for runs in compute.values() for r in runs)
    lines += ["", (f"Training every run took {total / 60:.1f} min in all (the sum of their train times; a call that "
                  "reuses finished runs takes less than that).")]
    return "\n".join(lines)


def _write(benchmark: Benchmark, per_row: dict[str, list[dict]], command: str, seconds: float) -> str:
    """``table.md`` and ``results.json``; returns the description, the summary table and the compute table."""
    spec, data = benchmark.spec, benchmark.data
    summary = (
        f"Data: {data_label(spec.data)}, {len(data.train)} train, {len(data.val)} validation, {len(data.test)} test "
        f"images; {plural(spec.epochs, 'epoch')}, {plural(len(spec.seeds), 'seed')}: {STD_CONVENTION}. Probes fitted on at most "
        f"{spec.max_train} train images, hyper-parameters chosen on validation, test scored once.\n\n"
        "Columns: linear-probe test accuracy (%) on the content (class) task and the mean over style tasks "
        "whose factor the training augmentations keep, perturb, or neither (attributes); L_align and L_uniform "
        "on l2-normalised test features."
        + (f" Each continuous style factor the augmentations perturb is cut into {spec.style_bins} equal-frequency "
           "bins (chance about " + f"{100 / spec.style_bins:.0f} %)." if spec.style_bins != STYLE_BINS else "") + "\n\n"
        + summary_table(per_row, benchmark.curves)
    )
    if benchmark.curves:
        summary += "\n" + curve_table(benchmark.curves, benchmark.compute) + "\n"
    summary += "\n" + compute_table(benchmark.compute) + "\n"
    table = "\n".join(part for part in (summary, _bounds_table(per_row), "## Every task and probe (mean over seeds)\n\n"
                                        + _mean_task_table(per_row, spec.probes)) if part)
    meta = {"epochs": spec.epochs, "seeds": len(spec.seeds), "preset": spec.preset, "compute": benchmark.compute,
            "curve": spec.curve, "style_bins": spec.style_bins,
            "data": {"name": data_label(spec.data), "train": len(data.train), "val": len(data.val), "test": len(data.test)}}
    write_results(spec.out, spec.title or f"simve benchmark: {spec.data}", command, seconds, table, per_row, meta,
                  sections={"curves": benchmark.curves} if benchmark.curves else None)
    return summary


def read_benchmark(folder: str | Path) -> tuple[dict, dict[str, list[dict]], dict[str, list[list[dict]]]]:
    """What :func:`run_benchmark` wrote to ``folder/results.json``: its meta (command, data, epochs, ...), every
    row's evaluations (one per seed) and every row's curves (one per seed; empty without ``--curve``)."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise SimveError(f"{folder} holds no benchmark results (no results.json); give a folder that "
                         "simve benchmark --out wrote")
    stored = read_json(path)
    return stored["meta"], stored["results"], stored.get("curves", {})


def summary_table(per_row: dict[str, list[dict]], curves: dict[str, list[list[dict]]]) -> str:
    """The headline table of a benchmark: one row per model, mean ± std over seeds (the rise of the
    validation content over the last doubling of steps where there are curves)."""
    return comparison_table(with_rise({row: [summarise(r) for r in runs] for row, runs in per_row.items()}, curves))


def row_group(row: str) -> str:
    """A row's colour group from its name alone: anchor, generative or discriminative."""
    return "anchor" if row in ANCHORS else "generative" if MODELS[row.split()[0]].generative else "discriminative"








def _figures(benchmark: Benchmark, per_row: dict[str, list[dict]]) -> None:
    spec = benchmark.spec
    figures = spec.out / "figures"
    summaries = {row: [summarise(r) for r in runs] for row, runs in per_row.items()}
    means = {row: {k: mean_std(s[k] for s in runs)["mean"] for k in runs[0]} for row, runs in summaries.items()}
    save_tradeoff(means, figures / "content_vs_style.png", {row: benchmark.group(row) for row in means})
    if benchmark.curves:
        save_curves(benchmark.curves, figures / "curves.png", {row: benchmark.group(row) for row in benchmark.curves})
    for row in benchmark.plain_rows():
        run_figures = benchmark.folder(row, spec.seeds[0]) / "figures"
        for name in ("reconstructions", "samples", "same_content_new_style"):
            source = run_figures / f"{name}.png"
            if source.exists():
                (figures / f"{row.replace(' ', '-')}_{name}.png").write_bytes(source.read_bytes())
    _embedding_figure(benchmark, figures)


def _embedding_figure(benchmark: Benchmark, figures: Path) -> None:
    """PCA of the test features of the first seed, coloured by content and by the first style factor."""
    import matplotlib.pyplot as plt

    seed = benchmark.spec.seeds[0]
    rows = benchmark.plain_rows()[:4]
    if not rows:
        return
    fig, axes = plt.subplots(2, len(rows), figsize=(3.2 * len(rows), 6.2), squeeze=False)
    for k, row in enumerate(rows):
        config = benchmark.config(row, seed)
        model, data = train_or_reuse(config, benchmark.folder(row, seed)), benchmark.workspace.data(config)
        test = data.test.subset(slice(0, 2000))
        features = embed_images(model, test.images)
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

