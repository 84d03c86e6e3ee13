"""Generative evaluation on held-out data: ELBO, IWAE and reconstruction error.

Each test image is seen through J augmented views drawn with a fixed seed (the same views for
every model), and the bounds on ``log p(x_1..J)`` are reported per view, in nats, so that
SimVE (one joint bound over its J views) and the VAE family (J independent bounds) compare on
the same footing. The reconstruction error is the mean squared error per pixel between each
un-augmented image and the decoder mean at its posterior mean.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from simve.data.base import Split
from simve.data.views import MultiView
from simve.evaluate.batches import image_batches
from simve.models.generative import GenerativeModel

BOUNDS_PROTOCOL = 2  # raised when the bounds' computation changes (2: the views no longer depend on the batch size)


@torch.no_grad()
def generative_metrics(
    model: GenerativeModel,
    split: Split,
    multiview: MultiView,
    particles: int = 100,
    batch_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """ELBO and IWAE_K per view (nats), and reconstruction MSE per pixel, over ``split``.

    The views are those of ``multiview(split.images, torch.Generator().manual_seed(seed))``, whatever
    ``batch_size``; the guide's draws are seeded with ``seed`` too (the global RNG is forked, so the
    bounds do not depend on what ran before), batch after batch, so another ``batch_size`` changes them
    (Monte Carlo noise only). ``batch_size`` defaults to about 4096 decoded images per batch (images x
    particles)."""
    batch_size = batch_size or max(1, 4096 // particles)
    model.eval()
    device = model.device
    totals = {"elbo": 0.0, "iwae": 0.0, "sq_error": 0.0}
    batches = image_batches(split.images, batch_size)
    n, n_views = len(split), multiview.views
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for rows, images, originals in tqdm(batches, desc=f"bounds (K={particles})", unit="batch",
                                            disable=not progress, total=-(-n // batch_size)):
            # each batch's rows of the views of the whole split, as multiview(split.images, generator) draws them:
            # an image's views do not depend on the batch size (which defaults to one set by ``particles``)
            views, _ = multiview(images, torch.Generator().manual_seed(seed), rows=(rows.start, n))
            originals = originals.to(device)
            bounds = model.bounds(views.to(device), particles)
            totals["elbo"] += float(bounds["elbo"].sum())
            totals["iwae"] += float(bounds["iwae"].sum())
            totals["sq_error"] += float((model.reconstruct(originals) - originals).pow(2).mean((1, 2, 3)).sum())
    return {
        "elbo_per_view": totals["elbo"] / (n * n_views),
        "iwae_per_view": totals["iwae"] / (n * n_views),
        "iwae_particles": particles,
        "reconstruction_mse": totals["sq_error"] / n,
        "images": n,
        "views": n_views,
    }
