"""``simve benchmark``: train and evaluate many models over seeds into one results folder."""

from __future__ import annotations

from pathlib import Path

from simve.cli.common import anchor_list, many_runs_options, runs_spec
from simve.evaluate.probes import PROBES
from simve.models import benchmark_models
from simve.models.anchors import ANCHORS


def add_parser(commands) -> None:
    p = commands.add_parser("benchmark", parents=[many_runs_options("")],
                            help="train and evaluate many models over seeds: one results folder",
                            description="Train (or reuse) every model for each seed, evaluate them on the "
                                        "content and style tasks, and write results.json, table.md, figures/.")
    p.add_argument("--models", default=",".join(benchmark_models()),
                   help="comma-separated rows, each a model or METHOD:KNOB=VALUE[:...] such as simve:prior_var=0.01 "
                        "or simve:preset=paper:lr=0.001 (default: the models of the paper's table, %(default)s)")
    p.add_argument("--out", required=True, metavar="DIR", help="results folder, e.g. results/glyphs")
    p.add_argument("--particles", type=int, default=100, metavar="K", help="IWAE samples (0 skips the bounds)")
    p.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                   help="SimVE settings to add, one row each: any SimVE option (prior_var=0.01,0.1,1,10, "
                        "sigma_x=0.05,0.2, likelihood=gaussian) or training setting (views, lr, epochs, ...) "
                        "(repeatable)")
    p.add_argument("--anchors", type=anchor_list, default=ANCHORS, metavar="LIST",
                   help="anchor rows, comma-separated: raw-pixels, random-encoder, pca (the train images' first d "
                        "principal components, d the generative latent size) (default all three)")
    p.add_argument("--no-anchors", dest="anchors", action="store_const", const=(),
                   help="leave out the anchor rows (for a quick sweep)")
    p.set_defaults(run=benchmark, seeds=3, probes=PROBES)


def benchmark(args) -> None:
    from simve.benchmark import BenchmarkSpec, parse_sweep, run_benchmark

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    spec = BenchmarkSpec(**runs_spec(args, Path(args.out), ""), models=models, particles=args.particles,
                         sweep=parse_sweep(args.sweep), anchors=args.anchors)
    print(run_benchmark(spec, args.command_line)[0])
    print(f"wrote {spec.out / 'table.md'}, {spec.out / 'results.json'} and {spec.out / 'figures'}")
