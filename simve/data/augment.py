"""Per-sample, batched image augmentations for self-supervised views.

Every op works on a whole batch ``x`` of float images ``(N, C, H, W)`` in ``[0, 1]`` with one
random parameter set per sample, without a Python loop over images, on whatever device ``x``
is on. An :class:`Augment` first folds its geometric ops (crop, flip, affine) into one affine
map per sample and resamples once (``F.affine_grid`` + bilinear ``F.grid_sample``), then
applies its colour ops in order.

Parameters are sampled on the CPU with a ``torch.Generator`` (:meth:`Augment.sample`) and
applied deterministically (:meth:`Augment.apply`), so the returned parameters reproduce a view
exactly and double as labels of "style" probe tasks. Each op owns named keys:

=====================  ==================================================================
op                     keys (one value per sample)
=====================  ==================================================================
RandomResizedCrop      ``crop_scale`` (area fraction), ``crop_aspect`` (width/height, relative
                       to the image's own aspect), ``crop_x``, ``crop_y`` (crop centre as a
                       fraction of the width/height, 0 = left/top)
HorizontalFlip         ``flip`` (0/1)
VerticalFlip           ``vflip`` (0/1)
RandomAffine           ``angle`` (degrees, counter-clockwise on screen), ``zoom`` (scale
                       factor), ``shift_x``, ``shift_y`` (translation, fraction of width/height)
ColorJitter            ``brightness``, ``contrast``, ``saturation`` (factors), ``hue`` (shift, a
                       fraction of the colour wheel), each only if enabled, the identity value
                       where jitter was not applied; ``jitter`` (0/1), only if ``p < 1``
RandomGrayscale        ``grayscale`` (0/1)
=====================  ==================================================================

Binary keys are float 0/1 like the others. Colour ops are skipped for 1-channel images.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from simve.data.colour import ColorJitter, ColourOp, RandomGrayscale
from simve.data.draws import bernoulli, check_probability, check_range, uniform
from simve.errors import SimveError

# --------------------------------------------------------------------------- geometric ops
# Each gives, per sample, the 3x3 map from its output's pixel coordinates to its input's,
# both measured in pixels from the image centre (x to the right, y down).


@dataclass(frozen=True)
class RandomResizedCrop:
    """Crop a random box and resize it to the full image (torchvision's RandomResizedCrop).

    Like torchvision: draw an area fraction ``s ~ U(scale)`` and an aspect ``a`` log-uniform in
    ``ratio``; the box is ``sqrt(s a)`` of the width by ``sqrt(s / a)`` of the height; up to 10
    draws until the box fits, else the whole image; its position is uniform over the image.
    Box sizes are continuous (not rounded to pixels) and the aspect is relative to the
    image's own, which is the pixel aspect for square images.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    attempts: int = 10

    keys = ("crop_scale", "crop_aspect", "crop_x", "crop_y")

    def __post_init__(self):
        check_range("crop scale", self.scale, 1e-6, 1.0)
        check_range("crop ratio", self.ratio, 1e-6, math.inf)

    def sample(self, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * torch.rand(n, self.attempts, generator=generator)
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(n, self.attempts, generator=generator))
        fits = (area * aspect <= 1.0) & (area / aspect <= 1.0)
        first = fits.int().argmax(dim=1, keepdim=True)  # the first draw that fits
        found = fits.any(dim=1)
        fallback_aspect = min(max(1.0, self.ratio[0]), self.ratio[1])
        fallback_area = min(fallback_aspect, 1.0 / fallback_aspect)  # the largest box of that aspect
        area = torch.where(found, area.gather(1, first).squeeze(1), torch.tensor(fallback_area))
        aspect = torch.where(found, aspect.gather(1, first).squeeze(1), torch.tensor(fallback_aspect))
        width, height = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
        position = torch.rand(n, 2, generator=generator)
        return {
            "crop_scale": area,
            "crop_aspect": aspect,
            "crop_x": width / 2 + (1.0 - width) * position[:, 0],
            "crop_y": height / 2 + (1.0 - height) * position[:, 1],
        }

    def inverse(self, params: dict[str, torch.Tensor], height: int, width: int) -> torch.Tensor:
        """``p_in = (crop centre) + (box size / image size) * p_out``."""
        area, aspect = params["crop_scale"], params["crop_aspect"]
        m = torch.zeros(len(area), 3, 3, dtype=area.dtype, device=area.device)
        m[:, 0, 0] = torch.sqrt(area * aspect)
        m[:, 1, 1] = torch.sqrt(area / aspect)
        m[:, 0, 2] = (params["crop_x"] - 0.5) * width
        m[:, 1, 2] = (params["crop_y"] - 0.5) * height
        m[:, 2, 2] = 1.0
        return m


@dataclass(frozen=True)
class _Flip:
    """Mirror along one axis with probability ``p``: that coordinate's sign flips, ``x_in = -x_out``."""

    p: float = 0.5

    keys: ClassVar[tuple[str, ...]] = ()
    axis: ClassVar[int] = 0  # 0: left-right (x), 1: top-bottom (y)

    def __post_init__(self):
        check_probability(self.keys[0], self.p)

    def sample(self, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        return {self.keys[0]: bernoulli(n, self.p, generator)}

    def inverse(self, params: dict[str, torch.Tensor], height: int, width: int) -> torch.Tensor:
        flip = params[self.keys[0]]
        m = torch.eye(3, dtype=flip.dtype, device=flip.device).repeat(len(flip), 1, 1)
        m[:, self.axis, self.axis] = 1.0 - 2.0 * (flip > 0.5).to(flip.dtype)
        return m


@dataclass(frozen=True)
class HorizontalFlip(_Flip):
    """Mirror left-right with probability ``p``."""

    keys: ClassVar[tuple[str, ...]] = ("flip",)
    axis: ClassVar[int] = 0


@dataclass(frozen=True)
class VerticalFlip(_Flip):
    """Mirror top-bottom with probability ``p`` (the official SimVAE code's flip for 28x28)."""

    keys: ClassVar[tuple[str, ...]] = ("vflip",)
    axis: ClassVar[int] = 1


@dataclass(frozen=True)
class RandomAffine:
    """Rotate and zoom about the centre, then translate (torchvision's RandomAffine, no shear).

    Forward map ``q = zoom * R(angle) p + (shift_x W, shift_y H)`` with ``angle ~ U(-degrees,
    degrees)`` (counter-clockwise on screen), ``zoom ~ U(scale)``, shifts ``~ U(-t, t)``.
    """

    degrees: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    translate: tuple[float, float] = (0.0, 0.0)

    keys = ("angle", "zoom", "shift_x", "shift_y")

    def __post_init__(self):
        if self.degrees < 0:
            raise SimveError(f"affine degrees must be >= 0, got {self.degrees}")
        check_range("affine scale", self.scale, 1e-6, math.inf)
        for t in self.translate:
            check_range("affine translate", (0.0, t), 0.0, 1.0)

    def sample(self, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        tx, ty = self.translate
        return {
            "angle": uniform(n, -self.degrees, self.degrees, generator),
            "zoom": uniform(n, *self.scale, generator),
            "shift_x": uniform(n, -tx, tx, generator),
            "shift_y": uniform(n, -ty, ty, generator),
        }

    def inverse(self, params: dict[str, torch.Tensor], height: int, width: int) -> torch.Tensor:
        """``p = R(-angle) (q - t) / zoom``."""
        angle = torch.deg2rad(params["angle"])
        cos, sin = torch.cos(angle) / params["zoom"], torch.sin(angle) / params["zoom"]
        tx, ty = params["shift_x"] * width, params["shift_y"] * height
        m = torch.zeros(len(angle), 3, 3, dtype=angle.dtype, device=angle.device)
        # R(-angle) in y-down coordinates is [[cos, -sin], [sin, cos]].
        m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = cos, -sin, -(cos * tx - sin * ty)
        m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = sin, cos, -(sin * tx + cos * ty)
        m[:, 2, 2] = 1.0
        return m


GeometricOp = RandomResizedCrop | HorizontalFlip | VerticalFlip | RandomAffine


@functools.lru_cache(maxsize=16)
def _pixel_centres(height: int, width: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The output pixel centres in ``grid_sample``'s coordinates, x ``(1, 1, W)`` and y ``(1, H, 1)``,
    taken from ``F.affine_grid`` itself, so that they are its numbers exactly."""
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=dtype, device=device)
    centres = F.affine_grid(identity, [1, 1, height, width], align_corners=False)[0]
    return centres[0, :, 0].view(1, 1, width), centres[:, 0, 1].view(1, height, 1)


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, (N, C, H, W), align_corners=False)``, ``(N, H, W, 2)``, as broadcast
    multiply-adds ``x_in = t00 x + t01 y + t02``, ``y_in = t10 x + t11 y + t12`` instead of the batched
    matmul with an inner size of 3 that it runs: the same numbers (bit for bit on the CPU, tested) at a
    fraction of the time, which was 40 % of the FashionMNIST views' augmentation."""
    x, y = _pixel_centres(height, width, theta.dtype, theta.device)
    t = theta.reshape(len(theta), 6, 1, 1).unbind(1)
    return torch.stack((t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]), dim=-1)


class Augment:
    """Geometric ops folded into one resampling, then colour ops, all per sample.

    ``geometric`` lists ops in the order they act on the image (e.g. crop, then flip);
    ``padding`` is ``grid_sample``'s padding mode for points that fall outside the input:
    ``"border"`` (repeat the edge; crops never leave the image but bilinear taps at its edge
    do) or ``"zeros"`` (black, like torchvision's affine fill).
    """

    def __init__(
        self, geometric: tuple[GeometricOp, ...] = (), colour: tuple[ColourOp, ...] = (), padding: str = "border"
    ):
        if padding not in ("border", "zeros"):
            raise SimveError(f"padding must be 'border' or 'zeros', got {padding!r}")
        self.geometric = tuple(geometric)
        self.colour = tuple(colour)
        self.padding = padding
        keys = [key for op in self.geometric + self.colour for key in op.keys]
        if len(keys) != len(set(keys)):
            raise SimveError(f"augmentation ops share parameter names: {keys}")
        self.keys = tuple(keys)

    def __repr__(self) -> str:
        return f"Augment(geometric={self.geometric}, colour={self.colour}, padding={self.padding!r})"

    def sample(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Parameters for ``n`` samples, each ``(n,)`` float32 on the CPU, drawn from ``generator``."""
        params = {}
        for op in self.geometric + self.colour:
            params.update(op.sample(n, generator))
        return params

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Augment float images ``x`` ``(N, C, H, W)`` in [0, 1] with the given parameters."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise SimveError(f"augment expects float images (N, C, H, W), got {getattr(x, 'dtype', '')} {shape}")
        missing = [key for key in self.keys if key not in params]
        if missing:
            raise SimveError(f"augmentation parameters missing {missing}; expected {list(self.keys)}")
        wrong = [key for key in self.keys if params[key].shape != (len(x),)]
        if wrong:
            raise SimveError(f"augmentation parameters {wrong} must have shape ({len(x)},)")
        channels = x.shape[1]
        if self.colour and channels not in (1, 3):
            raise SimveError(f"colour augmentations need 1- or 3-channel images, got {channels} channels")
        params = {key: params[key].to(device=x.device, dtype=x.dtype) for key in self.keys}
        out = self._resample(x, params) if self.geometric else x
        if channels == 3:
            for op in self.colour:
                out = op.apply(out, params)
        return out

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Sample parameters for each image of ``x`` and apply them; parameters on ``x``'s device."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise SimveError(f"augment expects images (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
        params = {key: value.to(x.device) for key, value in self.sample(len(x), generator).items()}
        return self.apply(x, params), params

    def _resample(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        n, _, height, width = x.shape
        # Output pixel (centred) -> input pixel (centred): the ops' inverses, last op first applied.
        pixel_map = torch.eye(3, dtype=x.dtype, device=x.device).expand(n, 3, 3)
        for op in self.geometric:
            pixel_map = pixel_map @ op.inverse(params, height, width)
        # grid_sample's coordinates are pixels from the centre divided by the half-size.
        half = torch.tensor([width / 2, height / 2, 1.0], dtype=x.dtype, device=x.device)
        theta = (pixel_map * half.view(1, 1, 3)) / half.view(1, 3, 1)
        grid = affine_grid(theta[:, :2], height, width)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding, align_corners=False)
        return out.clamp(0.0, 1.0)


_GLYPH_AFFINE = RandomAffine(degrees=30.0, scale=(0.8, 1.2), translate=(0.1, 0.1))
_SIMCLR_COLOUR = (ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8), RandomGrayscale(p=0.2))

PRESETS: dict[str, Augment] = {
    # FashionMNIST / MNIST 28x28 grayscale.
    "gray28": Augment((RandomResizedCrop(scale=(0.4, 1.0)), HorizontalFlip(0.5))),
    # CIFAR10 32x32: SimCLR's recipe with milder crops.
    "colour32": Augment((RandomResizedCrop(scale=(0.6, 1.0)), HorizontalFlip(0.5)), _SIMCLR_COLOUR),
    # CelebA 64x64: as colour32.
    "celeba64": Augment((RandomResizedCrop(scale=(0.6, 1.0)), HorizontalFlip(0.5)), _SIMCLR_COLOUR),
    # Grayscale glyph digits 28x28: no flip (it changes digits), no crop; black fill.
    "glyphs": Augment((_GLYPH_AFFINE,), padding="zeros"),
    # The same glyphs rendered at 14x14 (glyphs14): the same affine, which is relative to the image size.
    "glyphs14": Augment((_GLYPH_AFFINE,), padding="zeros"),
    # RGB glyphs 32x32: the same affine, a full hue shift and brightness jitter; the edge
    # (the flat background colour) fills in.
    "glyphs-rgb": Augment((_GLYPH_AFFINE,), (ColorJitter(brightness=0.4, hue=0.5),), padding="border"),
    # Glyph pairs (RGB + its grayscale rendering, 4 channels): the same affine on both modalities.
    "glyphs-pair": Augment((_GLYPH_AFFINE,), padding="border"),
    # The official SimVAE code's views: 28x28, crops of 0.4-1 of the area with ratio 0.75-1.3 and a
    # vertical flip; colour, crops of 0.6-1, a horizontal flip and ColorJitter(0.8, 0.8, 0.8, 0.2).
    "paper-gray28": Augment((RandomResizedCrop(scale=(0.4, 1.0), ratio=(0.75, 1.3)), VerticalFlip(0.5))),
    "paper-colour": Augment((RandomResizedCrop(scale=(0.6, 1.0)), HorizontalFlip(0.5)),
                            (ColorJitter(0.8, 0.8, 0.8, 0.2),)),
}


def preset(name: str) -> Augment:
    """The augmentation preset called ``name`` (see :data:`PRESETS`)."""
    if name not in PRESETS:
        raise SimveError(f"unknown augmentation preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]
