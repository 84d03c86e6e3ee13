"""The ``simve`` command."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from simve import __version__
from simve.errors import SimveError


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _data_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", metavar="DIR",
                        help="folder holding one folder per dataset (default: $SIMVE_DATA, else ~/.cache/simve/data)")
    common.add_argument("--download", action="store_true", help="download a missing torchvision dataset")
    common.add_argument("--limit", type=positive_int, metavar="N", help="use at most N train and N test images")
    common.add_argument("--seed", type=int, default=0, help="seed of the validation split and the views (default 0)")
    return common


def _load(args):
    from simve.data import load_dataset

    return load_dataset(args.name, args.data_root, download=args.download, seed=args.seed, limit=args.limit)


def data_info(args) -> None:
    data = _load(args)
    c, h, w = data.image_shape
    print(f"{data.name}: {c}x{h}x{w} uint8 images, from {data.source}")
    print(f"  train {len(data.train) + len(data.val)} images ({len(data.train)} to fit, {len(data.val)} held out "
          f"for validation, seed {args.seed}); test {len(data.test)} images")
    counts = Counter(data.train.labels.tolist() + data.val.labels.tolist())
    classes = ", ".join(f"{i} {n} ({counts.get(i, 0)})" for i, n in enumerate(data.class_names))
    print(f"  {len(data.class_names)} classes (train counts): {classes}")
    print(f"  augmentation preset: {data.preset}")
    if not data.factors:
        print("  style factors: none known")
    for f in data.factors:
        values = f"levels {', '.join(f.levels)}" if f.levels else (
            f"range [{f.low:g}, {f.high:g}]" if f.low is not None else "values 0/1" if f.kind == "binary" else "")
        moved = {True: ", perturbed by the augmentations", False: ", kept by the augmentations", None: ""}[f.perturbed]
        print(f"  style factor {f.name}: {f.kind}, {values}{moved}")


def data_show(args) -> None:
    import torch

    from simve.data import MultiView, preset
    from simve.plots import save_view_grid

    data = _load(args)
    split = getattr(data, args.split)
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(args.seed))[: args.rows]
    preset_name = args.preset or data.preset
    multiview = MultiView(preset(preset_name), views=args.views)
    images = split.images[rows]
    views, _ = multiview(images, torch.Generator().manual_seed(args.seed))
    path = save_view_grid(
        multiview.original(images), views, args.out,
        title=f"{data.name} ({args.split}): each row one image and {args.views} views, preset {preset_name}",
    )
    print(f"wrote {path}")


def demo(args) -> None:
    import torch

    from simve.data import MultiView, load_dataset, preset
    from simve.plots import save_view_grid

    out = Path(args.out)
    data = load_dataset("glyphs", seed=args.seed)
    print(f"glyphs: {len(data.train)} train, {len(data.val)} val, {len(data.test)} test images ({data.source})")
    multiview = MultiView(preset(data.preset), views=6)
    images = data.train.images[:10]
    views, _ = multiview(images, torch.Generator().manual_seed(args.seed))
    path = save_view_grid(multiview.original(images), views, out / "glyph_views.png",
                          title="glyphs: content fixed along each row, style varied by the views")
    print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simve", description=__doc__)
    parser.add_argument("--version", action="version", version=f"simve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("demo", help="the embedded demo on the glyph data (no network)")
    p.add_argument("--out", default="simve-demo", metavar="DIR", help="output folder (default simve-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=demo)

    data = commands.add_parser("data", help="inspect datasets").add_subparsers(
        dest="data_command", required=True, metavar="ACTION")
    common = _data_options()
    p = data.add_parser("info", parents=[common], help="counts, shapes, classes and style factors")
    p.add_argument("name", help="dataset name or path of a .npz file")
    p.set_defaults(run=data_info)
    p = data.add_parser("show", parents=[common], help="a grid of images, each with J augmented views")
    p.add_argument("name", help="dataset name or path of a .npz file")
    p.add_argument("--views", type=positive_int, default=4, metavar="J", help="views per image (default 4)")
    p.add_argument("--out", required=True, metavar="FILE.png", help="where to write the grid")
    p.add_argument("--rows", type=positive_int, default=8, help="images to show (default 8)")
    p.add_argument("--split", choices=("train", "val", "test"), default="train")
    p.add_argument("--preset", help="augmentation preset (default: the dataset's own)")
    p.set_defaults(run=data_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", None) and args.run is data_show and not args.out.lower().endswith(".png"):
        parser.error(f"--out must name a .png file, got {args.out!r}")
    try:
        args.run(args)
    except SimveError as err:
        print(f"simve: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
