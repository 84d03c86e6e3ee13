"""The ``simve`` command: one module per command (or small family), each with its parser beside its
handler. A command module has ``add_parser(commands)``, which registers its parser with ``run`` (the
handler, called with the parsed arguments) and optionally ``check`` (``check(parser, args)``, for what
argparse cannot say)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from simve import __version__, distributed
from simve.cli import benchmark, data, demo, experiment, timing, train, trained, tune
from simve.errors import SimveError

COMMANDS = (demo, data, train, trained, benchmark, tune, timing)  # then experiment, imported only when run


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the ``argv`` it will parse, it skips importing the experiments unless
    the command is ``experiment`` (they take a second or more to import)."""
    parser = argparse.ArgumentParser(prog="simve", description="simve: generative latent-variable models of "
                                     "self-supervised learning beside the discriminative baselines")
    parser.add_argument("--version", action="version", version=f"simve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(commands)
    experiment.add_parser(commands, full=argv is None or argv[:1] == ["experiment"] or not argv)
    return parser


def _reports(err: SimveError) -> bool:
    """Whether this process prints ``err``: always in one process; among the ranks of a run, rank 0
    (the others meet the same error) and a rank whose failure is its own (``rank_local``)."""
    try:
        return distributed.launched().main or getattr(err, "rank_local", False)
    except SimveError:  # an environment that describes no world: this process reports that
        return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["simve", *argv])  # recorded beside the numbers it produces
    if getattr(args, "check", None):
        args.check(parser, args)
    try:
        launched = os.environ.get("WORLD_SIZE", "1") != "1"  # this process is a rank of torchrun's
        if args.run is train.train and (args.nproc or 1) > 1:
            if launched:
                raise SimveError("--nproc starts the processes itself; under torchrun leave it out")
            return train.launch(args.nproc, argv)
        if args.run is not train.train and launched:
            raise SimveError(f"only simve train runs as several processes (torchrun); run simve {args.command} in "
                             "one process (benchmark and tune fan runs out with --jobs N)")
        args.run(args)
    except SimveError as err:
        if _reports(err):
            print(f"simve: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 1)
    except KeyboardInterrupt:
        print("simve: interrupted; files already written are complete (every write is atomic)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
