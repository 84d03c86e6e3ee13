"""Representation metrics of Wang & Isola on l2-normalised features, for any model.

    L_align   = E_{(x, x+)} || f(x) - f(x+) ||^alpha            (alpha = 2): two views of a test image
    L_uniform = log E_{x, y} exp(-t || f(x) - f(y) ||^2)       (t = 2): over test images
"""

from __future__ import annotations

import torch

from simve import losses
from simve.data.base import Split
from simve.data.views import MultiView
from simve.models.base import SSLModel


@torch.no_grad()
def alignment_uniformity(model: SSLModel, split: Split, multiview: MultiView, max_images: int = 4000,
                         seed: int = 0, batch_size: int = 512) -> dict[str, float]:
    """L_align on pairs of augmented views and L_uniform on the un-augmented images of ``split``."""
    model.eval()
    device = model.device
    images = split.images[:max_images]
    generator = torch.Generator().manual_seed(seed)
    pairs, plain = [], []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        views, _ = MultiView(multiview.augment, 2)(chunk, generator)
        pairs.append(model.embed(views.flatten(0, 1).to(device)).view(len(chunk), 2, -1).cpu())
        plain.append(model.embed(MultiView.original(chunk).to(device)).cpu())
    pairs, plain = torch.cat(pairs), torch.cat(plain)
    return {"align": float(losses.align(pairs[:, 0], pairs[:, 1], 2.0)),
            "uniform": float(losses.uniform(plain, 2.0))}
