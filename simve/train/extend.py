"""A longer run started from the end of a finished shorter run of the same settings.

At a constant learning rate nothing a run does in its first E epochs depends on how many it will train
in all: the views, the noise of the loss and any annealed weight are functions of the step alone. So a
run of E' > E epochs passes through the state of the finished E-epoch run at the end of epoch E, bit for
bit, and its folder can start as a copy of that run's (its checkpoint, its metrics and the curve readings
that the longer run's schedule holds) and train on from there: the same weights, logs and curve as the
longer run trained from its first step, and its training time counts the shorter run's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from simve.errors import SimveError
from simve.io import folder_lock, make_folder, write_atomic, write_text
from simve.train.checkpoint import differences, load_checkpoint
from simve.train.config import CHECKPOINT, CURVE, METRICS, TrainConfig, curve_epochs, load_config, save_config
from simve.train.records import read_curve, write_records


def can_extend(shorter: TrainConfig, longer: TrainConfig) -> bool:
    """Whether a run of ``longer`` passes through the end of a finished run of ``shorter``, its curve too: the
    same settings but for more epochs, at a constant learning rate, and every reading that ``longer``'s curve
    schedule takes up to ``shorter.epochs`` taken by ``shorter``'s (``doubling`` from 100 to 200 epochs: yes;
    from 4 to 6: no, the 6-epoch run reads epoch 3)."""
    if longer.lr_schedule != "constant" or longer.epochs <= shorter.epochs or differences(shorter, longer):
        return False
    early = {epoch for epoch in curve_epochs(longer.curve, longer.epochs) if epoch <= shorter.epochs}
    return early <= set(curve_epochs(shorter.curve, shorter.epochs))


def extend_into(shorter_dir: Path, config: TrainConfig, run_dir: Path) -> int:
    """Start ``run_dir`` as a run of ``config`` at the end of the finished run in ``shorter_dir`` (which is left
    as it was) and return the epoch it resumes from. ``config.json`` is written last, so that a copy cut short
    is made again by the next call rather than resumed."""
    shorter = load_config(shorter_dir)
    if not can_extend(shorter, config):
        raise SimveError(f"a run of {config.epochs} epochs cannot start from {shorter_dir}: only a run of the same "
                         "settings for more epochs at a constant learning rate can")
    state = load_checkpoint(shorter_dir / CHECKPOINT, shorter)
    if state["epoch"] != shorter.epochs or state["batch"] != 0:
        raise SimveError(f"{shorter_dir} has not finished its {shorter.epochs} epochs; finish it with "
                         f"simve train --out {shorter_dir} --resume")
    readings = set(curve_epochs(config.curve, config.epochs))
    make_folder(run_dir)
    with folder_lock(run_dir):
        if (shorter_dir / METRICS).exists():
            write_text(run_dir / METRICS, (shorter_dir / METRICS).read_text())
        kept = [record for record in read_curve(shorter_dir) if record["epoch"] in readings]
        if kept:
            write_records(run_dir, kept, CURVE)
        write_atomic(run_dir / CHECKPOINT, lambda tmp: shutil.copyfile(shorter_dir / CHECKPOINT, tmp))
        save_config(run_dir, config)
    return state["epoch"]
