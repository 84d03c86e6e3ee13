"""The one training loop, as its steps: set up the run (:meth:`Run.__init__`), resume it
(:meth:`Run.resume`), open its folder (:meth:`Run.opened`), one epoch at a time (:meth:`Run.epoch`),
then finish (:meth:`Run.finish`). What differs on several processes goes through this process's
:class:`simve.distributed.World` (prepare and wrap the model, the loss's mean, the gathered random
states), so the loop reads the same for one process and for W."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import pyro
import torch
from tqdm import tqdm

from simve import distributed
from simve.data import MultiView, ViewLoader
from simve.errors import SimveError
from simve.io import folder_lock, make_folder, remove_stale_temporaries
from simve.models import SSLModel, build_model
from simve.train.checkpoint import (
    differences,
    load_checkpoint,
    restore,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from simve.train.config import (
    CHECKPOINT,
    CONFIG,
    CURVE,
    FIGURES,
    METRICS,
    RESUMABLE,
    TrainConfig,
    curve_epochs,
    load_config,
    save_config,
)
from simve.train.records import log_records, truncate_records
from simve.train.step import (
    NonFiniteLoss,
    TrainingInterrupted,
    choose_device,
    compile_nets,
    descend,
    make_optimizer,
    place,
    scheduled_lr,
    validation_loss,
)

START = {"step": 0, "epoch": 0, "batch": 0, "epoch_loss_sum": 0.0, "elapsed": 0.0}  # a new run's position


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
        before = load_config(run_dir)
        differ = differences(before, config)
        if differ:
            raise SimveError(f"a resumed run may change only {' and '.join(RESUMABLE)}, not {', '.join(differ)}")
        if config.lr_schedule != "constant" and config.epochs != before.epochs:
            raise SimveError(f"the run's {config.lr_schedule} learning rate is fixed by its {before.epochs} epochs; "
                             f"resume it with --epochs {before.epochs}, or train a new run for longer")
    elif (run_dir / CONFIG).exists() and (run_dir / CHECKPOINT).exists():
        raise SimveError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if not (run_dir / CHECKPOINT).exists():
        resume = False  # stopped before its first checkpoint: nothing was trained, so it starts afresh
    if config.curve != "off" and read_curve_at is None:
        raise SimveError(f"the run reads a learning curve ({config.curve}) but was given nothing to read it with; "
                         "train it with simve train or the run layer (simve.runs.train_or_reuse)")
    device = choose_device(config.device, world.local_rank if world.size > 1 else None)
    with distributed.joined(world, device):
        return _train(Run(config, run_dir, world, device, read_curve_at), resume)


def _train(run: Run, resume: bool) -> SSLModel:
    """The steps of a run; the :class:`Run` (and the DDP it holds) is gone when this returns, before the
    process group is torn down."""
    if resume:
        run.resume()
    with run.opened(resume):
        for epoch in range(run.at["epoch"], run.config.epochs):
            run.epoch(epoch)
        return run.finish()


class Run:
    """One run as it trains: its config, data, model, loaders, optimiser and position."""

    def __init__(self, config: TrainConfig, run_dir: Path, world: distributed.World, device: torch.device,
                 read_curve_at):
        self.config, self.run_dir, self.world, self.device, self.read_curve_at = config, run_dir, world, device, read_curve_at
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
        pyro.set_rng_seed(config.seed)  # the same initial weights on every rank
        with world.main_first():  # a download happens once, on rank 0
            self.data = config.load_data()
        model = place(build_model(config.model, self.data.image_shape, **config.model_options), device)
        if config.compile:
            model = compile_nets(model)
        if config.views < model.min_views:
            raise SimveError(f"{config.model} needs at least {model.min_views} views per datum; "
                             f"pass --views {model.min_views} or more")
        self.model = world.prepare(model, device, config.seed)
        multiview = config.multiview(self.data)
        self.loader = ViewLoader(self.data.train, multiview, config.batch_size, seed=config.seed, device=device,
                                 shard=(world.rank, world.size))
        self.val_loader = ViewLoader(self.data.val, multiview, config.batch_size, shuffle=False, drop_last=False,
                                     seed=config.seed, device=device)
        self.optimizer = make_optimizer(self.model.parameters(), config.lr, config.adam_eps, config.weight_decay)
        self.at = dict(START)  # where the run starts
        self.curve_at = set(curve_epochs(config.curve, config.epochs))

    # ------------------------------------------------------------------------------------ steps

    def resume(self) -> None:
        """Continue from the checkpoint: the weights, the optimiser, this rank's random state, the position."""
        state = load_checkpoint(self.run_dir / CHECKPOINT, self.config)
        restore(state, self.model, self.optimizer, self.run_dir / CHECKPOINT)
        self._resume_rng(state)
        self.at = {key: state[key] for key in START}
        if self.config.epochs < self.at["epoch"]:
            raise SimveError(f"the run has trained {self.at['epoch']} epochs already; pass --epochs "
                             f"{self.at['epoch']} or more")

    @contextlib.contextmanager
    def opened(self, resumed: bool):
        """The run folder for the block, written by rank 0 alone and locked against a second writer: the
        config, the logs cut back to the checkpoint (resumed) or the first checkpoint (new)."""
        self.trained = self.world.wrap(self.model, self.device)
        self.interrupt = distributed.HeldInterrupt(self.world)  # Ctrl-C: every rank stops at the same step
        if self.world.main:
            make_folder(self.run_dir)
        with folder_lock(self.run_dir) if self.world.main else contextlib.nullcontext():
            if self.world.main:
                remove_stale_temporaries(self.run_dir)  # left by a process killed while writing
                save_config(self.run_dir, self.config)
                if resumed:
                    for name in (METRICS, CURVE):
                        truncate_records(self.run_dir, self.at["step"], name)
            if not resumed:
                self._save(self.at)
            self.step = self.saved_step = self.at["step"]
            self.elapsed = self.at["elapsed"]
            self.bar = tqdm(total=self.config.epochs * len(self.loader), initial=self.step, unit="step",
                            disable=None if self.world.main else True,
                            desc=f"{self.config.model} on {self.data.name}"
                                 + (f", {self.world.size} processes" if self.world.size > 1 else ""))
            self.window = [0, 0.0]  # views and seconds since the last loss record
            self.model.train()
            with self.interrupt:
                yield

    def epoch(self, epoch: int) -> None:
        """One epoch (from the resumed batch in the first): the steps, their records and checkpoints, and at
        the end the epoch's losses and, where scheduled, a reading of the learning curve."""
        start, loss_sum = (self.at["batch"], self.at["epoch_loss_sum"]) if epoch == self.at["epoch"] else (0, 0.0)
        tick = time.perf_counter()
        for batch, (views, _, _) in enumerate(self.loader.epoch_batches(epoch, start), start=start + 1):
            value = self._descend(views, epoch)
            self.step, loss_sum = self.step + 1, loss_sum + value
            now = time.perf_counter()
            self.window = [self.window[0] + views.shape[0] * views.shape[1] * self.world.size,
                           self.window[1] + now - tick]
            self.elapsed, tick = self.elapsed + now - tick, now
            self.bar.update()
            if self.step % self.config.log_every == 0:
                self._log_loss(value, epoch)
            end_of_epoch = batch == len(self.loader)
            if self.step % self.config.checkpoint_every and not end_of_epoch:
                continue
            if not all(torch.isfinite(p).all() for p in self.model.parameters()):
                raise self._diverged("the parameters became nan or inf", self.step, epoch)
            if end_of_epoch and self.world.main:
                self._end_epoch(epoch, loss_sum)
            self._save({"step": self.step, "epoch": epoch + end_of_epoch, "batch": 0 if end_of_epoch else batch,
                        "epoch_loss_sum": 0.0 if end_of_epoch else loss_sum, "elapsed": self.elapsed})
            self.saved_step, tick = self.step, time.perf_counter()

    def finish(self) -> SSLModel:
        """The trained model in eval mode; a run that trained here draws its figures (rank 0)."""
        self.bar.close()
        model = self.model.eval()
        if self.world.main and model.can("sample") and self.step > self.at["step"]:  # a finished run only loads
            from simve.plots import save_generative_figures  # matplotlib: imported only when a run draws

            split = self.data.val if len(self.data.val) else self.data.train
            with torch.no_grad():
                save_generative_figures(model, MultiView.original(split.images[:16]).to(self.device),
                                        self.run_dir / FIGURES)
        return model

    # ----------------------------------------------------------------------------------- parts

    def _descend(self, views: torch.Tensor, epoch: int) -> float:
        """One optimiser step on ``views``: its loss (the mean over the ranks), or the one-line error of a
        diverging or interrupted run (on several processes, at the first step whose loss carries the note
        of a Ctrl-C on any rank)."""
        self.model.begin_step(self.step + 1)
        for group in self.optimizer.param_groups:
            group["lr"] = scheduled_lr(self.config.lr, self.config.lr_schedule, self.step + 1,
                                       self.config.epochs * len(self.loader))
        try:
            with self.autocast:
                loss = self.trained(views)
            value, interrupted = self.world.agree(loss, self.interrupt.noted)
            if interrupted:  # on some rank: all of them stop here, with no collective left waiting
                raise KeyboardInterrupt
            return descend(loss, self.optimizer, value)
        except NonFiniteLoss as err:
            raise self._diverged(str(err), self.step + 1, epoch) from None
        except ValueError as err:  # Pyro's argument checks: a nan/inf loc or scale from the encoder
            if "Expected parameter" not in str(err):
                raise
            raise self._diverged("the model's outputs became nan or inf", self.step + 1, epoch, own=True) from None
        except KeyboardInterrupt:
            raise TrainingInterrupted(
                f"interrupted at step {self.step + 1}; the last checkpoint (step {self.saved_step}) is kept in "
                f"{self.run_dir / CHECKPOINT}; continue with simve train --out {self.run_dir} --resume"
                + (f" (--nproc {self.world.size} or torchrun, as before)" if self.world.size > 1 else "")) from None

    def _log_loss(self, value: float, epoch: int) -> None:
        speed = self.window[0] / self.window[1]
        self.bar.set_postfix(loss=f"{value:.4g}", views_per_s=f"{speed:.0f}")
        if self.world.main:
            log_records(self.run_dir, {"step": self.step, "epoch": epoch + 1, "loss": value,
                                       "lr": self.optimizer.param_groups[0]["lr"], "views_per_s": speed,
                                       "time": self.elapsed})
        self.window = [0, 0.0]

    def _end_epoch(self, epoch: int, loss_sum: float) -> None:
        """The epoch's record (train and validation loss) and, where scheduled, a reading of the curve."""
        log_records(self.run_dir, {"step": self.step, "epoch": epoch + 1, "train_loss": loss_sum / len(self.loader),
                                   "val_loss": validation_loss(self.model, self.val_loader, self.config.seed),
                                   "time": self.elapsed})
        if epoch + 1 in self.curve_at:
            started = time.perf_counter()
            records = self.read_curve_at(self.model, self.data)
            self.model.train()
            cost = time.perf_counter() - started
            log_records(self.run_dir, *({"step": self.step, "epoch": epoch + 1, "seconds": self.elapsed, **record,
                                         "probe_seconds": cost} for record in records), name=CURVE)

    def _save(self, position: dict) -> None:
        """Checkpoint ``position`` with every rank's random state (a collective: every rank calls it);
        rank 0 writes it."""
        states = self.world.gather(rng_state(self.device))
        if self.world.main:
            rng = states[0] if self.world.size == 1 else {**states[0], "ranks": states}
            save_checkpoint(self.run_dir / CHECKPOINT, self.model, self.optimizer, self.config,
                            {**position, "world_size": self.world.size}, rng)

    def _resume_rng(self, state: dict) -> None:
        """This rank's random state from the checkpoint; fresh per-rank streams if the number of processes
        changed (the views stay the same: they do not depend on it; the ELBO noise from here on does)."""
        ranks = state["rng"].get("ranks", [state["rng"]])
        if len(ranks) == self.world.size:
            set_rng_state(ranks[self.world.rank], self.device)
            return
        self.world.seed_noise(self.config.seed, state["step"])
        if self.world.main:
            processes = {n: f"{n} process" + ("es" if n > 1 else "") for n in (len(ranks), self.world.size)}
            tqdm.write(f"note: the run was trained on {processes[len(ranks)]} and resumes on "
                       f"{processes[self.world.size]}: the views are the same, the random draws of the loss from "
                       "here on are not those of an uninterrupted run")

    def _diverged(self, what: str, step: int, epoch: int, own: bool = False) -> SimveError:
        """The one-line divergence error; ``own``: a failure of this rank alone (its own data), which this
        rank reports."""
        world = self.world
        error = SimveError(
            f"{what} at step {step} (epoch {epoch + 1}){f' on rank {world.rank}' if own and world.size > 1 else ''}; "
            f"the last good checkpoint (step {self.saved_step}) is kept in {self.run_dir / CHECKPOINT}; start a new "
            "run (another --out) with a lower --lr or other model options"
        )
        error.rank_local = own
        return error


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
