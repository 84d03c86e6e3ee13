"""Figures of the gmm-fisher experiment: each method's scores against the anisotropy, one line per D."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from simve.plots import write_figure

COLOURS = {"lda-true": "black", "lda": "0.5", "infonce": "tab:blue", "simve": "tab:red", "pca": "tab:orange",
           "random": "tab:green", "clip": "tab:purple", "clip-whitened": "tab:cyan"}
LINESTYLES = ("-", "--", ":", "-.")


def plot_panel(ax, summary: list[dict], methods, metric: str, dims, label: str, scale: float = 1.0) -> None:
    """One line per method and D (linestyle), mean ± std band over seeds, against the anisotropy."""
    for method in methods:
        for dim, style in zip(dims, LINESTYLES * len(dims)):
            entries = sorted((e for e in summary if e["method"] == method and e["dim"] == dim),
                             key=lambda e: e["anisotropy"])
            x = [e["anisotropy"] for e in entries]
            mean = torch.tensor([scale * e[metric]["mean"] for e in entries])
            std = torch.tensor([scale * e[metric]["std"] for e in entries])
            ax.plot(x, mean, style, marker="o", ms=3, color=COLOURS[method])
            ax.fill_between(x, mean - std, mean + std, color=COLOURS[method], alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("anisotropy a (variance of the nuisance directions)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)


def add_legend(fig, methods, dims) -> None:
    """One legend below the panels: a colour per method, a linestyle per D."""
    handles = [plt.Line2D([], [], color=COLOURS[m], marker="o", ms=3, label=m) for m in methods]
    handles += [plt.Line2D([], [], color="0.2", ls=style, label=f"D = {d}")
                for d, style in zip(dims, LINESTYLES * len(dims))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.06))


def save_figures(summary: list[dict], clip_summary: list[dict], methods, clip_methods, dims, title: str,
                 out_dir: Path) -> list[Path]:
    """``figures/fisher_subspace.png`` (angle, Fisher ratio, k-means accuracy) and, with ``clip_summary``,
    ``figures/clip.png`` (each encoder's angle in its own modality); their paths."""
    figures = Path(out_dir) / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    panels = (("angle", "largest principal angle to the Fisher subspace (°)", 1.0),
              ("fisher_ratio", "Fisher ratio / LDA's", 1.0), ("accuracy", "k-means accuracy on held-out data (%)", 100))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, (metric, label, scale) in zip(axes, panels):
        plot_panel(ax, summary, methods, metric, dims, label, scale)
    add_legend(fig, methods, dims)
    fig.suptitle(title)
    paths = [write_figure(fig, figures / "fisher_subspace.png")]
    if clip_summary:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
        for ax, key, name in zip(axes, ("angle_a", "angle_b"), ("A", "B")):
            plot_panel(ax, clip_summary, clip_methods, key, dims, f"modality {name}: largest angle to its Fisher "
                       "subspace (°)")
        add_legend(fig, clip_methods, dims)
        fig.suptitle("Two modalities: CLIP's encoders against each modality's Fisher subspace")
        paths.append(write_figure(fig, figures / "clip.png"))
    return paths
