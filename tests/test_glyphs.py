"""The procedural glyph dataset: shapes, determinism, factor ranges and effects, learnability."""

import pytest
import torch

from simve.data.glyphs import (
    CLASS_NAMES,
    FONTS,
    _atlas,
    _draw,
    _hsv_to_rgb,
    glyph_factors,
    render_glyphs,
)
from simve.errors import SimveError


@pytest.mark.parametrize("rgb, size, shape", [(False, None, (1, 28, 28)), (True, None, (3, 32, 32)),
                                              (False, 14, (1, 14, 14))])
def test_shapes_and_dtypes(rgb, size, shape):
    split = render_glyphs(50, rgb=rgb, seed=0, size=size)
    assert split.images.shape == (50, *shape) and split.images.dtype == torch.uint8
    assert split.labels.shape == (50,) and split.labels.dtype == torch.int64
    assert split.factors.shape == (50, len(glyph_factors(rgb)))
    assert split.factors.dtype == torch.float32
    assert split.images.max() > 200  # the ink reaches full intensity


@pytest.mark.parametrize("rgb", [False, True])
def test_same_seed_same_bytes_other_seed_differs(rgb):
    a = render_glyphs(300, rgb=rgb, seed=7)
    b = render_glyphs(300, rgb=rgb, seed=7)
    c = render_glyphs(300, rgb=rgb, seed=8)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    assert torch.equal(a.factors, b.factors)
    assert not torch.equal(a.images, c.images)
    assert not torch.equal(a.factors, c.factors)


def test_labels_are_balanced_over_all_classes():
    labels = render_glyphs(1000, rgb=False, seed=0).labels
    assert CLASS_NAMES == tuple("0123456789")
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), 100))


@pytest.mark.parametrize("rgb", [False, True])
def test_factors_lie_in_their_declared_ranges(rgb):
    factors = glyph_factors(rgb)
    values = render_glyphs(2000, rgb=rgb, seed=1).factors
    assert [f.name for f in factors][:6] == ["font", "thickness", "rotation", "scale", "x", "y"]
    for column, factor in zip(values.T, factors, strict=True):
        if factor.kind == "categorical":
            assert factor.levels == FONTS
            assert torch.equal(column, column.round())
            assert set(column.long().tolist()) == set(range(len(FONTS)))
        else:
            assert factor.low <= column.min() and column.max() <= factor.high
            # uniform: the values spread over the whole range
            span = factor.high - factor.low
            assert column.min() < factor.low + 0.05 * span
            assert column.max() > factor.high - 0.05 * span


def test_every_font_has_ten_distinct_nonempty_glyphs():
    atlas = _atlas()[0, 0]
    tiles = atlas.reshape(len(FONTS), atlas.shape[0] // len(FONTS), 10, -1).permute(0, 2, 1, 3)
    inside = (tiles < 0).flatten(2).float()  # (fonts, digits, pixels)
    assert (inside.sum(-1) > 300).all()
    for font in inside:
        overlap = (font @ font.T) / torch.sqrt(font.sum(-1)[:, None] * font.sum(-1)[None, :])
        assert (overlap - torch.eye(10)).max() < 0.95  # no two digits of a font look the same


@pytest.mark.parametrize("rgb", [False, True])
def test_each_factor_changes_the_image(rgb):
    factors = glyph_factors(rgb)
    middle = [(f.low + f.high) / 2 for f in factors[1:]]
    reference = torch.tensor([[0.0, *middle]])
    label = torch.tensor([3])
    image = _draw(label, reference, rgb=rgb).float()
    for column, factor in enumerate(factors):  # move one factor to its low end (or the last font)
        changed = reference.clone()
        changed[0, column] = len(FONTS) - 1 if factor.kind == "categorical" else factor.low
        difference = (_draw(label, changed, rgb=rgb).float() - image).abs().mean()
        assert difference > 3.0, factor.name


def test_glyphs_stay_inside_the_frame():
    images = render_glyphs(3000, rgb=False, seed=2).images[:, 0].float()
    ring = torch.ones(28, 28, dtype=torch.bool)
    ring[1:-1, 1:-1] = False
    ink_on_ring = images[:, ring].sum(1) / images.sum((1, 2))
    assert ink_on_ring.max() < 0.05
    assert (images[:, ring].amax(1) > 128).float().mean() < 0.02


def test_rgb_foreground_contrasts_with_background():
    hues = torch.linspace(0, 1, 37)
    fg = _hsv_to_rgb(hues, 0.65, 1.0).mean(1)
    bg = _hsv_to_rgb(hues, 0.7, 0.22).mean(1)
    assert fg.min() - bg.max() > 0.3
    split = render_glyphs(20, rgb=True, seed=0)
    background = split.images[:, :, 0, 0].float()  # a corner pixel is background
    assert (background.max(1).values < 70).all()


@pytest.mark.parametrize("size", [None, 14])
def test_content_is_learnable_from_pixels(size):
    train = render_glyphs(2000, rgb=False, seed=10, size=size)
    test = render_glyphs(1000, rgb=False, seed=11, size=size)
    x = train.images.flatten(1).float() / 255
    x_test = test.images.flatten(1).float() / 255
    # ridge regression on one-hot targets, closed form
    features = torch.cat([x, torch.ones(len(x), 1)], 1)
    targets = torch.nn.functional.one_hot(train.labels, 10).float()
    gram = features.T @ features + 10.0 * torch.eye(features.shape[1])
    weights = torch.linalg.solve(gram, features.T @ targets)
    predicted = (torch.cat([x_test, torch.ones(len(x_test), 1)], 1) @ weights).argmax(1)
    accuracy = (predicted == test.labels).float().mean().item()
    assert accuracy > 0.4, accuracy


@pytest.mark.parametrize("n", [0, -5, 2.5, "10", True, None])
def test_bad_count_raises(n):
    with pytest.raises(SimveError, match="positive integer"):
        render_glyphs(n, rgb=False, seed=0)


def test_progress_bar_does_not_change_the_result():
    quiet = render_glyphs(10, rgb=True, seed=4)
    shown = render_glyphs(10, rgb=True, seed=4, progress=True)
    assert torch.equal(quiet.images, shown.images)


def test_glyph_pairs_are_two_renderings_of_the_same_glyphs():
    from simve.data.glyphs import render_glyph_pairs

    pairs = render_glyph_pairs(200, seed=3)
    rgb = render_glyphs(200, rgb=True, seed=3)
    assert pairs.images.shape == (200, 4, 32, 32)
    assert torch.equal(pairs.images[:, :3], rgb.images) and torch.equal(pairs.labels, rgb.labels)
    assert torch.equal(pairs.factors, rgb.factors)
    gray = pairs.images[:, 3].float()
    ink = gray > 128
    # The gray modality draws the same shape: where it has ink, the RGB one shows its foreground.
    rgb_luma = pairs.images[:, :3].float().mean(1)
    assert (rgb_luma[ink].mean() - rgb_luma[~ink].mean()) > 60
    assert ink.flatten(1).any(1).all()  # every gray rendering shows its glyph
