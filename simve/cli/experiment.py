"""``simve experiment NAME``: the theory papers' experiments, each with its settings as options."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from simve.cli.common import value_type


def add_parser(commands, full: bool = True) -> None:
    """``simve experiment NAME`` with every experiment's settings as options; ``full=False`` (another
    command is being run) leaves the experiments unimported and the group without them."""
    from simve.experiments import get_experiment
    from simve.experiments.common import MODULES

    group = commands.add_parser("experiment", help="the theory papers' experiments: results/experiments/NAME/")
    names = group.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for name in MODULES if full else ():
        chosen = get_experiment(name)
        p = names.add_parser(name, help=chosen.help, description=chosen.help)
        p.add_argument("--out", metavar="DIR", help=f"results folder (default results/experiments/{name})")
        hints = typing.get_type_hints(chosen.settings)
        for field in dataclasses.fields(chosen.settings):
            default = field.default
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            p.add_argument("--" + field.name.replace("_", "-"), type=value_type(hints[field.name]),
                           metavar=field.name.split("_")[-1].upper(),
                           help=" ".join((field.metadata.get("help", ""), f"(default {shown})")).strip())
        p.set_defaults(run=experiment)


def experiment(args) -> None:
    from simve.experiments import get_experiment

    chosen = get_experiment(args.experiment)
    names = {f.name for f in dataclasses.fields(chosen.settings)}
    settings = chosen.settings(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    out = Path(args.out or Path("results") / "experiments" / chosen.name)
    chosen.run(settings, out, args.command_line)
    print(f"wrote {out / 'table.md'}, {out / 'results.json'} and its figures")
