"""The colour ops of the augmentations, per sample and batched: brightness, contrast, saturation and hue
factors (torchvision's definitions), :class:`ColorJitter` and :class:`RandomGrayscale`. Each op skips
1-channel images."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from simve.data.draws import batched, bernoulli, check_probability, mask, uniform
from simve.errors import SimveError

# ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
LUMA = (0.2989, 0.587, 0.114)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` of RGB images, shaped ``(N, 1, H, W)``."""
    r, g, b = x.unbind(dim=1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``clamp(factor * x + (1 - factor) * other, 0, 1)`` with one factor per sample."""
    return (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``clamp(factor * x, 0, 1)``."""
    return (x * batched(factor, x)).clamp(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean luma ``m``: ``clamp(factor * x + (1 - factor) * m, 0, 1)``."""
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, batched(factor, x))


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the per-pixel luma ``y``: ``clamp(factor * x + (1 - factor) * y, 0, 1)``."""
    return _blend(x, grayscale(x), batched(factor, x))


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns, keeping saturation and value.

    With ``v = max(R, G, B)``, chroma ``c = v - min(R, G, B)`` and new hue ``h`` in sixths of a
    turn, channel ``n`` (5 for R, 3 for G, 1 for B) becomes ``v - c * clamp(min(k, 4 - k), 0, 1)``
    with ``k = (n + h) mod 6``.
    """
    r, g, b = x.unbind(dim=1)
    value = x.amax(dim=1)
    chroma = value - x.amin(dim=1)
    # Grays (chroma 0) take the red branch, whose numerator is then 0: hue 0.
    inverse_chroma = 1.0 / chroma.clamp_min(1e-12)
    hue = torch.where(
        value == r,
        (g - b) * inverse_chroma,
        torch.where(value == g, (b - r) * inverse_chroma + 2.0, (r - g) * inverse_chroma + 4.0),
    )
    hue = hue + 6.0 * shift.to(device=x.device, dtype=x.dtype).view(-1, 1, 1)
    offsets = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    k = torch.remainder(offsets + hue.unsqueeze(1), 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value.unsqueeze(1) - chroma.unsqueeze(1) * ramp


@dataclass(frozen=True)
class ColorJitter:
    """torchvision's ColorJitter, per sample, applied with probability ``p``.

    Factors ``~ U(max(0, 1 - b), 1 + b)`` for brightness, contrast and saturation, hue shift
    ``~ U(-hue, hue)``; a zero strength disables that component. Unlike torchvision (random
    order), always in the fixed order brightness -> contrast -> saturation -> hue.
    """

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    p: float = 1.0

    def __post_init__(self):
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise SimveError(f"{name} jitter must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.hue <= 0.5:
            raise SimveError(f"hue jitter must be in [0, 0.5], got {self.hue}")
        check_probability("colour jitter", self.p)

    @property
    def keys(self) -> tuple[str, ...]:
        enabled = tuple(name for name in ("brightness", "contrast", "saturation", "hue") if getattr(self, name) > 0)
        return enabled + (("jitter",) if self.p < 1.0 else ())

    def sample(self, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        applied = bernoulli(n, self.p, generator).bool()
        params = {}
        for name in ("brightness", "contrast", "saturation"):
            strength = getattr(self, name)
            if strength > 0:
                factor = uniform(n, max(0.0, 1.0 - strength), 1.0 + strength, generator)
                params[name] = torch.where(applied, factor, torch.ones(n))
        if self.hue > 0:
            params["hue"] = torch.where(applied, uniform(n, -self.hue, self.hue, generator), torch.zeros(n))
        if self.p < 1.0:
            params["jitter"] = applied.float()
        return params

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        out = x
        if self.brightness > 0:
            out = adjust_brightness(out, params["brightness"])
        if self.contrast > 0:
            out = adjust_contrast(out, params["contrast"])
        if self.saturation > 0:
            out = adjust_saturation(out, params["saturation"])
        if self.hue > 0:
            out = adjust_hue(out, params["hue"])
        return torch.where(mask(params["jitter"], x), out, x) if "jitter" in params else out


@dataclass(frozen=True)
class RandomGrayscale:
    """Replace RGB by its luma ``0.2989 R + 0.587 G + 0.114 B`` (in all 3 channels) with probability ``p``."""

    p: float = 0.2

    keys = ("grayscale",)

    def __post_init__(self):
        check_probability("grayscale", self.p)

    def sample(self, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        return {"grayscale": bernoulli(n, self.p, generator)}

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.where(mask(params["grayscale"], x), grayscale(x).expand_as(x), x)


ColourOp = ColorJitter | RandomGrayscale
