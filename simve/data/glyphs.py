"""Glyphs: procedural images of the digits 0-9 with known style factors.

Every image shows one digit (the class) drawn in one of the fonts matplotlib ships, with a
stroke thickness, a rotation, a scale and an x/y shift, and in the RGB variant a foreground
and a background hue. All factors are drawn uniformly and independently of the class from a
seeded generator, so the same ``(n, rgb, seed)`` gives the same bytes.

Rendering. Each (font, digit) pair is drawn once at high resolution, centred on its bounding
box and scaled to unit height, and turned into a signed distance field ``d`` (negative inside
the glyph, in glyph heights); the fields are tiled into one atlas texture. A sample maps each
output pixel centre ``p`` (in frame units, origin at the centre) back into its glyph's tile
through the inverse affine ``g = R(-rotation) (p - shift) / scale`` and reads ``d(g)`` with
bilinear ``grid_sample``. The ink coverage is ``a = smoothstep(clamp(1/2 + (thickness - d) *
scale * size, 0, 1))``: the outline moves out by ``thickness`` and the edge ramps over one output
pixel, which gives continuous weight and antialiasing. Gray images are ``a``; RGB images are
``bg * (1 - a) + fg * a`` with a bright saturated foreground and a dark background.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from simve.data.base import Factor, Split
from simve.errors import SimveError

CLASS_NAMES: tuple[str, ...] = tuple("0123456789")
FONTS: tuple[str, ...] = (
    "DejaVuSans",
    "DejaVuSansMono",
    "DejaVuSerif",
    "DejaVuSerif-Italic",
    "STIXGeneral",
    "cmr10",
    "cmtt10",
    "cmti10",
)

# Ranges of the continuous factors. Thickness is in glyph heights (how far the outline moves
# out), rotation in degrees (positive turns counter-clockwise), scale is the glyph height as a
# fraction of the frame, and x/y are shifts of the glyph centre in fractions of the frame
# (positive x moves right, positive y moves down).
THICKNESS = (0.005, 0.05)
ROTATION = (-35.0, 35.0)
SCALE = (0.5, 0.7)
SHIFT = (-0.08, 0.08)
FG_SATURATION, FG_VALUE = 0.65, 1.0
BG_SATURATION, BG_VALUE = 0.7, 0.22

_GLYPH_PX = 64  # glyph height in the high-resolution rendering
_TILE_PX = 96  # side of one atlas tile; the margin keeps the thickest outline inside it
_CHUNK = 4096  # images rendered per batch


def glyph_factors(rgb: bool) -> tuple[Factor, ...]:
    """The style factors, in the column order of ``Split.factors``."""
    factors = (
        Factor("font", "categorical", levels=FONTS, perturbed=False),
        Factor("thickness", "continuous", low=THICKNESS[0], high=THICKNESS[1], perturbed=False),
        Factor("rotation", "continuous", low=ROTATION[0], high=ROTATION[1], perturbed=True),
        Factor("scale", "continuous", low=SCALE[0], high=SCALE[1], perturbed=True),
        Factor("x", "continuous", low=SHIFT[0], high=SHIFT[1], perturbed=True),
        Factor("y", "continuous", low=SHIFT[0], high=SHIFT[1], perturbed=True),
    )
    if rgb:
        factors += (
            Factor("fg_hue", "continuous", low=0.0, high=1.0, perturbed=True),
            Factor("bg_hue", "continuous", low=0.0, high=1.0, perturbed=True),
        )
    return factors


def _glyph_mask(font: str, char: str) -> np.ndarray:
    """Antialiased coverage in [0, 1] of ``char`` centred in a tile, ``_GLYPH_PX`` high."""
    import matplotlib
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    path_to_font = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", font + ".ttf")
    outline = TextPath((0, 0), char, size=1, prop=FontProperties(fname=path_to_font))
    box = outline.get_extents()
    if len(outline.vertices) == 0 or box.height <= 0:
        raise SimveError(f"font {font} has no glyph for {char!r}; is matplotlib installed intact?")
    to_tile = (
        Affine2D()
        .translate(-(box.x0 + box.x1) / 2, -(box.y0 + box.y1) / 2)
        .scale(_GLYPH_PX / box.height)
        .translate(_TILE_PX / 2, _TILE_PX / 2)
    )
    canvas = RendererAgg(_TILE_PX, _TILE_PX, 72)
    canvas.draw_path(canvas.new_gc(), outline, to_tile, (1.0, 1.0, 1.0))
    return np.asarray(canvas.buffer_rgba())[..., 3] / 255.0


def _signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance to the outline of ``mask > 0.5`` in glyph heights, negative inside."""
    from scipy.ndimage import distance_transform_edt

    inside = mask > 0.5
    depth = distance_transform_edt(inside) - 0.5
    gap = distance_transform_edt(~inside) - 0.5
    return np.where(inside, -depth, gap) / _GLYPH_PX


@functools.lru_cache(maxsize=1)
def _atlas() -> torch.Tensor:
    """Signed distance fields of every (font, digit) pair, tiled as (1, 1, fonts*T, digits*T)."""
    rows = [
        np.concatenate([_signed_distance(_glyph_mask(font, c)) for c in CLASS_NAMES], axis=1)
        for font in FONTS
    ]
    return torch.from_numpy(np.concatenate(rows, axis=0)).float()[None, None]


def _hsv_to_rgb(hue: torch.Tensor, saturation: float, value: float) -> torch.Tensor:
    """(B,) hues in [0, 1] at a fixed saturation and value to (B, 3) RGB in [0, 1]."""
    offsets = torch.tensor([5.0, 3.0, 1.0])
    k = torch.remainder(offsets + 6.0 * hue[:, None], 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value - value * saturation * ramp


def _draw(labels: torch.Tensor, factors: torch.Tensor, *, rgb: bool, size: int | None = None) -> torch.Tensor:
    """Render images from explicit labels (B,) and factor rows (B, F) as uint8 (B, C, S, S);
    ``size`` defaults to 32 for RGB and 28 for gray."""
    atlas = _atlas()
    size = size or (32 if rgb else 28)
    font, thickness, rotation, scale, shift_x, shift_y = factors[:, :6].unbind(1)

    # Output pixel centres in frame units, origin at the frame centre, y down.
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
    px = centres[None, None, :] - shift_x[:, None, None]
    py = centres[None, :, None] - shift_y[:, None, None]
    # A counter-clockwise turn on screen is clockwise in y-down coordinates; undo it.
    angle = torch.deg2rad(rotation)[:, None, None]
    cos, sin = torch.cos(angle), torch.sin(angle)
    gx = (cos * px - sin * py) / scale[:, None, None]
    gy = (sin * px + cos * py) / scale[:, None, None]

    # Glyph units to atlas pixel indices, clamped to the sample's own tile.
    left = (labels.float() * _TILE_PX)[:, None, None]
    top = (font * _TILE_PX)[:, None, None]
    centre = _TILE_PX / 2 - 0.5
    col = (gx * _GLYPH_PX + centre).clamp(0.0, _TILE_PX - 1.0)
    row = (gy * _GLYPH_PX + centre).clamp(0.0, _TILE_PX - 1.0)
    height, width = atlas.shape[-2:]
    grid = torch.stack(
        (2 * (col + left) / (width - 1) - 1, 2 * (row + top) / (height - 1) - 1), dim=-1
    )
    distance = F.grid_sample(
        atlas, grid.reshape(1, -1, size, 2), mode="bilinear", align_corners=True
    ).reshape(-1, 1, size, size)

    # In-place steps: this runs over every pixel of every image.
    pixels_per_unit = (scale * size)[:, None, None, None]
    edge = distance.neg_().add_(thickness[:, None, None, None]).mul_(pixels_per_unit)
    edge = edge.add_(0.5).clamp_(0.0, 1.0)
    ink = (3.0 - 2.0 * edge).mul_(edge).mul_(edge)
    # Levels carry +1/2 so that the truncating cast to uint8 rounds to the nearest level.
    if rgb:
        fg = _hsv_to_rgb(factors[:, 6], FG_SATURATION, FG_VALUE)[:, :, None, None]
        bg = _hsv_to_rgb(factors[:, 7], BG_SATURATION, BG_VALUE)[:, :, None, None]
        levels = torch.addcmul(bg * 255.0 + 0.5, (fg - bg) * 255.0, ink)
    else:
        levels = ink.mul_(255.0).add_(0.5)
    return levels.to(torch.uint8)


def _sample_factors(n: int, rgb: bool, generator: torch.Generator) -> torch.Tensor:
    """(n, F) factor rows drawn uniformly and independently, in ``glyph_factors`` order."""
    columns = []
    for factor in glyph_factors(rgb):
        if factor.kind == "categorical":
            column = torch.randint(len(factor.levels), (n,), generator=generator).float()
        else:
            column = factor.low + (factor.high - factor.low) * torch.rand(n, generator=generator)
        columns.append(column)
    return torch.stack(columns, dim=1)


def _check_count(n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise SimveError(f"the number of glyph images must be a positive integer, got {n!r}")


def render_glyph_pairs(n: int, *, seed: int, progress: bool = False) -> Split:
    """Two modalities of the same ``n`` glyphs, stacked as 4 channels ``(n, 4, 32, 32)``: the RGB
    rendering (channels 0-2) and the grayscale rendering of the same digit, font, thickness, pose
    (channel 3), which carries no colour. Labels and factors are those of the RGB variant.
    """
    _check_count(n)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randperm(n, generator=generator) % len(CLASS_NAMES)
    factors = _sample_factors(n, True, generator)
    images = torch.empty(n, 4, 32, 32, dtype=torch.uint8)
    for i in tqdm(range(0, n, _CHUNK), desc="glyph pairs", disable=None if progress else True):
        chunk_labels, chunk_factors = labels[i : i + _CHUNK], factors[i : i + _CHUNK]
        images[i : i + _CHUNK, :3] = _draw(chunk_labels, chunk_factors, rgb=True)
        images[i : i + _CHUNK, 3:] = _draw(chunk_labels, chunk_factors, rgb=False, size=32)
    return Split(images, labels, factors)


def render_glyphs(n: int, *, rgb: bool, seed: int, size: int | None = None, progress: bool = False) -> Split:
    """``n`` glyph images, gray 28x28 or RGB 32x32 (or ``size`` x ``size``), with labels and factors, from ``seed``.

    The classes are balanced (a shuffled repeat of 0-9); every factor is uniform on its range.
    """
    _check_count(n)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randperm(n, generator=generator) % len(CLASS_NAMES)
    factors = _sample_factors(n, rgb, generator)
    channels, size = (3 if rgb else 1), size or (32 if rgb else 28)
    images = torch.empty(n, channels, size, size, dtype=torch.uint8)
    starts = range(0, n, _CHUNK)
    for i in tqdm(starts, desc="glyphs", disable=None if progress else True):
        images[i : i + _CHUNK] = _draw(labels[i : i + _CHUNK], factors[i : i + _CHUNK], rgb=rgb, size=size)
    return Split(images, labels, factors)
