"""The four probes: accuracy where it must be high or at chance, selection on val only, exact
hand-checked cases (mean classifier, kNN), determinism, ``max_train`` and the errors."""

import math

import pytest
import torch

from simve.errors import SimveError
from simve.evaluate.probes import (
    L2_GRID,
    PROBES,
    _fit_logistic,
    _knn_votes,
    _subsample,
    _train_row_space,
    knn_probe,
    linear_probe,
    mean_classifier,
    mean_probe,
    mlp_probe,
    run_probe,
    run_probes,
)


def clusters(sizes, n_classes=3, d=8, spread=8.0, seed=0, weights=None):
    """Gaussian clusters (unit noise) around orthogonal means of norm ``spread``; equal norms make
    them separable for the mean classifier too (no bias). One ``(x, y)`` per size."""
    g = torch.Generator().manual_seed(seed)
    means = torch.linalg.qr(torch.randn(d, n_classes, generator=g))[0].T * spread
    probabilities = torch.ones(n_classes) if weights is None else torch.tensor(weights, dtype=torch.float)
    parts = []
    for n in sizes:
        y = torch.multinomial(probabilities, n, replacement=True, generator=g)
        parts.append((means[y] + torch.randn(n, d, generator=g), y))
    return parts


def circle(n, sectors, seed, flip=0.0):
    """Points on the unit circle labelled by alternating sectors; a fraction ``flip`` of labels flipped."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    y = (angle / (2 * math.pi / sectors)).long() % 2
    flipped = torch.rand(n, generator=g) < flip
    y = torch.where(flipped, 1 - y, y)
    return torch.stack([angle.cos(), angle.sin()], 1), y


def without_seconds(result):
    return {k: v for k, v in result.items() if k != "seconds"}


@pytest.mark.parametrize("weights", [None, [0.8, 0.15, 0.05]], ids=["balanced", "imbalanced"])
def test_every_probe_is_near_perfect_on_separable_clusters(weights):
    parts = clusters((300, 100, 200), weights=weights)
    for kind, result in run_probes(PROBES, *parts).items():
        assert result["test_accuracy"] >= 0.98, kind
        assert result["val_accuracy"] >= 0.98, kind
        assert set(result) >= {"test_accuracy", "val_accuracy", "chosen", "seconds"}
        assert result["seconds"] >= 0


def test_two_classes_with_arbitrary_integer_labels():
    parts = [(x, torch.where(y == 0, 7, -3)) for x, y in clusters((200, 60, 100), n_classes=2)]
    for kind in PROBES:
        assert run_probe(kind, *parts)["test_accuracy"] >= 0.98, kind


def test_random_labels_give_chance_on_test():
    g = torch.Generator().manual_seed(1)
    parts = [(torch.randn(n, 8, generator=g), torch.randint(0, 4, (n,), generator=g)) for n in (400, 200, 600)]
    for kind in PROBES:
        assert abs(run_probe(kind, *parts)["test_accuracy"] - 0.25) < 0.07, kind


@pytest.mark.parametrize("kind", PROBES)
def test_test_labels_and_features_never_reach_the_choice(kind):
    """No test leakage: the choice and val accuracy do not move when the test split changes."""
    train, val, test = clusters((200, 80, 100), d=4, spread=1.0)
    other_test = (torch.randn(150, 4), torch.randint(0, 3, (150,)))
    first, second = run_probe(kind, train, val, test), run_probe(kind, train, val, other_test)
    assert first["chosen"] == second["chosen"]
    assert first["val_accuracy"] == second["val_accuracy"]
    assert first.get("val_curve") == second.get("val_curve")


def test_linear_l2_is_chosen_on_val():
    """Separable but imbalanced train; a val set of majority-class labels placed on the minority side
    is classified right only by the penalty strong enough to flatten W (the bias then predicts the
    majority class), and a val set drawn like train is classified right only by the weak penalty."""
    train = clusters((400,), n_classes=2, weights=[0.7, 0.3])[0]
    like_train = clusters((400, 200), n_classes=2, weights=[0.7, 0.3])[1]
    minority_side = (like_train[0][like_train[1] == 1], torch.zeros(int((like_train[1] == 1).sum()), dtype=torch.long))
    grid = (1e-4, 30.0)
    shifted = linear_probe(train, minority_side, like_train, l2_grid=grid)
    assert shifted["chosen"] == {"l2": 30.0} and "l2" not in shifted and shifted["val_accuracy"] == 1.0
    usual = linear_probe(train, like_train, like_train, l2_grid=grid)
    assert usual["chosen"] == {"l2": 1e-4} and usual["val_accuracy"] == 1.0
    assert {c["l2"]: c["val_accuracy"] for c in usual["val_curve"]}[30.0] < 0.8


def test_linear_fit_in_the_train_row_space_predicts_like_the_full_fit():
    """Fewer points than dimensions: the fit on coordinates in the span of the training features
    gives the same logits on new points as the fit in all d dimensions (representer theorem)."""
    train, test = clusters((40, 200), n_classes=3, d=300, spread=3.0)
    (x, y), (x_test, _) = _train_row_space(train, test)
    assert x.shape == (40, 40) and x_test.shape == (200, 40)

    def logits(x_fit, x_new):
        one = torch.ones(1).expand(len(x_fit), 1), torch.ones(1).expand(len(x_new), 1)
        x1 = torch.cat([x_fit, one[0]], 1)
        theta = _fit_logistic(x1, x1.T.contiguous(), y, torch.zeros(x_fit.shape[1] + 1, 3), 1e-2, 100)
        return torch.cat([x_new, one[1]], 1) @ theta

    full, reduced = logits(train[0], test[0]), logits(x, x_test)
    assert torch.allclose(full, reduced, atol=1e-3 * full.abs().max())
    assert (full.argmax(1) == reduced.argmax(1)).float().mean() > 0.99


def reference_knn(queries, keys, key_labels, k, n_classes):
    """One query at a time: majority of the k most similar, then the larger similarity sum, then the lower class."""
    predictions = []
    for q in queries:
        similarity = [float(q @ key / (q.norm() * key.norm())) for key in keys]
        nearest = sorted(range(len(keys)), key=lambda i: -similarity[i])[:k]
        counts, sums = [0] * n_classes, [0.0] * n_classes
        for i in nearest:
            counts[int(key_labels[i])] += 1
            sums[int(key_labels[i])] += similarity[i]
        predictions.append(max(range(n_classes), key=lambda c: (counts[c], sums[c], -c)))
    return torch.tensor(predictions)


def test_knn_matches_a_brute_force_loop():
    g = torch.Generator().manual_seed(3)
    keys, queries = torch.randn(40, 5, generator=g), torch.randn(25, 5, generator=g)
    labels = torch.randint(0, 3, (40,), generator=g)
    ks = [1, 2, 3, 4, 5, 10, 40]
    normalise = torch.nn.functional.normalize
    fast = _knn_votes(normalise(queries, dim=1), normalise(keys, dim=1), labels, 3, ks, chunk=7)
    for row, k in zip(fast, ks):
        assert torch.equal(row, reference_knn(queries, keys, labels, k, 3)), k
    query_labels = torch.randint(0, 3, (25,), generator=g)
    result = knn_probe((keys, labels), (queries, query_labels), (queries, query_labels), ks=ks)
    for entry in result["val_curve"]:
        expected = (reference_knn(queries, keys, labels, entry["k"], 3) == query_labels).double().mean()
        assert entry["val_accuracy"] == pytest.approx(float(expected))
    test_labels = torch.randint(0, 3, (25,), generator=g)
    result = knn_probe((keys, labels), (queries, query_labels), (queries, test_labels), ks=ks)
    expected = (reference_knn(queries, keys, labels, result["chosen"]["k"], 3) == test_labels).double().mean()
    assert result["test_accuracy"] == pytest.approx(float(expected))


def test_knn_with_k1_on_train_equals_test_is_perfect():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(300, 6, generator=g), torch.randint(0, 5, (300,), generator=g)
    result = knn_probe((x, y), (x, y), (x, y), ks=(1,))
    assert result["test_accuracy"] == 1.0 and result["chosen"] == {"k": 1}


def test_knn_k_is_chosen_on_val():
    # Many narrow alternating sectors: only the nearest few neighbours share the label.
    narrow = knn_probe(circle(400, 40, 0), circle(300, 40, 1), circle(300, 40, 2))
    # Two halves with 30% of the train labels flipped: a large vote averages the noise out.
    noisy = knn_probe(circle(600, 2, 0, flip=0.3), circle(300, 2, 1), circle(300, 2, 2))
    for result in (narrow, noisy):
        best = max(c["val_accuracy"] for c in result["val_curve"])
        assert result["val_accuracy"] == best
        assert result["chosen"]["k"] == max(c["k"] for c in result["val_curve"] if c["val_accuracy"] == best)
    assert narrow["chosen"]["k"] <= 5 and narrow["val_accuracy"] > 0.85
    assert noisy["chosen"]["k"] >= 20 and noisy["val_accuracy"] > 0.95
    assert {c["k"]: c["val_accuracy"] for c in noisy["val_curve"]}[1] < 0.8


def test_mlp_chooses_the_best_wd_and_epoch_on_val():
    parts = clusters((300, 100, 100), d=6, spread=0.7, seed=5)
    result = mlp_probe(*parts, weight_decays=(1e-1, 1e-4), max_epochs=6, eval_every=2)
    curve = result["val_curve"]
    assert len(curve) == 2 * 3
    best = max(c["val_accuracy"] for c in curve)
    assert result["val_accuracy"] == best
    # Ties go to the fewer epochs, then the stronger decay.
    first = min((c for c in curve if c["val_accuracy"] == best), key=lambda c: (c["epochs"], -c["weight_decay"]))
    assert result["chosen"] == {"weight_decay": first["weight_decay"], "epochs": first["epochs"]}


def test_the_mlp_stops_once_val_stops_improving():
    parts = clusters((300, 100, 100), d=6, spread=8.0, seed=5)  # separable: perfect within a few epochs
    result = mlp_probe(*parts, max_epochs=200, eval_every=2, patience=3)
    assert result["val_accuracy"] == 1.0 and result["trained_epochs"] == result["chosen"]["epochs"] + 3 * 2
    assert "epochs" not in result["on_edge"]
    capped = mlp_probe(*clusters((300, 100, 100), d=6, spread=0.7, seed=5), max_epochs=2, eval_every=2)
    assert capped["trained_epochs"] == 2 and "epochs" in capped["on_edge"]


def test_choices_on_a_grid_edge_are_flagged():
    parts = clusters((300, 100, 100), d=6, spread=0.7, seed=5)
    linear = linear_probe(*parts, l2_grid=(1e-3,))
    assert linear["on_edge"] == []  # a grid of one value has no edge to cap it
    assert linear_probe(*parts, l2_grid=(1e-1, 1e-3))["on_edge"] == ["l2"]  # both values are ends
    knn = knn_probe(*parts, ks=(1, 3, 5))
    assert knn["on_edge"] == ([] if knn["chosen"]["k"] == 3 else ["k"])


def test_mean_classifier_by_hand():
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    y = torch.tensor([5, 5, 9, 9])
    assert torch.allclose(mean_classifier(x, torch.tensor([0, 0, 1, 1]), 2).float(), torch.tensor([[2.0, 0], [0, 3.0]]))
    # W_5 = (2, 0), W_9 = (0, 3). (1, 1): 2 < 3 -> 9 (l2-normalised features would tie); (2, 1): 4 > 3 -> 5;
    # (-1, -1): -2 > -3 -> 5 (raw features, no bias).
    queries = torch.tensor([[1.0, 1.0], [2.0, 1.0], [-1.0, -1.0]])
    assert mean_probe((x, y), (queries, torch.tensor([9, 5, 5])), (queries, torch.tensor([9, 5, 5])))["test_accuracy"] == 1.0
    wrong = mean_probe((x, y), (queries, torch.tensor([5, 9, 9])), (queries, torch.tensor([5, 9, 5])))
    assert wrong["val_accuracy"] == 0.0 and wrong["test_accuracy"] == pytest.approx(1 / 3)
    assert wrong["chosen"] == {}


@pytest.mark.parametrize("kind", PROBES)
def test_deterministic_given_the_seed(kind):
    parts = clusters((600, 100, 100), d=5, spread=1.0, seed=6)
    first = run_probe(kind, *parts, seed=3, max_train=200)
    assert without_seconds(first) == without_seconds(run_probe(kind, *parts, seed=3, max_train=200))


def test_max_train_subsample():
    y = torch.cat([torch.zeros(995, dtype=torch.long), torch.ones(3, dtype=torch.long), torch.full((2,), 2)])
    x = torch.arange(1000, dtype=torch.float)[:, None]
    xs, ys = _subsample(x, y, 3, seed=0, max_train=10)
    assert len(xs) == 10 and set(ys.tolist()) == {0, 1, 2}  # the rare classes kept
    assert len(set(xs[:, 0].tolist())) == 10 and torch.equal(y[xs[:, 0].long()], ys)  # real rows, no repeats
    assert torch.equal(_subsample(x, y, 3, seed=0, max_train=10)[0], xs)
    assert not torch.equal(_subsample(x, y, 3, seed=1, max_train=10)[0], xs)
    assert _subsample(x, y, 3, seed=0, max_train=None)[0] is x
    # Through the probes: kNN's k is capped at the training points actually used.
    parts = clusters((500, 100, 100), seed=7)
    assert run_probe("knn", *parts, max_train=4)["chosen"]["k"] <= 4
    assert run_probe("knn", *parts, max_train=None)["chosen"]["k"] > 4
    with pytest.raises(SimveError, match="max_train"):
        run_probe("mean", *parts, max_train=2)


def test_linear_probe_returns_its_choice():
    result = linear_probe(*clusters((100, 50, 50)))
    assert {"test_accuracy", "val_accuracy", "chosen"} <= set(result) and set(result["chosen"]) == {"l2"}
    # Separable clusters: every penalty of the path is right on val, so the tie goes to the strongest.
    assert result["chosen"] == {"l2": L2_GRID[0]} and result["val_accuracy"] == result["test_accuracy"] == 1.0
    assert [c["val_accuracy"] for c in result["val_curve"]] == [1.0] * 3  # stopped after two weaker ties


def _bad_inputs():
    (xt, yt), (xv, yv), (xs, ys) = clusters((30, 10, 10), d=4)
    return {
        "unknown probe": (("svm", (xt, yt), (xv, yv), (xs, ys)), "unknown probe"),
        "dimension": (("linear", (xt, yt), (xv[:, :3], yv), (xs, ys)), "feature dimensions differ"),
        "rows": (("mean", (xt, yt[:-1]), (xv, yv), (xs, ys)), "29 labels"),
        "unseen val": (("knn", (xt, yt), (xv, torch.full_like(yv, 7)), (xs, ys)), "val holds class"),
        "unseen test": (("mean", (xt[yt != 2], yt[yt != 2]), (xv[yv != 2], yv[yv != 2]), (xs, ys)), "test holds class"),
        "one class": (("mlp", (xt, torch.zeros_like(yt)), (xv, torch.zeros_like(yv)), (xs, ys)), "at least 2"),
        "float labels": (("linear", (xt, yt.float()), (xv, yv), (xs, ys)), "integer"),
        "1-d features": (("linear", (xt[:, 0], yt), (xv, yv), (xs, ys)), r"\(N, d\)"),
        "not a pair": (("linear", xt, (xv, yv), (xs, ys)), "pair"),
        "empty": (("knn", (xt, yt), (xv[:0], yv[:0]), (xs, ys)), "empty"),
        "nan": (("mean", (xt.clone().fill_(float("nan")), yt), (xv, yv), (xs, ys)), "NaN"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_errors_are_one_line(case):
    args, message = _bad_inputs()[case]
    with pytest.raises(SimveError, match=message) as err:
        run_probe(*args)
    assert "\n" not in str(err.value)


def test_run_probes_checks_every_kind_first():
    with pytest.raises(SimveError, match="'nope'"):
        run_probes(["mean", "nope"], *clusters((30, 10, 10)))


def test_the_l2_path_stops_after_two_weaker_penalties_score_below_the_best():
    parts = clusters((200, 100, 100), d=6, spread=0.7, seed=3)
    full = linear_probe(*parts, patience=99)["val_curve"]
    short = linear_probe(*parts)["val_curve"]
    assert short == full[: len(short)]  # the same fits, warm start for warm start, up to where it stopped
    scores = [c["val_accuracy"] for c in short]
    stopped = len(short) < len(full)
    assert not stopped or (scores[-1] <= max(scores[:-2]) and scores[-2] <= max(scores[:-2]))


# ------------------------------------------------------------------ val pulls one way, test the other


def minority_side_split():
    """Separable, imbalanced (70/30) train; ``like_train`` drawn like it; ``minority_side``: the
    minority points of ``like_train`` relabelled as the majority class. A weak penalty separates the
    classes (right on ``like_train``, wrong on ``minority_side``); a penalty strong enough to flatten
    the weights leaves the unpenalised bias, which predicts the majority class (the reverse)."""
    train = clusters((400,), n_classes=2, weights=[0.7, 0.3])[0]
    like_train = clusters((400, 200), n_classes=2, weights=[0.7, 0.3])[1]
    on_minority = like_train[1] == 1
    return train, like_train, (like_train[0][on_minority], torch.zeros(int(on_minority.sum()), dtype=torch.long))


def readings(result):
    """``{hyper-parameter values: val accuracy}`` from a probe's ``val_curve``, keyed like ``chosen``."""
    return {tuple(entry[k] for k in result["chosen"]): entry["val_accuracy"] for entry in result["val_curve"]}


def assert_chosen_on_val(probe, train, a, b, expected_a, expected_b, **options):
    """Split ``a`` favours the setting ``expected_a`` and ``b`` favours ``expected_b``. Run with
    (val, test) = (a, b), then (b, a): each run must choose what its val favours, and report as test
    accuracy the other run's val reading of that same choice on the same split, which is below that
    split's best reading (so selecting on test would have chosen otherwise)."""
    on_a, on_b = probe(train, a, b, **options), probe(train, b, a, **options)
    assert on_a["chosen"] == expected_a and on_b["chosen"] == expected_b
    for result, split, own, other in ((on_a, b, on_a, on_b), (on_b, a, on_b, on_a)):
        chosen = tuple(result["chosen"].values())
        assert result["val_accuracy"] == readings(own)[chosen] == max(readings(own).values())
        # The test split scored once, with the model chosen on val (1/N: float rounding may flip one argmax).
        assert result["test_accuracy"] == pytest.approx(readings(other)[chosen], abs=1 / len(split[1]) + 1e-12)
        assert readings(other)[chosen] < max(readings(other).values()) - 2 / len(split[1])


def test_linear_chooses_l2_on_val_where_test_favours_another():
    train, like_train, minority_side = minority_side_split()
    assert_chosen_on_val(linear_probe, train, minority_side, like_train, {"l2": 30.0}, {"l2": 1e-4},
                         l2_grid=(1e-4, 30.0))


def test_mlp_chooses_weight_decay_and_epochs_on_val_where_test_favours_others():
    """A strong decay flattens the weights within a few epochs: early it separates the classes, later
    the bias predicts the majority class; a weak decay keeps separating them."""
    train, like_train, minority_side = minority_side_split()
    options = {"weight_decays": (10.0, 1e-4), "max_epochs": 8, "patience": 100, "batch_size": 64, "lr": 1e-2}
    assert_chosen_on_val(mlp_probe, train, minority_side, like_train, {"weight_decay": 10.0, "epochs": 4},
                         {"weight_decay": 1e-4, "epochs": 2}, **options)


def test_mlp_chooses_epochs_on_val_where_test_favours_others():
    """One strong decay: only the epoch count is chosen (early: the classes separated; later: flattened)."""
    train, like_train, minority_side = minority_side_split()
    options = {"weight_decays": (10.0,), "max_epochs": 8, "patience": 100, "batch_size": 64, "lr": 1e-2}
    assert_chosen_on_val(mlp_probe, train, minority_side, like_train, {"weight_decay": 10.0, "epochs": 4},
                         {"weight_decay": 10.0, "epochs": 2}, **options)


def test_knn_chooses_k_on_val_where_test_favours_another():
    """Two halves of the circle, 30% of the train labels flipped: a split labelled by the 1-NN vote
    (noise included) favours k = 1, a cleanly labelled split favours a large vote."""
    train = circle(600, 2, 0, flip=0.3)
    clean = circle(300, 2, 1)
    points = circle(300, 2, 2)[0]
    normalise = torch.nn.functional.normalize
    one_nn = _knn_votes(normalise(points, dim=1), normalise(train[0], dim=1), train[1], 2, [1], chunk=1024)[0]
    ks = (1, 50)
    assert_chosen_on_val(knn_probe, train, (points, one_nn), clean, {"k": 1}, {"k": 50}, ks=ks)


# ------------------------------------------------------------------ the MLP beyond a linear probe


def xor(n, seed):
    """2-D points in the four quadrants (kept 0.1 away from the axes), labelled by sign(x y)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g) * 2 - 1
    x = x + 0.1 * x.sign()
    return x, (x[:, 0] * x[:, 1] > 0).long()


def test_the_mlp_solves_xor_where_a_linear_probe_is_at_chance():
    parts = [xor(n, seed) for n, seed in ((400, 0), (200, 1), (400, 2))]
    assert abs(float(parts[2][1].double().mean()) - 0.5) < 0.05  # balanced: chance is 1/2
    mlp = mlp_probe(*parts, max_epochs=30, batch_size=64)
    linear = linear_probe(*parts)
    assert mlp["val_accuracy"] > 0.95 and mlp["test_accuracy"] > 0.95
    assert abs(linear["test_accuracy"] - 0.5) < 0.1 and linear["val_accuracy"] < 0.65


# ------------------------------------------------------------------ exact values on tiny hand-built data


def test_every_probe_is_exactly_right_on_a_hand_built_separable_set():
    """Three classes at 0, 120 and 240 degrees (radius 3, jitter 0.3): separable by a linear map, by
    the class means without bias (argmax of the dot product = the nearest direction) and by cosine kNN."""
    g = torch.Generator().manual_seed(8)

    def split(per_class):
        y = torch.arange(3).repeat_interleave(per_class)
        angle = y * 2 * math.pi / 3
        x = 3 * torch.stack([angle.cos(), angle.sin()], 1) + 0.3 * torch.randn(len(y), 2, generator=g)
        return x, y

    parts = [split(10), split(5), split(7)]
    options = {"mlp": {"batch_size": 8, "max_epochs": 40}}
    for kind, probe in (("linear", linear_probe), ("mlp", mlp_probe), ("knn", knn_probe), ("mean", mean_probe)):
        result = probe(*parts, **options.get(kind, {}))
        assert result["val_accuracy"] == 1.0 and result["test_accuracy"] == 1.0, kind


def test_the_mean_probe_predicts_the_hand_computed_argmax_of_the_class_means():
    g = torch.Generator().manual_seed(9)
    (x, y), (x_val, _), (x_test, y_test) = [(torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g))
                                            for n in (30, 20, 25)]
    means = [[sum(float(x[i, j]) for i in range(30) if y[i] == c) / int((y == c).sum()) for j in range(4)]
             for c in range(3)]
    assert torch.allclose(mean_classifier(x, y, 3), torch.tensor(means, dtype=torch.float64), atol=1e-6)

    def by_hand(points):
        return torch.tensor([max(range(3), key=lambda c: sum(means[c][j] * float(p[j]) for j in range(4)))
                             for p in points])

    result = mean_probe((x, y), (x_val, by_hand(x_val)), (x_test, y_test))
    assert result["val_accuracy"] == 1.0  # val labelled by the hand-computed predictions
    assert result["test_accuracy"] == pytest.approx(float((by_hand(x_test) == y_test).double().mean()))
    assert 0 < result["test_accuracy"] < 1  # random labels: the check above is not trivially 0 or 1
