"""The data interface every source returns: uint8 images with labels and metadata.

A source gives an :class:`ImageData`: train, validation and test :class:`Split` s of
``uint8`` images shaped ``(N, C, H, W)`` with ``int64`` labels, the class names, and the
style factors where they are known (the glyphs' ground truth, CelebA's attributes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from simve.errors import SimveError


@dataclass(frozen=True)
class Factor:
    """One style factor: its name, its kind, and what its values mean.

    ``kind`` is ``"categorical"`` (values are indices into ``levels``), ``"binary"`` (0/1) or
    ``"continuous"`` (values lie in ``[low, high]``). ``perturbed`` says whether the training
    augmentations of the dataset's preset change this factor (known for procedural data;
    ``None`` where unknown).
    """

    name: str
    kind: str
    levels: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    perturbed: bool | None = None


@dataclass(frozen=True)
class Split:
    """Images ``(N, C, H, W)`` uint8, labels ``(N,)`` int64, factors ``(N, F)`` float32 or None."""

    images: torch.Tensor
    labels: torch.Tensor
    factors: torch.Tensor | None = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise SimveError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.shape != (len(self.images),):
            raise SimveError(
                f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}"
            )
        if self.factors is not None and self.factors.shape[0] != len(self.images):
            raise SimveError(
                f"factors must have {len(self.images)} rows, got {tuple(self.factors.shape)}"
            )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: torch.Tensor) -> Split:
        factors = None if self.factors is None else self.factors[index]
        return Split(self.images[index], self.labels[index], factors)


@dataclass(frozen=True)
class ImageData:
    """A dataset with its three splits and its metadata."""

    name: str
    train: Split
    val: Split
    test: Split
    class_names: tuple[str, ...]
    factors: tuple[Factor, ...] = ()
    preset: str = "gray28"  # name of the augmentation preset that suits these images
    source: str = ""  # where the data came from, for `simve data info`
    extra: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Carve a validation split out of ``train``: a seeded random ``fraction`` of it."""
    if not 0.0 <= fraction < 1.0:
        raise SimveError(f"validation fraction must be in [0, 1), got {fraction}")
    n_val = round(fraction * len(train))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.subset(order[n_val:].sort().values), train.subset(order[:n_val].sort().values)
