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

import torch

from simve.data.base import ImageData
from simve.evaluate.batches import embed_images
from simve.evaluate.probes import linear_probe
from simve.evaluate.tasks import SPLITS, TaskSet, build_tasks
from simve.models import SSLModel

CURVE_MAX_TRAIN = 2000  # train images a curve's probes are fitted on (a fit per task and point)


class CurveReader:
    """``reader(model, data)``: one curve point, a record per task (``task, kind, perturbed, accuracy``).

    The tasks of ``data`` are built at the first call and kept (a run reads its curve on one dataset)."""

    def __init__(self, seed: int = 0, max_train: int = CURVE_MAX_TRAIN):
        self.seed, self.max_train = seed, max_train
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
            self._tasks = build_tasks(self._data, seed=self.seed)
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
