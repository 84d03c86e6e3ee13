"""Figures of ``simve experiment curl``: labelled sample complexity, and the sweeps over k negatives and
block sizes b (mean ± std over seeds, from the experiment's summary and curves)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from simve.plots import write_figure


def plot_sample_complexity(curves: dict, names: list[str], labels_per_class: tuple[int, ...], classes: int,
                           path: Path) -> Path:
    """C-way test accuracy against labelled points per class of the representations ``names`` (at most 4),
    the mean classifier and the linear probe side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    colours = dict(zip(names, ("tab:blue", "tab:green", "0.6", "tab:red")))
    for ax, probe, title in zip(axes, ("mean", "linear"), ("mean classifier", "linear probe")):
        for name, colour in colours.items():
            mean = [100 * p["mean"] for p in curves[name][probe]]
            std = [100 * p["std"] for p in curves[name][probe]]
            ax.errorbar(labels_per_class, mean, yerr=std, marker="o", ms=4, capsize=3, color=colour, label=name)
        ax.axhline(100 / classes, color="k", ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_xticks(labels_per_class, [str(n) for n in labels_per_class])
        ax.set_xlabel("labelled points per class")
        ax.set_title(f"{classes}-way task, {title}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, -0.06))
    return write_figure(fig, path)


def plot_negatives(summary: dict, by_k: list[tuple[int, str]], by_block: list[tuple[int, str]], tau: float,
                   path: Path) -> Path:
    """Accuracy, L_un and the bound against k negatives (solid) and block size b with k = 1 (dashed).

    ``by_k``: (k, row name) of every k; ``by_block``: (b, row name) from b = 1 (the k = 1 row) up, or empty."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    sweeps = [("k negatives", "-", "o", by_k)]
    if by_block:
        sweeps.append(("block of b, k = 1", "--", "s", by_block))
    panels = [
        (axes[0], "downstream accuracy", 100, "test accuracy (%)",
         (("c_way_mean", "C-way mean classifier", "tab:blue"), ("c_way_linear", "C-way linear probe", "tab:orange"))),
        (axes[1], "held-out contrastive loss", 1, "loss (bits)",
         (("L_un", "L_un (own objective)", "tab:purple"), ("L_un1", "L_un^(1) (k = 1 loss)", "tab:brown"))),
        (axes[2], f"the bound (tau = {tau:.3f}) and the mean classifier's loss", 1, "loss (bits)",
         (("bound", "(L_un^(1) - tau)/(1 - tau)", "tab:red"), ("L_sup_mu", "L_sup^mu (2-way)", "tab:green"))),
    ]
    for ax, title, scale, ylabel, metrics in panels:
        for metric, label, colour in metrics:
            for sweep, style, marker, points in sweeps:
                _sweep_line(ax, summary, [(x, name, metric) for x, name in points], scale, ls=style, marker=marker,
                            color=colour, label=f"{label}, {sweep}")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
    if by_block:
        own_loss = [(1, by_block[0][1], "bound")] + [(b, name, "bound_block") for b, name in by_block[1:]]
        _sweep_line(axes[2], summary, own_loss, 1, ls=":", marker="^", color="tab:red",
                    label="(L_un^block - tau)/(1 - tau), block of b, k = 1")
    ticks = sorted({1, *(x for x, _ in by_k + by_block)})
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("k negatives, or block size b")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    return write_figure(fig, path)


def _sweep_line(ax, summary: dict, points: list[tuple[int, str, str]], scale: float, **style) -> None:
    """One line of a sweep through ``points`` (x, row name, metric), mean ± std over seeds."""
    mean = [scale * summary[name][metric]["mean"] for _, name, metric in points]
    std = [scale * summary[name][metric]["std"] for _, name, metric in points]
    ax.errorbar([x for x, _, _ in points], mean, yerr=std, ms=4, capsize=3, **style)
