import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, needs_shared

from simve.data import load_dataset, read_npz, split_validation
from simve.data.base import Split
from simve.errors import SimveError


def write_npz(path, n_train=30, n_test=10, shape=(28, 28), **extra):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        y_train=rng.integers(0, 3, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        y_test=rng.integers(0, 3, n_test).astype(np.uint8),
        **extra,
    )
    return path


@pytest.mark.parametrize("shape, channels", [((28, 28), 1), ((17, 23), 1), ((32, 32, 3), 3), ((64, 48, 3), 3)])
def test_npz_source_any_size_gray_or_colour(tmp_path, shape, channels):
    path = write_npz(tmp_path / "toy.npz", shape=shape)
    data = load_dataset(str(path), val_fraction=0.2)
    assert data.image_shape == (channels, *shape[:2])
    assert len(data.train) + len(data.val) == 30 and len(data.val) == 6 and len(data.test) == 10
    assert data.train.images.dtype == torch.uint8 and data.train.labels.dtype == torch.int64
    raw = np.load(path)["x_test"]
    expected = raw[:, None] if raw.ndim == 3 else raw.transpose(0, 3, 1, 2)
    assert np.array_equal(data.test.images.numpy(), expected)  # pixels pass through unchanged
    assert data.preset == ("gray28" if channels == 1 else "colour32")


def test_npz_attributes_become_binary_factors(tmp_path):
    attrs = {"attr_train": np.zeros((30, 2), np.int8), "attr_test": np.ones((10, 2), np.int8),
             "attr_names": np.array(["Smiling", "Bangs"]), "class_names": np.array(["a", "b", "c"])}
    data = read_npz(write_npz(tmp_path / "attrs.npz", **attrs))
    assert [f.name for f in data["factors"]] == ["Smiling", "Bangs"]
    assert data["class_names"] == ("a", "b", "c")
    assert data["test"].factors.shape == (10, 2) and data["test"].factors.sum() == 20


def test_npz_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(SimveError, match="lacks y_train, x_test, y_test"):
        read_npz(bad)
    float_images = write_npz(tmp_path / "float.npz")
    arrays = dict(np.load(float_images))
    arrays["x_train"] = arrays["x_train"].astype(np.float32)
    np.savez(float_images, **arrays)
    with pytest.raises(SimveError, match="must be uint8"):
        read_npz(float_images)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file at all")
    with pytest.raises(SimveError, match="not a readable .npz"):
        read_npz(corrupt)
    with pytest.raises(SimveError, match="no such file"):
        load_dataset(str(tmp_path / "absent.npz"))


def test_unknown_name_and_missing_root(tmp_path):
    with pytest.raises(SimveError, match="unknown dataset 'nope'; choose one of"):
        load_dataset("nope")
    with pytest.raises(SimveError) as err:
        load_dataset("fashionmnist", tmp_path / "empty")
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "empty" / "fashionmnist") in message and "--download" in message


def test_data_root_from_environment(tmp_path, monkeypatch):
    (tmp_path / "cifar10").mkdir()
    write_npz(tmp_path / "cifar10" / "cifar10.npz", shape=(32, 32, 3))
    monkeypatch.setenv("SIMVE_DATA", str(tmp_path))
    data = load_dataset("cifar10")
    assert data.source.endswith("cifar10.npz") and data.image_shape == (3, 32, 32)


def test_validation_split_is_seeded_disjoint_and_complete():
    train = Split(torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1), torch.arange(100))
    fit, val = split_validation(train, 0.25, seed=3)
    again, val_again = split_validation(train, 0.25, seed=3)
    _, other = split_validation(train, 0.25, seed=4)
    assert len(val) == 25 and torch.equal(val.labels, val_again.labels) and torch.equal(fit.labels, again.labels)
    assert sorted(fit.labels.tolist() + val.labels.tolist()) == list(range(100))
    assert not torch.equal(val.labels, other.labels)
    with pytest.raises(SimveError):
        split_validation(train, 1.5, seed=0)


def test_limit_keeps_the_first_images(tmp_path):
    path = write_npz(tmp_path / "toy.npz")
    data = load_dataset(str(path), limit=7, val_fraction=0.0)
    assert len(data.train) == 7 and len(data.test) == 7
    assert np.array_equal(data.train.images[:, 0].numpy(), np.load(path)["x_train"][:7])
    with pytest.raises(SimveError, match="limit"):
        load_dataset(str(path), limit=0)


@needs_shared("fashionmnist", "FashionMNIST", "raw", "train-images-idx3-ubyte")
def test_fashionmnist_from_torchvision_raw_files():
    data = load_dataset("fashionmnist", SHARED_DATA)
    assert "torchvision" in data.source
    assert len(data.train) + len(data.val) == 8517 and len(data.test) == 4443
    assert data.image_shape == (1, 28, 28) and data.class_names[9] == "Ankle boot"
    assert data.test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    npz = np.load(SHARED_DATA / "fashionmnist" / "fashionmnist.npz")
    assert np.array_equal(data.test.images[:, 0].numpy(), npz["x_test"])  # both copies agree
    own_root = load_dataset("fashionmnist", SHARED_DATA / "fashionmnist")  # torchvision's root: FashionMNIST/raw
    assert own_root.source == f"torchvision files in {SHARED_DATA / 'fashionmnist'}"
    assert np.array_equal(own_root.test.images.numpy(), data.test.images.numpy())


@needs_shared("cifar10", "cifar10.npz")
def test_cifar10_falls_back_to_npz():
    data = load_dataset("cifar10", SHARED_DATA)
    assert data.source.endswith("cifar10.npz") and data.preset == "colour32"
    assert len(data.train) + len(data.val) == 5169 and len(data.test) == 1017
    assert data.image_shape == (3, 32, 32) and data.class_names[0] == "airplane"
    assert data.test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


@needs_shared("celeba", "celeba.npz")
def test_celeba_from_npz_with_attributes():
    data = load_dataset("celeba", SHARED_DATA)
    assert data.image_shape == (3, 64, 64) and len(data.test) == 100 and data.preset == "celeba64"
    names = data.factor_names
    assert len(names) == 40 and "Smiling" in names and "Eyeglasses" in names
    male = data.test.factors[:, names.index("Male")]
    assert int(male.sum()) == 34 and torch.equal(male.long(), data.test.labels)


def test_glyphs_are_cached_and_a_damaged_cache_is_rebuilt(private_cache):
    first = load_dataset("glyphs", limit=50)
    cached = next((private_cache / "glyphs").glob("gray-50-50-*.npz"))
    assert str(cached) in first.source
    cached.write_bytes(b"damaged")
    again = load_dataset("glyphs", limit=50)
    assert torch.equal(first.train.images, again.train.images) and torch.equal(first.test.labels, again.test.labels)
    assert np.load(cached)["x_train"].shape == (50, 1, 28, 28)  # rewritten whole


def test_glyphs14_are_the_glyphs_at_14_px_with_their_factors_and_augmentation(private_cache):
    small, full = load_dataset("glyphs14", limit=50), load_dataset("glyphs", limit=50)
    assert small.image_shape == (1, 14, 14) and small.preset == "glyphs14"
    assert torch.equal(small.train.labels, full.train.labels) and torch.equal(small.test.factors, full.test.factors)
    assert small.factor_names == full.factor_names
    pooled = torch.nn.functional.avg_pool2d(full.test.images.float(), 2)  # the same digits, drawn at 14 px
    assert torch.corrcoef(torch.stack([pooled.flatten(), small.test.images.float().flatten()]))[0, 1] > 0.9
