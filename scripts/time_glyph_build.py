"""Time building the glyph dataset: 60,000 gray 28x28 and 60,000 RGB 32x32 images.

The first build in a process also renders the high-resolution distance fields once; that
one-off cost is timed on its own, then each variant is built ``--repeats`` times.

    PYTHONPATH=. python scripts/time_glyph_build.py [--n 60000] [--repeats 5]
"""

import argparse
import statistics
import time

import torch

from simve.data import glyphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="images per build")
    parser.add_argument("--repeats", type=int, default=5, help="timed builds per variant")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}")

    start = time.perf_counter()
    glyphs._atlas()
    print(f"one-off high-resolution rendering: {time.perf_counter() - start:.2f} s")

    for rgb in (False, True):
        seconds = []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            glyphs.render_glyphs(args.n, rgb=rgb, seed=repeat)
            seconds.append(time.perf_counter() - start)
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        median = statistics.median(seconds)
        name = "rgb 32x32" if rgb else "gray 28x28"
        print(f"{name}: median {median:.2f} s over {args.repeats} builds ({runs})")


if __name__ == "__main__":
    main()
