"""What one learning-curve reading costs on a trained run, against an epoch of its training, side by side.

    python -m scripts.time_curve_reading RUN [--repeats 3] [--epochs E]   (from the repository root)

On the finished run in ``RUN``, in turn (after one untimed call of each): a reading of
``simve.evaluate.curve.CurveReader`` (the features of at most 2,000 train images, of the validation split
and of their transformed copies, then the linear probe on every task) and an epoch of the run's training
steps (its loader, views and batch size, Adam on a copy of the trained model), ``--repeats`` rounds. Both
are measured in the same rounds, so a busy or quiet machine slows them alike. It prints their medians and
what the doubling schedule adds at that ratio to a run of ``--epochs`` epochs (default: the run's own; a
reading costs about the same early and late in training, so a short run can stand for a long one), and
beside it the share the run itself recorded when it trained (the probe seconds of its ``curve.jsonl``
against its training seconds), where it read a curve. ``simve timing`` times the same reading on an
untrained model, whose probes converge in fewer L-BFGS iterations.
"""

from __future__ import annotations

import argparse
import copy

import torch

from simve.data import ViewLoader
from simve.evaluate.curve import CurveReader, curve_points, schedule_cost
from simve.timing.jobs import StepJob, WorkJob, endless_views
from simve.train import curve_epochs, read_curve, read_metrics
from simve.train.loop import load_trained


def recorded_share(run: str) -> str:
    """The curve's cost as the run logged it: its readings' probe seconds over its training seconds."""
    points = curve_points(read_curve(run))
    logged = [r for r in read_metrics(run) if "train_loss" in r]
    if not points or not logged:
        return "the run read no curve while it trained"
    probe, training = sum(p["probe_seconds"] for p in points), logged[-1]["time"]
    return (f"when it trained, its {len(points)} readings took {probe:.1f} s against {training:.0f} s of "
            f"training: {100 * probe / training:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="the budget to state the schedule's cost for (default: the run's)")
    args = parser.parse_args()
    config, data, model = load_trained(args.run, device="cpu")
    epochs = args.epochs or config.epochs
    reader = CurveReader(seed=config.seed, perturbed_bins=config.style_bins)
    loader = ViewLoader(data.train, config.multiview(data), config.batch_size, seed=config.seed)
    batches = endless_views(loader)
    steps = len(loader)
    trainer = StepJob(copy.deepcopy(model).train(), lambda: next(batches), torch.device("cpu"))
    reading = WorkJob(lambda: reader(model, data), torch.device("cpu"))
    for job, count in ((reading, 1), (trainer, steps)):
        job.block(count, record=False)  # the first reading builds the task sets, as a run's first does
    for _ in range(args.repeats):
        reading.block(1)
        trainer.block(steps)
    reading_s, epoch_s = reading.median(), steps * trainer.median()
    readings = len(curve_epochs("doubling", epochs))
    print(f"{config.model} on {config.data}, epoch {config.epochs}: a reading {reading_s:.2f} s "
          f"({', '.join(f'{s:.2f}' for s in reading.times)}), an epoch of {steps} steps {epoch_s:.2f} s "
          f"(medians of {args.repeats} rounds in turn); {readings} readings in {epochs} epochs add "
          f"{100 * schedule_cost(reading_s, epoch_s, epochs):.1f} %; {recorded_share(args.run)}")


if __name__ == "__main__":
    main()
