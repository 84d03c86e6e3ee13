"""Pyro's own time per SimVE step: the Pyro step against the bare plain-torch step on nets of almost no work.

    python -m scripts.time_pyro_overhead [--rounds 9]   (from the repository root)

SimVE (64 images x 2 views) on 4x4 images with ``net=mlp-tiny``, where the arithmetic is a few
microseconds, and the bare step of the same nets and objective (``simve.timing.bare``: no Pyro): the
difference is what Pyro's traces, messengers and distributions add to every step, whatever the nets
(a fixed cost; ``simve timing`` sets it against a real step as the model / bare ratio). Forward alone
and forward plus backward, interleaved rounds, medians; Pyro's validation on (its default) and off.
"""

from __future__ import annotations

import argparse

import pyro
import torch

from simve.models import build_model
from simve.timing.bare import BareELBO
from simve.timing.jobs import WorkJob

CALLS = 200  # calls per timed block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model("simve", (1, 4, 4), net="mlp-tiny")
    bare = BareELBO(model)
    views = (torch.rand(64, 2, 1, 4, 4) > 0.5).float()

    def pyro_job(checks: bool, backward: bool):
        def job():
            with pyro.validation_enabled(checks):
                loss = model.loss(views)
            if backward:
                loss.backward()
        return job

    def bare_job(backward: bool):
        return (lambda: bare.loss(views).backward()) if backward else (lambda: bare.loss(views))

    works = {f"{name} {part}": work for part, backward in (("forward", False), ("forward+backward", True))
             for name, work in (("pyro", pyro_job(True, backward)), ("pyro, no validation", pyro_job(False, backward)),
                                ("bare", bare_job(backward)))}
    jobs = {name: WorkJob(work, torch.device("cpu")) for name, work in works.items()}
    for job in jobs.values():
        job.block(20, record=False)
    for _ in range(args.rounds):
        for job in jobs.values():
            job.block(CALLS)
    median = {name: 1e3 * job.median() for name, job in jobs.items()}
    print(f"torch {torch.__version__}, pyro {pyro.__version__}, {torch.get_num_threads()} threads; ms per call, "
          f"medians of {args.rounds} rounds")
    for part in ("forward", "forward+backward"):
        base = median[f"bare {part}"]
        for name in ("pyro", "pyro, no validation", "bare"):
            value = median[f"{name} {part}"]
            extra = "" if name == "bare" else f"  (+{value - base:.3f} ms over bare)"
            print(f"{part:17s} {name:20s} {value:7.3f}{extra}")


if __name__ == "__main__":
    main()
