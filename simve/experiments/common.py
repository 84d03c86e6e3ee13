"""What the experiments share: the registry, the settings dataclass contract and the writer.

An experiment registers a settings dataclass and a ``run`` function::

    @dataclass
    class Settings:
        seeds: int = 3           # every field becomes ``--seeds`` on the command line
        dims: tuple[int, ...] = (10, 50)   # tuples are comma lists: ``--dims 10,50``

    @experiment("name", Settings, "one line of help")
    def run(settings: Settings, out_dir: Path, command: str) -> dict: ...

``run`` returns the results and calls :func:`write_outputs` for results.json and table.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from simve.errors import SimveError
from simve.evaluate.report import finite, machine, versions

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


def timer() -> Callable[[], float]:
    """Seconds since this call."""
    started = time.time()
    return lambda: time.time() - started


def mean_std(values, unbiased: bool = False) -> dict[str, float]:
    """Mean and standard deviation over seeds: population std (divide by n), or the sample std
    (n - 1) with ``unbiased``; 0 for a single value."""
    x = torch.tensor(list(values), dtype=torch.float64)
    std = float(x.std(correction=1 if unbiased else 0)) if len(x) > 1 else 0.0
    return {"mean": float(x.mean()), "std": std}


def plus_minus(stats: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    """``stats`` from :func:`mean_std` as a table cell: ``mean ± std``, both times ``scale``."""
    return f"{scale * stats['mean']:.{digits}f} ± {scale * stats['std']:.{digits}f}"


def write_outputs(out_dir: Path, name: str, settings, command: str, seconds: float, table: str,
                  results: dict) -> tuple[Path, Path]:
    """``results.json`` (command, settings, versions, wall time, results) and ``table.md``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"experiment": name, "command": command, "seconds": seconds,
            "settings": dataclasses.asdict(settings),
            "versions": versions()}
    json_path, table_path = out_dir / "results.json", out_dir / "table.md"
    json_path.write_text(json.dumps(finite({"meta": meta, "results": results}), indent=1, allow_nan=False) + "\n")
    header = (f"# simve experiment: {name}\n\nMade by `{command}` in {seconds / 60:.1f} min on "
              f"{machine()}.\n\n")
    table_path.write_text(header + table.rstrip() + "\n")
    return json_path, table_path
