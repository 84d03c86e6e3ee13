"""The run layer: everything that trains many runs goes through it (the benchmark, the demo, the
align-uniform study, sweeps).

One run is a :class:`simve.train.TrainConfig` trained in a folder named from that config
(:func:`run_folder`). :func:`evaluated` trains it or reuses it (a finished run only loads, an
interrupted one resumes, a new one at a constant learning rate starts from a finished shorter run of its
settings), then evaluates it or reuses its evaluation: each evaluation is cached in
the run's ``eval/`` folder beside the settings that made it, and recomputed when they change. The
data of a (dataset, seed) is loaded once and its probe tasks are built once (:class:`Workspace`),
whichever runs use them. Results over seeds are aggregated with one convention (:func:`simve.stats.mean_std`:
the sample standard deviation, n - 1) and written by one writer (:func:`write_results`:
``results.json`` and ``table.md``, atomically, headed by the command that made them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simve.data import ImageData
from simve.errors import SimveError
from simve.evaluate.curve import CurveReader
from simve.evaluate.probes import PROTOCOL
from simve.evaluate.report import evaluate
from simve.evaluate.tasks import TaskSet, build_tasks
from simve.io import machine, read_json, versions, write_json, write_text
from simve.models import MODELS, SSLModel, model_names, option_hints
from simve.settings import declared, parse_pairs
from simve.train import CONFIG, KNOBS, METRICS, TrainConfig, can_extend, extend_into, load_config, read_metrics, train
from simve.train.config import STYLE_BINS

# ------------------------------------------------------------------------- what to train

TRAINING_KNOBS = KNOBS  # the training settings a row may set (declared in TrainConfig)


@dataclass(frozen=True)
class Variant:
    """A model with some of its options and training settings changed: one row of a table, one point
    of a grid. Written ``METHOD[:KNOB=VALUE...]`` (:func:`parse_variant`), e.g. ``simclr:temperature=0.1``
    or ``simve:prior_var=0.01:views=4``."""

    model: str
    options: tuple[tuple[str, object], ...] = ()
    training: tuple[tuple[str, object], ...] = ()  # views, lr, epochs, batch_size, adam_eps, augment
    preset: str | None = None  # a settings bundle under this row's own settings (simve.presets), e.g. "paper"

    @property
    def label(self) -> str:
        """``simve prior_var=0.01 views=4``: the model, then each setting (the preset first)."""
        shown = [f"{k}={v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k}={v}"
                 for k, v in ((("preset", self.preset),) if self.preset else ()) + (*self.options, *self.training)]
        return " ".join([self.model, *shown])

    def config(self, **run) -> TrainConfig:
        """The training config: ``run`` (data, epochs, seed, ...) with this variant's settings over it."""
        return TrainConfig(model=self.model, model_options=dict(self.options), **{**run, **dict(self.training)})


def parse_variant(text: str) -> Variant:
    """``"simclr:temperature=0.1:epochs=2"`` -> Variant; unknown models and knobs refused in one line,
    values typed as the model's options (or the training settings) declare. ``preset=NAME`` puts a
    settings bundle under the row's own settings (applied by :func:`simve.presets.with_preset`)."""
    model, *items = [part.strip() for part in text.split(":")]
    if model not in MODELS:
        raise SimveError(f"{text!r}: unknown model {model!r}; choose from {', '.join(model_names())}")
    hints = option_hints(model)
    settings = parse_pairs(items, {**hints, **KNOBS, "preset": str}, many=False, what=f"{text!r}: {model}",
                           check=lambda key, value: TrainConfig.check(key, value) if key in KNOBS else None)
    bundle = settings.pop("preset", None)
    options = {k: v for k, v in settings.items() if k in hints}
    training = {k: v for k, v in settings.items() if k not in hints}
    return Variant(model, tuple(sorted(options.items())), tuple(sorted(training.items())), bundle)


@dataclass(kw_only=True)
class RunsSpec:
    """What the commands that train many runs share (``simve benchmark``, ``simve tune``): the data, the
    budget, the seeds, the probes, where the results and the runs go, and how the runs are trained."""

    data: str
    epochs: int
    out: Path
    runs: Path
    seeds: tuple[int, ...] = (0,)
    data_root: str | None = None
    limit: int | None = None
    probes: tuple[str, ...] = ("linear",)
    max_train: int = 10_000  # probes fitted on at most this many train images
    preset: str | None = None  # settings bundle under every generative row (simve.presets), e.g. "paper"
    jobs: int = 1  # training processes at a time (evaluation stays in this one)
    cluster: Cluster | None = None  # train the runs as submitit jobs there instead
    curve: str = "off"  # every run's learning-curve schedule (simve.train.curve_epochs)
    style_bins: int = STYLE_BINS  # bins of each perturbed continuous style factor in the probe tasks (TrainConfig)

    def config(self, variant: Variant, seed: int) -> TrainConfig:
        """The training config of ``variant`` for ``seed`` at this spec's data, budget and curve."""
        return variant.config(data=self.data, data_root=self.data_root, limit=self.limit, seed=seed,
                              epochs=self.epochs, curve=self.curve, style_bins=self.style_bins)


# ------------------------------------------------------------------------------------ one run


# Config fields added after runs were first cached (declared ``added_later``): they enter the hash only
# when they differ from their defaults, so that every earlier folder keeps its name.
LATER_FIELDS = {name: field.default for name, field in declared(TrainConfig, added_later=True).items()}


def run_folder(runs: str | Path, config: TrainConfig) -> Path:
    """``runs/<model>[-<option><value>...]-e<epochs>-s<seed>-<hash>``: readable, and unique to the whole
    config (the device aside, which a run may change when it resumes)."""
    identity = {k: v for k, v in config.to_dict().items() if LATER_FIELDS.get(k, object()) != v}
    digest = hashlib.sha1(json.dumps({**identity, "device": None}, sort_keys=True).encode()).hexdigest()
    knobs = "".join(f"-{k}{v}" for k, v in sorted(config.model_options.items()))
    return Path(runs) / f"{config.model}{knobs}-e{config.epochs}-s{config.seed}-{digest[:8]}"


def train_or_reuse(config: TrainConfig, folder: str | Path) -> SSLModel:
    """The trained model of ``config`` in ``folder`` (eval mode): trained there, resumed where a run was
    interrupted, only loaded where it finished; its learning curve read where ``config`` asks for one. A new
    run starts at the end of the longest finished shorter run of the same settings beside it, where it can
    (:func:`shorter_run`): a longer budget trains only the epochs it adds. A run that trains says so on stderr
    first, with where its progress is logged (a progress bar shows only on a terminal, and a benchmark or a
    tune in the background would otherwise be silent for hours)."""
    folder = Path(folder)
    start = ""
    shorter = None if (folder / CONFIG).exists() else shorter_run(config, folder)
    if shorter is not None:
        start = f", from the end of {shorter.name} (epoch {extend_into(shorter, config, folder)})"
    if not finished(config, folder):
        print(f"training {folder.name}: {plural(config.epochs, 'epoch')}{start}, progress in {folder / METRICS}",
              file=sys.stderr, flush=True)
    return train(config, folder, resume=(folder / CONFIG).exists(), read_curve_at=curve_reader(config))


def shorter_run(config: TrainConfig, folder: str | Path) -> Path | None:
    """The finished run beside ``folder`` (in the same runs folder) whose end a new run of ``config`` passes
    through (:func:`simve.train.can_extend`: the same settings for fewer epochs, at a constant learning
    rate), the one with the most epochs; None where there is none."""
    folder = Path(folder)
    found = []
    for other in folder.parent.glob(f"{config.model}*-s{config.seed}-*"):
        if other == folder or not (other / CONFIG).is_file():
            continue
        try:
            before = load_config(other)
        except SimveError:  # a damaged folder is not a starting point; its own run reports it
            continue
        if can_extend(before, config) and finished(before, other):
            found.append((before.epochs, other.name))
    return folder.parent / max(found)[1] if found else None


def curve_reader(config: TrainConfig) -> CurveReader | None:
    """What reads the curve of a run of ``config`` (None where it reads none)."""
    return CurveReader(seed=config.seed, perturbed_bins=config.style_bins) if config.curve != "off" else None


def data_label(data: str) -> str:
    """How results name a dataset: its name, or for a file its name and checksum (never the path, which
    would carry one machine's folders into committed results)."""
    path = Path(data)
    if not path.is_file():
        return data
    return f"{path.name} (sha1 {hashlib.sha1(path.read_bytes()).hexdigest()[:12]})"


def plural(n: int, word: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def finished(config: TrainConfig, folder: str | Path) -> bool:
    """Whether the run of ``config`` in ``folder`` has trained all its epochs (from its metrics)."""
    if not (Path(folder) / CONFIG).exists():
        return False
    epochs = [r["epoch"] for r in read_metrics(folder) if "train_loss" in r]
    return bool(epochs) and max(epochs) >= config.epochs


def _train_in_worker(config: dict, folder: str, threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    train_or_reuse(TrainConfig.from_dict(config), folder)


def train_many(runs: list[tuple[TrainConfig, Path]], jobs: int, cluster: Cluster | None = None) -> None:
    """Train the unfinished ``(config, folder)`` runs, ``jobs`` processes at a time, each with its share of
    this process's torch threads (so the cores are not oversubscribed), or as jobs on ``cluster``; the
    callers then only load them. A run trained with fewer threads may differ from a one-process run in
    float rounding only."""
    todo = [(config, folder) for config, folder in runs if not finished(config, folder)]
    if cluster is not None and todo:
        cluster.train(todo, jobs)
        return
    if jobs <= 1 or len(todo) <= 1:
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    threads = max(1, torch.get_num_threads() // jobs)
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_in_worker, config.to_dict(), str(folder), threads) for config, folder in todo]
        for future in futures:
            future.result()  # a worker's error surfaces here, as the one line it would be in one process


CLUSTERS = ("slurm", "local")


@dataclass(frozen=True)
class Cluster:
    """Runs trained as submitit jobs (one run per job): on Slurm, or as processes of this machine
    (``local``, to try a setup); ``settings`` go to ``executor.update_parameters`` (``timeout_min``,
    ``cpus_per_task``, ``gpus_per_node``, ``slurm_partition``, ...). submitit is an extra:
    ``pip install 'simve[cluster]'``. The job logs go to ``folder``."""

    name: str
    folder: Path
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.name not in CLUSTERS:
            raise SimveError(f"cluster must be one of {', '.join(CLUSTERS)}, got {self.name!r}")

    def train(self, todo: list[tuple[TrainConfig, Path]], jobs: int) -> None:
        """Submit one job per run, at most ``jobs`` running at once on Slurm, and wait for all of them."""
        try:
            import submitit
        except ImportError:
            raise SimveError("--cluster needs submitit, an extra: pip install 'simve[cluster]'") from None
        executor = submitit.AutoExecutor(folder=self.folder, cluster=self.name)
        try:
            executor.update_parameters(**{"timeout_min": 24 * 60, "name": "simve", **self.settings,
                                          **({"slurm_array_parallelism": jobs} if self.name == "slurm" else {})})
        except (NameError, ValueError, TypeError) as err:  # submitit names an unknown parameter with NameError
            raise SimveError(f"--cluster-set: {str(err).splitlines()[0]}") from None
        print(f"{plural(len(todo), 'run')} submitted to {self.name} (submitit logs in {self.folder})")
        submitted = [executor.submit(_train_in_worker, config.to_dict(), str(folder), None) for config, folder in todo]
        for job, (_, folder) in zip(submitted, todo):
            try:
                job.result()
            except Exception as err:  # noqa: BLE001  (submitit raises the job's traceback as its own error)
                raise SimveError(f"the {self.name} job {job.job_id} training {folder} failed: {_job_error(str(err))} "
                                 f"(its log: {self.folder})") from None


def _job_error(report: str) -> str:
    """The error line of a job's traceback (a SimveError's own message), else the report's last line."""
    raised = [line for line in report.splitlines() if re.match(r"[\w.]+(Error|Exception|Interrupt)\b.*: ", line)]
    if raised:
        return raised[-1].removeprefix("simve.errors.SimveError: ")
    return next((line.strip() for line in reversed(report.splitlines()) if line.strip()), "no report")


def cached(path: str | Path, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()``, stored at ``path`` beside ``key`` and reused while the stored key is the same."""
    path = Path(path)
    if path.exists():
        stored = read_json(path)
        if isinstance(stored, dict) and stored.get("key") == json.loads(json.dumps(key)):
            return stored["results"]
    results = compute()
    write_json(path, {"key": key, "results": results}, indent=None)
    return results


class Workspace:
    """The data and probe tasks of each (dataset, seed), loaded and built once, shared by every run.

    ``scored="val"`` gives the same data with the validation split standing in for the test split,
    for choosing settings (tuning) without touching the test split."""

    def __init__(self):
        self._data: dict[tuple, ImageData] = {}
        self._tasks: dict[tuple, TaskSet] = {}

    @staticmethod
    def _key(config: TrainConfig, scored: str) -> tuple:
        if scored not in ("test", "val"):
            raise SimveError(f"scored must be test or val, got {scored!r}")
        return (config.data, config.data_root, config.download, config.limit, config.val_fraction, config.seed, scored)

    def data(self, config: TrainConfig, scored: str = "test") -> ImageData:
        key = self._key(config, scored)
        if key not in self._data:
            data = config.load_data() if scored == "test" else self.data(config)
            self._data[key] = data if scored == "test" else dataclasses.replace(data, test=data.val)
        return self._data[key]

    def tasks(self, config: TrainConfig, scored: str = "test") -> TaskSet:
        key = (*self._key(config, scored), config.style_bins)
        if key not in self._tasks:
            self._tasks[key] = build_tasks(self.data(config, scored), seed=config.seed, perturbed_bins=config.style_bins)
        return self._tasks[key]

    def evaluate(self, model: SSLModel, config: TrainConfig, probes, max_train: int, particles: int = 0,
                 scored: str = "test", progress: bool = True) -> dict:
        """:func:`simve.evaluate.report.evaluate` of ``model`` on the data and tasks of ``config``'s
        (dataset, seed), with ``config``'s views."""
        return evaluate(model, self.data(config, scored), probes=probes, seed=config.seed, max_train=max_train,
                        particles=particles, views=config.views, progress=progress, tasks=self.tasks(config, scored))


def evaluated(config: TrainConfig, folder: str | Path, name: str, key: dict,
              measure: Callable[[SSLModel, TrainConfig], dict]) -> dict:
    """Train or reuse the run of ``config`` in ``folder``, then ``measure(model, config)`` or reuse the
    measurement cached as ``eval/<name>.json`` while ``key`` (the evaluation's settings) is the same."""
    folder = Path(folder)
    return cached(folder / "eval" / f"{name}.json", {**key, "epochs": config.epochs, "probe_protocol": PROTOCOL},
                  lambda: measure(train_or_reuse(config, folder), config))


def compute_used(config: TrainConfig, folder: str | Path, train_images: int) -> dict:
    """What the run in ``folder`` cost: epochs, optimiser steps, encoder passes (training images x
    views x epochs) and training wall time (seconds, from its ``metrics.jsonl``)."""
    last = next((r for r in reversed(read_metrics(folder)) if "train_loss" in r), {"step": 0, "time": 0.0})
    return {"epochs": config.epochs, "steps": last["step"], "encoder_passes": train_images * config.views * config.epochs,
            "train_seconds": last["time"]}


# ------------------------------------------------------------------------------- over seeds


def timer() -> Callable[[], float]:
    """Seconds since this call."""
    started = time.time()
    return lambda: time.time() - started


# ------------------------------------------------------------------------------ the writer


def write_results(out_dir: str | Path, title: str, command: str, seconds: float, table: str, results: dict,
                  meta: dict | None = None, sections: dict | None = None) -> tuple[Path, Path]:
    """``results.json`` (``meta``: command, wall time, machine, versions, the probe protocol and ``meta``;
    then ``results``, then any further ``sections``) and ``table.md`` (``# title``, the command and wall
    time, then ``table``), both atomically."""
    out_dir = Path(out_dir)
    made = {"command": command, "seconds": seconds, "machine": machine(), "versions": versions(),
            "probe_protocol": PROTOCOL, **(meta or {})}
    json_path = write_json(out_dir / "results.json", {"meta": made, "results": results, **(sections or {})})
    header = f"# {title}\n\nMade by `{command}` in {seconds / 60:.1f} min on {machine()}.\n\n"
    table_path = write_text(out_dir / "table.md", header + table.rstrip() + "\n")
    return json_path, table_path
