"""Probe tasks: content labels, glyph factor bins, augmentation-parameter tasks, CelebA."""

from collections import Counter

import pytest
import torch
from conftest import SHARED_DATA, needs_shared

from simve.data import augment as aug
from simve.data.base import ImageData, Split
from simve.data.sources import load_dataset
from simve.errors import SimveError
from simve.evaluate.tasks import (
    AUGMENTED,
    HAIR_COLOURS,
    SPLITS,
    Task,
    apply_edges,
    build_tasks,
    equal_frequency_edges,
    split_seed,
)

GLYPH_PERTURBED = {"font": False, "thickness": False, "rotation": True, "scale": True, "x": True, "y": True}


@pytest.fixture(scope="module")
def glyphs():
    return load_dataset("glyphs", limit=300)


def _synthetic(channels: int, size: int, preset: str, counts=(60, 20, 40)) -> ImageData:
    g = torch.Generator().manual_seed(123)
    splits = [
        Split(torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8),
              torch.randint(0, 3, (n,), generator=g))
        for n in counts
    ]
    return ImageData("synthetic", *splits, class_names=("a", "b", "c"), preset=preset)


def _expected_images(data: ImageData, seed: int, split: str) -> tuple[torch.Tensor, dict]:
    """The task images recomputed from scratch: parameters from the split's seed, then apply."""
    augment = aug.preset(data.preset)
    images = getattr(data, split).images
    params = augment.sample(len(images), torch.Generator().manual_seed(split_seed(seed, split)))
    out = augment.apply(images.float() / 255.0, params)
    return (out * 255.0).round().clamp(0, 255).to(torch.uint8), params


def _mode_rate(labels: torch.Tensor) -> float:
    return Counter(labels.tolist()).most_common(1)[0][1] / len(labels)


# ------------------------------------------------------------------------------------ glyphs


def test_glyph_tasks_are_content_and_one_per_factor(glyphs):
    tasks = build_tasks(glyphs)
    assert tasks.names == ("content",) + tuple(f"style:{f}" for f in GLYPH_PERTURBED)
    assert tasks.images == {}  # no augmentation tasks for data with ground-truth style
    content = tasks["content"]
    assert content.kind == "content" and content.perturbed is None and content.index is None
    assert content.class_names == glyphs.class_names
    for split in SPLITS:
        assert torch.equal(content.labels[split], getattr(glyphs, split).labels)
    for name, perturbed in GLYPH_PERTURBED.items():
        task = tasks[f"style:{name}"]
        assert task.kind == "style" and task.perturbed is perturbed and task.images is None
    font = tasks["style:font"]
    assert len(font.class_names) == 8 and font.class_names[0] == "DejaVuSans"
    assert torch.equal(font.labels["test"], glyphs.test.factors[:, 0].long())


def test_glyph_continuous_factors_use_equal_frequency_train_bins(glyphs):
    tasks = build_tasks(glyphs, bins=3)
    column = glyphs.factor_names.index("rotation")
    task = tasks["style:rotation"]
    assert len(task.class_names) == 3
    for name in ("thickness", "rotation", "scale", "x", "y"):
        counts = torch.bincount(tasks[f"style:{name}"].labels["train"], minlength=3)
        assert len(counts) == 3 and counts.max() - counts.min() <= 1
    # The edges by hand: midway between the sorted train values at the thirds (270 train images).
    train = glyphs.train.factors[:, column].double().sort().values
    n = len(train)
    assert n == 270
    low_edge, high_edge = (train[89] + train[90]) / 2, (train[179] + train[180]) / 2
    for i in (0, 1, 7, 150, 299):
        value = glyphs.test.factors[i, column].item()
        expected = 0 if value < low_edge else (1 if value < high_edge else 2)
        assert task.labels["test"][i].item() == expected
    # The test split is binned with the train edges, so its counts are not forced equal.
    assert torch.bincount(task.labels["test"], minlength=3).sum() == 300
    assert task.class_names[1] == f"[{low_edge.item():.3g}, {high_edge.item():.3g})"
    assert task.chance == pytest.approx(_mode_rate(task.labels["test"]))


def test_perturbed_factors_take_their_own_bins_and_kept_ones_keep_theirs(glyphs):
    """The demo's finer style: rotation, scale, x and y (perturbed) in 10 equal-frequency bins, thickness (kept) in 3."""
    tasks = build_tasks(glyphs, bins=3, perturbed_bins=10)
    for name in ("rotation", "scale", "x", "y"):
        task = tasks[f"style:{name}"]
        counts = torch.bincount(task.labels["train"], minlength=10)
        assert task.perturbed and len(task.class_names) == 10 and counts.max() - counts.min() <= 1
    assert len(tasks["style:thickness"].class_names) == 3 and tasks["style:thickness"].perturbed is False
    assert torch.equal(tasks["style:thickness"].labels["test"], build_tasks(glyphs, bins=3)["style:thickness"].labels["test"])
    with pytest.raises(SimveError, match="bins must be an integer >= 2, got 1"):
        build_tasks(glyphs, perturbed_bins=1)


def test_glyphs_rgb_adds_colour_factors_and_no_augmentation_tasks():
    data = load_dataset("glyphs-rgb", limit=300)
    tasks = build_tasks(data, bins=4)
    assert tasks.names[-2:] == ("style:fg_hue", "style:bg_hue")
    assert all(tasks[n].perturbed is True for n in tasks.names[-2:])
    assert tasks["style:thickness"].perturbed is False
    assert len(tasks["style:fg_hue"].class_names) == 4
    assert not any(n.startswith("aug:") for n in tasks.names) and tasks.images == {}


# ----------------------------------------------------------------------- augmentation tasks


def test_gray28_augmentation_tasks_are_the_true_parameters_of_the_stored_images():
    data = _synthetic(1, 28, "gray28")
    tasks = build_tasks(data, seed=5)
    assert tasks.names == ("content",) + tuple(f"aug:{k}" for k in ("crop_scale", "crop_aspect", "crop_x", "crop_y", "flip"))
    for split in SPLITS:
        expected, params = _expected_images(data, 5, split)
        stored = tasks.images[AUGMENTED][split]
        assert stored.dtype == torch.uint8 and torch.equal(stored, expected)
        assert torch.equal(tasks["aug:flip"].labels[split], params["flip"].long())
        edges = equal_frequency_edges(_expected_images(data, 5, "train")[1]["crop_scale"], 3)
        assert torch.equal(tasks["aug:crop_scale"].labels[split], apply_edges(params["crop_scale"], edges))
    for name in tasks.names[1:]:
        task = tasks[name]
        assert task.kind == "style" and task.perturbed is True and task.images == AUGMENTED and task.index is None
    assert tasks["aug:flip"].class_names == ("no", "yes")
    assert torch.equal(tasks["content"].labels["val"], data.val.labels)


def test_augmentation_tasks_are_deterministic_under_the_seed():
    data = _synthetic(1, 28, "gray28")
    a, b, c = build_tasks(data, seed=1), build_tasks(data, seed=1), build_tasks(data, seed=2)
    assert torch.equal(a.images[AUGMENTED]["test"], b.images[AUGMENTED]["test"])
    assert all(torch.equal(a[n].labels["train"], b[n].labels["train"]) for n in a.names)
    assert not torch.equal(a.images[AUGMENTED]["test"], c.images[AUGMENTED]["test"])
    # Each split draws its own parameters.
    assert not torch.equal(a["aug:crop_x"].labels["val"], a["aug:crop_x"].labels["train"][:20])


def test_flip_labels_match_mirrored_images(monkeypatch):
    monkeypatch.setitem(aug.PRESETS, "flip-only", aug.Augment((aug.HorizontalFlip(0.5),)))
    data = _synthetic(3, 16, "flip-only")
    tasks = build_tasks(data)
    assert tasks.names == ("content", "aug:flip")
    for split in SPLITS:
        original, stored = getattr(data, split).images, tasks.images[AUGMENTED][split]
        flipped = tasks["aug:flip"].labels[split].bool()
        assert 0 < flipped.sum() < len(flipped)
        assert torch.equal(stored[flipped], original[flipped].flip(-1))
        assert torch.equal(stored[~flipped], original[~flipped])
        assert not torch.equal(original, original.flip(-1))  # random images are not symmetric


def test_constant_parameters_give_no_task(monkeypatch):
    fixed = aug.Augment((aug.RandomAffine(degrees=0.0, translate=(0.1, 0.0)), aug.HorizontalFlip(1.0)))
    monkeypatch.setitem(aug.PRESETS, "shift-only", fixed)
    tasks = build_tasks(_synthetic(1, 16, "shift-only"))
    assert tasks.names == ("content", "aug:shift_x")  # angle, zoom, shift_y and flip are constant


def test_colour_tasks_use_the_rows_where_the_parameter_shows():
    data = _synthetic(3, 32, "colour32", counts=(150, 30, 90))
    tasks = build_tasks(data, seed=3)
    colour = ("brightness", "contrast", "saturation", "hue", "jitter", "grayscale")
    assert tasks.names[-6:] == tuple(f"aug:{k}" for k in colour)
    params = {s: _expected_images(data, 3, s)[1] for s in SPLITS}
    for split in SPLITS:
        jittered = params[split]["jitter"] > 0.5
        coloured = jittered & (params[split]["grayscale"] < 0.5)
        for key, rows in (("brightness", jittered), ("contrast", jittered), ("saturation", coloured), ("hue", coloured)):
            task = tasks[f"aug:{key}"]
            assert torch.equal(task.index[split], rows.nonzero().squeeze(1))
            assert len(task.labels[split]) == int(rows.sum())
            # No identity values left among the probed rows.
            assert (params[split][key][task.index[split]] != (0.0 if key == "hue" else 1.0)).all()
        assert tasks["aug:jitter"].index is None and tasks["aug:grayscale"].index is None
        assert torch.equal(tasks.images[AUGMENTED][split], _expected_images(data, 3, split)[0])
    brightness = tasks["aug:brightness"]
    train_values = params["train"]["brightness"][brightness.index["train"]]
    counts = torch.bincount(brightness.labels["train"])
    assert len(counts) == 3 and counts.max() - counts.min() <= 1
    edges = equal_frequency_edges(train_values, 3)
    test_values = params["test"]["brightness"][brightness.index["test"]]
    assert torch.equal(brightness.labels["test"], apply_edges(test_values, edges))
    features = torch.arange(90.0).unsqueeze(1)
    rows, labels = brightness.select("test", features)
    assert torch.equal(rows[:, 0].long(), brightness.index["test"]) and labels is brightness.labels["test"]


def test_colour_parameters_of_gray_images_are_skipped():
    tasks = build_tasks(_synthetic(1, 32, "colour32"))
    assert tasks.names == ("content",) + tuple(f"aug:{k}" for k in ("crop_scale", "crop_aspect", "crop_x", "crop_y", "flip"))


# ------------------------------------------------------------------------------ the helpers


def test_equal_frequency_edges_and_chance():
    values = torch.tensor([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])
    edges = equal_frequency_edges(values, 3)
    assert edges.tolist() == [2.5, 4.5]
    assert apply_edges(torch.tensor([0.0, 2.5, 4.4, 9.0]), edges).tolist() == [0, 1, 1, 2]
    assert equal_frequency_edges(torch.ones(10), 3).tolist() == [1.0]  # ties merge
    task = Task("t", "style", None, ("a", "b", "c"),
                {"train": torch.tensor([0, 1, 2]), "val": torch.tensor([0]), "test": torch.tensor([2, 0, 2, 1])})
    assert task.chance == 0.5
    with pytest.raises(SimveError, match="bins"):
        build_tasks(_synthetic(1, 28, "gray28"), bins=1)


# ----------------------------------------------------------------------------------- CelebA


@needs_shared("celeba", "celeba.npz")
def test_celeba_content_is_hair_colour_and_attributes_are_style():
    data = load_dataset("celeba", SHARED_DATA)
    tasks = build_tasks(data)
    content = tasks["content"]
    assert content.class_names == HAIR_COLOURS
    columns = [data.factor_names.index(h) for h in HAIR_COLOURS]
    for split in SPLITS:
        hair = getattr(data, split).factors[:, columns]
        rows = content.index[split]
        assert torch.equal(rows, (hair.sum(1) == 1).nonzero().squeeze(1))
        assert torch.equal(hair[rows, content.labels[split]], torch.ones(len(rows)))
    assert len(content.labels["train"]) + len(content.labels["val"]) == 287 and len(content.labels["test"]) == 71
    assert content.chance == pytest.approx(26 / 71)  # black hair is the most common in test

    attrs = [n for n in tasks.names if n.startswith("attr:")]
    assert not {f"attr:{h}" for h in HAIR_COLOURS} & set(attrs)
    for name in ("Smiling", "Male", "Eyeglasses", "Pale_Skin", "Bangs", "Wearing_Hat"):
        assert f"attr:{name}" in attrs
    assert "attr:Bald" not in attrs  # no bald face among the 100 test images
    assert len(attrs) == 35
    for name in attrs:
        task = tasks[name]
        assert task.perturbed is None and task.kind == "style" and task.images is None
        column = data.factor_names.index(name[5:])
        assert torch.equal(task.labels["test"], data.test.factors[:, column].long())
    assert "aug:flip" in tasks.names and "aug:hue" in tasks.names
    assert tasks.images[AUGMENTED]["test"].shape == (100, 3, 64, 64)
    assert tasks["attr:Male"].chance == pytest.approx(0.66)
