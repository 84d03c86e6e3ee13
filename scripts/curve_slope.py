"""How fast each row of a benchmark still learns: a least-squares slope of its validation content per doubling of steps.

    python -m scripts.curve_slope RESULTS [RESULTS ...] [--doublings 3]   (from the repository root)

The table's rise over the last doubling is the difference of two single validation readings, each of which
wanders by 1-2 points on a small validation split. This fits, for every seed of every row, the line
``content = a + b log2(step)`` by least squares through the readings of the last ``--doublings`` doublings of
steps (``step >= last step / 2**doublings``) and prints ``b`` in points per doubling: every reading there
counts, so one noisy reading moves it less. It reads a benchmark folder's ``results.json`` (its ``curves``,
validation only); it changes nothing and is not the table's rule (``simve.evaluate.curve.last_doubling``).
"""

from __future__ import annotations

import argparse
import math

import numpy

from simve.benchmark import read_benchmark
from simve.errors import SimveError
from simve.stats import mean_std


def window(points: list[dict], doublings: int) -> list[dict]:
    """The readings of the last ``doublings`` doublings of steps: ``step >= last step / 2**doublings``."""
    return [p for p in points if p["step"] >= points[-1]["step"] / 2**doublings] if points else []


def log2_slope(points: list[dict], doublings: int = 3, key: str = "content") -> float | None:
    """The least-squares slope of ``key`` on ``log2(step)``, in points (x 100) per doubling, over the readings
    of :func:`window`; None with fewer than three of them. On a curve that bends over (concave in log steps)
    it is the mean rate over the window, above the rate at its end."""
    kept = [(math.log2(p["step"]), 100 * p[key]) for p in window(points, doublings) if p[key] is not None]
    if len(kept) < 3:
        return None
    log_steps, values = zip(*kept)
    return float(numpy.polyfit(log_steps, values, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="folders that simve benchmark --out wrote")
    parser.add_argument("--doublings", type=int, default=3, help="fit over the readings of the last N doublings of steps")
    args = parser.parse_args()
    if args.doublings < 1:
        parser.error(f"--doublings must be at least 1, got {args.doublings}")
    for folder in args.results:
        try:
            meta, _, curves = read_benchmark(folder)
        except SimveError as error:
            parser.error(str(error))
        print(f"{folder} ({meta.get('epochs')} epochs): validation content, points per doubling of steps over the "
              f"last {args.doublings} doublings")
        for row, runs in curves.items():
            slopes = [log2_slope(points, args.doublings) for points in runs]
            known = [s for s in slopes if s is not None]
            if not known:
                print(f"  {row}: too few readings")
                continue
            stats = mean_std(known)
            seeds = ", ".join("-" if s is None else f"{s:+.1f}" for s in slopes)
            print(f"  {row}: {stats['mean']:+.1f} ± {stats['std']:.1f} (seeds {seeds}; "
                  f"{len(window(runs[0], args.doublings))} readings)")


if __name__ == "__main__":
    main()
