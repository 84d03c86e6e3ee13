"""Checkpoints: the model, the optimiser, the position in the data and every rank's random state, written
atomically and read back only after every check (weights-only, the run's own config, finite weights)."""

from __future__ import annotations

from pathlib import Path

import torch

from simve import __version__
from simve.errors import SimveError
from simve.io import write_atomic
from simve.models import SSLModel
from simve.train.config import CHECKPOINT, CONFIG, RESUMABLE, TrainConfig

CHECKPOINT_FORMAT = "simve-checkpoint-1"
CHECKPOINT_KEYS = ("model", "config", "step", "epoch", "batch", "epoch_loss_sum", "elapsed", "model_state",
                   "optimizer_state", "rng")


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
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
    differ = differences(TrainConfig.from_dict(state["config"]), config)
    if differ:
        raise SimveError(f"{path} belongs to another run: its {', '.join(differ)} differ from {CONFIG}")
    return state


def differences(a: TrainConfig, b: TrainConfig) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [k for k in da if k not in RESUMABLE and da[k] != db[k]]


def restore(state: dict, model: SSLModel, optimizer, path: Path) -> None:
    try:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise SimveError(f"{path} does not fit the model ({str(err).splitlines()[0]})") from None
