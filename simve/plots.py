"""Figures: grids of images and their views."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch


def _as_rgb_grid(images: torch.Tensor, pad: int = 2) -> torch.Tensor:
    """Tile float images ``(R, K, C, H, W)`` in [0, 1] into one ``(H', W', 3)`` array, padded white."""
    rows, cols, c, h, w = images.shape
    images = images.expand(rows, cols, 3, h, w) if c == 1 else images
    grid = torch.ones(rows * (h + pad) + pad, cols * (w + pad) + pad, 3)
    for r in range(rows):
        for k in range(cols):
            top, left = pad + r * (h + pad), pad + k * (w + pad)
            grid[top:top + h, left:left + w] = images[r, k].permute(1, 2, 0)
    return grid


def save_view_grid(originals: torch.Tensor, views: torch.Tensor, path: str | Path, title: str = "") -> Path:
    """One row per image: the original, then its J views. Float images in [0, 1]."""
    columns = torch.cat([originals[:, None], views], dim=1).clamp(0, 1).cpu()
    grid = _as_rgb_grid(columns)
    rows, cols = columns.shape[:2]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * cols, 0.9 * rows + 0.6))
    ax.imshow(grid.numpy(), interpolation="nearest")
    step = grid.shape[1] / cols
    ax.set_xticks([step * (k + 0.5) for k in range(cols)])
    ax.set_xticklabels(["original"] + [f"view {j}" for j in range(1, cols)], fontsize=8)
    ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
