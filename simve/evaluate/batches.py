"""The one way evaluation walks over images: fixed-size chunks of a uint8 image tensor, each as
float images in [0, 1] (and optionally on a device), in order."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from simve.data.views import MultiView
from simve.models import SSLModel


def image_batches(images: torch.Tensor, batch_size: int,
                  device: torch.device | None = None) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """``(rows, chunk, x)`` for consecutive chunks of ``images`` (uint8 ``(N, C, H, W)``): the rows'
    slice, the uint8 chunk itself and its float version in [0, 1] (on ``device`` where given)."""
    for start in range(0, len(images), batch_size):
        rows = slice(start, start + batch_size)
        chunk = images[rows]
        x = MultiView.original(chunk)
        yield rows, chunk, x if device is None else x.to(device)


@torch.no_grad()
def embed_images(model: SSLModel, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``model.embed`` of uint8 ``images`` in chunks, in eval mode, ``(N, d)`` on the CPU."""
    model.eval()
    return torch.cat([model.embed(x).cpu() for _, _, x in image_batches(images, batch_size, model.device)])
