"""``simve train``: train one model into a run folder, or resume it; ``--nproc N`` as N processes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from simve import distributed
from simve.cli.common import add_settings, positive_int, value_type
from simve.models import model_names, option_fields, option_hints
from simve.presets import PRESETS as SETTING_PRESETS
from simve.train import RESUMABLE, TrainConfig

NOT_SETTINGS = ("command", "command_line", "run", "check", "resume", "out", "preset", "nproc")  # the flags besides the settings


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model; resumable from its run folder",
                            description="Train a model into RUN_DIR (config.json, checkpoint.pt, metrics.jsonl, "
                                        "figures/). With --resume, continue the run in RUN_DIR at the exact batch.")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR (may raise --epochs)")
    p.add_argument("--preset", choices=SETTING_PRESETS, help="a bundle of settings under the ones given: paper = "
                                                             "the official SimVAE objective and optimiser")
    p.add_argument("--nproc", type=positive_int, metavar="N",
                   help="train on N processes of this machine, as torchrun --nproc_per_node N would (one per GPU; "
                        "--batch-size is then the batch of all N together)")
    add_settings(p.add_argument_group("training settings (simve.train.TrainConfig)"), TrainConfig)
    knobs = p.add_argument_group("model options (passed to the model only when given; defaults are the model's)")
    for name, (hint, meta, defaults) in model_knobs().items():
        choices = meta.get("choices")
        knobs.add_argument("--" + name.replace("_", "-"), type=value_type(hint), choices=choices,
                           metavar=None if choices else name.split("_")[-1].upper(),
                           help=f"{meta['help']} (default " + ", ".join(f"{m} {v}" for m, v in defaults) + ")")
    p.set_defaults(run=train, check=check)


def model_knobs() -> dict[str, tuple[object, dict, list[tuple[str, object]]]]:
    """Every option of every registered model: its type and declaration (from the first model that has
    it), and the models that take it with their defaults."""
    knobs: dict[str, tuple[object, dict, list]] = {}
    for model in model_names():
        hints = option_hints(model)
        for field in option_fields(model):
            entry = knobs.setdefault(field.name, (hints[field.name], dict(field.metadata), []))
            entry[2].append((model, field.default))
    return knobs


def _given(args) -> dict:
    """The settings and model options given on the command line (the others are None)."""
    return {k: v for k, v in vars(args).items() if v is not None and k not in NOT_SETTINGS}


def check(parser, args) -> None:
    """A resumed run takes only the resumable settings; a new one needs its model, data and epochs."""
    given = _given(args)
    if args.resume:
        extra = sorted(set(given) - set(RESUMABLE))
        if extra or args.preset:
            fixed = [*extra, *(["preset"] if args.preset else [])]
            parser.error(f"with --resume give only {' and '.join('--' + k for k in RESUMABLE)} besides --out; the "
                         f"run's config.json fixes {', '.join('--' + k.replace('_', '-') for k in fixed)}")
    else:
        missing = [f"--{k}" for k in ("model", "data", "epochs") if k not in given]
        if missing:
            parser.error(f"a new run needs {', '.join(missing)} (or --resume to continue the run in --out)")


def train(args) -> None:
    from simve.presets import preset_config
    from simve.runs import curve_reader
    from simve.train import load_config, read_metrics
    from simve.train import train as train_run

    given = _given(args)
    if args.resume:
        config = dataclasses.replace(load_config(args.out), **given)
    else:
        if "data_root" in given:  # absolute, so the run resumes from any working directory
            given["data_root"] = str(Path(given["data_root"]).resolve())
        settings = {k: v for k, v in given.items() if k in TrainConfig.__dataclass_fields__}
        options = {k: v for k, v in given.items() if k not in settings}
        config = preset_config(args.preset, settings.pop("model"), settings.pop("data"), settings.pop("epochs"),
                               options, settings)
    train_run(config, args.out, resume=args.resume, read_curve_at=curve_reader(config))
    if not distributed.launched().main:
        return  # rank 0 reports
    last = next((r for r in reversed(read_metrics(args.out)) if "train_loss" in r), None)
    print(f"run folder: {args.out}")
    if last:
        val = "none (no validation split)" if last["val_loss"] is None else f"{last['val_loss']:.4f}"
        print(f"after epoch {last['epoch']} (step {last['step']}): train loss {last['train_loss']:.4f}, val loss {val}")


def launch(processes: int, argv: list[str]) -> int:
    """``simve train ... --nproc N``: the same command without ``--nproc``, as N ranks."""
    rest = [a for i, a in enumerate(argv) if not (a == "--nproc" or a.startswith("--nproc=")
                                                    or (i and argv[i - 1] == "--nproc"))]
    return distributed.launch(processes, rest)

