"""``simve timing`` (formerly ``simve bench``): where a training step's time goes, measured side by side in one process.

For each model on one dataset, blocks of ``steps`` optimiser steps run in turn (A B C A B C ...,
``repeats`` rounds after a warm-up), so that a noisy machine slows every job alike; each figure is
the median over the rounds, and each ratio is one of medians measured in the same run:

- ``pipeline``: the training loop's step, data included: the next batch of the loop's
  :class:`ViewLoader` (index and augment the J views; on a GPU made in a worker thread during the
  step before), then ``zero_grad``, ``model.loss``, ``backward``, Adam; ``wait`` is the time spent
  waiting for the batch;
- ``model``: the same step on one fixed batch of views (the data pipeline left out), timed by phase:
  forward (the loss), backward, optimiser;
- ``augmentation``: making batches alone, without prefetching (its cost if nothing hid it);
- ``bare`` (generative models): a hand-written plain-torch step of the same nets and objective, no
  Pyro and no data pipeline, on copies of the model's encoder and decoder (:class:`BareELBO`), checked
  at start-up to give the same loss and gradients for the same noise;
- ``per-tensor``: the model step with Adam's per-tensor loop in place of the fused kernel the training
  loop uses (:func:`simve.train.make_optimizer`).

Beside them: the step's floating-point work (``torch.utils.flop_counter``) against a 2048 x 2048 fp32
matmul timed in the same rounds, peak RSS after each model, the cost of a model step against the
batch size N and the views J (4 sizes each, the least-squares slope in ms per image or view and its
R^2), the evaluation's cost per stage (task sets, features, each probe over every task), and one epoch
of ``simve train`` as a whole process: its wall time against the seconds its loop logged.
``--compare CMD`` times an external command against ``--ours CMD`` (default: one epoch of
``simve train`` with the bench's settings), interleaved, and gives the ratio of median wall times.
``--processes N`` runs that epoch of each model on one process and on N (``simve train --nproc``),
in turn, and gives the ratio of median loop and wall times.
"""

from __future__ import annotations

import math
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from simve.errors import SimveError
from simve.evaluate.curve import CURVE_MAX_TRAIN, schedule_cost
from simve.models import MODELS, model_names, option_hints
from simve.runs import timer, write_results
from simve.timing.accuracy import accuracy_table, time_to_accuracy
from simve.timing.jobs import Bench
from simve.timing.processes import compare_commands, process_scaling, run_overhead
from simve.train import curve_epochs


@dataclass
class TimingSpec:
    data: str
    models: tuple[str, ...]
    out: Path
    data_root: str | None = None
    limit: int | None = None
    batch_size: int = 64
    views: int = 2
    steps: int = 5
    repeats: int = 5
    warmup: int = 2
    scaling: bool = True
    evaluation: bool = True
    overhead: bool = True
    compare: str | None = None
    ours: str | None = None
    compare_repeats: int = 3
    processes: int | None = None  # also time one epoch on this many processes against one
    device: str = "cpu"
    options: dict[str, str] = field(default_factory=dict)  # model options as written, for the models that have them
    to_accuracy: float | None = None  # time to this validation content instead (simve.timing.accuracy)
    seeds: int = 3  # seeds of each side of --to-accuracy
    max_epochs: int = 40  # epochs of the default ours of --to-accuracy



def _table(spec: TimingSpec, data, results: dict) -> str:
    lines = [(f"Data: {spec.data}, image shape {tuple(data.image_shape)}; {spec.batch_size} images x {spec.views} views "
             f"a step on {spec.device}; {spec.repeats} interleaved rounds of {spec.steps} steps after {spec.warmup} "
             f"warm-up steps, medians over rounds; torch {torch.__version__}, {torch.get_num_threads()} threads."), "",
             "## Training steps", "",
             ("Steps/s: `pipeline` = the training loop's step with its data (its batches made in the step's own "
              "thread on a CPU, one step ahead in a worker thread on a GPU), `model` = the "
             "same on a fixed batch, `bare` = a plain-torch step of the same nets and objective (no Pyro, no data), "
             "`per-tensor` = the model step with Adam's per-tensor loop instead of the loop's fused Adam. Ratios are speed ratios of medians in the same rounds."), "",
             ("| model | params | pipeline | model | bare | per-tensor | pipeline / bare | fused gain | augmentation (share of a step) | wait "
             "| forward | backward | optimiser (ms) | GFLOP/step | % of matmul | peak RSS (MB) |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        ms = r["ms_per_step"]
        rates = " | ".join(f"{r['steps_per_s'][k]:.2f}" if k in r["steps_per_s"] else "-"
                           for k in ("pipeline", "model", "bare", "per-tensor"))
        versus_bare = f"{r['pipeline_vs_bare']:.2f}x" if "pipeline_vs_bare" in r else "-"
        lines.append(f"| {name} | {r['parameters'] / 1e6:.2f} M | {rates} | {versus_bare} | {r['fused_speedup']:.2f}x | "
                     f"{ms['augmentation']:.1f} ({100 * r['augmentation_share']:.0f} %) | {ms['wait']:.1f} | "
                     f"{ms['forward']:.1f} | {ms['backward']:.1f} | {ms['optimiser']:.1f} | {r['gflop_per_step']:.2f} | "
                     f"{100 * r['matmul_fraction']:.0f} % of {r['matmul_gflops']:.0f} GFLOP/s | {r['peak_rss_mb']:.0f} |")
    scaled = {n: r["scaling"] for n, r in results["models"].items() if "scaling" in r}
    if scaled:
        lines += ["", "## Cost against the batch size N and the views J (model step, ms)", "",
                  "| model | knob | sizes: ms | slope (ms per unit) | intercept (ms) | R^2 |", "|---|---|---|---|---|---|"]
        for name, knobs in scaled.items():
            for knob, fit in knobs.items():
                sizes = ", ".join(f"{k}: {v:.1f}" for k, v in fit["ms_per_step"].items())
                lines.append(f"| {name} | {'N' if knob == 'batch_size' else 'J'} | {sizes} | {fit.get('slope', math.nan):.2f} | "
                             f"{fit.get('intercept', math.nan):.1f} | {fit.get('r2', math.nan):.3f} |")
    evaluated = {n: r["evaluation"] for n, r in results["models"].items() if "evaluation" in r}
    if evaluated:
        stages = list(next(iter(evaluated.values()))["seconds"])
        lines += ["", "## Evaluation (seconds, an untrained model: the cost does not depend on training)", "",
                  "| model | tasks | " + " | ".join(stages) + " | total |", "|---" * (len(stages) + 3) + "|"]
        for name, e in evaluated.items():
            lines.append(f"| {name} | {e['tasks']} | " + " | ".join(f"{e['seconds'][k]:.1f}" for k in stages)
                         + f" | {sum(e['seconds'].values()):.1f} |")
    if evaluated:
        lines += _curve_cost(spec, data, results)
    if "overhead" in results:
        o = results["overhead"]
        lines += ["", "## One epoch of `simve train`, whole process", "",
                  (f"`{o['command']}`: {o['wall_seconds']:.1f} s wall, of which {o['loop_seconds']:.1f} s in the training "
                  f"loop and {o['overhead_seconds']:.1f} s outside it (start-up, data, checkpoints, validation, figures).")]
    scaled = {n: r["processes"] for n, r in results["models"].items() if "processes" in r}
    if scaled:
        count = next(iter(scaled.values()))["processes"]
        lines += ["", f"## One epoch on 1 and on {count} processes (`simve train --nproc`, interleaved)", "",
                  (f"The batch of {spec.batch_size} is split over the processes; medians of {spec.compare_repeats} runs "
                   "each, seconds. Speed-up: the ratio of the medians (> 1: the processes train faster)."), "",
                  f"| model | loop, 1 | loop, {count} | loop speed-up | wall, 1 | wall, {count} | wall speed-up |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in scaled.items():
            one, many = r["median_seconds"]["1"], r["median_seconds"][str(count)]
            lines.append(f"| {name} | {one['loop']:.2f} | {many['loop']:.2f} | {r['loop_speedup']:.2f}x | "
                         f"{one['wall']:.2f} | {many['wall']:.2f} | {r['wall_speedup']:.2f}x |")
    if "compare" in results:
        c = results["compare"]
        lines += ["", "## Side by side with another command (wall seconds, interleaved)", "",
                  (f"- ours: `{c['commands']['ours']}`: median {c['median_seconds']['ours']:.2f} s "
                  f"({', '.join(f'{t:.2f}' for t in c['seconds']['ours'])})"),
                  (f"- theirs: `{c['commands']['theirs']}`: median {c['median_seconds']['theirs']:.2f} s "
                  f"({', '.join(f'{t:.2f}' for t in c['seconds']['theirs'])})"),
                  f"- ours is {c['ours_speedup']:.2f}x as fast (ratio of medians)"]
    return "\n".join(lines)


CURVE_BUDGET = 100  # epochs of the run whose learning-curve cost the table states: the converged tables' budget


def _curve_cost(spec: TimingSpec, data, results: dict) -> list[str]:
    """What ``--curve doubling`` adds to a run of :data:`CURVE_BUDGET` epochs: its readings' seconds over
    the epochs' seconds at the pipeline's rate."""
    readings = len(curve_epochs("doubling", CURVE_BUDGET))
    steps = len(data.train) // spec.batch_size
    lines = ["", f"## Learning curve: what `--curve` (doubling) adds to {CURVE_BUDGET} epochs", "",
             (f"A reading (the linear probe on every task, fitted on the features of at most {CURVE_MAX_TRAIN} train "
              f"images, read on validation; an untrained model) against an epoch of {steps} pipeline steps; "
              f"{readings} readings in {CURVE_BUDGET} epochs."), "",
             "| model | a reading (s) | an epoch (s) | cost, % of training |", "|---|---|---|---|"]
    for name, r in results["models"].items():
        if "evaluation" in r:
            reading, epoch = r["evaluation"]["curve_reading_seconds"], steps / r["steps_per_s"]["pipeline"]
            lines.append(f"| {name} | {reading:.1f} | {epoch:.1f} | {100 * schedule_cost(reading, epoch, CURVE_BUDGET):.1f} % |")
    return lines


def default_ours(spec: TimingSpec, model: str | None = None, epochs: int = 1) -> str:
    """``epochs`` epochs of ``simve train`` of ``model`` (default: the first) at the bench's settings (its ``--set``
    options included), into the fresh folder ``{tmp}``."""
    model = model or spec.models[0]
    args = ["--model", model, "--data", spec.data, "--epochs", str(epochs), "--batch-size", str(spec.batch_size),
            "--views", str(spec.views), "--device", spec.device]
    args += ["--data-root", spec.data_root] if spec.data_root else []
    args += ["--limit", str(spec.limit)] if spec.limit else []
    args += [part for key, value in spec.options.items() if key in option_hints(model)
             for part in ("--" + key.replace("_", "-"), str(value))]
    return shlex.join([sys.executable, "-m", "simve", "train", *args]) + " --out {tmp}/run"


def run_timing(spec: TimingSpec, command: str) -> str:
    """Time every model of ``spec``, write ``OUT/results.json`` and ``OUT/table.md``; returns the table."""
    unknown = [m for m in spec.models if m not in MODELS]
    if unknown:
        raise SimveError(f"unknown model {', '.join(unknown)}; choose from {', '.join(model_names())}")
    elapsed = timer()
    if spec.to_accuracy is not None:
        return _run_to_accuracy(spec, command, elapsed)
    bench = Bench(spec)
    results = {"models": {}}
    for name in spec.models:
        results["models"][name] = bench.throughput(name)
        if spec.evaluation:
            results["models"][name]["evaluation"] = bench.evaluation(name)
        if spec.processes:
            results["models"][name]["processes"] = process_scaling(default_ours(spec, name), spec.processes,
                                                                   spec.compare_repeats)
    ours = spec.ours or default_ours(spec)
    if spec.overhead:
        results["overhead"] = run_overhead(default_ours(spec))
    if spec.compare:
        results["compare"] = compare_commands(ours, spec.compare, spec.compare_repeats)
    table = _table(spec, bench.data, results)
    meta = {"data": spec.data, "batch_size": spec.batch_size, "views": spec.views, "device": spec.device,
            "threads": torch.get_num_threads()}
    write_results(spec.out, f"simve timing: {spec.data}", command, elapsed(), table, results, meta)
    return table



def _run_to_accuracy(spec: TimingSpec, command: str, elapsed) -> str:
    """``--to-accuracy``: ours (default: ``simve train --curve every`` of the first model for ``max_epochs``) and
    ``--compare`` in turn for every seed; writes OUT/results.json and OUT/table.md, returns the table."""
    ours = spec.ours or default_ours(spec, epochs=spec.max_epochs) + " --curve every --seed {seed}"
    commands = {"ours": ours, **({"theirs": spec.compare} if spec.compare else {})}
    results = time_to_accuracy(commands, spec.to_accuracy, tuple(range(spec.seeds)))
    table = accuracy_table(results)
    meta = {"data": spec.data, "target": spec.to_accuracy, "seeds": spec.seeds, "threads": torch.get_num_threads()}
    write_results(spec.out, f"simve timing: time to {100 * spec.to_accuracy:g} % validation content", command,
                  elapsed(), table, results, meta)
    return table
