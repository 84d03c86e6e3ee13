"""Multiple augmented views per image, and the seeded, repeatable training batches of them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from simve.data.augment import Augment
from simve.data.base import Split
from simve.errors import SimveError


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise SimveError(f"images must be a uint8 tensor (N, C, H, W), got {got}")


class MultiView:
    """``views`` independently augmented views of each image.

    ``MultiView(augment, J)(images, generator)`` takes uint8 images ``(N, C, H, W)`` and returns
    float views ``(N, J, C, H, W)`` in [0, 1] and their parameters, each ``(N, J)``, on the
    images' device. All ``N * J`` views are augmented in one vectorised call; view ``j`` of image
    ``i`` is row ``i * J + j`` of that call, so ``augment.apply`` on the images repeated with
    ``repeat_interleave(J, 0)`` and the parameters flattened to ``(N * J,)`` reproduces them.
    """

    def __init__(self, augment: Augment, views: int):
        if not isinstance(views, int) or views < 1:
            raise SimveError(f"views must be an integer >= 1, got {views!r}")
        self.augment = augment
        self.views = views

    def __repr__(self) -> str:
        return f"MultiView({self.augment!r}, views={self.views})"

    @staticmethod
    def original(images: torch.Tensor) -> torch.Tensor:
        """The un-augmented images as float ``(N, C, H, W)`` in [0, 1]."""
        _check_images(images)
        return images.float().div_(255.0)

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None, rows: tuple[int, int] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """With ``rows = (start, total)``, ``images`` are rows ``start..start + N`` of a batch of ``total``:
        the parameters are drawn for the whole batch and only these rows' are applied, so the views equal
        those rows of the views of the whole batch (what each process of a distributed run does)."""
        x = self.original(images).repeat_interleave(self.views, dim=0)
        if rows is None:
            views, params = self.augment(x, generator)
        else:
            start, total = rows
            drawn = self.augment.sample(total * self.views, generator)
            part = slice(start * self.views, start * self.views + len(x))
            params = {key: value[part].to(x.device) for key, value in drawn.items()}
            views = self.augment.apply(x, params)
        n = len(images)
        return (
            views.view(n, self.views, *views.shape[1:]),
            {key: value.view(n, self.views, *value.shape[1:]) for key, value in params.items()},
        )


def _seed(*key: int) -> int:
    """A well-mixed 63-bit seed from a tuple of integers."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


class ViewLoader:
    """Training batches ``(views (B, J, C, H, W), labels (B,), params)`` of a split.

    Built in the main process from the uint8 tensors in memory, which move to ``device`` once: each
    batch is indexed and augmented there in one call. The shuffle of an epoch draws from a generator
    seeded by ``(seed, epoch)`` and the views of each batch from one seeded by ``(seed, epoch,
    batch)``, so a run is exactly repeatable and :meth:`epoch_batches` can start mid-epoch (a
    resumed run) without replaying the batches before. Iterating the loader itself uses the
    current :attr:`epoch` and then advances it by one; :meth:`set_epoch` sets it.

    ``shard = (rank, world)``: the loader of one of ``world`` processes training together. Every
    process walks the same batches of ``batch_size`` (the global batch) and takes its
    ``batch_size / world`` consecutive rows of each, with exactly the views those rows have in the
    one-process loader (see :class:`MultiView`'s ``rows``): the data a run sees do not depend on
    the number of processes it runs on.

    ``prefetch``: make the next batch in a worker thread while the caller uses this one. The default
    (None) prefetches on a CUDA device only: on a CPU the worker's torch calls start a second OpenMP
    team on the same cores, which slows every later op of the process (a FashionMNIST SimCLR step
    by 10-25 % on 2 cores, the learning curve's probe fits by more) and hides nothing.
    """

    def __init__(
        self,
        split: Split,
        multiview: MultiView,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
        device: str | torch.device = "cpu",
        prefetch: bool | None = None,
        shard: tuple[int, int] = (0, 1),
    ):
        if not isinstance(split, Split):
            raise SimveError(f"ViewLoader needs a Split, got {type(split).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise SimveError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if drop_last and batch_size > len(split):
            raise SimveError(
                f"batch_size {batch_size} exceeds the {len(split)} images, so drop_last leaves no batch; use a smaller batch"
            )
        rank, world = shard
        if not 0 <= rank < world:
            raise SimveError(f"shard must be (rank, world) with 0 <= rank < world, got {shard}")
        if batch_size % world:
            raise SimveError(f"a batch of {batch_size} does not split evenly over {world} processes; "
                             f"use a --batch-size that is a multiple of {world}")
        self.split = split
        self.multiview = multiview
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.device = torch.device(device)
        self.epoch = 0
        self.prefetch = self.device.type == "cuda" if prefetch is None else prefetch
        self._resident = None
        self.shard = shard

    @property
    def _on_device(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's uint8 images and labels on the loader's device, copied there once (on a GPU the
        batches are then indexed and augmented without a host-to-device copy per step)."""
        if self._resident is None:
            self._resident = (self.split.images.to(self.device), self.split.labels.to(self.device))
        return self._resident

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use ``epoch``'s shuffle and augmentations."""
        self.epoch = epoch

    def __len__(self) -> int:
        n, b = len(self.split), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.epoch_batches(epoch)

    def epoch_batches(
        self, epoch: int, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]:
        """The batches of ``epoch`` from batch number ``start`` on."""
        n = len(self.split)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(_seed(self.seed, epoch)))
        else:
            order = torch.arange(n)
        images, labels = self._on_device

        rank, world = self.shard
        per_rank = self.batch_size // world
        rows = None if world == 1 else (rank * per_rank, self.batch_size)  # this rank's rows of every batch

        def make(batch: int):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            generator = torch.Generator().manual_seed(_seed(self.seed, epoch, batch))
            if rows:
                index = index[rows[0] : rows[0] + per_rank]
            index = index.to(self.device)
            views, params = self.multiview(images[index], generator, rows)
            return views, labels[index], params

        if not self.prefetch:
            yield from map(make, range(start, len(self)))
            return
        # The next batch is made in a worker thread while the caller trains on this one; each batch
        # draws from its own generator, so the batches are the same as without the thread.
        with ThreadPoolExecutor(1) as worker:
            pending = worker.submit(make, start) if start < len(self) else None
            for batch in range(start, len(self)):
                ready = pending.result()
                pending = worker.submit(make, batch + 1) if batch + 1 < len(self) else None
                yield ready
