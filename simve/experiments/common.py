"""The experiments' registry and the settings contract.

An experiment registers a settings dataclass and a ``run`` function::

    @dataclass
    class Settings:
        seeds: int = 3           # every field becomes ``--seeds`` on the command line
        dims: tuple[int, ...] = (10, 50)   # tuples are comma lists: ``--dims 10,50``

    @experiment("name", Settings, "one line of help")
    def run(settings: Settings, out_dir: Path, command: str) -> dict: ...

``run`` returns the results and writes them with :func:`simve.runs.write_results` (through
:func:`write_experiment`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simve.errors import SimveError
from simve.runs import write_results

MODULES = {"gmm-fisher": "gmm_fisher", "curl": "curl", "align-uniform": "align_uniform"}


@dataclass(frozen=True)
class Experiment:
    name: str
    settings: type
    run: Callable[..., dict]
    help: str


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, settings: type, help: str):
    """Register ``run`` under ``name`` with its settings dataclass."""

    def register(run):
        EXPERIMENTS[name] = Experiment(name, settings, run, help)
        return run

    return register


def get_experiment(name: str) -> Experiment:
    if name not in MODULES:
        raise SimveError(f"unknown experiment {name!r}; choose one of {', '.join(MODULES)}")
    importlib.import_module(f"simve.experiments.{MODULES[name]}")
    return EXPERIMENTS[name]


def write_experiment(out_dir: Path, name: str, settings, command: str, seconds: float, table: str,
                     results: dict) -> tuple[Path, Path]:
    """An experiment's ``results.json`` (with its settings) and ``table.md``, through the one writer."""
    return write_results(out_dir, f"simve experiment: {name}", command, seconds, table, results,
                         meta={"experiment": name, "settings": dataclasses.asdict(settings)})
