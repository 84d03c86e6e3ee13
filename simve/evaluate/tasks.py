"""The probe tasks of a dataset: what frozen features are asked to predict.

A good representation for the class ("content") should predict the label; how much it still
says about "style" tells what the training augmentations made it throw away. So every dataset
gets one content task and several style tasks:

- content: the class label; CelebA: hair colour (black, blond, brown, gray), on the images that
  have exactly one of the four (``Task.index``).
- procedural data (glyphs): one ``style:<factor>`` task per ground-truth factor. Categorical
  factors keep their levels; continuous ones are cut into ``bins`` equal-frequency bins with
  edges from the train values (those the augmentations perturb into ``perturbed_bins``: the demo
  asks for 10, where 3 bins of pose are read from raw pixels nearly as well as from any model).
  ``perturbed`` says whether the training augmentations change
  the factor (rotation, scale, position, colour) or keep it (font, thickness): style the
  augmentations hide versus style they leave.
- real images (no ground-truth style): ``aug:<param>`` tasks. Each image of each split is
  transformed once with the dataset's own training preset and seeded, known parameters; the
  probe predicts the (binned) parameter from the features of the transformed image
  (``TaskSet.images["augmented"]``). These are all perturbed style. A parameter is probed only
  on the rows where it is visible: the jitter factors (brightness, contrast, saturation, hue)
  only where the jitter was applied (``jitter = 1``; elsewhere they sit at the identity value
  and a bin of them would just be "jitter off"), and saturation and hue only where the image
  was not then turned gray (``grayscale = 0``), which erases both. Colour parameters of
  1-channel images (never applied) and constant parameters give no task.
- CelebA: ``attr:<name>`` for its binary attributes other than the four hair colours,
  ``perturbed`` unknown (None).

A style task whose train or test rows hold a single class is skipped. Labels are given for the
rows the task uses (``Task.select`` pairs them with features).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from simve.data.augment import Augment, preset
from simve.data.base import ImageData
from simve.errors import SimveError
from simve.evaluate.batches import image_batches
from simve.train.config import STYLE_BINS

SPLITS = ("train", "val", "test")
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
AUGMENTED = "augmented"  # the name of the transformed image set of the aug: tasks
BINARY_PARAMS = ("flip", "vflip", "grayscale", "jitter")
JITTER_PARAMS = ("brightness", "contrast", "saturation", "hue")
COLOUR_PARAMS = JITTER_PARAMS + ("jitter", "grayscale")
ERASED_BY_GRAYSCALE = ("saturation", "hue")
_SEED_TAG = 0x7A5C  # keeps the task parameters' random stream apart from the training views'
_CHUNK = 2048  # images transformed per call


@dataclass(frozen=True)
class Task:
    """One probe task: classes, labels per split, and which rows and images it uses.

    ``labels[split]`` belongs to the rows ``index[split]`` of that split, in that order (all
    rows where ``index`` is None). ``images`` is None for the split's own un-augmented images,
    else the name of a transformed image set in :attr:`TaskSet.images`, row for row like the
    split.
    """

    name: str
    kind: str  # "content" or "style"
    perturbed: bool | None  # style the training augmentations change (True), keep (False), unknown (None)
    class_names: tuple[str, ...]
    labels: dict[str, torch.Tensor]
    index: dict[str, torch.Tensor] | None = None
    images: str | None = None

    @property
    def chance(self) -> float:
        """The majority-class rate on test: what predicting one class scores."""
        test = self.labels["test"]
        return float(torch.bincount(test).max()) / len(test) if len(test) else float("nan")

    def select(self, split: str, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The task's rows of ``features`` (one row per image of the split) and their labels."""
        rows = features if self.index is None else features[self.index[split]]
        return rows, self.labels[split]


@dataclass
class TaskSet:
    """The tasks of a dataset and the transformed image sets some of them use."""

    tasks: list[Task]
    images: dict[str, dict[str, torch.Tensor]]  # name -> split -> uint8 (N, C, H, W)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(task.name for task in self.tasks)

    def __getitem__(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise SimveError(f"no task {name!r}; tasks: {', '.join(self.names)}")

    def __iter__(self):
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)


# ------------------------------------------------------------------------------- binning


def equal_frequency_edges(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Inner edges that cut ``values`` into ``bins`` bins of (nearly) equal counts.

    Edge ``k`` lies midway between the sorted values at positions ``round(k n / bins) - 1`` and
    ``round(k n / bins)``; repeated edges (ties) are merged, so fewer bins may come out.
    """
    ordered = values.double().sort().values
    n = len(ordered)
    cuts = [round(k * n / bins) for k in range(1, bins)]
    edges = [(ordered[c - 1] + ordered[c]) / 2 for c in cuts if 0 < c < n]
    return torch.unique(torch.stack(edges)) if edges else torch.empty(0, dtype=torch.float64)


def apply_edges(values: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin numbers: ``k`` for ``edges[k-1] <= value < edges[k]``."""
    return torch.bucketize(values.double(), edges, right=True)


def _bin_names(edges: torch.Tensor) -> tuple[str, ...]:
    e = [f"{v:.3g}" for v in edges.tolist()]
    return (f"<{e[0]}",) + tuple(f"[{a}, {b})" for a, b in pairwise(e)) + (f">={e[-1]}",)


def _style_task(
    name: str,
    kind: str,
    values: dict[str, torch.Tensor],
    bins: int,
    perturbed: bool | None,
    levels: tuple[str, ...] = (),
    index: dict[str, torch.Tensor] | None = None,
    images: str | None = None,
) -> Task | None:
    """A style task from per-split values of one factor or parameter of ``kind``
    categorical / binary / continuous; None where it would be constant on train or test."""
    if kind == "categorical":
        labels = {s: v.round().long() for s, v in values.items()}
        class_names = levels
    elif kind == "binary":
        labels = {s: (v > 0.5).long() for s, v in values.items()}
        class_names = ("no", "yes")
    elif kind == "continuous":
        edges = equal_frequency_edges(values["train"], bins)
        if len(edges) == 0:
            return None
        labels = {s: apply_edges(v, edges) for s, v in values.items()}
        class_names = _bin_names(edges)
    else:
        raise SimveError(f"factor {name!r} has unknown kind {kind!r}; expected categorical, binary or continuous")
    if any(len(labels[s].unique()) < 2 for s in ("train", "test")):
        return None
    return Task(name, "style", perturbed, class_names, labels, index, images)


# ----------------------------------------------------------------------------------- tasks


def _rows(masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {s: m.nonzero().squeeze(1) for s, m in masks.items()}


def _content_task(data: ImageData) -> Task:
    """The class label, or for CelebA the hair colour of the images with exactly one."""
    if not set(HAIR_COLOURS) <= set(data.factor_names):
        labels = {s: getattr(data, s).labels for s in SPLITS}
        return Task("content", "content", None, tuple(data.class_names), labels)
    columns = [data.factor_names.index(h) for h in HAIR_COLOURS]
    hair = {s: getattr(data, s).factors[:, columns] > 0.5 for s in SPLITS}
    index = _rows({s: h.sum(dim=1) == 1 for s, h in hair.items()})
    labels = {s: hair[s][index[s]].long().argmax(dim=1) for s in SPLITS}
    return Task("content", "content", None, HAIR_COLOURS, labels, index)


def _factor_tasks(data: ImageData, bins: int, perturbed_bins: int) -> list[Task]:
    """``style:<factor>`` for ground-truth factors, ``attr:<name>`` for binary attributes; a continuous
    factor the augmentations perturb is cut into ``perturbed_bins`` bins, any other into ``bins``."""
    tasks = []
    for column, factor in enumerate(data.factors):
        if factor.name in HAIR_COLOURS and set(HAIR_COLOURS) <= set(data.factor_names):
            continue  # the content task of CelebA
        prefix = "attr" if factor.kind == "binary" else "style"
        values = {s: getattr(data, s).factors[:, column] for s in SPLITS}
        cut = perturbed_bins if factor.perturbed else bins
        task = _style_task(f"{prefix}:{factor.name}", factor.kind, values, cut, factor.perturbed, factor.levels)
        if task is not None:
            tasks.append(task)
    return tasks


def split_seed(seed: int, split: str) -> int:
    """The seed of the augmentation parameters of ``split``'s task images."""
    key = [_SEED_TAG, seed, SPLITS.index(split)]
    return int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0] >> 1)


def draw_params(augment: Augment, n: int, seed: int, split: str) -> dict[str, torch.Tensor]:
    """One parameter set per image of ``split``: what the ``aug:`` task images were made with."""
    return augment.sample(n, torch.Generator().manual_seed(split_seed(seed, split)))


def transform(augment: Augment, images: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """``images`` (uint8) transformed with ``params``, back to uint8 (rounded), in chunks."""
    out = torch.empty_like(images)
    for rows, _, x in image_batches(images, _CHUNK):
        x = augment.apply(x, {k: v[rows] for k, v in params.items()})
        out[rows] = x.mul_(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
    return out


def _visible(key: str, params: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Rows where parameter ``key`` shows in the image; None for all rows."""
    mask = None
    if key in JITTER_PARAMS and "jitter" in params:
        mask = params["jitter"] > 0.5
    if key in ERASED_BY_GRAYSCALE and "grayscale" in params:
        kept = params["grayscale"] < 0.5
        mask = kept if mask is None else mask & kept
    return mask


def _augmentation_tasks(data: ImageData, seed: int, bins: int) -> tuple[list[Task], dict[str, torch.Tensor]]:
    """``aug:<param>`` tasks and the images they use, transformed with the dataset's preset."""
    augment = preset(data.preset)
    params = {s: draw_params(augment, len(getattr(data, s)), seed, s) for s in SPLITS}
    images = {s: transform(augment, getattr(data, s).images, params[s]) for s in SPLITS}
    keys = [k for k in augment.keys if not (data.image_shape[0] != 3 and k in COLOUR_PARAMS)]
    tasks = []
    for key in keys:
        masks = {s: _visible(key, params[s]) for s in SPLITS}
        index = None if masks["train"] is None else _rows(masks)
        values = {s: params[s][key] if index is None else params[s][key][index[s]] for s in SPLITS}
        kind = "binary" if key in BINARY_PARAMS else "continuous"
        task = _style_task(f"aug:{key}", kind, values, bins, True, index=index, images=AUGMENTED)
        if task is not None:
            tasks.append(task)
    return tasks, images


def build_tasks(data: ImageData, seed: int = 0, bins: int = STYLE_BINS, perturbed_bins: int | None = None) -> TaskSet:
    """The content task and the style tasks of ``data`` (see the module docstring).

    Augmentation-parameter tasks are built for datasets without categorical or continuous
    ground-truth factors (real images); ``seed`` fixes their parameters, ``bins`` is the number
    of equal-frequency bins of every continuous factor or parameter, ``perturbed_bins`` (default
    ``bins``) that of those the augmentations perturb: finer bins ask for finer style.
    """
    perturbed_bins = bins if perturbed_bins is None else perturbed_bins
    for value in (bins, perturbed_bins):
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise SimveError(f"bins must be an integer >= 2, got {value!r}")
    tasks = [_content_task(data)] + _factor_tasks(data, bins, perturbed_bins)
    images = {}
    if not any(f.kind in ("categorical", "continuous") for f in data.factors):
        aug_tasks, images[AUGMENTED] = _augmentation_tasks(data, seed, perturbed_bins)
        tasks += aug_tasks
    return TaskSet(tasks, images)
