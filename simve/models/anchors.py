"""The anchor rows of a benchmark that no training made: probes on the raw pixels themselves."""

from __future__ import annotations

import torch

from simve.models.base import SSLModel

ANCHORS = ("raw pixels", "random encoder")  # a benchmark's untrained rows: these pixels, an untrained encoder


class RawPixels(SSLModel):
    """The flattened pixels as the representation (nothing to train)."""

    name = "raw-pixels"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)
