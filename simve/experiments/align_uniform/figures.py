"""The align-uniform study's figure (Wang & Isola): L_align against L_uniform, and accuracy against each."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.colors import Normalize

from simve.plots import write_figure

MARKERS = {"simclr": "o", "align-uniform": "s", "simve": "^", "vae": "v"}


def save_figure(encoders: list[dict], generative: set[str], spaces: dict[str, str], metrics: dict[str, str],
                path: Path) -> Path:
    """One row per feature space. Left: L_align (x) against L_uniform (y), colour = accuracy, marker =
    method (the paper's figure); then accuracy against each metric. One point per encoder. The colour
    scale starts at the lowest accuracy of the methods not in ``generative``."""
    methods = list(dict.fromkeys(e["method"] for e in encoders))
    accuracy = [100 * e["accuracy"] for e in encoders]
    discriminative = [100 * e["accuracy"] for e in encoders if e["method"] not in generative] or accuracy
    norm = Normalize(min(discriminative), max(accuracy))  # the generative ones: the "under" colour
    fig, axes = plt.subplots(len(spaces), 1 + len(metrics), figsize=(18, 4.3 * len(spaces)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.35] + [1] * len(metrics)})
    for row, (prefix, space) in zip(axes, spaces.items()):
        for method in methods:
            mine = [e for e in encoders if e["method"] == method]
            marker = MARKERS.get(method, "D")
            points = row[0].scatter([e[prefix + "align"] for e in mine], [e[prefix + "uniform"] for e in mine],
                                    c=[100 * e["accuracy"] for e in mine], cmap="viridis", norm=norm, s=46,
                                    marker=marker, edgecolors="k", linewidths=0.5, label=method)
            for ax, metric in zip(row[1:], metrics):
                ax.scatter([e[prefix + metric] for e in mine], [100 * e["accuracy"] for e in mine], s=30,
                           marker=marker, alpha=0.8, label=method)
        fig.colorbar(points, ax=row[0], label="linear probe accuracy (%)",
                     extend="min" if min(accuracy) < norm.vmin else "neither")
        row[0].set_xlabel(f"L_align ({space})")
        row[0].set_ylabel(f"L_uniform ({space})")
        row[0].set_title(f"{space} features, validation (better: lower left)", fontsize=9)
        row[0].legend(fontsize=8, loc="best")
        for ax, label in zip(row[1:], metrics.values()):
            ax.set_xlabel(f"{label} ({space})")
            ax.set_ylabel("accuracy (%)")
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return write_figure(fig, path, dpi=100)
