"""What every augmentation op shares: per-sample random draws on the CPU, the checks of its arguments, and
per-sample values broadcast against a batch of images."""

from __future__ import annotations

import torch

from simve.errors import SimveError


def uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def bernoulli(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(n, generator=generator) < p).float()


def check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise SimveError(f"{name} probability must be in [0, 1], got {p}")


def check_range(name: str, bounds: tuple[float, float], low: float, high: float) -> None:
    a, b = bounds
    if not low <= a <= b <= high:
        raise SimveError(f"{name} range must satisfy {low} <= min <= max <= {high}, got {bounds}")


def batched(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample values ``(N,)`` shaped ``(N, 1, 1, 1)`` to broadcast over ``x``."""
    return values.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)


def mask(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (values > 0.5).to(x.device).view(-1, 1, 1, 1)
