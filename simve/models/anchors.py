"""The anchor rows of a benchmark that no training made: probes on the raw pixels themselves, and on
their principal components."""

from __future__ import annotations

import torch

from simve.models.base import SSLModel

# A benchmark's untrained rows: these pixels, an untrained encoder, and the pixels' first d principal
# components (d the generative latent size), fitted on the train images.
ANCHORS = ("raw pixels", "random encoder", "pca")


class RawPixels(SSLModel):
    """The flattened pixels as the representation (nothing to train)."""

    name = "raw-pixels"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


class PCA(SSLModel):
    """The pixels' coordinates on their first ``dim`` principal axes: ``f(x) = V_d^T (x - m)``, with ``m`` the
    mean train image and ``V_d`` the top ``dim`` right singular vectors of the centred train images (in
    [0, 1], flattened). A linear, unsupervised map of the latent size: what a linear encoder learns from
    pixel variance alone."""

    name = "pca"

    def __init__(self, train_images: torch.Tensor, dim: int):
        super().__init__()
        x = train_images.flatten(1).double() / 255.0
        mean = x.mean(0)
        axes = torch.linalg.svd(x - mean, full_matrices=False).Vh[:dim]
        self.register_buffer("mean", mean.float())
        self.register_buffer("axes", axes.float())

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return (images.flatten(1) - self.mean) @ self.axes.T
