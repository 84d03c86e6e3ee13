"""Data sources: one registry of names, each loading to an :class:`ImageData`.

Real datasets are looked for under ``<data root>/<name>/``: first in torchvision's own
layout, then as ``<name>.npz`` (the offline format: uint8 ``x_train, y_train, x_test,
y_test``, optional ``class_names`` and ``attr_*`` arrays). Nothing is downloaded unless
``download=True``. Any ``.npz`` file in that format loads by passing its path as the name.
The glyphs are rendered by :mod:`simve.data.glyphs` and cached.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from simve.data import glyphs
from simve.data.base import Factor, ImageData, Split, split_validation
from simve.data.paths import cache_dir, data_root
from simve.data.torchvision_compat import datasets as torchvision_datasets
from simve.errors import SimveError
from simve.io import save_npz

GLYPH_COUNTS = (60_000, 10_000)  # train, test
GLYPH_SEEDS = (0, 1)  # the glyph dataset is fixed: train and test are drawn from these seeds
GLYPH_CACHE_VERSION = 1  # bump when the renderer changes what it draws
CELEBA_CROP, CELEBA_SIZE = (15, 35, 148), 64  # left, top, side of the centre crop; output side


def _to_nchw(x: np.ndarray, where: str) -> torch.Tensor:
    if x.dtype != np.uint8:
        raise SimveError(f"{where}: images must be uint8, got {x.dtype}; convert them to 0..255 uint8")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    else:
        raise SimveError(
            f"{where}: images must be (N, H, W) or (N, H, W, 1|3), got shape {x.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(x))


MAX_CLASSES = 256


def _labels(y, n: int, where: str) -> torch.Tensor:
    """Class labels: integers 0..MAX_CLASSES-1 (floats only if whole numbers), one per image."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise SimveError(f"{where}: expected {n} labels, got shape {tuple(y.shape)}")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()):
        raise SimveError(f"{where}: labels must be whole numbers 0, 1, 2, ..., got dtype {y.dtype}"
                         + (" with non-finite or fractional values" if y.dtype.kind == "f" else "")
                         + "; map each class to an integer first")
    if n and (y.min() < 0 or y.max() >= MAX_CLASSES):
        raise SimveError(f"{where}: labels must lie in 0..{MAX_CLASSES - 1}, got {y.min()}..{y.max()}; "
                         "number the classes from 0")
    return torch.from_numpy(y.astype(np.int64))


# --- the npz format -----------------------------------------------------------------------


def read_npz(path: Path) -> dict:
    """Read a dataset in the offline npz format into the fields of :class:`ImageData`."""
    try:
        archive = np.load(path, allow_pickle=False)
        arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise SimveError(f"{path} is not a readable .npz file ({err}); re-create or re-copy it") from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise SimveError(f"{path} lacks {', '.join(missing)}; a dataset npz needs uint8 x_train, y_train, x_test, y_test")
    splits = {}
    for part in ("train", "test"):
        images = _to_nchw(arrays[f"x_{part}"], f"{path}: x_{part}")
        factors = arrays.get(f"attr_{part}")
        splits[part] = Split(
            images,
            _labels(arrays[f"y_{part}"], len(images), f"{path}: y_{part}"),
            None if factors is None else torch.from_numpy(factors.astype(np.float32)),
        )
    empty = [part for part, split in splits.items() if len(split) == 0]
    if empty:
        raise SimveError(f"{path}: the {' and '.join(empty)} arrays hold no images; a dataset needs both splits")
    if splits["train"].images.shape[1:] != splits["test"].images.shape[1:]:
        raise SimveError(f"{path}: train and test images differ in shape")
    n_classes = int(max(splits["train"].labels.max(), splits["test"].labels.max())) + 1
    names = arrays.get("class_names")
    class_names = tuple(str(c) for c in names) if names is not None else tuple(map(str, range(n_classes)))
    attr_names = arrays.get("attr_names")
    if splits["train"].factors is not None and attr_names is None:
        attr_names = [f"attr_{i}" for i in range(splits["train"].factors.shape[1])]
    factors = tuple(Factor(str(a), "binary") for a in attr_names) if attr_names is not None else ()
    return {"train": splits["train"], "test": splits["test"], "class_names": class_names, "factors": factors}


# --- torchvision --------------------------------------------------------------------------


def _torchvision_digits(cls_name: str) -> Callable[[Path, bool], dict]:
    """MNIST and FashionMNIST: torchvision keeps the whole split as a uint8 tensor."""

    def load(folder: Path, download: bool) -> dict:
        cls = getattr(torchvision_datasets(), cls_name)
        parts = {}
        for part, train in (("train", True), ("test", False)):
            ds = cls(str(folder), train=train, download=download)
            parts[part] = Split(ds.data[:, None].contiguous(), ds.targets.long())
        return {**parts, "class_names": tuple(ds.classes)}

    return load


def _torchvision_cifar10(folder: Path, download: bool) -> dict:
    tvd = torchvision_datasets()
    parts = {}
    for part, train in (("train", True), ("test", False)):
        ds = tvd.CIFAR10(str(folder), train=train, download=download)
        parts[part] = Split(_to_nchw(ds.data, "CIFAR10"), torch.tensor(ds.targets))
    return {**parts, "class_names": tuple(ds.classes)}


def _torchvision_celeba(folder: Path, download: bool) -> dict:
    """CelebA from torchvision, centre-cropped and resized to 64x64 once, then cached."""
    from tqdm import tqdm

    cached = cache_dir() / "celeba" / f"celeba{CELEBA_SIZE}.npz"
    if not cached.exists():
        left, top, side = CELEBA_CROP
        arrays = {}
        for part, split in (("train", "train"), ("test", "test")):
            ds = torchvision_datasets().CelebA(str(folder), split=split, target_type="attr", download=download)
            images = np.empty((len(ds), CELEBA_SIZE, CELEBA_SIZE, 3), np.uint8)
            for i in tqdm(range(len(ds)), desc=f"CelebA {part}: crop and resize", unit="img"):
                image = ds[i][0].crop((left, top, left + side, top + side))
                images[i] = np.asarray(image.resize((CELEBA_SIZE, CELEBA_SIZE), resample=1))
            arrays[f"x_{part}"] = images
            arrays[f"attr_{part}"] = ds.attr.numpy().astype(np.int8)
            arrays[f"y_{part}"] = arrays[f"attr_{part}"][:, ds.attr_names.index("Male")]
        arrays["attr_names"] = np.array(ds.attr_names[:40])
        save_npz(cached, **arrays)
    return read_npz(cached)


# --- the registry -------------------------------------------------------------------------


REAL = {  # name: (torchvision loader, augmentation preset)
    "mnist": (_torchvision_digits("MNIST"), "gray28"),
    "fashionmnist": (_torchvision_digits("FashionMNIST"), "gray28"),
    "cifar10": (_torchvision_cifar10, "colour32"),
    "celeba": (_torchvision_celeba, "celeba64"),
}
GLYPHS = {"glyphs": "gray", "glyphs-rgb": "rgb", "glyphs-pair": "pair", "glyphs14": "gray14"}  # name: kind
GLYPH_SIZES = {"gray14": 14}  # kinds rendered at another size than their default (gray 28, colour 32)
NAMES = tuple(REAL) + tuple(GLYPHS)


def _load_real(name: str, root: Path, download: bool) -> tuple[dict, str]:
    """``name`` from ``root/name`` (one folder per dataset), or from ``root`` itself where it is
    torchvision's own root (it holds e.g. ``FashionMNIST/raw``) or holds ``name.npz``."""
    folder = root / name
    tv_loader, _ = REAL[name]
    for place in (folder, root):
        try:
            return tv_loader(place, False), f"torchvision files in {place}"
        except (RuntimeError, FileNotFoundError):  # torchvision: "Dataset not found or corrupted"
            pass
        npz = place / f"{name}.npz"
        if npz.exists():
            return read_npz(npz), str(npz)
    if download:
        try:
            return tv_loader(folder, True), f"torchvision download into {folder}"
        except (RuntimeError, OSError) as err:
            raise SimveError(f"could not download {name} into {folder}: {err}") from None
    raise SimveError(
        f"no {name} data in {folder} or {root} (looked for torchvision's files and {name}.npz); "
        f"pass --download to fetch it, or point --data-root or SIMVE_DATA at a folder that holds {name}/"
    )


def _read_glyph_cache(path: Path) -> dict | None:
    """The cached splits, or None where the cache is absent or damaged (then it is rebuilt)."""
    try:
        z = np.load(path)
        return {p: Split(*(torch.from_numpy(z[f"{k}_{p}"]) for k in "xyf")) for p in ("train", "test")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


def _render(kind: str, n: int, seed: int) -> Split:
    if kind == "pair":
        return glyphs.render_glyph_pairs(n, seed=seed, progress=True)
    return glyphs.render_glyphs(n, rgb=kind == "rgb", seed=seed, size=GLYPH_SIZES.get(kind), progress=True)


def _load_glyphs(kind: str, limit: int | None) -> tuple[dict, str]:
    counts = [n if limit is None else min(n, limit) for n in GLYPH_COUNTS]
    path = cache_dir() / "glyphs" / f"{kind}-{counts[0]}-{counts[1]}-v{GLYPH_CACHE_VERSION}.npz"
    parts = _read_glyph_cache(path)
    if parts is None:
        parts = {p: _render(kind, n, s) for p, n, s in zip(("train", "test"), counts, GLYPH_SEEDS)}
        arrays = {f"{k}_{p}": getattr(split, attr).numpy() for p, split in parts.items()
                  for k, attr in (("x", "images"), ("y", "labels"), ("f", "factors"))}
        save_npz(path, **arrays)
    fields = {**parts, "class_names": glyphs.CLASS_NAMES, "factors": glyphs.glyph_factors(kind in ("rgb", "pair"))}
    return fields, f"rendered, cached at {path}"


def load_dataset(
    name: str,
    root: str | Path | None = None,
    *,
    download: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
) -> ImageData:
    """Load a dataset by name (see ``NAMES``) or from the path of an ``.npz`` file.

    ``limit`` keeps the first ``limit`` train and test images (glyphs: renders only that
    many); the validation split is a ``val_fraction`` of train drawn with ``seed``.
    """
    if limit is not None and limit < 1:
        raise SimveError(f"limit must be a positive number of images, got {limit}")
    key = name.lower()
    if key in GLYPHS:
        fields, source = _load_glyphs(GLYPHS[key], limit)
        preset = key
    elif key in REAL:
        fields, source = _load_real(key, data_root(root), download)
        preset = REAL[key][1]
    elif name.endswith(".npz"):
        path = Path(name).expanduser()
        if not path.exists():
            raise SimveError(f"no such file: {path}; give the path of a dataset .npz or one of {', '.join(NAMES)}")
        fields, source, key = read_npz(path), str(path), path.stem
        preset = "gray28" if fields["train"].images.shape[1] == 1 else "colour32"
    else:
        raise SimveError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)} or the path of a .npz file")
    train, test = fields["train"], fields["test"]
    if limit is not None:
        train, test = train.subset(slice(0, limit)), test.subset(slice(0, limit))
    train, val = split_validation(train, val_fraction, seed)
    return ImageData(
        name=key, train=train, val=val, test=test, class_names=fields["class_names"],
        factors=fields.get("factors", ()), preset=preset, source=source,
    )
