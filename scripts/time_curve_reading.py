"""What one learning-curve reading costs on a trained run, against an epoch of its training.

    python -m scripts.time_curve_reading RUN [--repeats 3]   (from the repository root)

Times ``simve.evaluate.curve.CurveReader`` (the features of at most 2,000 train images, of the validation
split and of their transformed copies, then the linear probe on every task) on the finished run in
``RUN``, ``--repeats`` times after one untimed call that builds the task sets, and prints the median.
``simve timing`` times the same reading on an untrained model, whose probes converge in fewer
L-BFGS iterations. Beside it, the run's own seconds per epoch (from its ``metrics.jsonl``, measured when
it trained, possibly on a busier or quieter day) and what its curve schedule's readings add at that rate.
"""

from __future__ import annotations

import argparse
import statistics

from simve.evaluate.curve import CurveReader, schedule_cost
from simve.runs import timer
from simve.train import curve_epochs, read_metrics
from simve.train.loop import load_trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config, data, model = load_trained(args.run)
    reader = CurveReader(seed=config.seed, perturbed_bins=config.style_bins)
    reader(model, data)  # builds the task sets once, as the first reading of a run does
    seconds = []
    for _ in range(args.repeats):
        clock = timer()
        reader(model, data)
        seconds.append(clock())
    reading = statistics.median(seconds)
    epochs = [r for r in read_metrics(args.run) if "train_loss" in r]
    epoch = epochs[-1]["time"] / epochs[-1]["epoch"]
    readings = len(curve_epochs("doubling", config.epochs))
    print(f"{config.model} on {config.data}, epoch {config.epochs}: a reading {reading:.2f} s (median of "
          f"{args.repeats}: {', '.join(f'{s:.2f}' for s in seconds)}); an epoch {epoch:.2f} s when it trained; "
          f"{readings} readings in {config.epochs} epochs add {100 * schedule_cost(reading, epoch, config.epochs):.1f} %")


if __name__ == "__main__":
    main()
