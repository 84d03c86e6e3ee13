"""What one trained run gives a user: its probe evaluation as a results folder, its generative bounds, its
frozen features and task labels as arrays (``simve eval``, ``simve eval-gen``, ``simve embed``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simve.data import MultiView, load_dataset, preset
from simve.errors import SimveError
from simve.evaluate.batches import embed_images
from simve.evaluate.generative import generative_metrics
from simve.evaluate.report import evaluate, markdown_table
from simve.evaluate.tasks import build_tasks
from simve.io import write_json
from simve.runs import timer, write_results
from simve.train import load_trained


def evaluate_run(run_dir: str | Path, command: str, probes, seed: int = 0, max_train: int = 10_000,
                 particles: int = 100, device: str = "auto", partial: bool = False) -> tuple[str, Path]:
    """The probes (and, for generative models, the bounds) of the run in ``run_dir`` on its own data, written
    to ``RUN/eval/`` (``results.json``, ``table.md``); returns the table and the table's path."""
    elapsed = timer()
    config, data, model = load_trained(run_dir, device, partial)
    results = evaluate(model, data, probes=probes, seed=seed, max_train=max_train, particles=particles,
                       views=config.views, tasks=build_tasks(data, seed=seed, perturbed_bins=config.style_bins))
    table = markdown_table(results, probes)
    text = (f"Test accuracy (%) of probes fitted on {len(data.train)} train images (at most {max_train}), "
            f"chosen on {len(data.val)} validation images, scored once on {len(data.test)} test images.\n\n{table}")
    meta = {"config": config.to_dict(), "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test)}}
    _, path = write_results(Path(run_dir) / "eval", f"{config.model} on {config.data}, {config.epochs} epochs, "
                            f"seed {config.seed}", command, elapsed(), text, results, meta)
    return table, path


def run_bounds(run_dir: str | Path, command: str, particles: int, limit: int | None = None, seed: int = 0,
               device: str = "auto", partial: bool = False) -> tuple[dict, Path]:
    """Test ELBO, IWAE (``particles`` samples) and reconstruction error of a generative run, written to
    ``RUN/eval-gen.json``; a model without bounds, or with bounds that are not finite, is refused."""
    config, data, model = load_trained(run_dir, device, partial)
    if not model.can("bounds"):
        raise SimveError(f"{config.model} is not a generative model: it has no likelihood bounds")
    split = data.test if limit is None else data.test.subset(slice(0, limit))
    metrics = generative_metrics(model, split, MultiView(preset(data.preset), config.views), particles=particles,
                                 seed=seed)
    if not all(math.isfinite(metrics[k]) for k in ("elbo_per_view", "iwae_per_view")):
        raise SimveError(f"the bounds of the run in {run_dir} are not finite (ELBO {metrics['elbo_per_view']}): "
                         "the model is numerically broken, e.g. a diverged run; retrain it with a lower --lr")
    path = write_json(Path(run_dir) / "eval-gen.json", {"command": command, **metrics}, indent=2)
    return {"model": config.model, "data": config.data, **metrics}, path


def split_arrays(run_dir: str | Path, split: str, data_name: str | None = None, data_root: str | None = None,
                 device: str = "auto", partial: bool = False) -> tuple[dict[str, np.ndarray], str]:
    """The frozen features of a split's un-augmented images (``features``), their labels (``labels``) and the
    labels of every task on the split's own images (``task_<name>``, with ``task_<name>_index`` for a task
    on some rows); on another dataset (``data_name``) of the same image shape where given. Also the name of
    the data the arrays come from."""
    config, data, model = load_trained(run_dir, device, partial)
    if data_name:
        trained_on, data = data.image_shape, load_dataset(data_name, data_root, seed=config.seed)
        if data.image_shape != trained_on:
            raise SimveError(f"{data_name} holds {'x'.join(map(str, data.image_shape))} images; the run was "
                             f"trained on {'x'.join(map(str, trained_on))}")
    images = getattr(data, split)
    arrays = {"features": embed_images(model, images.images).numpy(), "labels": images.labels.numpy()}
    for task in build_tasks(data, seed=config.seed, perturbed_bins=config.style_bins):
        if task.images is None:  # tasks on the split's own images (the transformed sets are not exported)
            arrays[f"task_{task.name}"] = task.labels[split].numpy()
            if task.index is not None:
                arrays[f"task_{task.name}_index"] = task.index[split].numpy()
    return arrays, f"{config.model} on {data.name}"
