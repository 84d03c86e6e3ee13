"""What several commands parse alike: numbers, lists of probes and anchors, flags generated from declared
settings, and the options of the commands that train many runs."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

from simve.errors import SimveError
from simve.evaluate.probes import PROBES
from simve.models.anchors import ANCHORS
from simve.presets import PRESETS as SETTING_PRESETS
from simve.runs import CLUSTERS, Cluster
from simve.settings import ANY_KEY, check_value, choices_of, parse_pairs, parse_value
from simve.train import TrainConfig


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def value_type(hint, field: dataclasses.Field | None = None):
    """argparse type for a declared setting of type ``hint`` (:func:`simve.settings.parse_value`), checked
    as ``field`` declares where given; a tuple type reads a comma-separated list."""
    if typing.get_origin(hint) is tuple:
        item = value_type(typing.get_args(hint)[0])
        return lambda text: tuple(item(part.strip()) for part in text.split(",") if part.strip())

    def parse(text: str):
        try:
            value = parse_value(hint, text)
            if field is not None:
                check_value(field, value)
        except (ValueError, SimveError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return value

    return parse


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings(parser, cls, names=None) -> None:
    """One flag per declared setting of dataclass ``cls`` (``names`` only, where given), each typed, with its
    choices and its help line (and default) from the declaration; every flag defaults to None (not given)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if "help" in f.metadata}
    hints = typing.get_type_hints(cls)
    for name in fields if names is None else names:
        field, meta = fields[name], fields[name].metadata
        default = field.default if field.default is not dataclasses.MISSING else None
        shown = f" (default {default})" if default is not None and default is not False else ""
        if hints[name] is bool:
            parser.add_argument(flag(name), action="store_true", default=None, help=meta["help"] + shown)
            continue
        choices = choices_of(field)
        extra = {"nargs": "?", "const": meta["const"]} if meta.get("const") is not None else {}
        parser.add_argument(flag(name), type=value_type(hints[name], None if choices else field), choices=choices,
                            default=None,
                            metavar=None if choices else meta.get("metavar") or name.split("_")[-1].upper(),
                            help=meta["help"] + shown, **extra)


def probe_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in PROBES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown probe {', '.join(unknown) or '(none)'}; choose from {', '.join(PROBES)}")
    return names


def anchor_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip().replace("-", " ") for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ANCHORS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown anchor {', '.join(unknown)}; choose from raw-pixels, random-encoder, pca")
    return names


RUN_SETTINGS = ("curve", "style_bins")  # training settings every run of benchmark or tune shares, as simve train declares them


def many_runs_options(folder: str) -> argparse.ArgumentParser:
    """The options of the commands that train many runs (benchmark, tune): the data, the budget and seeds,
    the probes, where results and runs go (default ``results/<folder>/<data>``-like paths, see
    :func:`runs_spec`), and how the runs are trained (``--jobs``, ``--cluster``, ``--curve``, ``--style-bins``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", required=True, help="dataset name or path of a .npz file")
    common.add_argument("--data-root", metavar="DIR")
    common.add_argument("--limit", type=positive_int, metavar="N", help="use at most N train and N test images")
    common.add_argument("--epochs", type=positive_int, required=True)
    common.add_argument("--seeds", type=positive_int, help="seeds 0..N-1")
    common.add_argument("--probes", type=probe_list)
    common.add_argument("--max-train", type=positive_int, default=10_000, metavar="N")
    common.add_argument("--preset", choices=SETTING_PRESETS,
                        help="settings under every generative row: paper = the official SimVAE objective and optimiser")
    common.add_argument("--runs", metavar="DIR", help=f"where the runs live (default runs/{folder}<name of --out>)")
    add_settings(common, TrainConfig, RUN_SETTINGS)
    common.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="train N runs at a time, one process each with its share of the threads (default 1; "
                             "with --cluster slurm: at most N jobs at once)")
    common.add_argument("--cluster", choices=CLUSTERS,
                        help="train the runs as submitit jobs, one run each: on Slurm, or local processes "
                             "(pip install 'simve[cluster]')")
    common.add_argument("--cluster-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a submitit job parameter, e.g. timeout_min=600, gpus_per_node=1, "
                             "slurm_partition=gpu (repeatable)")
    return common


def runs_spec(args, out: Path, runs_folder: str) -> dict:
    """The shared fields of :class:`simve.runs.RunsSpec` from the options of :func:`many_runs_options`."""
    runs = Path(args.runs or Path("runs") / runs_folder / out.name)
    return {"data": args.data, "epochs": args.epochs, "out": out, "runs": runs, "seeds": tuple(range(args.seeds)),
            "data_root": str(Path(args.data_root).resolve()) if args.data_root else None, "limit": args.limit,
            "probes": args.probes, "max_train": args.max_train, "preset": args.preset, "jobs": args.jobs,
            "cluster": cluster(args, runs), **{name: getattr(args, name) for name in RUN_SETTINGS
                                               if getattr(args, name) is not None}}


def cluster(args, runs: Path) -> Cluster | None:
    """The submitit cluster of ``--cluster`` (its logs under RUNS/submitit), or None."""
    if args.cluster is None:
        if args.cluster_set:
            raise SimveError("--cluster-set sets parameters of --cluster jobs; give --cluster slurm or local too")
        return None
    settings = parse_pairs(args.cluster_set, {ANY_KEY: int | float | str}, many=False, what="--cluster-set")
    return Cluster(args.cluster, runs / "submitit", settings)


def run_dir_parser(commands, name: str, help: str):
    """A command on a trained run: ``RUN_DIR``, ``--partial``, ``--seed``, ``--device``."""
    p = commands.add_parser(name, help=help)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by simve train")
    p.add_argument("--partial", action="store_true",
                   help="use a run that has not finished its epochs (the results then say the epochs it reached)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return p
