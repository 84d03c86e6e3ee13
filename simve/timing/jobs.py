"""What ``simve timing`` times in one process: blocks of steps run in turn, and the per-model measurements."""

from __future__ import annotations

import copy
import resource
import statistics
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from simve.data import MultiView, ViewLoader, load_dataset, preset
from simve.errors import SimveError
from simve.evaluate.batches import embed_images
from simve.evaluate.curve import CurveReader
from simve.evaluate.probes import PROBES, run_probe
from simve.evaluate.tasks import build_tasks
from simve.models import build_model, option_hints
from simve.runs import parse_variant, timer
from simve.timing.bare import BareELBO, check_bare
from simve.train import choose_device, make_optimizer, place

if TYPE_CHECKING:
    from simve.timing import TimingSpec

SIZES = {"batch_size": (16, 32, 64, 128), "views": (2, 4, 6, 8)}  # the sizes of the cost-against-N-and-J fits

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


def endless_views(loader: ViewLoader):
    """The views of ``loader``'s batches, epoch after epoch, for ever."""
    while True:
        for views, _, _ in loader:
            yield views


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
    def __init__(self, spec: TimingSpec):
        self.spec = spec
        self.device = choose_device(spec.device)
        self.data = load_dataset(spec.data, spec.data_root, limit=spec.limit)

    def loader(self, batch_size: int, views: int, seed: int = 0, prefetch: bool | None = False) -> ViewLoader:
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
        batches = endless_views(self.loader(spec.batch_size, spec.views, prefetch=None))  # as the loop's loader
        unhidden = endless_views(self.loader(spec.batch_size, spec.views))
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
        training): task sets, features of every split and transformed set, each probe over every task;
        and of one reading of its learning curve."""
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
        clock = timer()
        CurveReader(seed=0)(model, self.data)  # what one reading of a learning curve costs the loop
        return {"seconds": seconds, "tasks": len(tasks), "curve_reading_seconds": clock()}


