"""Datasets, augmentations and multi-view batches."""

from simve.data.augment import PRESETS, Augment, preset
from simve.data.base import Factor, ImageData, Split, split_validation
from simve.data.sources import NAMES, load_dataset, read_npz
from simve.data.views import MultiView, ViewLoader

__all__ = [
    "NAMES",
    "PRESETS",
    "Augment",
    "Factor",
    "ImageData",
    "MultiView",
    "Split",
    "ViewLoader",
    "load_dataset",
    "preset",
    "read_npz",
    "split_validation",
]
