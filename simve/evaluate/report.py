"""Evaluate one trained model on every probe task of its data, and the tables of the results.

Features are frozen (eval mode, no gradients): the representation of each split's un-augmented
images, and of each transformed image set of the augmentation-parameter tasks. Each task's probes
are fitted on train, their hyper-parameters chosen on validation, and the test split scored once.
"""

from __future__ import annotations

import math

from tqdm import tqdm

from simve.data import MultiView, preset
from simve.data.base import ImageData
from simve.evaluate.batches import embed_images
from simve.evaluate.generative import generative_metrics
from simve.evaluate.metrics import alignment_uniformity
from simve.evaluate.probes import PROBES, run_probes
from simve.evaluate.tasks import TaskSet, build_tasks
from simve.models import SSLModel
from simve.stats import mean_std

SPLITS = ("train", "val", "test")


def evaluate(model: SSLModel, data: ImageData, probes=PROBES, seed: int = 0, max_train: int = 10_000,
             particles: int = 0, views: int = 2, progress: bool = True, tasks: TaskSet | None = None) -> dict:
    """Probe accuracies per task and probe, L_align (over the pairs of ``views`` views of each test
    image) and L_uniform, and (``particles`` > 0, models that can) the test ELBO, IWAE and
    reconstruction error on ``views`` views. ``tasks``: the data's probe tasks for ``seed``, built
    here where not given."""
    tasks = build_tasks(data, seed=seed) if tasks is None else tasks
    features = {None: {s: embed_images(model, getattr(data, s).images) for s in SPLITS}}
    for name, splits in tasks.images.items():
        features[name] = {s: embed_images(model, images) for s, images in splits.items()}
    results = {"tasks": {}}
    for task in tqdm(tasks.tasks, desc=f"probes ({model.name})", unit="task", disable=not progress):
        parts = [task.select(split, features[task.images][split]) for split in SPLITS]
        results["tasks"][task.name] = {
            "kind": task.kind, "perturbed": task.perturbed, "classes": len(task.class_names), "chance": task.chance,
            "probes": run_probes(probes, *parts, seed=seed, max_train=max_train),
        }
    multiview = MultiView(preset(data.preset), views)
    results["metrics"] = alignment_uniformity(model, data.test, multiview, seed=seed)
    if particles and model.can("bounds"):
        results["generative"] = generative_metrics(model, data.test.subset(slice(0, 1000)), multiview,
                                                   particles=particles, seed=seed, progress=progress)
    return results


def _cell(result: dict) -> str:
    return f"{100 * result['test_accuracy']:.1f}"


def markdown_table(results: dict, probes=PROBES) -> str:
    """One row per task: its kind, chance and the test accuracy (%) of each probe."""
    lines = ["| task | kind | classes | chance | " + " | ".join(probes) + " |",
             "|---|---|---|---|" + "---|" * len(probes)]
    for name, task in results["tasks"].items():
        kind = task["kind"] + {True: " (perturbed)", False: " (kept)", None: ""}[task["perturbed"]]
        cells = [_cell(task["probes"][p]) if p in task["probes"] else "" for p in probes]
        lines.append(f"| {name} | {kind} | {task['classes']} | {100 * task['chance']:.1f} | " + " | ".join(cells) + " |")
    extra = []
    if "metrics" in results:
        extra.append(f"L_align {results['metrics']['align']:.3f}, L_uniform {results['metrics']['uniform']:.3f}")
    if "generative" in results:
        g = results["generative"]
        extra.append(f"ELBO {g['elbo_per_view']:.1f}, IWAE(K={g['iwae_particles']}) {g['iwae_per_view']:.1f} "
                     f"nats per view, reconstruction MSE {g['reconstruction_mse']:.4f}")
    return "\n".join(lines) + ("\n\n" + "; ".join(extra) + "\n" if extra else "\n")


def summarise(results: dict, probe: str = "linear") -> dict[str, float]:
    """The headline numbers of one evaluation: content accuracy, mean accuracy over the style
    tasks the augmentations keep and over those they perturb (``probe``), L_align, L_uniform."""
    def mean_accuracy(select) -> float:
        values = [t["probes"][probe]["test_accuracy"] for t in results["tasks"].values() if select(t)]
        return sum(values) / len(values) if values else float("nan")

    summary = {
        "content": mean_accuracy(lambda t: t["kind"] == "content"),
        "style_kept": mean_accuracy(lambda t: t["kind"] == "style" and t["perturbed"] is False),
        "style_perturbed": mean_accuracy(lambda t: t["kind"] == "style" and t["perturbed"] is True),
        "style_other": mean_accuracy(lambda t: t["kind"] == "style" and t["perturbed"] is None),
    }
    summary.update({k: results["metrics"][k] for k in ("align", "uniform")} if "metrics" in results else {})
    return summary


COLUMNS = {"content": "content", "style_kept": "style kept", "style_perturbed": "style perturbed",
           "style_other": "style (attributes)", "align": "L_align", "uniform": "L_uniform",
           "content_rise": "val content rise, last doubling"}
PERCENT = ("content", "style_kept", "style_perturbed", "style_other", "content_rise")


def comparison_table(rows: dict[str, list[dict[str, float]]]) -> str:
    """Markdown: one row per model, mean ± std over its runs (seeds; :mod:`simve.stats`) of each summary
    number; accuracies in %, columns that are empty for every model left out."""
    columns = [c for c in COLUMNS if any(math.isfinite(s.get(c, math.nan)) for runs in rows.values() for s in runs)]
    lines = ["| model | " + " | ".join(COLUMNS[c] for c in columns) + " |", "|---|" + "---|" * len(columns)]
    for name, runs in rows.items():
        cells = []
        for column in columns:
            stats = mean_std(s.get(column, math.nan) for s in runs)
            if not math.isfinite(stats["mean"]):
                cells.append("–")
                continue
            scale, digits = (100, 1) if column in PERCENT else (1, 3)
            cell = f"{scale * stats['mean']:.{digits}f}"
            cells.append(cell + (f" ± {scale * stats['std']:.{digits}f}" if len(runs) > 1 else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
