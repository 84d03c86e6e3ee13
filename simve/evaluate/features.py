"""Frozen features of any trained model: eval mode, batched, no gradients."""

from __future__ import annotations

import torch

from simve.data.base import Split
from simve.evaluate.batches import embed_images
from simve.models import SSLModel


def extract_features(model: SSLModel, split: Split, batch_size: int = 512) -> torch.Tensor:
    """``model.embed`` of the un-augmented images of ``split``, ``(N, d)`` on the CPU.

    The model is put in eval mode, so norm layers use their running statistics."""
    return embed_images(model, split.images, batch_size)
