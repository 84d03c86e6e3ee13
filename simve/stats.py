"""The one convention for numbers over seeds: mean ± std, std the sample standard deviation (n - 1)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

STD_CONVENTION = "mean ± std over seeds, std the sample standard deviation (n − 1; 0 for one seed)"


def mean_std(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (n - 1) of ``values``; std 0 for a single value."""
    x = torch.tensor(list(values), dtype=torch.float64)
    return {"mean": float(x.mean()), "std": float(x.std()) if len(x) > 1 else 0.0}


def plus_minus(stats: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    """``stats`` from :func:`mean_std` as a table cell, ``mean ± std``, both times ``scale``."""
    return f"{scale * stats['mean']:.{digits}f} ± {scale * stats['std']:.{digits}f}"
