"""The ``simve`` command."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shlex
import sys
import typing
from collections import Counter
from pathlib import Path

from simve import __version__, distributed
from simve.data.augment import PRESETS
from simve.errors import SimveError
from simve.evaluate.probes import PROBES
from simve.models import benchmark_models, model_names, option_fields, option_hints
from simve.models.anchors import ANCHORS
from simve.models.base import parse_value
from simve.presets import PRESETS as SETTING_PRESETS
from simve.runs import CLUSTERS, Cluster


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value}")
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
    from simve.demo import run_demo

    print(run_demo(args.out, seed=args.seed, command=args.command_line))
    print(f"wrote {Path(args.out) / 'table.md'}, {Path(args.out) / 'results.json'} and the figures beside them")


# The `train` options a resumed run may give besides --out, the model knobs (passed to the model only
# when given), and the options that fill TrainConfig where given (its defaults apply otherwise).
RESUME_OPTIONS = ("epochs", "device")
RUN_OPTIONS = ("data_root", "download", "limit", "seed", "batch_size", "views", "lr", "adam_eps", "augment", "device",
               "precision", "checkpoint_every", "curve")


CURVE_HELP = ("read the learning curve into RUN/curve.jsonl: the linear probe's validation accuracy on every task "
              "after epochs 1, 2, 4, ..., E/2 and E (doubling, the default) or after every epoch")


def _given(args) -> dict:
    """The `train` options given on the command line (the others are None)."""
    return {k: v for k, v in vars(args).items()
            if v is not None and k not in ("command", "command_line", "run", "resume", "out", "preset", "nproc")}


def _check_train_args(parser: argparse.ArgumentParser, args) -> None:
    given = _given(args)
    if args.resume:
        extra = sorted(set(given) - set(RESUME_OPTIONS))
        if extra or args.preset:
            fixed = [*extra, *(["preset"] if args.preset else [])]
            parser.error(f"with --resume give only --epochs and --device besides --out; the run's config.json "
                         f"fixes {', '.join('--' + k.replace('_', '-') for k in fixed)}")
    else:
        missing = [f"--{k}" for k in ("model", "data", "epochs") if k not in given]
        if missing:
            parser.error(f"a new run needs {', '.join(missing)} (or --resume to continue the run in --out)")


def train(args) -> None:
    from dataclasses import replace

    from simve.train import TrainConfig, load_config, read_metrics
    from simve.train import train as train_run

    given = _given(args)
    if args.resume:
        config = replace(load_config(args.out), **given)
    else:
        if "data_root" in given:  # absolute, so the run resumes from any working directory
            given["data_root"] = str(Path(given["data_root"]).resolve())
        options = {k: given[k] for k in _model_knobs() if k in given}
        settings = {k: given[k] for k in RUN_OPTIONS if k in given}
        if args.preset:
            from simve.data import load_dataset
            from simve.presets import preset_settings

            shape = load_dataset(args.data, given.get("data_root"), download=bool(given.get("download")),
                                 limit=given.get("limit")).image_shape
            preset_options, preset_training = preset_settings(args.preset, args.model, shape)
            options, settings = {**preset_options, **options}, {**preset_training, **settings}
        config = TrainConfig(model=args.model, data=args.data, epochs=args.epochs, model_options=options, **settings)
    from simve.runs import curve_reader

    train_run(config, args.out, resume=args.resume, read_curve_at=curve_reader(config))
    if not distributed.launched().main:
        return  # rank 0 reports
    last = next((r for r in reversed(read_metrics(args.out)) if "train_loss" in r), None)
    print(f"run folder: {args.out}")
    if last:
        val = "none (no validation split)" if last["val_loss"] is None else f"{last['val_loss']:.4f}"
        print(f"after epoch {last['epoch']} (step {last['step']}): train loss {last['train_loss']:.4f}, val loss {val}")


def sample(args) -> None:
    import torch

    from simve.plots import save_image_grid, square
    from simve.train import load_trained

    config, _, model = load_trained(args.run_dir, args.device, args.partial)
    if not model.can("sample"):
        raise SimveError(f"{config.model} is not a generative model: it has no samples to draw")
    torch.manual_seed(args.seed)
    with torch.no_grad():
        images = model.sample(args.n)
    path = save_image_grid(square(images), args.out, f"{config.model} on {config.data}: {args.n} samples from the prior")
    print(f"wrote {path}")


def embed(args) -> None:
    from simve.data import load_dataset
    from simve.evaluate.batches import embed_images
    from simve.evaluate.tasks import build_tasks
    from simve.io import save_npz
    from simve.train import load_trained

    config, data, model = load_trained(args.run_dir, args.device, args.partial)
    if args.data:
        trained_on, data = data.image_shape, load_dataset(args.data, args.data_root, seed=config.seed)
        if data.image_shape != trained_on:
            raise SimveError(f"{args.data} holds {'x'.join(map(str, data.image_shape))} images; the run was "
                             f"trained on {'x'.join(map(str, trained_on))}")
    split = getattr(data, args.split)
    arrays = {"features": embed_images(model, split.images).numpy(), "labels": split.labels.numpy()}
    for task in build_tasks(data, seed=config.seed):
        if task.images is None:  # tasks on the split's own images (the transformed sets are not exported)
            arrays[f"task_{task.name}"] = task.labels[args.split].numpy()
            if task.index is not None:
                arrays[f"task_{task.name}_index"] = task.index[args.split].numpy()
    path = save_npz(args.out, **arrays)
    print(f"wrote {path}: {args.split} features {arrays['features'].shape} of {config.model} on {data.name}, "
          f"labels and {sum(k.startswith('task_') and not k.endswith('_index') for k in arrays)} task label sets")


def eval_gen(args) -> None:
    from simve.data import MultiView, preset
    from simve.evaluate.generative import generative_metrics
    from simve.io import write_json
    from simve.train import load_trained

    config, data, model = load_trained(args.run_dir, args.device, args.partial)
    if not model.can("bounds"):
        raise SimveError(f"{config.model} is not a generative model: it has no likelihood bounds")
    split = data.test if args.limit is None else data.test.subset(slice(0, args.limit))
    metrics = generative_metrics(model, split, MultiView(preset(data.preset), config.views),
                                 particles=args.particles, seed=args.seed)
    if not all(math.isfinite(metrics[k]) for k in ("elbo_per_view", "iwae_per_view")):
        raise SimveError(f"the bounds of the run in {args.run_dir} are not finite (ELBO {metrics['elbo_per_view']}): "
                         "the model is numerically broken, e.g. a diverged run; retrain it with a lower --lr")
    path = write_json(Path(args.run_dir) / "eval-gen.json", {"command": args.command_line, **metrics}, indent=2)
    print(f"{config.model} on {config.data} test ({metrics['images']} images x {metrics['views']} views, "
          f"K = {args.particles}):")
    print(f"  ELBO {metrics['elbo_per_view']:.2f}  IWAE {metrics['iwae_per_view']:.2f}  nats per view")
    print(f"  reconstruction MSE {metrics['reconstruction_mse']:.5f} per pixel")
    print(f"wrote {path}")


def eval_run(args) -> None:
    from simve.evaluate.report import evaluate, markdown_table
    from simve.runs import timer, write_results
    from simve.train import load_trained

    elapsed = timer()
    config, data, model = load_trained(args.run_dir, args.device, args.partial)
    results = evaluate(model, data, probes=args.probes, seed=args.seed, max_train=args.max_train,
                       particles=args.particles, views=config.views)
    table = markdown_table(results, args.probes)
    text = (f"Test accuracy (%) of probes fitted on {len(data.train)} train images (at most {args.max_train}), "
            f"chosen on {len(data.val)} validation images, scored once on {len(data.test)} test images.\n\n{table}")
    meta = {"config": config.to_dict(), "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test)}}
    _, path = write_results(Path(args.run_dir) / "eval", f"{config.model} on {config.data}, {config.epochs} epochs, "
                            f"seed {config.seed}", args.command_line, elapsed(), text, results, meta)
    print(table)
    print(f"wrote {path}")


def benchmark(args) -> None:
    from simve.benchmark import BenchmarkSpec, parse_sweep, run_benchmark

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    spec = BenchmarkSpec(
        data=args.data, models=models, seeds=tuple(range(args.seeds)), epochs=args.epochs, out=Path(args.out),
        runs=Path(args.runs or Path("runs") / Path(args.out).name),
        data_root=str(Path(args.data_root).resolve()) if args.data_root else None, limit=args.limit,
        probes=args.probes, particles=args.particles, max_train=args.max_train, sweep=parse_sweep(args.sweep),
        anchors=args.anchors, preset=args.preset, jobs=args.jobs, curve=args.curve,
    )
    spec.cluster = _cluster(args, spec.runs)
    print(run_benchmark(spec, args.command_line)[0])
    print(f"wrote {spec.out / 'table.md'}, {spec.out / 'results.json'} and {spec.out / 'figures'}")


def _run_dir_parser(commands, name: str, help: str):
    p = commands.add_parser(name, help=help)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by simve train")
    p.add_argument("--partial", action="store_true",
                   help="use a run that has not finished its epochs (the results then say the epochs it reached)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return p


def _train_parser(commands) -> None:
    common = _data_options()
    common.set_defaults(seed=None, download=None)  # None = not given (a resumed run refuses it; new runs: 0, False)
    p = commands.add_parser("train", parents=[common], help="train a model; resumable from its run folder",
                            description="Train a model into RUN_DIR (config.json, checkpoint.pt, metrics.jsonl, "
                                        "figures/). With --resume, continue the run in RUN_DIR at the exact batch.")
    p.add_argument("--model", choices=model_names(), help="model name")
    p.add_argument("--data", help="dataset name or path of a .npz file")
    p.add_argument("--epochs", type=positive_int, metavar="E", help="train up to E epochs in all")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR (may raise --epochs)")
    p.add_argument("--batch-size", type=positive_int, metavar="B", help="images per step (default 64)")
    p.add_argument("--views", type=positive_int, metavar="J", help="augmented views per image (default 2)")
    p.add_argument("--lr", type=positive_float, help="Adam learning rate (default 1e-3)")
    p.add_argument("--adam-eps", type=positive_float, metavar="EPS", help="Adam's eps (default 1e-8)")
    p.add_argument("--augment", choices=tuple(PRESETS), help="augmentation preset of the training views "
                                                           "(default: the dataset's own)")
    p.add_argument("--preset", choices=SETTING_PRESETS, help="a bundle of settings under the ones given: paper = "
                                                             "the official SimVAE objective and optimiser")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="auto: cuda where available (default)")
    p.add_argument("--precision", choices=("fp32", "bf16"),
                   help="bf16: compute the loss under autocast (weights and Adam stay fp32; default fp32)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="steps between checkpoints (default 500; also at the end of every epoch)")
    p.add_argument("--curve", nargs="?", const="doubling", choices=("doubling", "every"),
                   help=CURVE_HELP)
    p.add_argument("--nproc", type=positive_int, metavar="N",
                   help="train on N processes of this machine, as torchrun --nproc_per_node N would (one per GPU; "
                        "--batch-size is then the batch of all N together)")
    knobs = p.add_argument_group("model options (passed to the model only when given; defaults are the model's)")
    for name, (hint, meta, defaults) in _model_knobs().items():
        choices = meta.get("choices")
        knobs.add_argument("--" + name.replace("_", "-"), type=_option_type(hint), choices=choices,
                           metavar=None if choices else name.split("_")[-1].upper(),
                           help=f"{meta['help']} (default " + ", ".join(f"{m} {v}" for m, v in defaults) + ")")
    p.set_defaults(run=train)


def _option_type(hint):
    """argparse type for a model option of type ``hint`` (see :func:`simve.models.base.parse_value`)."""
    def parse(text: str):
        try:
            return parse_value(hint, text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def _model_knobs() -> dict[str, tuple[object, dict, list[tuple[str, object]]]]:
    """Every option of every registered model: its type and declaration (from the first model that has
    it), and the models that take it with their defaults."""
    knobs: dict[str, tuple[object, dict, list]] = {}
    for model in model_names():
        hints = option_hints(model)
        for field in option_fields(model):
            entry = knobs.setdefault(field.name, (hints[field.name], dict(field.metadata), []))
            entry[2].append((model, field.default))
    return knobs


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the ``argv`` it will parse, it skips importing the experiments unless
    the command is ``experiment`` (they take a second or more to import)."""
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
    _train_parser(commands)
    p = _run_dir_parser(commands, "sample", "a grid of samples from a trained generative model")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--n", type=positive_int, default=64, help="number of samples (default 64)")
    p.set_defaults(run=sample)
    p = _run_dir_parser(commands, "embed", "export a run's frozen features, labels and task labels as .npz")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--data", help="another dataset (name or .npz) of the same image shape (default: the run's)")
    p.add_argument("--data-root", metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.npz")
    p.set_defaults(run=embed)
    p = _run_dir_parser(commands, "eval-gen", "test ELBO, IWAE and reconstruction error of a generative run")
    p.add_argument("--particles", type=positive_int, default=100, metavar="K", help="IWAE samples (default 100)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use the first N test images")
    p.set_defaults(run=eval_gen)
    p = _run_dir_parser(commands, "eval", "content and style probes of a trained run: results.json and table.md")
    p.add_argument("--probes", type=_probe_list, default=PROBES,
                   help=f"comma-separated probes among {', '.join(PROBES)} (default all)")
    p.add_argument("--max-train", type=positive_int, default=10_000, metavar="N",
                   help="fit probes on at most N training images (default 10000)")
    p.add_argument("--particles", type=int, default=100, metavar="K",
                   help="generative models: IWAE samples for the test bounds, 0 to skip (default 100)")
    p.set_defaults(run=eval_run)
    _benchmark_parser(commands)
    _tune_parser(commands)
    _bench_parser(commands)
    _experiment_parser(commands, full=argv is None or argv[:1] == ["experiment"] or not argv)
    return parser


def _many_runs_options(jobs: bool = True) -> argparse.ArgumentParser:
    """The dataset options of the commands that train many runs (benchmark, tune)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", required=True, help="dataset name or path of a .npz file")
    common.add_argument("--data-root", metavar="DIR")
    common.add_argument("--limit", type=positive_int, metavar="N", help="use at most N train and N test images")
    if jobs:
        common.add_argument("--curve", nargs="?", const="doubling", default="off", choices=("doubling", "every"),
                            help=CURVE_HELP.replace("RUN/", "every run's "))
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


def _cluster(args, runs: Path):
    """The submitit cluster of ``--cluster`` (its logs under RUNS/submitit), or None."""
    if args.cluster is None:
        if args.cluster_set:
            raise SimveError("--cluster-set sets parameters of --cluster jobs; give --cluster slurm or local too")
        return None
    settings = {key: parse_value(int | float | str, value) for key, value in _single_settings(args.cluster_set).items()}
    return Cluster(args.cluster, runs / "submitit", settings)


def _benchmark_parser(commands) -> None:
    p = commands.add_parser("benchmark", parents=[_many_runs_options()], help="train and evaluate many models over seeds: one results folder",
                            description="Train (or reuse) every model for each seed, evaluate them on the "
                                        "content and style tasks, and write results.json, table.md, figures/.")
    p.add_argument("--models", default=",".join(benchmark_models()),
                   help="comma-separated rows, each a model or METHOD:KNOB=VALUE[:...] such as simve:prior_var=0.01 "
                        "(default: the models of the paper's table, %(default)s)")
    p.add_argument("--seeds", type=positive_int, default=3)
    p.add_argument("--epochs", type=positive_int, required=True)
    p.add_argument("--out", required=True, metavar="DIR", help="results folder, e.g. results/glyphs")
    p.add_argument("--runs", metavar="DIR", help="where the runs live (default runs/<name of --out>)")
    p.add_argument("--probes", type=_probe_list, default=PROBES)
    p.add_argument("--particles", type=int, default=100, metavar="K", help="IWAE samples (0 skips the bounds)")
    p.add_argument("--max-train", type=positive_int, default=10_000, metavar="N")
    p.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                   help="SimVE settings to add, one row each: any SimVE option (prior_var=0.01,0.1,1,10, "
                        "sigma_x=0.05,0.2, likelihood=gaussian) or views, lr, epochs (repeatable)")
    p.add_argument("--preset", choices=SETTING_PRESETS,
                   help="settings under every generative row: paper = the official SimVAE objective and optimiser")
    p.add_argument("--anchors", type=_anchor_list, default=ANCHORS, metavar="LIST",
                   help="anchor rows, comma-separated: raw-pixels, random-encoder, pca (the train images' first d "
                        "principal components, d the generative latent size) (default all three)")
    p.add_argument("--no-anchors", dest="anchors", action="store_const", const=(),
                   help="leave out the anchor rows (for a quick sweep)")
    p.set_defaults(run=benchmark)


def _single_settings(items: list[str], hint: str = "") -> dict[str, str]:
    """``--set KEY=VALUE`` items as ``{key: value}``, one value per key."""
    from simve.tune import parse_grid

    settings = parse_grid(items)
    if any(len(v) > 1 for v in settings.values()):
        raise SimveError(f"--set takes one value per key (KEY=VALUE){hint}")
    return {k: v[0] for k, v in settings.items()}


def bench(args) -> None:
    from simve.bench import BenchSpec, run_bench

    options = _single_settings(args.set)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    spec = BenchSpec(data=args.data, models=models, out=Path(args.out or Path("results") / "bench" / Path(args.data).stem),
                     data_root=args.data_root, limit=args.limit, batch_size=args.batch_size, views=args.views,
                     steps=args.steps, repeats=args.repeats, warmup=args.warmup, scaling=args.scaling,
                     evaluation=args.evaluation, overhead=args.overhead, compare=args.compare, ours=args.ours,
                     compare_repeats=args.compare_repeats, processes=args.processes, device=args.device,
                     options=options)
    print(run_bench(spec, args.command_line))
    print(f"wrote {spec.out / 'table.md'} and {spec.out / 'results.json'}")


def _bench_parser(commands) -> None:
    p = commands.add_parser("bench", parents=[_many_runs_options(jobs=False)], help="time training steps and evaluation, side by side",
                            description="Steps/s with and without the data pipeline and against a bare plain-torch "
                                        "step, ms per phase, FLOP rate, peak RSS, cost against N and J, evaluation "
                                        "time per stage; results/bench/<data>/.")
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
                                                  "of simve train at these settings)")
    p.add_argument("--compare-repeats", type=positive_int, default=3, help="runs of each side of --compare and "
                                                                         "--processes (default 3)")
    p.add_argument("--processes", type=positive_int, metavar="N",
                   help="also time one epoch of each model on 1 and on N processes (simve train --nproc), in turn")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="DIR", help="results folder (default results/bench/<data>)")
    p.set_defaults(run=bench)


def tune(args) -> None:
    from simve.tune import TuneSpec, parse_grid, run_tuning

    fixed = _single_settings(args.set, "; give several values with --grid")
    out = Path(args.out or Path("results") / "tuning" / Path(args.data).stem)
    spec = TuneSpec(data=args.data, model=args.model, grid=parse_grid(args.grid), criterion=args.criterion,
                    epochs=args.epochs, out=out, runs=Path(args.runs or Path("runs") / "tuning" / out.name),
                    seeds=tuple(range(args.seeds)), limit=args.limit, probes=args.probes,
                    data_root=str(Path(args.data_root).resolve()) if args.data_root else None,
                    max_train=args.max_train, preset=args.preset, fixed=fixed,
                    jobs=args.jobs, curve=args.curve)
    spec.cluster = _cluster(args, spec.runs)
    print(run_tuning(spec, args.command_line))
    print(f"wrote {out / spec.name} and {out / 'index.md'}")


def _tune_parser(commands) -> None:
    p = commands.add_parser("tune", parents=[_many_runs_options()], help="choose a model's settings on validation; score the choice on test once",
                            description="Train every point of a grid, score each on the validation split, choose "
                                        "by the declared criterion, and score only the choice on the test split.")
    p.add_argument("--model", required=True, choices=model_names())
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a model option or training setting (views, lr, epochs, batch_size, adam_eps, augment) "
                        "and its values; every combination is one point (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting every point shares")
    p.add_argument("--criterion", required=True, choices=("content", "style", "pareto"),
                   help="content: best validation content accuracy; style: best validation perturbed-style "
                        "accuracy; pareto: the content-vs-style front")
    p.add_argument("--epochs", type=positive_int, required=True)
    p.add_argument("--seeds", type=positive_int, default=1)
    p.add_argument("--probes", type=_probe_list, default=("linear",))
    p.add_argument("--max-train", type=positive_int, default=10_000, metavar="N")
    p.add_argument("--preset", choices=SETTING_PRESETS, help="settings under every point (generative models)")
    p.add_argument("--out", metavar="DIR", help="results folder (default results/tuning/<data>)")
    p.add_argument("--runs", metavar="DIR", help="where the runs live (default runs/tuning/<name of --out>)")
    p.set_defaults(run=tune)


def experiment(args) -> None:
    from simve.experiments import get_experiment

    chosen = get_experiment(args.experiment)
    names = {f.name for f in dataclasses.fields(chosen.settings)}
    settings = chosen.settings(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    out = Path(args.out or Path("results") / "experiments" / chosen.name)
    chosen.run(settings, out, args.command_line)
    print(f"wrote {out / 'table.md'}, {out / 'results.json'} and its figures")


def _setting_type(hint):
    """argparse type for a settings field: numbers, words, yes/no, comma lists of them."""
    if typing.get_origin(hint) is tuple:
        item = _setting_type(typing.get_args(hint)[0])

        def items(text: str) -> tuple:
            return tuple(item(part.strip()) for part in text.split(",") if part.strip())

        return items
    return _option_type(hint)


def _experiment_parser(commands, full: bool = True) -> None:
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
            p.add_argument("--" + field.name.replace("_", "-"), type=_setting_type(hints[field.name]),
                           metavar=field.name.split("_")[-1].upper(),
                           help=" ".join((field.metadata.get("help", ""), f"(default {shown})")).strip())
        p.set_defaults(run=experiment)


def _anchor_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip().replace("-", " ") for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ANCHORS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown anchor {', '.join(unknown)}; choose from raw-pixels, random-encoder, pca")
    return names


def _probe_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in PROBES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown probe {', '.join(unknown) or '(none)'}; choose from {', '.join(PROBES)}")
    return names


def _launch(processes: int, argv: list[str]) -> int:
    """``simve train ... --nproc N``: the same command without ``--nproc``, as N ranks."""
    rest = [a for i, a in enumerate(argv) if not (a == "--nproc" or a.startswith("--nproc=")
                                                    or (i and argv[i - 1] == "--nproc"))]
    return distributed.launch(processes, rest)


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
    if args.run in (data_show, sample) and not args.out.lower().endswith(".png"):
        parser.error(f"--out must name a .png file, got {args.out!r}")
    if args.run is embed and not args.out.lower().endswith(".npz"):
        parser.error(f"--out must name a .npz file, got {args.out!r}")
    if args.run is train:
        _check_train_args(parser, args)
    try:
        launched = os.environ.get("WORLD_SIZE", "1") != "1"  # this process is a rank of torchrun's
        if args.run is train and (args.nproc or 1) > 1:
            if launched:
                raise SimveError("--nproc starts the processes itself; under torchrun leave it out")
            return _launch(args.nproc, argv)
        if args.run is not train and launched:
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
