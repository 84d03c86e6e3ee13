"""What the align-uniform study (Wang & Isola) measures of one encoder, and its statistics over many.

Per encoder, on the validation split: L_align (alpha 2, over pairs of augmented views) and L_uniform
(t 2, over un-augmented images) of the l2-normalised features in two spaces, the representation (what
a probe sees) and the loss space (the projection head's output, on which SimCLR and align-uniform
compute their loss: the paper's encoder output; the representation again for models without a head),
and the test accuracy of a linear probe on the content task. Over encoders: Spearman's rank correlation
of accuracy with each metric, of the two metrics with each other, and the encoders that collapsed.
"""

from __future__ import annotations

import math

import torch
from scipy.stats import spearmanr

from simve.data import MultiView, preset
from simve.evaluate.batches import embed_images
from simve.evaluate.metrics import alignment_uniformity
from simve.evaluate.probes import run_probe
from simve.models import SSLModel

CONTRASTIVE = ("simclr", "align-uniform")
SPACES = {"": "representation", "head_": "loss space"}  # key prefix -> the features the metrics are taken on
METRICS = {"align": "L_align", "uniform": "L_uniform", "sum": "L_align + L_uniform"}
MEASURE_KEY = {"probe": "linear", "metrics_split": "val", "alpha": 2.0, "t": 2.0, "spaces": list(SPACES)}
COLLAPSED = -0.1  # loss-space L_uniform above this: the features sit near one point


class LossSpace(SSLModel):
    """A model seen through the features its loss is computed on: the projection head's output of a
    discriminative model (what Wang & Isola call the encoder's output), the representation otherwise."""

    def __init__(self, model: SSLModel):
        super().__init__()
        self.model = model

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.project(images) if self.model.can("project") else self.model.embed(images)


def measure(model: SSLModel, data, seed: int) -> dict[str, float]:
    """L_align and L_uniform on validation features (of the representation and of the loss space), and
    the linear probe's content accuracy on the representation."""
    multiview = MultiView(preset(data.preset), 2)
    results = {}
    for prefix, seen in zip(SPACES, (model, LossSpace(model))):
        metrics = alignment_uniformity(seen, data.val, multiview, seed=seed)
        metrics["sum"] = metrics["align"] + metrics["uniform"]
        results.update({prefix + key: value for key, value in metrics.items()})
    parts = [(embed_images(model, split.images), split.labels) for split in (data.train, data.val, data.test)]
    probe = run_probe(MEASURE_KEY["probe"], *parts, seed=seed)
    return {**results, "val_accuracy": probe["val_accuracy"], "accuracy": probe["test_accuracy"],
            "l2": probe["chosen"]}


def spearman(encoders: list[dict], key: str, target: str = "accuracy") -> dict:
    """Spearman's rho (and its p-value) between ``key`` and ``target`` over ``encoders``."""
    values, targets = [e[key] for e in encoders], [e[target] for e in encoders]
    if len(encoders) < 3 or len(set(values)) < 2 or len(set(targets)) < 2:
        return {"rho": math.nan, "p": math.nan, "n": len(encoders)}
    result = spearmanr(values, targets)
    return {"rho": float(result.statistic), "p": float(result.pvalue), "n": len(encoders)}


def correlations(encoders: list[dict]) -> dict:
    """Per feature space, over all encoders and over the contrastive ones: rho of each metric."""
    scopes = {"all": encoders, "contrastive": [e for e in encoders if e["method"] in CONTRASTIVE]}
    return {space: {scope: {m: spearman(group, prefix + m) for m in METRICS} for scope, group in scopes.items()}
            for prefix, space in SPACES.items()}


def trade_off(encoders: list[dict]) -> dict:
    """Per feature space, rho between L_align and L_uniform over the contrastive encoders: negative when
    the grid trades one for the other (a lower L_align with a higher L_uniform)."""
    contrastive = [e for e in encoders if e["method"] in CONTRASTIVE]
    return {space: spearman(contrastive, prefix + "align", prefix + "uniform") for prefix, space in SPACES.items()}


def collapse(encoders: list[dict]) -> dict:
    """The encoders whose loss-space features collapsed to nearly one point, and rho(L_align) without them."""
    collapsed = [e for e in encoders if e["head_uniform"] > COLLAPSED]
    rest = [e for e in encoders if e["head_uniform"] <= COLLAPSED and e["method"] in CONTRASTIVE]
    return {"threshold": COLLAPSED, "labels": sorted({e["label"] for e in collapsed}), "count": len(collapsed),
            "max_head_align": max((e["head_align"] for e in collapsed), default=math.nan),
            "accuracy": [min((e["accuracy"] for e in collapsed), default=math.nan),
                         max((e["accuracy"] for e in collapsed), default=math.nan)],
            "align_rho_contrastive_without": spearman(rest, "align")}


def compare(rows: list[dict]) -> list[dict]:
    """At every number of epochs both have: the best (by mean validation accuracy) align-uniform and
    SimCLR rows, the difference of their mean test accuracies and its spread (the stds combined)."""
    shared = sorted(set.intersection(*({r["epochs"] for r in rows if r["method"] == m} for m in CONTRASTIVE)))
    comparisons = []
    for epochs in shared:
        best = {m: max((r for r in rows if r["method"] == m and r["epochs"] == epochs),
                       key=lambda r: r["val_accuracy"]) for m in CONTRASTIVE}
        difference = best["align-uniform"]["accuracy"] - best["simclr"]["accuracy"]
        spread = math.hypot(best["align-uniform"]["accuracy_std"], best["simclr"]["accuracy_std"])
        verdict = "matches" if abs(difference) <= spread else ("beats" if difference > 0 else "falls short of")
        comparisons.append({"epochs": epochs, **best, "difference": difference, "spread": spread, "verdict": verdict})
    return comparisons
