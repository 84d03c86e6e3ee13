"""``simve tune``: choose a model's settings on the validation split; score the choice on test once."""

from __future__ import annotations

from pathlib import Path

from simve.cli.common import many_runs_options, runs_spec
from simve.models import model_names
from simve.settings import parse_pairs


def add_parser(commands) -> None:
    p = commands.add_parser("tune", parents=[many_runs_options("tuning/")],
                            help="choose a model's settings on validation; score the choice on test once",
                            description="Train every point of a grid, score each on the validation split, choose "
                                        "by the declared criterion, and score only the choice on the test split.")
    p.add_argument("--model", required=True, choices=model_names())
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a model option or training setting (views, lr, epochs, batch_size, adam_eps, weight_decay, "
                        "augment, precision) and its values; every combination is one point (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting every point shares")
    p.add_argument("--criterion", required=True,
                   help="content: best validation content accuracy; style: best validation perturbed-style "
                        "accuracy; pareto: the content-vs-style front")
    p.add_argument("--out", metavar="DIR", help="results folder (default results/tuning/<data>)")
    p.set_defaults(run=tune, seeds=1, probes=("linear",))


def tune(args) -> None:
    from simve.tune import TuneSpec, run_tuning

    out = Path(args.out or Path("results") / "tuning" / Path(args.data).stem)
    spec = TuneSpec(**runs_spec(args, out, "tuning/"), model=args.model, criterion=args.criterion,
                    grid=parse_pairs(args.grid, None, many=True, what="--grid"),
                    fixed=parse_pairs(args.set, None, many=False, what="--set"))
    print(run_tuning(spec, args.command_line))
    print(f"wrote {out / spec.name} and {out / 'index.md'}")
