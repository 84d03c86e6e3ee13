"""``simve timing`` (formerly ``simve bench``, still accepted): where a training step's time goes, measured
side by side, and the speed of whole training processes."""

from __future__ import annotations

import argparse
from pathlib import Path

from simve.cli.common import positive_int
from simve.settings import parse_pairs


def add_parser(commands) -> None:
    p = commands.add_parser("timing", aliases=["bench"], help="time training steps and evaluation, side by side",
                            description="Steps/s with and without the data pipeline and against a bare plain-torch "
                                        "step, ms per phase, FLOP rate, peak RSS, cost against N and J, evaluation "
                                        "time per stage; results/timing/<data>/.")
    p.add_argument("--data", required=True, help="dataset name or path of a .npz file")
    p.add_argument("--data-root", metavar="DIR")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use at most N train and N test images")
    p.add_argument("--models", default="simve,vae,simclr", help="comma-separated models (default %(default)s)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a model option for every model that has it, e.g. latent_dim=10 (repeatable)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--views", type=positive_int, default=2)
    p.add_argument("--steps", type=positive_int, default=5, help="steps per timed block")
    p.add_argument("--repeats", type=positive_int, default=5, help="interleaved rounds (medians over them)")
    p.add_argument("--warmup", type=positive_int, default=2, help="untimed steps per job first")
    p.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip the cost against N and J")
    p.add_argument("--no-eval", dest="evaluation", action="store_false", help="skip the evaluation timings")
    p.add_argument("--no-overhead", dest="overhead", action="store_false",
                   help="skip timing one epoch of simve train as a whole process")
    p.add_argument("--compare", metavar="CMD", help="an external command to time against --ours, interleaved")
    p.add_argument("--ours", metavar="CMD", help="our side of --compare ({tmp}: a fresh folder; default: one epoch "
                                                  "of simve train at these settings; see --to-accuracy)")
    p.add_argument("--compare-repeats", type=positive_int, default=3, help="runs of each side of --compare and "
                                                                         "--processes (default 3)")
    p.add_argument("--processes", type=positive_int, metavar="N",
                   help="also time one epoch of each model on 1 and on N processes (simve train --nproc), in turn")
    p.add_argument("--to-accuracy", type=target_accuracy, metavar="TARGET",
                   help="instead: the training and process seconds until the validation content curve first reaches "
                        "TARGET (0.75 or 75), --seeds runs of --ours (default: simve train --curve every of the first "
                        "model for --max-epochs) and of --compare in turn ({seed} and {tmp} in the commands)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds of each side of --to-accuracy (default 3)")
    p.add_argument("--max-epochs", type=positive_int, default=40, metavar="E",
                   help="epochs of the default ours of --to-accuracy (default 40)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="DIR", help="results folder (default results/timing/<data>)")
    p.set_defaults(run=timing)


def target_accuracy(text: str) -> float:
    """A validation accuracy, as a fraction (0.75) or a percentage (75)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the target is a number such as 0.75 or 75, got {text!r}") from None
    value = value / 100 if value > 1 else value
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"the target is an accuracy in (0, 1] or (0, 100], got {text}")
    return value


def timing(args) -> None:
    from simve.timing import TimingSpec, run_timing

    options = parse_pairs(args.set, None, many=False, what="--set")
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    folder = "time-to-accuracy" if args.to_accuracy is not None else Path(args.data).stem
    spec = TimingSpec(data=args.data, models=models, out=Path(args.out or Path("results") / "timing" / folder),
                     data_root=args.data_root, limit=args.limit, batch_size=args.batch_size, views=args.views,
                     steps=args.steps, repeats=args.repeats, warmup=args.warmup, scaling=args.scaling,
                     evaluation=args.evaluation, overhead=args.overhead, compare=args.compare, ours=args.ours,
                     compare_repeats=args.compare_repeats, processes=args.processes, device=args.device,
                     options=options, to_accuracy=args.to_accuracy, seeds=args.seeds, max_epochs=args.max_epochs)
    print(run_timing(spec, args.command_line))
    print(f"wrote {spec.out / 'table.md'} and {spec.out / 'results.json'}")
