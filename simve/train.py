"""The one training loop, for every model: Pyro ELBO models and torch losses alike.

A model only has to expose ``loss(views)`` (see :mod:`simve.models.base`). A run lives in one
folder, from which it is reproducible and resumable:

- ``config.json``: the :class:`TrainConfig`;
- ``checkpoint.pt``: the last checkpoint (model, optimiser, position in the data, RNG state),
  replaced atomically, loadable with ``torch.load(path, weights_only=True)``;
- ``metrics.jsonl``: one JSON object per line: every ``log_every`` steps ``step, epoch, loss, lr,
  views_per_s, time``, and after each epoch ``step, epoch, train_loss, val_loss, time``
  (``epoch`` counts from 1, ``time`` is seconds of training);
- ``curve.jsonl`` (runs with a ``curve`` schedule): after the scheduled epochs, one JSON object per probe
  task: ``step, epoch, seconds`` (of training), ``task, kind, perturbed, accuracy`` (the linear probe's
  validation accuracy) and ``probe_seconds`` (what reading it cost, outside ``seconds``);
- ``figures/``: samples and reconstructions of generative models.

On CPU a run is exactly repeatable, and a run of E epochs equals one of k epochs resumed to E,
also when it was interrupted mid-epoch.

Launched by ``torchrun`` (or ``simve train --nproc N``), the same loop runs as W processes: each
takes ``batch_size / W`` rows of every batch (the views they have in one process), the model is
wrapped in DistributedDataParallel (gradients averaged; the batch-wide losses gather every rank's
rows), the noise of each rank's ELBO comes from its own stream, rank 0 alone writes the folder, and
the checkpoint holds every rank's random state, so all ranks resume from it at the exact batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyro
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from simve import __version__, distributed
from simve.data import PRESETS, MultiView, ViewLoader, load_dataset, preset
from simve.errors import SimveError
from simve.io import folder_lock, make_folder, remove_stale_temporaries, write_atomic, write_text
from simve.models import SSLModel, build_model
from simve.settings import check_fields, check_value, declared, hints, option

CONFIG, CHECKPOINT, METRICS, CURVE, FIGURES = "config.json", "checkpoint.pt", "metrics.jsonl", "curve.jsonl", "figures"
CHECKPOINT_FORMAT = "simve-checkpoint-1"
CHECKPOINT_KEYS = ("model", "config", "step", "epoch", "batch", "epoch_loss_sum", "elapsed", "model_state",
                   "optimizer_state", "rng")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
CURVES = ("off", "doubling", "every")  # when a run reads its learning curve (see curve_epochs)


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
    adam_eps: float = option(1e-8, "Adam's eps", positive=True, knob=True, metavar="EPS")
    weight_decay: float = option(0.0, "Adam's weight decay (L2 on every weight)", at_least=0.0, knob=True,
                                 metavar="WD")
    augment: str | None = option(None, "augmentation preset of the training views (default: the dataset's own)",
                                 choices=tuple(PRESETS), knob=True)
    seed: int = option(0, "seed of the validation split, the views and the weights")
    device: str = option("auto", "auto: cuda where available", choices=DEVICES, resumable=True)
    precision: str = option("fp32", "bf16: compute the loss under autocast (weights, gradients and Adam stay fp32)",
                            choices=PRECISIONS, knob=True, added_later=True)
    checkpoint_every: int = option(500, "steps between checkpoints (also at the end of every epoch)", at_least=1,
                                   metavar="N")
    log_every: int = option(10, "steps between the loss records of metrics.jsonl", at_least=1, metavar="N")
    curve: str = option("off", "read the learning curve into RUN/curve.jsonl: the linear probe's validation "
                               "accuracy on every task after epochs 1, 2, 4, ..., E/2 and E (doubling, the flag's "
                               "own value) or after every epoch", choices=CURVES, const="doubling",
                        added_later=True)

    def __post_init__(self):
        for name in ("model", "data", "epochs"):
            if getattr(self, name) is None:
                raise SimveError(f"a training config needs {name}")
        for name in ("epochs", "batch_size", "views", "checkpoint_every", "log_every"):
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


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The records of ``metrics.jsonl``, in order (empty if there are none yet)."""
    path = Path(run_dir) / METRICS
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


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


def read_curve(run_dir: str | Path) -> list[dict]:
    """The records of ``curve.jsonl``, in order (empty if the run reads no curve)."""
    path = Path(run_dir) / CURVE
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def place(model: SSLModel, device: torch.device) -> SSLModel:
    """``model`` on ``device``, conv weights in channels-last (NHWC) layout, which the CPU and cuDNN
    kernels run faster (``simve timing`` on the 32 px conv nets: about 1.25x a step on CPU)."""
    model = model.to(device)
    if any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def choose_device(name: str, index: int | None = None) -> torch.device:
    """``auto``: CUDA where available, else the CPU; ``cuda`` where unavailable is refused. ``index``:
    the GPU of this process (its local rank), on a node where each process has its own."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SimveError("--device cuda was asked for, but this torch sees no CUDA GPU; use --device cpu or auto")
    if not (name == "cuda" or (name == "auto" and torch.cuda.is_available())):
        return torch.device("cpu")
    if index is not None and index >= torch.cuda.device_count():
        raise SimveError(f"process {index} of this node has no GPU of its own ({torch.cuda.device_count()} visible); "
                         "start at most one process per GPU")
    return torch.device("cuda", index) if index is not None else torch.device("cuda")


# --- checkpoints ----------------------------------------------------------------------------


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(path: Path, model: SSLModel, optimizer, config: TrainConfig, position: dict, rng: dict) -> None:
    """Write the checkpoint through ``<path>.tmp``, so an interruption leaves the last one whole.
    ``rng``: the random state to keep (every rank's, see :func:`_save`)."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "simve_version": __version__,
        "model": config.model,
        "config": config.to_dict(),
        **position,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "rng": rng,
    }
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, config: TrainConfig) -> dict:
    """Read and check a checkpoint of the run ``config`` describes; refuse anything else in one line."""
    if not path.is_file():
        raise SimveError(f"{path.parent} has no {CHECKPOINT} to resume from; start a new run in another --out")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (the unpickler raises many kinds on damaged bytes, IndexError too)
        if "Weights only load failed" in str(err) and "GLOBAL" in str(err):
            raise SimveError(f"{path} is not a weights-only checkpoint (loading it would run code it holds), "
                             "so it will not be loaded; use a checkpoint written by simve train") from None
        raise SimveError(f"{path} is not a readable checkpoint ({type(err).__name__}): damaged, truncated or not a "
                         "checkpoint at all; it was not loaded") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SimveError(f"{path} is not a simve checkpoint")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise SimveError(f"{path} is incomplete (no {', '.join(missing)}); it was not written by this simve")
    broken = [k for k, v in state["model_state"].items() if isinstance(v, torch.Tensor) and v.is_floating_point()
              and not torch.isfinite(v).all()]
    if broken:
        raise SimveError(f"{path} holds nan or inf weights ({broken[0]}); it cannot be resumed or evaluated")
    if state["model"] != config.model:
        raise SimveError(f"{path} holds a {state['model']!r} model but the run's {CONFIG} says {config.model!r}")
    differ = _differences(TrainConfig.from_dict(state["config"]), config)
    if differ:
        raise SimveError(f"{path} belongs to another run: its {', '.join(differ)} differ from {CONFIG}")
    return state


RESUMABLE = tuple(declared(TrainConfig, resumable=True))  # the config fields a resumed run may change
KNOBS = hints(TrainConfig, declared(TrainConfig, knob=True))  # what a benchmark row or a tuning grid may set


def _differences(a: TrainConfig, b: TrainConfig) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [k for k in da if k not in RESUMABLE and da[k] != db[k]]


def _restore(state: dict, model: SSLModel, optimizer, path: Path) -> None:
    try:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise SimveError(f"{path} does not fit the model ({str(err).splitlines()[0]})") from None


# --- metrics --------------------------------------------------------------------------------


def _log(run_dir: Path, *records: dict, name: str = METRICS) -> None:
    with open(run_dir / name, "a") as f:
        f.write("".join(json.dumps(record) + "\n" for record in records))


def _truncate_log(run_dir: Path, step: int, name: str) -> None:
    """Drop the records of ``name`` written after the checkpoint at ``step``: the resumed run writes them
    again."""
    if not (run_dir / name).exists():
        return
    kept = []
    for line in (run_dir / name).read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the interruption
            continue
        if record["step"] <= step:
            kept.append(record)
    write_atomic(run_dir / name, lambda tmp: tmp.write_text("".join(json.dumps(r) + "\n" for r in kept)))


@torch.no_grad()
def validation_loss(model: SSLModel, loader: ViewLoader, seed: int) -> float | None:
    """Mean loss over ``loader``'s epoch-0 batches, in eval mode, with the global RNG forked and seeded."""
    if len(loader.split) == 0:
        return None
    model.eval()
    total = 0.0
    with torch.random.fork_rng(devices=[loader.device] if loader.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for views, _, _ in loader.epoch_batches(0):
            total += model.loss(views).item() * len(views)
    model.train()
    return total / len(loader.split)


# --- the optimiser step, shared by every fit ----------------------------------------------


class TrainingInterrupted(SimveError):
    """Ctrl-C during training: the step in progress is dropped, the last checkpoint kept."""

    exit_code = 130


class NonFiniteLoss(SimveError):
    """The loss of a step was nan or inf (nothing was updated)."""


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, value: float | None = None) -> float:
    """One optimiser step on ``loss``; its value (or the ``value`` given: the mean over the ranks of a
    distributed run, so that every rank decides alike), or :class:`NonFiniteLoss` before any update."""
    value = loss.item() if value is None else value
    if not math.isfinite(value):
        raise NonFiniteLoss(f"loss became {value}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return value


def make_optimizer(parameters, lr: float, eps: float = 1e-8, weight_decay: float = 0.0,
                   fused: bool = True) -> torch.optim.Adam:
    """Adam, by default the fused kernel: one pass over all parameters instead of a loop of small
    per-tensor ops (the same update up to float rounding; ``simve timing`` measures the gain)."""
    return torch.optim.Adam(parameters, lr=lr, eps=eps, weight_decay=weight_decay, fused=fused or None)


def fit(module: torch.nn.Module, batch_loss, steps: int, lr: float) -> torch.nn.Module:
    """Adam (learning rate ``lr``) on ``batch_loss()``, a fresh batch's loss, for ``steps`` steps.

    The small in-memory fits of the theory experiments use it; :func:`train` takes the same step."""
    optimizer = make_optimizer(module.parameters(), lr)
    for step in range(1, steps + 1):
        try:
            descend(batch_loss(), optimizer)
        except NonFiniteLoss as err:
            raise SimveError(f"{err} at step {step} of {steps}; lower the learning rate") from None
    return module


# --- the loop -------------------------------------------------------------------------------


def _diverged(what: str, step: int, epoch: int, saved_step: int, run_dir: Path, world=None) -> SimveError:
    """The one-line divergence error; with ``world``, a failure of that rank alone (its own data), which
    that rank reports."""
    error = SimveError(
        f"{what} at step {step} (epoch {epoch}){f' on rank {world.rank}' if world and world.size > 1 else ''}; "
        f"the last good checkpoint (step {saved_step}) is kept in {run_dir / CHECKPOINT}; start a new run "
        "(another --out) with a lower --lr or other model options"
    )
    error.rank_local = world is not None
    return error


def _save(run_dir: Path, model: SSLModel, optimizer, config: TrainConfig, position: dict, world) -> None:
    """Checkpoint ``position`` with every rank's random state (a collective: every rank calls it);
    rank 0 writes it."""
    states = distributed.gather_objects(_rng_state(model.device))
    if world.main:
        rng = states[0] if world.size == 1 else {**states[0], "ranks": states}
        save_checkpoint(run_dir / CHECKPOINT, model, optimizer, config, {**position, "world_size": world.size}, rng)


def _resume_rng(state: dict, config: TrainConfig, world, device: torch.device) -> None:
    """This rank's random state from the checkpoint; fresh per-rank streams if the number of processes
    changed (the views stay the same: they do not depend on it; the ELBO noise from here on does)."""
    ranks = state["rng"].get("ranks", [state["rng"]])
    if len(ranks) == world.size:
        _set_rng_state(ranks[world.rank], device)
        return
    pyro.set_rng_seed(distributed.rank_seed(config.seed, world.rank, state["step"]))
    if world.main:
        processes = {n: f"{n} process" + ("es" if n > 1 else "") for n in (len(ranks), world.size)}
        tqdm.write(f"note: the run was trained on {processes[len(ranks)]} and resumes on {processes[world.size]}: the "
                   "views are the same, the random draws of the loss from here on are not those of an "
                   "uninterrupted run")


def _read_curve(run_dir: Path, model: SSLModel, data, read_curve_at, step: int, epoch: int, elapsed: float) -> None:
    """One point of the learning curve: ``read_curve_at`` on the model as it is (then back in training
    mode), one ``curve.jsonl`` record per task."""
    started = time.perf_counter()
    records = read_curve_at(model, data)
    model.train()
    cost = time.perf_counter() - started
    _log(run_dir, *({"step": step, "epoch": epoch, "seconds": elapsed, **record, "probe_seconds": cost}
                    for record in records), name=CURVE)


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, read_curve_at=None) -> SSLModel:
    """Train ``config`` into ``run_dir`` (or continue the run there) and return the model, in eval mode.

    A run with a ``curve`` schedule calls ``read_curve_at(model, data)`` after each epoch of
    :func:`curve_epochs` (rank 0 only, outside the training seconds) and appends the records it returns
    (``task, kind, perturbed, accuracy``) to ``curve.jsonl``; the evaluation layer supplies it
    (:class:`simve.evaluate.curve.CurveReader`). It must leave the random state alone, so that a run
    with a curve trains exactly as one without.

    With ``resume`` the run in ``run_dir`` continues from its checkpoint at the exact batch;
    ``config`` must equal its ``config.json`` except for ``epochs`` and ``device``. Under torchrun
    (``RANK``, ``WORLD_SIZE``, ... in the environment) this process is one rank of the run.
    """
    run_dir = Path(run_dir)
    world = distributed.launched()
    if resume:
        differ = _differences(load_config(run_dir), config)
        if differ:
            raise SimveError(f"a resumed run may change only {' and '.join(RESUMABLE)}, not {', '.join(differ)}")
    elif (run_dir / CONFIG).exists() and (run_dir / CHECKPOINT).exists():
        raise SimveError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if not (run_dir / CHECKPOINT).exists():
        resume = False  # stopped before its first checkpoint: nothing was trained, so it starts afresh
    if config.curve != "off" and read_curve_at is None:
        raise SimveError(f"the run reads a learning curve ({config.curve}) but was given nothing to read it with; "
                         "train it with simve train or the run layer (simve.runs.train_or_reuse)")
    device = choose_device(config.device, world.local_rank if world.size > 1 else None)
    with distributed.joined(world, device):
        return _train(config, run_dir, resume, world, device, read_curve_at)


def _train(config: TrainConfig, run_dir: Path, resume: bool, world, device: torch.device,
           read_curve_at) -> SSLModel:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")

    pyro.set_rng_seed(config.seed)  # the same initial weights on every rank
    with distributed.main_first():  # a download happens once, on rank 0
        data = config.load_data()
    model = place(build_model(config.model, data.image_shape, **config.model_options), device)
    if config.views < model.min_views:
        raise SimveError(f"{config.model} needs at least {model.min_views} views per datum; "
                         f"pass --views {model.min_views} or more")
    if world.size > 1:
        if device.type == "cuda":  # BatchNorm over the whole batch (gloo on the CPU has no SyncBatchNorm)
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        pyro.set_rng_seed(distributed.rank_seed(config.seed, world.rank))  # each rank's own noise
    multiview = MultiView(preset(config.augment or data.preset), config.views)
    loader = ViewLoader(data.train, multiview, config.batch_size, seed=config.seed, device=device, prefetch=True,
                        shard=(world.rank, world.size))
    val_loader = ViewLoader(data.val, multiview, config.batch_size, shuffle=False, drop_last=False,
                            seed=config.seed, device=device)
    optimizer = make_optimizer(model.parameters(), config.lr, config.adam_eps, config.weight_decay)

    at = {"step": 0, "epoch": 0, "batch": 0, "epoch_loss_sum": 0.0, "elapsed": 0.0}  # where the run starts
    if resume:
        state = load_checkpoint(run_dir / CHECKPOINT, config)
        _restore(state, model, optimizer, run_dir / CHECKPOINT)
        _resume_rng(state, config, world, device)
        at = {key: state[key] for key in at}
        if config.epochs < at["epoch"]:
            raise SimveError(f"the run has trained {at['epoch']} epochs already; pass --epochs {at['epoch']} or more")
    trained = model if world.size == 1 else DistributedDataParallel(
        model, device_ids=[device] if device.type == "cuda" else None, forward_sync_buffers=False)
    if world.main:
        make_folder(run_dir)
    with folder_lock(run_dir) if world.main else contextlib.nullcontext():  # one writer per run folder
        if world.main:
            remove_stale_temporaries(run_dir)  # left by a process killed while writing
            write_text(run_dir / CONFIG, json.dumps(config.to_dict(), indent=2) + "\n")
            if resume:
                for name in (METRICS, CURVE):
                    _truncate_log(run_dir, at["step"], name)
        if not resume:
            _save(run_dir, model, optimizer, config, at, world)

        step, saved_step, elapsed = at["step"], at["step"], at["elapsed"]
        curve_at = set(curve_epochs(config.curve, config.epochs))
        bar = tqdm(total=config.epochs * len(loader), initial=step, unit="step", disable=None if world.main else True,
                   desc=f"{config.model} on {data.name}" + (f", {world.size} processes" if world.size > 1 else ""))
        window_views, window_time = 0, 0.0
        model.train()
        for epoch in range(at["epoch"], config.epochs):
            start, loss_sum = (at["batch"], at["epoch_loss_sum"]) if epoch == at["epoch"] else (0, 0.0)
            tick = time.perf_counter()
            for batch, (views, _, _) in enumerate(loader.epoch_batches(epoch, start), start=start + 1):
                try:
                    with autocast:
                        loss = trained(views)
                    value = descend(loss, optimizer, distributed.mean(loss))
                except NonFiniteLoss as err:
                    raise _diverged(str(err), step + 1, epoch + 1, saved_step, run_dir) from None
                except ValueError as err:  # Pyro's argument checks: a nan/inf loc or scale from the encoder
                    if "Expected parameter" not in str(err):
                        raise
                    raise _diverged("the model's outputs became nan or inf", step + 1, epoch + 1, saved_step,
                                    run_dir, world) from None
                except KeyboardInterrupt:
                    raise TrainingInterrupted(
                        f"interrupted at step {step + 1}; the last checkpoint (step {saved_step}) is kept in "
                        f"{run_dir / CHECKPOINT}; continue with simve train --out {run_dir} --resume"
                        + (f" (--nproc {world.size} or torchrun, as before)" if world.size > 1 else "")) from None
                step, loss_sum = step + 1, loss_sum + value
                now = time.perf_counter()
                window_views += views.shape[0] * views.shape[1] * world.size
                window_time, elapsed, tick = window_time + now - tick, elapsed + now - tick, now
                bar.update()
                if step % config.log_every == 0:
                    speed = window_views / window_time
                    bar.set_postfix(loss=f"{value:.4g}", views_per_s=f"{speed:.0f}")
                    if world.main:
                        _log(run_dir, {"step": step, "epoch": epoch + 1, "loss": value,
                                       "lr": optimizer.param_groups[0]["lr"], "views_per_s": speed, "time": elapsed})
                    window_views, window_time = 0, 0.0
                end_of_epoch = batch == len(loader)
                if step % config.checkpoint_every and not end_of_epoch:
                    continue
                if not all(torch.isfinite(p).all() for p in model.parameters()):
                    raise _diverged("the parameters became nan or inf", step, epoch + 1, saved_step, run_dir)
                if end_of_epoch and world.main:
                    _log(run_dir, {"step": step, "epoch": epoch + 1, "train_loss": loss_sum / len(loader),
                                   "val_loss": validation_loss(model, val_loader, config.seed), "time": elapsed})
                    if epoch + 1 in curve_at:
                        _read_curve(run_dir, model, data, read_curve_at, step, epoch + 1, elapsed)
                now_at = {"step": step, "epoch": epoch + end_of_epoch, "batch": 0 if end_of_epoch else batch,
                          "epoch_loss_sum": 0.0 if end_of_epoch else loss_sum, "elapsed": elapsed}
                _save(run_dir, model, optimizer, config, now_at, world)
                saved_step, tick = step, time.perf_counter()
        bar.close()
        model.eval()
        if world.main and model.can("sample") and step > at["step"]:  # a finished run only loads: its figures are there
            from simve.plots import save_generative_figures  # matplotlib: imported only when a run draws

            split = data.val if len(data.val) else data.train
            with torch.no_grad():
                save_generative_figures(model, MultiView.original(split.images[:16]).to(device), run_dir / FIGURES)
        return model


def load_trained(run_dir: str | Path, device: str = "auto", partial: bool = False) -> tuple[TrainConfig, object, SSLModel]:
    """The config, the data and the model (in eval mode, on ``device``) of the run in ``run_dir``; a run
    that has not finished its epochs is refused unless ``partial`` (its config then says how far it got:
    ``epochs`` is set to the epochs it completed)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT, config)
    if state["epoch"] < config.epochs:
        if not partial or state["epoch"] == 0:
            raise SimveError(f"the run in {run_dir} stopped at step {state['step']} (epoch {state['epoch']} of "
                             f"{config.epochs}); finish it with simve train --out {run_dir} --resume"
                             + ("" if state["epoch"] == 0 else ", or pass --partial to use it as it is"))
        config = dataclasses.replace(config, epochs=state["epoch"])
    data = config.load_data()
    model = build_model(config.model, data.image_shape, **config.model_options)
    try:
        model.load_state_dict(state["model_state"])
    except (RuntimeError, KeyError) as err:
        raise SimveError(f"{run_dir / CHECKPOINT} does not fit the model ({str(err).splitlines()[0]})") from None
    return config, data, place(model, choose_device(device)).eval()
