"""Representation metrics of Wang & Isola on l2-normalised features, for any model.

    L_align   = E_{(x, x+)} || f(x) - f(x+) ||^alpha            (alpha = 2): views of a test image
    L_uniform = log E_{x, y} exp(-t || f(x) - f(y) ||^2)       (t = 2): over test images

With J views of each image, L_align is the mean over the J (J - 1) / 2 pairs of its views (every
pair is a positive pair; for J = 2 the one pair).
"""

from __future__ import annotations

import itertools

import torch

from simve import losses
from simve.data.base import Split
from simve.data.views import MultiView
from simve.errors import SimveError
from simve.evaluate.batches import image_batches
from simve.models import SSLModel


@torch.no_grad()
def alignment_uniformity(model: SSLModel, split: Split, multiview: MultiView, max_images: int = 4000,
                         seed: int = 0, batch_size: int = 512) -> dict[str, float]:
    """L_align on the pairs of ``multiview``'s views (J >= 2) and L_uniform on the un-augmented images
    of ``split``."""
    n_views = multiview.views
    if n_views < 2:
        raise SimveError(f"L_align needs at least 2 views per image, got {n_views}")
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    views, plain = [], []
    for _, chunk, x in image_batches(split.images[:max_images], batch_size, model.device):
        v, _ = multiview(chunk, generator)
        views.append(model.embed(v.flatten(0, 1).to(model.device)).view(len(chunk), n_views, -1).cpu())
        plain.append(model.embed(x).cpu())
    views, plain = torch.cat(views), torch.cat(plain)
    align = torch.stack([losses.align(views[:, j], views[:, k], 2.0)
                         for j, k in itertools.combinations(range(n_views), 2)]).mean()
    return {"align": float(align), "uniform": float(losses.uniform(plain, 2.0))}
