"""Evaluate one trained model on every probe task of its data, and write the results.

Features are frozen (eval mode, no gradients): the representation of each split's un-augmented
images, and of each transformed image set of the augmentation-parameter tasks. Each task's probes
are fitted on train, their hyper-parameters chosen on validation, and the test split scored once.
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import torch
from tqdm import tqdm

from simve.data import MultiView, preset
from simve.data.base import ImageData, Split
from simve.data.paths import write_atomic
from simve.evaluate.features import extract_features
from simve.evaluate.generative import generative_metrics
from simve.evaluate.metrics import alignment_uniformity
from simve.evaluate.probes import PROBES, run_probes
from simve.evaluate.tasks import build_tasks
from simve.models.base import SSLModel

SPLITS = ("train", "val", "test")


class RawPixels(SSLModel):
    """The anchor row: probes on the flattened pixels themselves."""

    name = "raw-pixels"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


def evaluate(model: SSLModel, data: ImageData, probes=PROBES, seed: int = 0, max_train: int = 10_000,
             particles: int = 0, views: int = 2, progress: bool = True) -> dict:
    """Probe accuracies per task and probe, alignment/uniformity, and (``particles`` > 0,
    generative models) the test ELBO, IWAE and reconstruction error."""
    tasks = build_tasks(data, seed=seed)
    features = {None: {s: extract_features(model, getattr(data, s)) for s in SPLITS}}
    for name, splits in tasks.images.items():
        features[name] = {s: extract_features(model, Split(images, torch.zeros(len(images), dtype=torch.long)))
                          for s, images in splits.items()}
    results = {"tasks": {}}
    for task in tqdm(tasks.tasks, desc=f"probes ({model.name})", unit="task", disable=not progress):
        parts = [task.select(split, features[task.images][split]) for split in SPLITS]
        results["tasks"][task.name] = {
            "kind": task.kind, "perturbed": task.perturbed, "classes": len(task.class_names), "chance": task.chance,
            "probes": run_probes(probes, *parts, seed=seed, max_train=max_train),
        }
    multiview = MultiView(preset(data.preset), views)
    results["metrics"] = alignment_uniformity(model, data.test, multiview, seed=seed)
    if particles and model.generative:
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


def write_results(results: dict, out_dir: str | Path, header: str) -> tuple[Path, Path]:
    """``results.json`` and ``table.md`` in ``out_dir``; ``header`` (the command, the data) heads the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, table_path = out_dir / "results.json", out_dir / "table.md"
    json_path.write_text(json.dumps(finite(results), indent=2, allow_nan=False) + "\n")
    table_path.write_text(header.rstrip() + "\n\n" + markdown_table(results))
    return json_path, table_path


def cached_results(path: Path, key: dict, compute) -> dict:
    """``compute()``, stored at ``path`` beside ``key`` and reused while the stored key matches."""
    if path.exists():
        stored = json.loads(path.read_text())
        if all(stored.get(name) == value for name, value in key.items()):
            return stored["results"]
    results = compute()
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(finite({**key, "results": results}))))
    return results


def machine() -> str:
    """Where numbers were made, for the headers of results: ``x86_64, 2 threads``."""
    threads = torch.get_num_threads()
    return f"{platform.machine()}, {threads} thread{'s' * (threads > 1)}"


def versions() -> dict[str, str]:
    """The versions that made a set of numbers."""
    from simve import __version__

    return {"simve": __version__, "torch": torch.__version__, "python": platform.python_version()}


def finite(value):
    """``value`` as plain JSON: tensors and numpy scalars as numbers, every NaN or infinite float as
    None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, torch.Tensor):
        return finite(value.tolist())
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


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
           "style_other": "style (attributes)", "align": "L_align", "uniform": "L_uniform"}
PERCENT = ("content", "style_kept", "style_perturbed", "style_other")


def comparison_table(rows: dict[str, list[dict[str, float]]]) -> str:
    """Markdown: one row per model, mean +- std over its runs (seeds) of each summary number;
    accuracies in %, columns that are empty for every model left out."""
    columns = [c for c in COLUMNS if any(math.isfinite(s.get(c, math.nan)) for runs in rows.values() for s in runs)]
    lines = ["| model | " + " | ".join(COLUMNS[c] for c in columns) + " |", "|---|" + "---|" * len(columns)]
    for name, runs in rows.items():
        cells = []
        for column in columns:
            values = torch.tensor([s.get(column, math.nan) for s in runs], dtype=torch.float64)
            scale = 100 if column in PERCENT else 1
            mean = scale * values.mean()
            cell = f"{mean:.1f}" if column in PERCENT else f"{mean:.3f}"
            if len(values) > 1:
                std = scale * values.std()
                cell += f" ± {std:.1f}" if column in PERCENT else f" ± {std:.3f}"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
