"""Figures: grids of images and their views."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from adjustText import adjust_text


def write_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """``fig`` as the image file ``path`` (its folder made where missing), then closed: how every figure
    of the package is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def _as_rgb_grid(images: torch.Tensor, pad: int = 2) -> torch.Tensor:
    """Tile float images ``(R, K, C, H, W)`` in [0, 1] into one ``(H', W', 3)`` array, padded white."""
    rows, cols, c, h, w = images.shape
    images = images.expand(rows, cols, 3, h, w) if c == 1 else images[:, :, :3]  # 4 channels: the RGB part
    grid = torch.ones(rows * (h + pad) + pad, cols * (w + pad) + pad, 3)
    for r in range(rows):
        for k in range(cols):
            top, left = pad + r * (h + pad), pad + k * (w + pad)
            grid[top:top + h, left:left + w] = images[r, k].permute(1, 2, 0)
    return grid


def save_image_grid(
    images: torch.Tensor,
    path: str | Path,
    title: str = "",
    column_labels: list[str] | None = None,
    row_labels: list[str] | None = None,
) -> Path:
    """Float images ``(R, K, C, H, W)`` in [0, 1] as an R x K grid, optionally labelled."""
    images = images.detach().clamp(0, 1).cpu()
    grid = _as_rgb_grid(images)
    rows, cols = images.shape[:2]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * cols, 0.9 * rows + 0.6))
    ax.imshow(grid.numpy(), interpolation="nearest")
    ax.set_xticks([grid.shape[1] / cols * (k + 0.5) for k in range(cols)] if column_labels else [])
    ax.set_xticklabels(column_labels or [], fontsize=8)
    ax.set_yticks([grid.shape[0] / rows * (r + 0.5) for r in range(rows)] if row_labels else [])
    ax.set_yticklabels(row_labels or [], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return write_figure(fig, path)


def save_view_grid(originals: torch.Tensor, views: torch.Tensor, path: str | Path, title: str = "") -> Path:
    """One row per image: the original, then its J views."""
    labels = ["original"] + [f"view {j}" for j in range(1, views.shape[1] + 1)]
    return save_image_grid(torch.cat([originals[:, None], views], dim=1), path, title, column_labels=labels)


def square(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(R, K, C, H, W)`` with K = ceil(sqrt(N)), dropping the incomplete row."""
    cols = max(1, math.ceil(math.sqrt(len(images))))
    rows = max(1, len(images) // cols)
    return images[: rows * cols].view(rows, cols, *images.shape[1:])


@torch.no_grad()
def save_generative_figures(model, images: torch.Tensor, out_dir: str | Path, n_samples: int = 64) -> list[Path]:
    """Reconstructions, prior samples and latent traversals of a generative model, and for SimVE
    the "same content, new style" grid; ``images`` float ``(N, C, H, W)`` in [0, 1]."""
    out_dir = Path(out_dir)
    model.eval()
    images = images[:8].to(model.device)
    name = model.name
    paths = [
        save_image_grid(torch.stack([images, model.reconstruct(images)]).transpose(0, 1), out_dir / "reconstructions.png",
                        f"{name}: images (left) and reconstructions (right)", ["image", "reconstruction"]),
        save_image_grid(square(model.sample(n_samples)), out_dir / "samples.png", f"{name}: samples from the prior"),
        save_traversals(model, images[0], out_dir / "traversals.png"),
    ]
    if model.can("new_style"):
        styles = model.same_content_new_style(images, 7)
        paths.append(save_image_grid(
            torch.cat([images[:, None], styles], dim=1), out_dir / "same_content_new_style.png",
            f"{name}: each row one content y = loc(x), decoded with new styles z ~ N(y, s^2 I)",
            ["image"] + [f"style {k}" for k in range(1, 8)]))
    return paths


@torch.no_grad()
def save_traversals(model, image: torch.Tensor, path: str | Path, steps: int = 9, span: float = 2.5) -> Path:
    """Decode ``loc(x) + t e_k`` for t in [-span, span] along each latent axis k (up to 10 axes)."""
    loc = model.embed(image[None])[0]
    axes = min(len(loc), 10)
    offsets = torch.linspace(-span, span, steps, device=loc.device)
    z = loc.repeat(axes, steps, 1)
    z[torch.arange(axes), :, torch.arange(axes)] += offsets
    return save_image_grid(model.decode(z), path, f"{model.name}: latent traversals around one image",
                           [f"{t:+.1f}" for t in offsets.tolist()], [f"z{k}" for k in range(axes)])


GROUP_COLOURS = {"anchor": "0.55", "generative": "tab:red", "discriminative": "tab:blue", "sweep": "tab:orange"}


def save_tradeoff(points: dict[str, dict[str, float]], path: str | Path, groups: dict[str, str] | None = None,
                  panels: tuple[tuple[str, str], ...] = (("style_kept", "style the augmentations keep"),
                                                         ("style_perturbed", "style the augmentations perturb"))) -> Path:
    """Content accuracy against style accuracy, one panel per kind of style, one labelled point per model.

    ``points``: name -> summary numbers (``content`` and the panel keys); ``groups``: name -> one of
    ``GROUP_COLOURS`` (anchor, generative, discriminative, sweep). Panels without finite values are dropped.
    """
    panels = tuple((key, label) for key, label in panels
                   if any(math.isfinite(p.get(key, math.nan)) for p in points.values()))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.8), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        texts = []
        for name, summary in points.items():
            colour = GROUP_COLOURS[(groups or {}).get(name, "discriminative")]
            ax.scatter(summary[key], summary["content"], s=36, color=colour, zorder=2)
            texts.append(ax.text(summary[key], summary["content"], name, fontsize=7, color=colour))
        ax.set_xlabel(f"{label} (linear probe accuracy)")
        ax.set_ylabel("content (linear probe accuracy)")
        ax.grid(alpha=0.3)
        adjust_text(texts, ax=ax, arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=g) for g, c in GROUP_COLOURS.items()
               if g in set((groups or {}).values())]
    if handles:
        fig.legend(handles=handles, fontsize=8, loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 0.0))
    return write_figure(fig, path)


def save_tuning_map(points: dict[str, list[tuple[float, float, bool]]], path: str | Path,
                    style_label: str = "style the augmentations perturb") -> Path:
    """Every tuned grid point as (style, content), one colour per model, the chosen points as stars.

    ``points``: model name -> ``(style, content, chosen)`` for each grid point (validation scores)."""
    fig, ax = plt.subplots(figsize=(7, 5.2))
    for (name, rows), colour in zip(points.items(), plt.cm.tab10.colors * 3):
        style, content, _ = zip(*rows)
        ax.scatter(style, content, s=18, color=colour, alpha=0.55, label=f"{name} ({len(rows)} points)")
        for s, c, picked in rows:
            if picked:
                ax.scatter(s, c, s=160, marker="*", color=colour, edgecolor="black", linewidth=0.6, zorder=3)
    ax.set_xlabel(f"{style_label} (validation, linear probe %)")
    ax.set_ylabel("content (validation, linear probe %)")
    ax.set_title("every grid point tuned here; stars: the settings chosen on validation", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return write_figure(fig, path)


CURVE_PANELS = (("content", "content"), ("style_perturbed", "style the augmentations perturb"),
                ("style_kept", "style the augmentations keep"))


def save_curves(curves: dict[str, list[list[dict]]], path: str | Path, groups: dict[str, str] | None = None) -> Path:
    """Validation accuracy against optimiser steps (left) and training seconds (right), one panel row per
    kind of task the data has (content, perturbed style, kept style), one line per model: the mean over
    its seeds, the band from their lowest to their highest reading.

    ``curves``: model -> one list of points per seed (``step``, ``seconds`` and the accuracy of each kind;
    :func:`simve.evaluate.curve.curve_points`); ``groups``: model -> generative (solid lines) or
    discriminative (dashed)."""
    panels = [(key, label) for key, label in CURVE_PANELS
              if any(p[key] is not None for runs in curves.values() for points in runs for p in points)]
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.4 * len(panels)), squeeze=False)
    for (name, runs), colour in zip(curves.items(), plt.cm.tab10.colors * 3):
        n = min(len(points) for points in runs)
        style = "-" if (groups or {}).get(name) == "generative" else "--"
        for r, (key, _) in enumerate(panels):
            values = torch.tensor([[p[key] if p[key] is not None else math.nan for p in points[:n]] for points in runs])
            mean, low, high = values.mean(0), values.min(0).values, values.max(0).values
            for c, axis in enumerate(("step", "seconds")):
                x = torch.tensor([[p[axis] for p in points[:n]] for points in runs], dtype=torch.float64).mean(0)
                ax = axes[r, c]
                ax.plot(x, 100 * mean, style, marker="o", ms=3, color=colour, label=name if r == c == 0 else None)
                if len(runs) > 1:
                    ax.fill_between(x, 100 * low, 100 * high, color=colour, alpha=0.15, lw=0)
    for r, (_, label) in enumerate(panels):
        for c, xlabel in enumerate(("optimiser steps", "training seconds (this machine)")):
            ax = axes[r, c]
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{label}\n(validation, linear probe %)", fontsize=9)
            ax.grid(alpha=0.3, which="both")
    fig.legend(fontsize=8, loc="upper center", ncol=min(4, len(curves)), bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("learning curves: mean over seeds, band from the lowest to the highest seed", fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)
