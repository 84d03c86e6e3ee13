import pytest
import torch

from simve.data.torchvision_compat import ensure_importable

ensure_importable()  # before torchvision: a CUDA build on CPU torch needs two op schemas declared

# isort: split
import torchvision.transforms.v2.functional as TF

from simve.data.augment import (
    PRESETS,
    Augment,
    HorizontalFlip,
    RandomAffine,
    RandomResizedCrop,
    VerticalFlip,
    affine_grid,
    preset,
)
from simve.data.colour import (
    ColorJitter,
    RandomGrayscale,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    grayscale,
)
from simve.errors import SimveError

CHANNELS = {"gray28": 1, "colour32": 3, "celeba64": 3, "glyphs": 1, "glyphs-rgb": 3, "glyphs-pair": 4, "paper-gray28": 1, "paper-colour": 3, "glyphs14": 1}
SIZES = {"gray28": 28, "colour32": 32, "celeba64": 64, "glyphs": 28, "glyphs-rgb": 32, "glyphs-pair": 32, "paper-gray28": 28, "paper-colour": 32, "glyphs14": 14}


def images(n=8, c=3, h=32, w=32, seed=0):
    """Smooth random images (so resampling differences are small but visible)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, c, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def identity_crop(n):
    return {
        "crop_scale": torch.ones(n),
        "crop_aspect": torch.ones(n),
        "crop_x": torch.full((n,), 0.5),
        "crop_y": torch.full((n,), 0.5),
    }


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_shape_range_and_reproducible(name):
    aug = preset(name)
    x = images(6, CHANNELS[name], SIZES[name], SIZES[name])
    out, params = aug(x, gen(1))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert set(params) == set(aug.keys)
    for value in params.values():
        assert value.shape == (6,) and value.dtype == torch.float32
    assert torch.equal(aug.apply(x, params), out)
    out2, params2 = aug(x, gen(1))
    assert torch.equal(out, out2) and all(torch.equal(params[k], params2[k]) for k in params)


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (64, 48)])
def test_affine_grid_is_torchs_bit_for_bit(size):
    """The multiply-add grid is F.affine_grid's, exactly, for maps like the presets' (rotation, zoom,
    crop, flip, shift): the views do not change by a rounding."""
    theta = torch.randn(256, 2, 3, generator=gen(3))
    height, width = size
    expected = torch.nn.functional.affine_grid(theta, [256, 1, height, width], align_corners=False)
    assert torch.equal(affine_grid(theta, height, width), expected)
    assert torch.equal(affine_grid(theta.double(), height, width),
                       torch.nn.functional.affine_grid(theta.double(), [256, 1, height, width], align_corners=False))


def test_preset_keys():
    assert PRESETS["gray28"].keys == ("crop_scale", "crop_aspect", "crop_x", "crop_y", "flip")
    assert (
        PRESETS["colour32"].keys
        == PRESETS["celeba64"].keys
        == PRESETS["gray28"].keys + ("brightness", "contrast", "saturation", "hue", "jitter", "grayscale")
    )
    assert PRESETS["glyphs"].keys == ("angle", "zoom", "shift_x", "shift_y")
    assert PRESETS["glyphs-rgb"].keys == ("angle", "zoom", "shift_x", "shift_y", "brightness", "hue")


def test_unknown_preset_lists_valid_names():
    with pytest.raises(SimveError, match="gray28.*colour32.*celeba64.*glyphs.*glyphs-rgb"):
        preset("nope")


def test_per_sample_randomness():
    x = images(1).expand(16, -1, -1, -1).contiguous()  # one image, 16 times
    out, params = preset("colour32")(x, gen(0))
    for key in ("crop_scale", "crop_x", "flip"):
        assert params[key].unique().numel() > 1
    flat = out.flatten(1)
    assert torch.cdist(flat, flat)[~torch.eye(16, dtype=torch.bool)].min() > 1e-3


def test_different_seeds_differ():
    x = images(4)
    assert not torch.equal(preset("colour32")(x, gen(0))[0], preset("colour32")(x, gen(1))[0])


def test_identity_parameters_give_the_image():
    x = images(3)
    aug = Augment((RandomResizedCrop(), HorizontalFlip(), RandomAffine(10, (0.9, 1.1), (0.1, 0.1))))
    params = identity_crop(3) | {
        "flip": torch.zeros(3),
        "angle": torch.zeros(3),
        "zoom": torch.ones(3),
        "shift_x": torch.zeros(3),
        "shift_y": torch.zeros(3),
    }
    assert torch.allclose(aug.apply(x, params), x, atol=1e-5)


def test_flip_mirrors():
    x = images(2)
    aug = Augment((RandomResizedCrop(), HorizontalFlip()))
    out = aug.apply(x, identity_crop(2) | {"flip": torch.tensor([1.0, 0.0])})
    assert torch.allclose(out[0], x[0].flip(-1), atol=1e-5)
    assert torch.allclose(out[1], x[1], atol=1e-5)


def test_vertical_flip_mirrors_top_bottom():
    x = images(2)
    aug = Augment((RandomResizedCrop(), VerticalFlip()))
    out = aug.apply(x, identity_crop(2) | {"vflip": torch.tensor([1.0, 0.0])})
    assert torch.allclose(out[0], x[0].flip(-2), atol=1e-5)
    assert torch.allclose(out[1], x[1], atol=1e-5)


def test_affine_rotation_and_shift():
    x = images(2, h=28, w=28)
    aug = Augment((RandomAffine(90, (1, 1), (0.2, 0.2)),), padding="zeros")
    base = {"zoom": torch.ones(2), "shift_x": torch.zeros(2), "shift_y": torch.zeros(2)}
    rotated = aug.apply(x, base | {"angle": torch.tensor([90.0, -90.0])})
    assert torch.allclose(rotated[0], x[0].rot90(1, (-2, -1)), atol=1e-5)  # counter-clockwise
    assert torch.allclose(rotated[1], x[1].rot90(-1, (-2, -1)), atol=1e-5)
    shifted = aug.apply(x, base | {"angle": torch.zeros(2), "shift_x": torch.full((2,), 3 / 28)})
    assert torch.allclose(shifted[..., 3:], x[..., :-3], atol=1e-5)  # content moves right
    assert shifted[..., :3].abs().max() < 1e-6  # zero fill


def test_crop_matches_torchvision_resized_crop():
    x = images(1)
    top, left, h, w = 5, 9, 16, 20
    params = {
        "crop_scale": torch.tensor([h * w / 32**2]),
        "crop_aspect": torch.tensor([w / h]),
        "crop_x": torch.tensor([(left + w / 2) / 32]),
        "crop_y": torch.tensor([(top + h / 2) / 32]),
    }
    out = Augment((RandomResizedCrop(),)).apply(x, params)
    ref = TF.resized_crop(x, top, left, h, w, [32, 32], antialias=False)
    # Equal inside; at the crop's edge torchvision repeats the crop's border, we read past it.
    assert torch.allclose(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)


def test_crop_boxes_inside_image_and_in_range():
    crop = RandomResizedCrop(scale=(0.2, 1.0), ratio=(0.5, 2.0))
    p = crop.sample(20000, gen(0))
    width, height = torch.sqrt(p["crop_scale"] * p["crop_aspect"]), torch.sqrt(p["crop_scale"] / p["crop_aspect"])
    eps = 1e-6
    assert (p["crop_x"] - width / 2 >= -eps).all() and (p["crop_x"] + width / 2 <= 1 + eps).all()
    assert (p["crop_y"] - height / 2 >= -eps).all() and (p["crop_y"] + height / 2 <= 1 + eps).all()
    assert (p["crop_scale"] >= 0.2).all() and (p["crop_scale"] <= 1).all()
    assert (p["crop_aspect"] >= 0.5 - eps).all() and (p["crop_aspect"] <= 2 + eps).all()
    assert p["crop_scale"].min() < 0.25 and p["crop_aspect"].min() < 0.6 and p["crop_aspect"].max() > 1.8


def test_crop_falls_back_to_whole_image():
    p = RandomResizedCrop(scale=(1.0, 1.0), ratio=(2.0, 3.0)).sample(5, gen(0))  # nothing fits
    assert torch.allclose(p["crop_aspect"], torch.full((5,), 2.0)) and torch.allclose(
        p["crop_scale"], torch.full((5,), 0.5)
    )
    assert torch.allclose(p["crop_x"], torch.full((5,), 0.5))


@pytest.mark.parametrize("factor", [0.0, 0.35, 1.0, 1.8])
def test_brightness_contrast_saturation_match_torchvision(factor):
    x = images(1)
    f = torch.tensor([factor])
    assert torch.allclose(adjust_brightness(x, f), TF.adjust_brightness(x, factor), atol=1e-5)
    assert torch.allclose(adjust_contrast(x, f), TF.adjust_contrast(x, factor), atol=1e-5)
    assert torch.allclose(adjust_saturation(x, f), TF.adjust_saturation(x, factor), atol=1e-5)


@pytest.mark.parametrize("shift", [-0.5, -0.2, 0.0, 0.07, 0.33, 0.5])
def test_hue_matches_torchvision(shift):
    x = torch.cat(
        [images(1), torch.tensor([1.0, 0.5, 0.5, 0.2]).view(1, 1, 2, 2).expand(1, 3, 2, 2).repeat(1, 1, 16, 16)]
    )
    x[1, :, 0, 0] = torch.tensor([0.3, 0.3, 0.9])  # ties between channels
    x[1, :, 0, 1] = torch.tensor([0.7, 0.7, 0.1])
    out = adjust_hue(x, torch.tensor([shift, shift]))
    for i in range(2):
        assert torch.allclose(out[i], TF.adjust_hue(x[i], shift), atol=1e-5)


def test_grayscale_matches_torchvision():
    x = images(2)
    assert torch.allclose(grayscale(x), TF.rgb_to_grayscale(x), atol=1e-6)
    out = RandomGrayscale(0.5).apply(x, {"grayscale": torch.tensor([1.0, 0.0])})
    assert torch.allclose(out[0], TF.rgb_to_grayscale(x[0], num_output_channels=3), atol=1e-6)
    assert torch.equal(out[1], x[1])


def test_colour_jitter_order_and_probability():
    x = images(3)
    aug = Augment(colour=(ColorJitter(0.5, 0.5, 0.5, 0.1, p=0.5),))
    params = {
        "brightness": torch.tensor([1.2, 1.0, 0.7]),
        "contrast": torch.tensor([0.8, 1.0, 1.3]),
        "saturation": torch.tensor([1.5, 1.0, 0.4]),
        "hue": torch.tensor([0.1, 0.0, -0.05]),
        "jitter": torch.tensor([1.0, 0.0, 1.0]),
    }
    out = aug.apply(x, params)
    assert torch.equal(out[1], x[1])
    for i in (0, 2):
        ref = TF.adjust_brightness(x[i], params["brightness"][i].item())
        ref = TF.adjust_contrast(ref, params["contrast"][i].item())
        ref = TF.adjust_saturation(ref, params["saturation"][i].item())
        ref = TF.adjust_hue(ref, params["hue"][i].item())
        assert torch.allclose(out[i], ref, atol=1e-5)


def test_colour_jitter_sampling_ranges_and_identity_when_off():
    p = ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8).sample(5000, gen(0))
    on = p["jitter"] > 0.5
    assert 0.75 < on.float().mean() < 0.85
    for key in ("brightness", "contrast", "saturation"):
        assert (p[key][on] >= 0.2).all() and (p[key][on] <= 1.8).all() and (p[key][~on] == 1).all()
    assert (p["hue"][on].abs() <= 0.2).all() and (p["hue"][~on] == 0).all()
    assert set(ColorJitter(brightness=0.4, hue=0.5).sample(3, gen(0))) == {"brightness", "hue"}


def test_colour_ops_skip_one_channel_images():
    x = images(4, c=1)
    aug = Augment(colour=(ColorJitter(0.8, 0.8, 0.8, 0.2), RandomGrayscale(1.0)))
    out, _ = aug(x, gen(0))
    assert torch.equal(out, x)


def test_bad_inputs():
    aug = preset("colour32")
    with pytest.raises(SimveError):
        aug((images(2) * 255).to(torch.uint8))
    with pytest.raises(SimveError):
        aug(images(2)[0])
    with pytest.raises(SimveError):
        aug(torch.rand(2, 2, 8, 8))  # colour ops on 2 channels
    params = aug.sample(2, gen(0))
    with pytest.raises(SimveError, match="missing"):
        aug.apply(images(2), {k: v for k, v in params.items() if k != "flip"})
    with pytest.raises(SimveError, match="shape"):
        aug.apply(images(3), params)
    for bad in (
        lambda: HorizontalFlip(1.5),
        lambda: RandomResizedCrop(scale=(0.9, 0.5)),
        lambda: ColorJitter(hue=0.7),
        lambda: RandomAffine(-1),
        lambda: Augment(padding="wrap"),
        lambda: Augment((HorizontalFlip(), HorizontalFlip())),
    ):
        with pytest.raises(SimveError):
            bad()
