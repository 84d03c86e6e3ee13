"""Learning curves: what a run's frozen features tell a linear probe, read during training.

At each point of a run's curve (:func:`simve.train.curve_epochs`) every probe task of the data is
read once: the linear probe (:func:`simve.evaluate.probes.linear_probe`, its ``l2`` chosen on
validation) is fitted on the frozen features of at most ``max_train`` train images (a seeded random
subset, the same at every point) and its accuracy is read on the validation split. The tasks are
built on the data with the validation split standing in for the test split, so a curve never reads
the test split; its numbers are validation accuracies at the chosen ``l2``, a little above what the
same probe scores on unseen images, alike for every model. Continuous style factors are binned by
the subset's own train values.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from simve.data.base import ImageData
from simve.evaluate.batches import embed_images
from simve.evaluate.probes import linear_probe
from simve.evaluate.tasks import SPLITS, TaskSet, build_tasks
from simve.models import SSLModel
from simve.stats import mean_std
from simve.train.config import STYLE_BINS, curve_epochs

CURVE_MAX_TRAIN = 2000  # train images a curve's probes are fitted on (a fit per task and point)


def schedule_cost(reading_seconds: float, epoch_seconds: float, epochs: int, schedule: str = "doubling") -> float:
    """What reading a curve adds to a run of ``epochs`` epochs, as a share of its training time:
    ``len(curve_epochs(schedule, epochs)) * reading_seconds / (epochs * epoch_seconds)``."""
    return len(curve_epochs(schedule, epochs)) * reading_seconds / (epochs * epoch_seconds)


class CurveReader:
    """``reader(model, data)``: one curve point, a record per task (``task, kind, perturbed, accuracy``).

    The tasks of ``data`` are built at the first call and kept (a run reads its curve on one dataset)."""

    def __init__(self, seed: int = 0, max_train: int = CURVE_MAX_TRAIN, perturbed_bins: int = STYLE_BINS):
        self.seed, self.max_train, self.perturbed_bins = seed, max_train, perturbed_bins
        self._tasks: TaskSet | None = None
        self._data: ImageData | None = None

    def scored_data(self, data: ImageData) -> ImageData:
        """``data`` with its train split cut to ``max_train`` images and the validation split in place of
        the test split."""
        rows = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(self.seed))
        train = data.train.subset(rows[: self.max_train].sort().values)
        return dataclasses.replace(data, train=train, test=data.val)

    @torch.no_grad()
    def __call__(self, model: SSLModel, data: ImageData) -> list[dict]:
        if self._tasks is None:
            self._data = self.scored_data(data)
            self._tasks = build_tasks(self._data, seed=self.seed, perturbed_bins=self.perturbed_bins)
        own = {s: embed_images(model, getattr(self._data, s).images) for s in ("train", "val")}
        features = {None: own} | {name: {s: embed_images(model, splits[s]) for s in ("train", "val")}
                                  for name, splits in self._tasks.images.items()}
        records = []
        for task in self._tasks:
            train, val = (task.select(s, features[task.images][s]) for s in SPLITS[:2])
            result = linear_probe(train, val, val, seed=self.seed)
            records.append({"task": task.name, "kind": task.kind, "perturbed": task.perturbed,
                            "accuracy": result["val_accuracy"]})
        return records


# --------------------------------------------------------------------------------- reading a curve

KINDS = {"content": lambda r: r["kind"] == "content",
         "style_kept": lambda r: r["kind"] == "style" and r["perturbed"] is False,
         "style_perturbed": lambda r: r["kind"] == "style" and r["perturbed"] is True,
         "style_other": lambda r: r["kind"] == "style" and r["perturbed"] is None}
RISING = 0.01  # a row whose validation content rose by more than this over its last doubling of steps is still rising


def curve_points(records: list[dict]) -> list[dict]:
    """A run's ``curve.jsonl`` records as one point per reading: ``step, epoch, seconds, probe_seconds`` and
    the mean validation accuracy of each kind of task (``content``, ``style_kept``, ``style_perturbed``,
    ``style_other``; None where the data has no task of that kind)."""
    points: dict[int, list[dict]] = {}
    for record in records:
        points.setdefault(record["step"], []).append(record)
    summary = []
    for step, rows in sorted(points.items()):
        point = {key: rows[0][key] for key in ("step", "epoch", "seconds", "probe_seconds")}
        for kind, select in KINDS.items():
            values = [r["accuracy"] for r in rows if select(r)]
            point[kind] = sum(values) / len(values) if values else None
        summary.append(point)
    return summary


def last_doubling(points: list[dict], key: str = "content") -> float | None:
    """How much ``key`` rose from the reading at half the last step (or the latest before it) to the last
    reading; None for a curve without such a pair of readings."""
    if not points or points[-1][key] is None:
        return None
    earlier = [p for p in points[:-1] if p["step"] <= points[-1]["step"] / 2 and p[key] is not None]
    return points[-1][key] - earlier[-1][key] if earlier else None

def mean_rise(curves: list[list[dict]]) -> float | None:
    """A row's validation content rise over its last doubling of steps, the mean over its seeds' curves
    (None where no curve has such a pair of readings)."""
    rises = [r for r in (last_doubling(points) for points in curves) if r is not None]
    return sum(rises) / len(rises) if rises else None


def still_rising(curves: list[list[dict]]) -> bool:
    """Whether a row's validation content rose by more than :data:`RISING` over its last doubling of steps
    (the mean over its seeds)."""
    rise = mean_rise(curves)
    return rise is not None and rise > RISING


def with_rise(summaries: dict[str, list[dict]], curves: dict[str, list[list[dict]]]) -> dict[str, list[dict]]:
    """Every row's summaries over seeds (:func:`simve.evaluate.report.summarise`), with its curve's rise over the
    last doubling (``content_rise``) where it has a curve; a row still rising is named so."""
    rows = {}
    for row, runs in summaries.items():
        if row in curves:
            runs = [{**s, "content_rise": math.nan if last_doubling(points) is None else last_doubling(points)}
                    for s, points in zip(runs, curves[row])]
        rows[f"{row} (still rising)" if row in curves and still_rising(curves[row]) else row] = runs
    return rows


def curve_table(curves: dict[str, list[list[dict]]], compute: dict[str, list[dict]], figure: str = "figures/curves.png") -> str:
    """Per row with a curve: validation content and perturbed style at its last reading and their rise
    over the last doubling of steps (mean ± std over seeds), what reading the curve cost, and the rows still
    rising."""
    def cell(values) -> str:
        values = [v for v in values if v is not None]
        if not values:
            return ""
        stats = mean_std(values)
        return f"{100 * stats['mean']:.1f}" + (f" ± {100 * stats['std']:.1f}" if len(values) > 1 else "")

    lines = [("Learning curves: linear probe fitted on a fixed subset of the train images, accuracy read on the "
              f"validation split (the test split is never read by a curve); {figure} draws them. Rise: "
              "from half the last step to the last step, in points."), "",
             "| model | val content | rise | val perturbed style | rise | readings | curve cost |",
             "|---|---|---|---|---|---|---|"]
    for row, runs in curves.items():
        cost = sum(p["probe_seconds"] for points in runs for p in points) / max(
            1e-9, sum(r["train_seconds"] for r in compute[row]))
        lines.append(f"| {row} | {cell(p[-1]['content'] for p in runs)} | {cell(last_doubling(p) for p in runs)} | "
                     f"{cell(p[-1]['style_perturbed'] for p in runs)} | "
                     f"{cell(last_doubling(p, 'style_perturbed') for p in runs)} | {len(runs[0])} | "
                     f"{100 * cost:.1f} % |")
    rising = [row for row, runs in curves.items() if still_rising(runs)]
    lines += ["", (f"Still rising (validation content gained more than {100 * RISING:.0f} point over the last "
                   f"doubling of steps): {', '.join(rising)}. Their numbers are not converged: a longer budget "
                   "would move them." if rising else
                   f"Every row's validation content gained at most {100 * RISING:.0f} point over its last doubling "
                   "of steps: the curves have flattened at this budget.")]
    return "\n".join(lines)
