"""``simve data info | show``: what a dataset holds, and a grid of its images with their views."""

from __future__ import annotations

from collections import Counter

from simve.cli.common import add_settings, positive_int
from simve.data.augment import PRESETS
from simve.train import TrainConfig

DATA_SETTINGS = ("data_root", "download", "limit", "seed")


def add_parser(commands) -> None:
    data = commands.add_parser("data", help="inspect datasets").add_subparsers(
        dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("info", help="counts, shapes, classes and style factors")
    p.add_argument("name", help="dataset name or path of a .npz file")
    add_settings(p, TrainConfig, DATA_SETTINGS)
    p.set_defaults(run=info)
    p = data.add_parser("show", help="a grid of images, each with J augmented views")
    p.add_argument("name", help="dataset name or path of a .npz file")
    add_settings(p, TrainConfig, DATA_SETTINGS)
    p.add_argument("--views", type=positive_int, default=4, metavar="J", help="views per image (default 4)")
    p.add_argument("--out", required=True, metavar="FILE.png", help="where to write the grid")
    p.add_argument("--rows", type=positive_int, default=8, help="images to show (default 8)")
    p.add_argument("--split", choices=("train", "val", "test"), default="train")
    p.add_argument("--augment", choices=tuple(PRESETS), help="augmentation preset (default: the dataset's own)")
    p.set_defaults(run=show, check=_png)


def _png(parser, args) -> None:
    if not args.out.lower().endswith(".png"):
        parser.error(f"--out must name a .png file, got {args.out!r}")


def _load(args):
    from simve.data import load_dataset

    return load_dataset(args.name, args.data_root, download=bool(args.download), seed=args.seed or 0,
                        limit=args.limit)


def info(args) -> None:
    data = _load(args)
    c, h, w = data.image_shape
    print(f"{data.name}: {c}x{h}x{w} uint8 images, from {data.source}")
    print(f"  train {len(data.train) + len(data.val)} images ({len(data.train)} to fit, {len(data.val)} held out "
          f"for validation, seed {args.seed or 0}); test {len(data.test)} images")
    counts = Counter(data.train.labels.tolist() + data.val.labels.tolist())
    classes = ", ".join(f"{i}{'' if n == str(i) else ' ' + n} ({counts.get(i, 0)})" for i, n in enumerate(data.class_names))
    print(f"  {len(data.class_names)} classes (train counts): {classes}")
    print(f"  augmentation preset: {data.preset}")
    if not data.factors:
        print("  style factors: none known")
    for f in data.factors:
        values = f"levels {', '.join(f.levels)}" if f.levels else (
            f"range [{f.low:g}, {f.high:g}]" if f.low is not None else "values 0/1" if f.kind == "binary" else "")
        moved = {True: ", perturbed by the augmentations", False: ", kept by the augmentations", None: ""}[f.perturbed]
        print(f"  style factor {f.name}: {f.kind}, {values}{moved}")


def show(args) -> None:
    import torch

    from simve.data import MultiView, preset
    from simve.plots import save_view_grid

    data = _load(args)
    split = getattr(data, args.split)
    seed = args.seed or 0
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[: args.rows]
    name = args.augment or data.preset
    multiview = MultiView(preset(name), views=args.views)
    images = split.images[rows]
    views, _ = multiview(images, torch.Generator().manual_seed(seed))
    path = save_view_grid(
        multiview.original(images), views, args.out,
        title=f"{data.name} ({args.split}): each row one image and {args.views} views, preset {name}",
    )
    print(f"wrote {path}")
