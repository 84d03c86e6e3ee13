"""Frozen features of any trained model: eval mode, batched, no gradients."""

from __future__ import annotations

import torch

from simve.data.base import Split
from simve.data.views import MultiView
from simve.models.base import SSLModel


@torch.no_grad()
def extract_features(model: SSLModel, split: Split, batch_size: int = 512) -> torch.Tensor:
    """``model.embed`` of the un-augmented images of ``split``, ``(N, d)`` on the CPU.

    The model is put in eval mode, so norm layers use their running statistics."""
    model.eval()
    chunks = [model.embed(MultiView.original(split.images[i : i + batch_size]).to(model.device)).cpu()
              for i in range(0, len(split), batch_size)]
    return torch.cat(chunks)
