"""``simve bench``: where a training step's time goes, measured side by side in one process.

For each model on one dataset, blocks of ``steps`` optimiser steps run in turn (A B C A B C ...,
``repeats`` rounds after a warm-up), so that a noisy machine slows every job alike; each figure is
the median over the rounds, and each ratio is one of medians measured in the same run:

- ``pipeline``: the training loop's step, data included: the next batch of the loop's
  :class:`ViewLoader` (index and augment the J views, made in a worker thread during the step
  before), then ``zero_grad``, ``model.loss``, ``backward``, Adam; ``wait`` is the time spent
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

import copy
import math
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from simve.data import MultiView, ViewLoader, load_dataset, preset
from simve.errors import SimveError
from simve.evaluate.batches import embed_images
from simve.evaluate.probes import PROBES, run_probe
from simve.evaluate.tasks import build_tasks
from simve.models import MODELS, build_model, model_names, option_hints
from simve.runs import parse_variant, timer, write_results
from simve.train import choose_device, make_optimizer, place, read_metrics

LOG_2PI = math.log(2 * math.pi)
SIZES = {"batch_size": (16, 32, 64, 128), "views": (2, 4, 6, 8)}


@dataclass
class BenchSpec:
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


# --------------------------------------------------------------------------- the bare step


class BareELBO(torch.nn.Module):
    """``-ELBO`` per datum in plain torch on copies of a generative model's encoder and decoder:
    ``z = loc + scale eps``, ``log p(x | z)`` (Bernoulli as ``-BCE with logits``, Gaussian with a
    fixed sigma in closed form), the prior (SimVE's closed-form ``log p(z_1..J)``, else N(0, I)) and
    ``log q(z | x) = -sum (eps^2 / 2 + log scale + log(2 pi) / 2)``, the model's beta and
    reconstruction weight applied: the single-sample estimator ``Trace_ELBO`` computes."""

    def __init__(self, model):
        super().__init__()
        self.encoder, self.decoder = copy.deepcopy(model.encoder), copy.deepcopy(model.decoder)
        self.likelihood = type(model.likelihood).__name__
        if self.likelihood not in ("Bernoulli", "Gaussian") or hasattr(model.likelihood, "raw_sigma"):
            raise SimveError(f"no bare step for the {self.likelihood} likelihood with these settings")
        self.sigma = float(model.likelihood.sigma) if self.likelihood == "Gaussian" else None
        self.log_prior = model.log_p_views if hasattr(model, "log_p_views") else self.standard_normal
        self.beta = float(getattr(model.options, "beta", 1.0))
        self.recon_weight = float(model.options.recon_weight)

    @staticmethod
    def standard_normal(z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.pow(2) + LOG_2PI).sum((-2, -1))

    def loss(self, views: torch.Tensor) -> torch.Tensor:
        loc, scale = self.encoder(views)
        eps = torch.empty_like(loc).normal_()
        z = loc + scale * eps
        out = self.decoder(z)
        if self.likelihood == "Bernoulli":
            log_lik = -torch.nn.functional.binary_cross_entropy_with_logits(out, views, reduction="sum")
        else:
            log_lik = -(0.5 * ((views - torch.sigmoid(out)) / self.sigma).pow(2).sum()
                        + views.numel() * (math.log(self.sigma) + 0.5 * LOG_2PI))
        log_q = -(0.5 * eps.pow(2) + scale.log() + 0.5 * LOG_2PI).sum()
        elbo = self.recon_weight * log_lik + self.beta * (self.log_prior(z).sum() - log_q)
        return -elbo / views.shape[0]


def check_bare(model, bare: BareELBO, views: torch.Tensor) -> None:
    """Same parameters and noise: the same loss and gradients, else the comparison means nothing."""
    losses, grads = [], []
    for module in (model, bare):
        params = [*module.encoder.parameters(), *module.decoder.parameters()]
        module.zero_grad(set_to_none=True)
        torch.manual_seed(123)
        loss = module.loss(views)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in params]))
        module.zero_grad(set_to_none=True)
    gap = float((grads[0] - grads[1]).norm() / grads[0].norm().clamp_min(1e-30))  # float32 sums differ in order
    if not (math.isclose(*losses, rel_tol=1e-4) and gap < 1e-3):
        raise SimveError(f"the bare step disagrees with {model.name}'s loss ({losses[0]:.6g} vs {losses[1]:.6g})")


# ----------------------------------------------------------------------------- the timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepJob:
    """Blocks of optimiser steps on ``module.loss``; each step's phases (batch, forward, backward,
    optimiser) in seconds."""

    def __init__(self, module, next_views, device: torch.device, fused: bool = True):
        self.module, self.next_views, self.device = module, next_views, device
        self.optimizer = make_optimizer(module.parameters(), lr=1e-4, fused=fused)
        self.blocks: list[dict[str, float]] = []

    def step(self) -> dict[str, float]:
        clock = [time.perf_counter()]

        def mark():
            _sync(self.device)
            clock.append(time.perf_counter())

        views = self.next_views()
        mark()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.module.loss(views)
        mark()
        loss.backward()
        mark()
        self.optimizer.step()
        mark()
        return dict(zip(("batch", "forward", "backward", "optimiser"), np.diff(clock)))

    def block(self, steps: int, record: bool = True) -> None:
        phases = [self.step() for _ in range(steps)]
        if record:
            self.blocks.append({k: sum(p[k] for p in phases) / steps for k in phases[0]})

    def median(self, phase: str | None = None) -> float:
        """Median seconds per step (over blocks) of ``phase``, or of the whole step."""
        return statistics.median(sum(b.values()) if phase is None else b[phase] for b in self.blocks)


class WorkJob:
    """Blocks of ``work()`` calls: seconds per call of each recorded block."""

    def __init__(self, work, device: torch.device):
        self.work, self.device, self.times = work, device, []

    def block(self, steps: int, record: bool = True) -> None:
        _sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.work()
        _sync(self.device)
        if record:
            self.times.append((time.perf_counter() - start) / steps)

    def median(self) -> float:
        return statistics.median(self.times)


def matmul_job(device: torch.device, n: int = 2048) -> tuple[WorkJob, int]:
    """A 2048 x 2048 fp32 matmul to time, and its floating-point operations."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return WorkJob(lambda: a @ b, device), 2 * n**3


def step_flops(module, views: torch.Tensor) -> int:
    """Floating-point operations of one forward and backward pass."""
    with FlopCounterMode(display=False) as counter:
        module.loss(views).backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def fit_line(x, y) -> dict[str, float]:
    """Least squares ``y = a + b x``: intercept, slope and R^2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    return {"intercept": float(intercept), "slope": float(slope),
            "r2": float(1 - (residual**2).sum() / total) if total > 0 else 1.0}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------ per model


class Bench:
    def __init__(self, spec: BenchSpec):
        self.spec = spec
        self.device = choose_device(spec.device)
        self.data = load_dataset(spec.data, spec.data_root, limit=spec.limit)

    def loader(self, batch_size: int, views: int, seed: int = 0, prefetch: bool = False) -> ViewLoader:
        return ViewLoader(self.data.train, MultiView(preset(self.data.preset), views), batch_size, seed=seed,
                          device=self.device, prefetch=prefetch)

    def fixed_views(self, batch_size: int, views: int) -> torch.Tensor:
        return next(iter(self.loader(batch_size, views)))[0]

    def model(self, name: str):
        torch.manual_seed(0)
        hints = option_hints(name)
        given = ":".join(f"{k}={v}" for k, v in self.spec.options.items() if k in hints)
        options = dict(parse_variant(f"{name}:{given}" if given else name).options)
        return place(build_model(name, self.data.image_shape, **options), self.device).train()

    def rounds(self, jobs: dict, steps: int, progress: str) -> None:
        """Warm-up, then ``repeats`` rounds of one block per job, in turn."""
        for job in jobs.values():
            job(self.spec.warmup, False)
        for _ in tqdm(range(self.spec.repeats), desc=progress, unit="round", disable=None, leave=False):
            for job in jobs.values():
                job(steps, True)

    def throughput(self, name: str) -> dict:
        spec = self.spec
        model = self.model(name)
        views = self.fixed_views(spec.batch_size, spec.views)
        batches = self._endless(self.loader(spec.batch_size, spec.views, prefetch=True))
        unhidden = self._endless(self.loader(spec.batch_size, spec.views))
        augment = WorkJob(lambda: next(unhidden), self.device)
        jobs = {"pipeline": StepJob(model, lambda: next(batches), self.device),
                "model": StepJob(copy.deepcopy(model), lambda: views, self.device),
                "per-tensor": StepJob(copy.deepcopy(model), lambda: views, self.device, fused=False)}
        if model.generative:
            try:
                bare = BareELBO(model).to(self.device)
                check_bare(model, bare, views)
                jobs["bare"] = StepJob(bare, lambda: views, self.device)
            except SimveError as err:
                print(f"{name}: {err}", file=sys.stderr)
        matmul, matmul_flops = matmul_job(self.device)
        blocks = {key: job.block for key, job in {**jobs, "matmul": matmul, "augmentation": augment}.items()}
        self.rounds(blocks, spec.steps, f"{name}: step timing")
        n_views = views.shape[0] * views.shape[1]
        seconds = {key: job.median() for key, job in jobs.items()}
        flops = step_flops(jobs["model"].module, views)
        matmul_rate = matmul_flops / matmul.median()
        result = {
            "steps_per_s": {key: 1 / s for key, s in seconds.items()},
            "views_per_s": {key: n_views / s for key, s in seconds.items()},
            "ms_per_step": {"augmentation": 1e3 * augment.median(), "wait": 1e3 * jobs["pipeline"].median("batch"),
                            **{p: 1e3 * jobs["model"].median(p) for p in ("forward", "backward", "optimiser")}},
            "gflop_per_step": flops / 1e9,
            "model_gflops": flops / seconds["model"] / 1e9, "matmul_gflops": matmul_rate / 1e9,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        result["augmentation_share"] = augment.median() / seconds["pipeline"]
        result["matmul_fraction"] = result["model_gflops"] / result["matmul_gflops"]
        if "bare" in seconds:
            result["pipeline_vs_bare"] = seconds["bare"] / seconds["pipeline"]  # speed ratio: >= 0.95 is the target
            result["model_vs_bare"] = seconds["bare"] / seconds["model"]
        result["fused_speedup"] = seconds["per-tensor"] / seconds["model"]
        if spec.scaling:
            result["scaling"] = {knob: self.scaling(name, knob) for knob in SIZES}
        result["peak_rss_mb"] = peak_rss_mb()
        return result

    @staticmethod
    def _endless(loader: ViewLoader):
        while True:
            for views, _, _ in loader:
                yield views

    def scaling(self, name: str, knob: str) -> dict:
        """Model-step milliseconds at 4 sizes of ``knob`` (batch size or views), interleaved, and a line fit."""
        model = self.model(name)
        sizes = [s for s in SIZES[knob] if knob != "views" or s >= model.min_views]
        jobs = {}
        for size in sizes:
            shape = {"batch_size": self.spec.batch_size, "views": self.spec.views, knob: size}
            views = self.fixed_views(shape["batch_size"], shape["views"])
            try:
                model.loss(views)
            except SimveError:
                continue
            jobs[size] = StepJob(copy.deepcopy(model), lambda v=views: v, self.device)
        self.rounds({size: job.block for size, job in jobs.items()}, max(1, self.spec.steps // 2),
                    f"{name}: cost against {knob}")
        ms = {size: 1e3 * job.median() for size, job in jobs.items()}
        return {"ms_per_step": ms, **(fit_line(list(ms), list(ms.values())) if len(ms) >= 2 else {})}

    def evaluation(self, name: str) -> dict:
        """Seconds of each evaluation stage for a freshly built ``name`` (the cost does not depend on
        training): task sets, features of every split and transformed set, each probe over every task."""
        model = self.model(name).eval()
        clock = timer()
        tasks = build_tasks(self.data, seed=0)
        seconds = {"task sets": clock()}
        clock = timer()
        splits = {"train": self.data.train.images, "val": self.data.val.images, "test": self.data.test.images}
        features = {None: {s: embed_images(model, images) for s, images in splits.items()}}
        for image_set, parts in tasks.images.items():
            features[image_set] = {s: embed_images(model, images) for s, images in parts.items()}
        seconds["features"] = clock()
        for probe in PROBES:
            clock = timer()
            for task in tasks:
                parts = [task.select(s, features[task.images][s]) for s in ("train", "val", "test")]
                run_probe(probe, *parts)
            seconds[f"probe {probe}"] = clock()
        return {"seconds": seconds, "tasks": len(tasks)}


def timed_command(command: str, inspect=None) -> tuple[float, object]:
    """Wall seconds of the shell ``command`` (``{tmp}`` in it: a fresh empty folder), and what
    ``inspect(folder)`` reads from that folder before it is removed; a failure is one line."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run(command.replace("{tmp}", shlex.quote(tmp)), shell=True, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - start
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SimveError(f"{command!r} exited {done.returncode}: {tail}")
        return wall, inspect(Path(tmp)) if inspect else None


def _loop_seconds(folder: Path) -> float:
    """The training seconds the run in ``folder/run`` logged last."""
    return read_metrics(folder / "run")[-1]["time"]


def run_overhead(command: str) -> dict:
    """Wall seconds of one ``simve train`` process (``command``, writing ``{tmp}/run``) against the seconds
    its training loop logged: the rest is start-up, data, checkpoints, validation and figures."""
    wall, loop = timed_command(command, _loop_seconds)
    return {"command": command.replace(sys.executable, "python"), "wall_seconds": wall, "loop_seconds": loop, "overhead_seconds": wall - loop}


def in_turn(commands: dict, repeats: int, inspect=None) -> dict[object, list[tuple[float, object]]]:
    """The shell ``commands`` (key -> command) run one after the other, ``repeats`` rounds, so that a
    noisy machine slows each alike: per key, the (wall seconds, what ``inspect`` read) of each run."""
    runs = {key: [] for key in commands}
    for _ in range(repeats):
        for key, command in commands.items():
            runs[key].append(timed_command(command, inspect))
    return runs


def process_scaling(command: str, processes: int, repeats: int) -> dict:
    """One epoch of ``simve train`` (``command``, writing ``{tmp}/run``) on one process and on ``processes``
    (``--nproc``), in turn, ``repeats`` times each: wall and loop seconds, and the speed ratio of the
    medians (``loop_speedup`` > 1: the N processes train faster)."""
    timed = in_turn({count: f"{command} --nproc {count}" for count in (1, processes)}, repeats, _loop_seconds)
    runs = {count: {"wall": [wall for wall, _ in t], "loop": [loop for _, loop in t]} for count, t in timed.items()}
    medians = {count: {k: statistics.median(v) for k, v in times.items()} for count, times in runs.items()}
    return {"command": command.replace(sys.executable, "python"), "processes": processes,
            "seconds": {str(k): v for k, v in runs.items()}, "median_seconds": {str(k): v for k, v in medians.items()},
            "loop_speedup": medians[1]["loop"] / medians[processes]["loop"],
            "wall_speedup": medians[1]["wall"] / medians[processes]["wall"]}


def compare_commands(ours: str, theirs: str, repeats: int) -> dict:
    """Wall seconds of two commands run in turn (ours, theirs, ours, ...), each ``repeats`` times, and
    the ratio of their medians (``ours_speedup`` > 1: ours is faster)."""
    timed = in_turn({"ours": ours, "theirs": theirs}, repeats)
    times = {key: [wall for wall, _ in t] for key, t in timed.items()}
    medians = {key: statistics.median(t) for key, t in times.items()}
    return {"commands": {"ours": ours.replace(sys.executable, "python"), "theirs": theirs}, "seconds": times, "median_seconds": medians,
            "ours_speedup": medians["theirs"] / medians["ours"]}


# ------------------------------------------------------------------------------- the table


def _table(spec: BenchSpec, data, results: dict) -> str:
    lines = [(f"Data: {spec.data}, image shape {tuple(data.image_shape)}; {spec.batch_size} images x {spec.views} views "
             f"a step on {spec.device}; {spec.repeats} interleaved rounds of {spec.steps} steps after {spec.warmup} "
             f"warm-up steps, medians over rounds; torch {torch.__version__}, {torch.get_num_threads()} threads."), "",
             "## Training steps", "",
             ("Steps/s: `pipeline` = the training loop's step with its data (batches made one step ahead in a worker "
              "thread), `model` = the "
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


def default_ours(spec: BenchSpec, model: str | None = None) -> str:
    """One epoch of ``simve train`` of ``model`` (default: the first) at the bench's settings (its ``--set``
    options included), into the fresh folder ``{tmp}``."""
    model = model or spec.models[0]
    args = ["--model", model, "--data", spec.data, "--epochs", "1", "--batch-size", str(spec.batch_size),
            "--views", str(spec.views), "--device", spec.device]
    args += ["--data-root", spec.data_root] if spec.data_root else []
    args += ["--limit", str(spec.limit)] if spec.limit else []
    args += [part for key, value in spec.options.items() if key in option_hints(model)
             for part in ("--" + key.replace("_", "-"), str(value))]
    return shlex.join([sys.executable, "-m", "simve", "train", *args]) + " --out {tmp}/run"


def run_bench(spec: BenchSpec, command: str) -> str:
    """Time every model of ``spec``, write ``OUT/results.json`` and ``OUT/table.md``; returns the table."""
    unknown = [m for m in spec.models if m not in MODELS]
    if unknown:
        raise SimveError(f"unknown model {', '.join(unknown)}; choose from {', '.join(model_names())}")
    elapsed = timer()
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
    write_results(spec.out, f"simve bench: {spec.data}", command, elapsed(), table, results, meta)
    return table
