"""The one training loop, for every model: Pyro ELBO models and torch losses alike.

A model only has to expose ``loss(views)`` (see :mod:`simve.models.base`). A run lives in one
folder, from which it is reproducible and resumable:

- ``config.json``: the :class:`TrainConfig` (:mod:`simve.train.config`, every setting declared once);
- ``checkpoint.pt``: the last checkpoint (model, optimiser, position in the data, RNG state),
  replaced atomically, loadable with ``torch.load(path, weights_only=True)`` (:mod:`simve.train.checkpoint`);
- ``metrics.jsonl``: one JSON object per line: every ``log_every`` steps ``step, epoch, loss, lr,
  views_per_s, time``, and after each epoch ``step, epoch, train_loss, val_loss, time``
  (``epoch`` counts from 1, ``time`` is seconds of training);
- ``curve.jsonl`` (runs with a ``curve`` schedule): after the scheduled epochs, one JSON object per probe
  task: ``step, epoch, seconds`` (of training), ``task, kind, perturbed, accuracy`` (the linear probe's
  validation accuracy) and ``probe_seconds`` (what reading it cost, outside ``seconds``);
- ``figures/``: samples and reconstructions of generative models.

On CPU a run is exactly repeatable, and a run of E epochs equals one of k epochs resumed to E,
also when it was interrupted mid-epoch (:mod:`simve.train.loop`). At a constant learning rate a new run
folder may start at the end of a finished shorter run of the same settings (:mod:`simve.train.extend`).

Launched by ``torchrun`` (or ``simve train --nproc N``), the same loop runs as W processes: each
takes ``batch_size / W`` rows of every batch (the views they have in one process), the model is
wrapped in DistributedDataParallel (gradients averaged; the batch-wide losses gather every rank's
rows), the noise of each rank's ELBO comes from its own stream, rank 0 alone writes the folder, and
the checkpoint holds every rank's random state, so all ranks resume from it at the exact batch.
"""

from simve.train.checkpoint import load_checkpoint, save_checkpoint
from simve.train.config import (
    CHECKPOINT,
    CONFIG,
    CURVE,
    CURVES,
    FIGURES,
    KNOBS,
    METRICS,
    RESUMABLE,
    TrainConfig,
    curve_epochs,
    load_config,
)
from simve.train.extend import can_extend, extend_into
from simve.train.loop import load_trained, train
from simve.train.records import read_curve, read_metrics
from simve.train.step import (
    NonFiniteLoss,
    TrainingInterrupted,
    choose_device,
    descend,
    fit,
    make_optimizer,
    place,
    scheduled_lr,
    validation_loss,
)

__all__ = ["CHECKPOINT", "CONFIG", "CURVE", "CURVES", "FIGURES", "KNOBS", "METRICS", "RESUMABLE", "NonFiniteLoss",
           "TrainConfig", "TrainingInterrupted", "can_extend", "choose_device", "curve_epochs", "descend", "extend_into", "fit", "load_checkpoint",
           "load_config", "load_trained", "make_optimizer", "place", "read_curve", "read_metrics", "save_checkpoint", "scheduled_lr",
           "train", "validation_loss"]
