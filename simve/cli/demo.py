"""``simve demo``: the embedded demo on the glyph data (no network)."""

from __future__ import annotations

from pathlib import Path


def add_parser(commands) -> None:
    p = commands.add_parser("demo", help="the embedded demo on the glyph data (no network)")
    p.add_argument("--out", default="simve-demo", metavar="DIR", help="output folder (default simve-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=demo)


def demo(args) -> None:
    from simve.demo import run_demo

    print(run_demo(args.out, seed=args.seed, command=args.command_line))
    print(f"wrote {Path(args.out) / 'table.md'}, {Path(args.out) / 'results.json'} and the figures beside them")
