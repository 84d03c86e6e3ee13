"""Seconds and accuracies of the four probes, torch (simve) against scikit-learn, same protocol.

    python -m scripts.time_probes [--dims 10 64 160 500] [--repeats 3] [--data gauss fashion]
                                      [--no-sklearn]                  (from the repository root)

Both sides select on the same val split over the same grids and score test once:
linear l2 in ``L2_GRID`` (sklearn ``LogisticRegression(lbfgs, C = 1 / (2 l2 n))``, warm-started,
100 iterations like simve), mlp 256 ReLU units with Adam, batch 512, lr 2e-3, 20 epochs, val every
2 epochs, penalty in ``WEIGHT_DECAY_GRID`` (sklearn ``MLPClassifier.partial_fit`` one epoch at a
time, ``alpha = wd * batch``, which is the same penalty), knn k in ``K_GRID`` on cosine
similarity (sklearn brute-force ``NearestNeighbors(metric="cosine")`` queried once with the
largest k, votes in numpy), mean classifier (numpy). Times are medians over ``--repeats``.

Data, 10 classes: ``gauss``: train 10,000, val 1,000, test 5,000 of ``tanh(A z) + noise`` with
``z`` from a 16-d Gaussian mixture, ``A`` a random ``16 x d`` map; ``fashion``: FashionMNIST pixels
of ../shared/data through a random ReLU projection to ``d`` (train 7,517, val 1,000, test 4,443,
the size of the offline subset).

Measured (2-core shared CPU, torch 2.13, sklearn 1.9.1, ``--repeats 3``, seconds, torch | sklearn):

    d     linear        mlp           knn           mean          all four (torch)
    gauss (train 10,000)
    10    0.14 | 0.17   0.62 | 1.23   0.20 | 0.75   0.005 | 0.001   0.97
    64    0.46 | 1.91   0.88 | 1.65   0.18 | 1.38   0.005 | 0.001   1.53
    160   0.84 | 3.02   1.07 | 1.99   0.28 | 1.54   0.011 | 0.003   2.19
    500   2.08 | 6.14   1.84 | 3.31   0.35 | 1.61   0.028 | 0.007   4.30
    fashion (train 7,517)
    500   2.01 | 8.39   1.22 | 2.25   0.20 | 0.44   0.021 | 0.004   3.45

Test accuracies agree to within 0.001 for linear, knn and mean (same choices) and within 0.008 for
the mlp (torch >= sklearn in 7 of 8 settings); the mean classifier's numpy edge is < 0.03 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from simve.evaluate.probes import (
    K_GRID,
    L2_GRID,
    MLP_BATCH_SIZE,
    MLP_EVAL_EVERY,
    MLP_HIDDEN,
    MLP_LR,
    MLP_MAX_EPOCHS,
    PROBES,
    WEIGHT_DECAY_GRID,
    run_probe,
)

FASHION = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fashionmnist" / "fashionmnist.npz"
EPOCHS, EVAL_EVERY, BATCH, HIDDEN, LR = MLP_MAX_EPOCHS, MLP_EVAL_EVERY, MLP_BATCH_SIZE, MLP_HIDDEN, MLP_LR


def gauss(d: int, seed: int = 0, sizes=(10_000, 1_000, 5_000), n_classes: int = 10):
    g = torch.Generator().manual_seed(seed)
    means, lift = torch.randn(n_classes, 16, generator=g), torch.randn(16, d, generator=g) / 4
    parts = []
    for n in sizes:
        y = torch.randint(0, n_classes, (n,), generator=g)
        z = means[y] + torch.randn(n, 16, generator=g)
        parts.append((torch.tanh(z @ lift) + 0.3 * torch.randn(n, d, generator=g), y))
    return parts


def fashion(d: int, seed: int = 0):
    if not FASHION.exists():
        return None
    data = np.load(FASHION)
    g = torch.Generator().manual_seed(seed)
    project = torch.randn(784, d, generator=g) / 28

    def features(x):
        return torch.relu(torch.from_numpy(x.reshape(len(x), -1)).float() / 255 @ project)

    x, y = features(data["x_train"]), torch.from_numpy(data["y_train"]).long()
    order = torch.randperm(len(x), generator=g)
    val, train = order[:1000], order[1000:]
    return [(x[train], y[train]), (x[val], y[val]), (features(data["x_test"]), torch.from_numpy(data["y_test"]).long())]


# ---------------------------------------------------------------------------------------------- sklearn


def _np(parts):
    return [(x.numpy(), y.numpy()) for x, y in parts]


def sk_linear(train, val, test):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    (xt, yt), (xv, yv), (xs, ys) = _np([train, val, test])
    mean, scale = xt.mean(0), np.maximum(xt.std(0, ddof=1), 1e-6)
    xt, xv, xs = ((x - mean) / scale for x in (xt, xv, xs))
    model = LogisticRegression(max_iter=100, warm_start=True)
    best = None
    for l2 in sorted(L2_GRID, reverse=True):
        model.set_params(C=1 / (2 * l2 * len(xt)))
        with warnings.catch_warnings():  # 100 iterations, as simve; both stop there for weak penalties
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xt, yt)
        accuracy = (model.predict(xv) == yv).mean()
        if best is None or accuracy > best[0]:
            best = (accuracy, l2, model.coef_.copy(), model.intercept_.copy())
    accuracy, l2, coef, intercept = best
    return float(((xs @ coef.T + intercept).argmax(1) == ys).mean()), float(accuracy), {"l2": l2}


def sk_mlp(train, val, test):
    from sklearn.neural_network import MLPClassifier

    (xt, yt), (xv, yv), (xs, ys) = _np([train, val, test])
    mean, scale = xt.mean(0), np.maximum(xt.std(0, ddof=1), 1e-6)
    xt, xv, xs = ((x - mean) / scale for x in (xt, xv, xs))
    classes, best = np.unique(yt), None
    for wd in sorted(WEIGHT_DECAY_GRID, reverse=True):
        model = MLPClassifier((HIDDEN,), alpha=wd * BATCH, batch_size=BATCH, learning_rate_init=LR, random_state=0)
        for epoch in range(1, EPOCHS + 1):
            model.partial_fit(xt, yt, classes=classes)
            if epoch % EVAL_EVERY == 0:
                accuracy = (model.predict(xv) == yv).mean()
                if best is None or accuracy > best[0]:
                    best = (accuracy, {"weight_decay": wd, "epochs": epoch}, (model.predict(xs) == ys).mean())
    return float(best[2]), float(best[0]), best[1]  # test predictions stored only for the running best


def sk_knn(train, val, test):
    from sklearn.neighbors import NearestNeighbors

    (xt, yt), (xv, yv), (xs, ys) = _np([train, val, test])
    n_classes = int(yt.max()) + 1
    search = NearestNeighbors(metric="cosine", algorithm="brute").fit(xt)

    def votes(x, ks):
        distance, neighbours = search.kneighbors(x, n_neighbors=max(ks))
        onehot = np.eye(n_classes)[yt[neighbours]]
        counts = onehot.cumsum(1)[:, np.array(ks) - 1]
        weight = (onehot * (1 - distance)[..., None]).cumsum(1)[:, np.array(ks) - 1]
        return (counts + weight / (2 * np.array(ks)[:, None] + 1)).argmax(2).T

    ks = sorted({min(k, len(xt)) for k in K_GRID})
    accuracies = (votes(xv, ks) == yv).mean(1)
    accuracy, k = max(zip(accuracies, ks))
    return float((votes(xs, [k])[0] == ys).mean()), float(accuracy), {"k": k}


def np_mean(train, val, test):
    (xt, yt), (xv, yv), (xs, ys) = _np([train, val, test])
    weights = np.stack([xt[yt == c].mean(0) for c in range(int(yt.max()) + 1)])
    return float(((xs @ weights.T).argmax(1) == ys).mean()), float(((xv @ weights.T).argmax(1) == yv).mean()), {}


SKLEARN = {"linear": sk_linear, "mlp": sk_mlp, "knn": sk_knn, "mean": np_mean}


def timed(repeats: int, job, *args):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = job(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 64, 160, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", nargs="+", default=["gauss", "fashion"], choices=["gauss", "fashion"])
    parser.add_argument("--probes", nargs="+", default=list(PROBES), choices=PROBES)
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args(argv)
    run_probe("linear", *gauss(8, sizes=(200, 50, 50)))  # warm-up: first-call costs of torch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}")
    print(f"{'data':8} {'d':>4} {'probe':7} {'torch s':>8} {'sk s':>8} {'torch val/test':>15} {'sk val/test':>13}"
          f"  chosen torch | sklearn")
    for name in args.data:
        for d in args.dims:
            parts = gauss(d) if name == "gauss" else fashion(d)
            if parts is None:
                print(f"{name}: {FASHION} not found, skipped")
                break
            total = 0.0
            for probe in args.probes:
                seconds, r = timed(args.repeats, run_probe, probe, *parts)
                total += seconds
                line = f"{name:8} {d:4} {probe:7} {seconds:8.3f} "
                if args.no_sklearn:
                    line += f"{'':8} {r['val_accuracy']:7.3f}/{r['test_accuracy']:.3f}"
                    print(line + f"  {r['chosen']}", flush=True)
                    continue
                sk_seconds, (sk_test, sk_val, sk_chosen) = timed(args.repeats, SKLEARN[probe], *parts)
                line += f"{sk_seconds:8.3f} {r['val_accuracy']:7.3f}/{r['test_accuracy']:.3f} {sk_val:7.3f}/{sk_test:.3f}"
                print(line + f"  {r['chosen']} | {sk_chosen}", flush=True)
            print(f"{name:8} {d:4} {'all 4':7} {total:8.3f}  (torch)", flush=True)


if __name__ == "__main__":
    main()
