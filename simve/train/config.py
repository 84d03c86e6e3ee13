"""A run's settings, declared once (:class:`TrainConfig`), and the names of the files of its folder."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from simve.data import PRESETS, MultiView, load_dataset, preset
from simve.errors import SimveError
from simve.io import write_text
from simve.settings import check_fields, check_value, declared, hints, option

CONFIG, CHECKPOINT, METRICS, CURVE, FIGURES = "config.json", "checkpoint.pt", "metrics.jsonl", "curve.jsonl", "figures"
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine")
CURVES = ("off", "doubling", "every")  # when a run reads its learning curve (see curve_epochs)
STYLE_BINS = 3  # equal-frequency bins of a continuous style factor in the probe tasks, unless a run asks for more


def _model_names() -> tuple[str, ...]:
    from simve.models import model_names

    return tuple(model_names())


@dataclass
class TrainConfig:
    """Everything that reproduces a run, each setting declared once (:func:`simve.settings.option`): the
    command line (``simve train``), the resume rules (``resumable``) and what a benchmark row or a tuning
    grid may set (``knob``) are generated from these declarations."""

    model: str = option(None, "model name", choices=_model_names)
    data: str = option(None, "dataset name or path of a .npz file")
    epochs: int = option(None, "train up to E epochs in all", at_least=1, resumable=True, knob=True, metavar="E")
    model_options: dict = field(default_factory=dict)  # the model's own options (simve.models: each model's Options)
    data_root: str | None = option(None, "folder holding one folder per dataset (default: $SIMVE_DATA, else "
                                         "~/.cache/simve/data)", metavar="DIR")
    download: bool = option(False, "download a missing torchvision dataset")
    limit: int | None = option(None, "use at most N train and N test images", at_least=1, metavar="N")
    val_fraction: float = option(0.1, "share of the train images held out for validation", at_least=0.0,
                                 metavar="F")
    batch_size: int = option(64, "images per step", at_least=1, knob=True, metavar="B")
    views: int = option(2, "augmented views per image", at_least=1, knob=True, metavar="J")
    lr: float = option(1e-3, "Adam learning rate", positive=True, knob=True)
    lr_schedule: str = option("constant", "the learning rate over the run: constant, or cosine: from lr at the first "
                                          "step down to 0 after the last (the run's epochs fix it: a resume keeps them)",
                              choices=LR_SCHEDULES, knob=True, added_later=True)
    adam_eps: float = option(1e-8, "Adam's eps", positive=True, knob=True, metavar="EPS")
    weight_decay: float = option(0.0, "Adam's weight decay (L2 on every weight)", at_least=0.0, knob=True,
                                 metavar="WD")
    augment: str | None = option(None, "augmentation preset of the training views (default: the dataset's own)",
                                 choices=tuple(PRESETS), knob=True)
    seed: int = option(0, "seed of the validation split, the views and the weights")
    device: str = option("auto", "auto: cuda where available", choices=DEVICES, resumable=True)
    precision: str = option("fp32", "bf16: compute the loss under autocast (weights, gradients and Adam stay fp32)",
                            choices=PRECISIONS, knob=True, added_later=True)
    compile: bool = option(False, "compile the model's nets with torch.compile: a slower start (the first steps "
                                  "compile), then faster steps where it pays (docs/performance.md)", knob=True,
                           added_later=True)
    checkpoint_every: int = option(500, "steps between checkpoints (also at the end of every epoch)", at_least=1,
                                   metavar="N")
    log_every: int = option(10, "steps between the loss records of metrics.jsonl", at_least=1, metavar="N")
    curve: str = option("off", "read the learning curve into RUN/curve.jsonl: the linear probe's validation "
                               "accuracy on every task after epochs 1, 2, 4, ..., E/2 and E (doubling, the flag's "
                               "own value) or after every epoch", choices=CURVES, const="doubling",
                        added_later=True)
    style_bins: int = option(STYLE_BINS, "probe tasks (curve and evaluation): equal-frequency bins of each continuous style "
                                "factor the augmentations perturb", at_least=2, metavar="K", added_later=True)

    def __post_init__(self):
        for name in ("model", "data", "epochs"):
            if getattr(self, name) is None:
                raise SimveError(f"a training config needs {name}")
        for name in ("epochs", "batch_size", "views", "checkpoint_every", "log_every", "style_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SimveError(f"{name} must be a whole number >= 1, got {value!r}")
        check_fields(self)

    @classmethod
    def check(cls, name: str, value) -> None:
        """Refuse ``value`` for setting ``name`` in one line, before any config is made."""
        check_value(cls.__dataclass_fields__[name], value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def load_data(self):
        """The run's data: its dataset, limit, and validation split drawn with its seed."""
        return load_dataset(self.data, self.data_root, download=self.download,
                            val_fraction=self.val_fraction, seed=self.seed, limit=self.limit)

    def multiview(self, data) -> MultiView:
        """How the run makes its views of ``data``: ``views`` draws of its augmentation (by default the
        data's own preset)."""
        return MultiView(preset(self.augment or data.preset), self.views)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict) or set(values) - names:
            unknown = ", ".join(sorted(set(values) - names)) if isinstance(values, dict) else type(values).__name__
            raise SimveError(f"not a simve training config (unknown fields: {unknown})")
        try:
            return cls(**values)
        except TypeError as err:
            raise SimveError(f"not a complete simve training config ({err})") from None


def save_config(run_dir: str | Path, config: TrainConfig) -> None:
    """Write ``config`` as the run's ``config.json``, atomically (what :func:`load_config` reads)."""
    write_text(Path(run_dir) / CONFIG, json.dumps(config.to_dict(), indent=2) + "\n")


def load_config(run_dir: str | Path) -> TrainConfig:
    """The config of the run in ``run_dir``; refuses a folder that holds no run."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise SimveError(f"{run_dir} holds no run (no {CONFIG}); give a folder that `simve train --out` wrote")
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SimveError(f"{path} is not readable JSON ({err})") from None
    try:
        return TrainConfig.from_dict(values)
    except SimveError as err:
        raise SimveError(f"{path}: {err}") from None


RESUMABLE = tuple(declared(TrainConfig, resumable=True))  # the config fields a resumed run may change
KNOBS = hints(TrainConfig, declared(TrainConfig, knob=True))  # what a benchmark row or a tuning grid may set


def curve_epochs(schedule: str, epochs: int) -> list[int]:
    """The epochs after which a run of ``epochs`` epochs reads its curve: ``doubling``: 1, 2, 4, 8, ...,
    half the last (rounded down) and the last, so that the rise over the last doubling of steps is read
    exactly; ``every``: each epoch; ``off``: none."""
    if schedule == "every":
        return list(range(1, epochs + 1))
    if schedule == "off":
        return []
    powers = {2**k for k in range(epochs.bit_length()) if 2**k <= epochs}
    return sorted(powers | {epochs, max(1, epochs // 2)})
