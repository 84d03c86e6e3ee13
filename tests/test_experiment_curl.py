"""simve experiment curl (Arora et al. 2019) on tiny settings: the data, the bound, the downstream gains."""

import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from simve.errors import SimveError
from simve.experiments import get_experiment
from simve.experiments.curl import RAW, SUPERVISED, UNTRAINED, Settings, run, run_seed
from simve.experiments.curl.data import LatentClasses, Objective
from simve.experiments.curl.measure import Heldout, contrastive_loss, mean_classifier_tasks, measure

TINY = Settings(classes=8, input_dim=64, hidden=32, feature_dim=8, negatives=(1, 4), blocks=(2,), curve_negatives=4,
                labels_per_class=(1, 5), steps=200, batch_size=64, heldout_per_class=60, heldout_tuples=2000, pairs=3,
                seeds=1)
K1, K4 = Objective(1).name, Objective(4).name


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("curl")
    return run(TINY, out, "simve experiment curl (tiny)"), out


def test_registered():
    assert get_experiment("curl").run is run


@pytest.mark.parametrize("skew", [0.0, 1.5])
def test_tau_is_the_collision_probability(skew):
    source = LatentClasses.draw(TINY.classes, 2, TINY.separation, skew, TINY.noise, torch.Generator().manual_seed(0))
    weights = torch.arange(1, 9, dtype=torch.float64) ** -skew
    assert source.tau == pytest.approx(float(((weights / weights.sum()) ** 2).sum()), rel=1e-6)
    if skew == 0:
        assert source.tau == pytest.approx(1 / 8)
    tuples = source.tuples(100_000, Objective(2), torch.Generator().manual_seed(1))
    rate = tuples.collides.double().mean()
    assert abs(rate - source.tau) < 4 * math.sqrt(source.tau * (1 - source.tau) / 200_000)


def test_tuples_and_the_block_loss():
    source = LatentClasses.draw(TINY.classes, TINY.input_dim, TINY.separation, TINY.class_skew, TINY.noise,
                                torch.Generator().manual_seed(0))
    batch = source.tuples(5, Objective(1, 3), torch.Generator().manual_seed(0))
    assert batch.anchor.shape == (5, 64) and batch.positives.shape == (5, 3, 64)
    assert batch.negatives.shape == (5, 1, 3, 64)
    f = torch.nn.Identity()
    margin = (batch.anchor * (batch.positives.mean(1) - batch.negatives[:, 0].mean(1))).sum(1)
    assert contrastive_loss(f, batch) == pytest.approx(float(F.softplus(-margin).mean()), rel=1e-5)


def test_mean_classifier_loss_by_hand():
    """L_sup^mu weighs the ordered pairs (c, c') by rho(c) rho(c') / (1 - tau); the loss is in bits."""
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5], [0.0, 3.0], [-1.0, 2.0]])
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    rho = torch.tensor([0.5, 0.3, 0.2])
    out = mean_classifier_tasks((x, y), (x, y), rho)
    means = torch.stack([x[y == c].mean(0) for c in range(3)])
    expected, accuracy = 0.0, 0.0
    for c in range(3):
        for other in range(3):
            if other != c:
                margin = x[y == c] @ (means[c] - means[other])
                weight = rho[c] * rho[other] / (1 - (rho**2).sum())
                expected += weight * F.softplus(-margin).mean() / math.log(2)
                accuracy += weight * (margin > 0).float().mean()
    assert out["L_sup_mu"] == pytest.approx(float(expected), rel=1e-5)
    assert out["two_way_mean"] == pytest.approx(float(accuracy), rel=1e-6)
    assert out["c_way_mean"] == pytest.approx(float(((x @ means.T).argmax(1) == y).float().mean()))


@pytest.mark.slow
def test_outputs_written(tiny_run):
    _, out = tiny_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["meta"]["settings"]["classes"] == 8 and saved["meta"]["command"] == "simve experiment curl (tiny)"
    assert set(saved["results"]["summary"]) == {K1, K4, Objective(1, 2).name, SUPERVISED, UNTRAINED, RAW}
    table = (out / "table.md").read_text()
    assert "| contrastive k=4 | mean |" in table and "What it shows:" in table
    for figure in ("sample_complexity.png", "negatives.png"):
        assert (out / figure).stat().st_size > 10_000


@pytest.mark.slow
def test_contrastive_features_help_the_mean_classifier(tiny_run):
    results, _ = tiny_run
    curves, summary = results["curves"], results["summary"]
    one_label = {name: curves[name]["mean"][0]["mean"] for name in (K4, UNTRAINED, RAW, SUPERVISED)}
    chance = 1 / TINY.classes
    assert one_label[K4] > 3 * chance  # one labelled point per class
    assert one_label[K4] > one_label[UNTRAINED] + 0.2
    assert one_label[K4] > one_label[RAW] + 0.05  # D = 64 noise dimensions hurt the raw input's class means
    for name in (K1, K4):
        assert summary[name]["c_way_mean"]["mean"] > summary[UNTRAINED]["c_way_mean"]["mean"] + 0.2
        assert summary[name]["L_un1"]["mean"] < summary[UNTRAINED]["L_un1"]["mean"]


def arora_bound(loss: float, tau: float) -> float:
    """Arora et al. (2019), Lemma 4.3 with k = 1 (the loss in bits, so l(0) = 1): L_sup^mu(f) <= (L_un(f) - tau) / (1 - tau)."""
    return (loss - tau) / (1 - tau)


@pytest.mark.slow
def test_the_bound_holds_on_heldout_data(tiny_run):
    """L_sup^mu <= (L_un - tau)/(1 - tau) for k = 1 (and blocks), for every f; up to 3 standard errors of L_un.
    The bound is written out here from the paper, with tau = 1/C (uniform classes), not read from the package."""
    results, _ = tiny_run
    tau = 1 / TINY.classes
    assert results["tau"] == pytest.approx(tau)
    for name, rows in results["per_seed"][0].items():
        bound, se = arora_bound(rows["L_un1"], tau), rows["L_un1_se"] / (1 - tau)
        assert rows["bound"] == pytest.approx(bound, rel=1e-9), name
        assert rows["L_sup_mu"] <= bound + 3 * se, name
        if name.startswith("contrastive block"):  # with the block's own loss, tighter than with its k = 1 loss
            block = arora_bound(rows["L_un"], tau)
            assert rows["bound_block"] == pytest.approx(block, rel=1e-9), name
            assert rows["L_sup_mu"] <= block + 3 * rows["L_un_se"] / (1 - tau), name
            assert block < bound, name
        # the two halves of the proof: same-class tuples cost at least l(0) = 1 bit, others at least L_sup^mu
        assert rows["L_un1_same_class"] > 1 - 0.05, name
        assert rows["L_un1_different_class"] >= rows["L_sup_mu"] - 3 * rows["L_un1_se"], name
    assert results["bound_check"]["holds"] == results["bound_check"]["cases"]


def _logistic_bits(v: torch.Tensor) -> torch.Tensor:
    """l(v) = log2(1 + sum_i exp(-v_i)) over the last axis, in float64."""
    return torch.log1p(torch.exp(-v.double()).sum(-1)) / math.log(2)


def test_the_bound_by_brute_force_with_skewed_classes():
    """measure() against the definitions computed tuple by tuple, for the raw input scaled by 0.1, on skewed
    classes (rho(c) ∝ c^-1.5, so tau is not 1/C): L_un with k = 2 negatives, L_un^(1), the block loss and the
    bound (L_un^(1) - tau)/(1 - tau) with tau = sum_c rho(c)^2 from rho's formula; and the bound holds."""
    classes, skew = 4, 1.5
    generator = torch.Generator().manual_seed(0)
    source = LatentClasses.draw(classes, 8, 3.0, skew, 1.0, generator)
    k2, block = Objective(2), Objective(1, 2)
    heldout = Heldout.draw(source, [k2, block], 40, 2, 2000, 2, generator)
    weights = [c ** -skew for c in range(1, classes + 1)]
    tau = sum((w / sum(weights)) ** 2 for w in weights)
    assert tau > 1 / classes + 0.1  # far from the uniform value

    def f(x):
        return 0.1 * x

    def by_hand(objective):
        t = heldout.tuples[objective]
        anchor, positives, negatives = (f(x.double()) for x in (t.anchor, t.positives, t.negatives))
        # v_i = f(x)^T (mean_j f(x+_j) - mean_j f(x-_ij)): the block means (b = 1: the points themselves)
        v = torch.einsum("nd,nkd->nk", anchor, positives.mean(1)[:, None] - negatives.mean(2))
        return float(_logistic_bits(v).mean())

    l_un1, l_un2, l_block = by_hand(Objective(1)), by_hand(k2), by_hand(block)
    assert l_un2 > l_un1 > l_block  # more negatives cost more; a block is less spread
    for objective, own in ((k2, l_un2), (block, l_block)):
        row = measure(f, objective, source, heldout, (1, 2), seed=0)
        assert row["L_un"] == pytest.approx(own, rel=1e-5) and row["L_un1"] == pytest.approx(l_un1, rel=1e-5)
        assert row["bound"] == pytest.approx(arora_bound(l_un1, tau), rel=1e-5)
        assert row["L_sup_mu"] <= arora_bound(l_un1, tau) + 3 * row["L_un1_se"] / (1 - tau)
    assert row["bound_block"] == pytest.approx(arora_bound(l_block, tau), rel=1e-5)


def test_the_bound_is_tight_for_the_constant_representation():
    """f = 0: every logistic loss is l(0) = 1 bit, so L_un = L_sup^mu = 1 and the bound (1 - tau)/(1 - tau) = 1:
    equality, for any tau."""
    generator = torch.Generator().manual_seed(1)
    source = LatentClasses.draw(5, 6, 3.0, 1.0, 1.0, generator)
    heldout = Heldout.draw(source, [Objective(3), Objective(1, 2)], 20, 2, 200, 1, generator)

    def zero(x):
        return 0 * x[..., :3]

    for objective in (Objective(3), Objective(1, 2)):
        row = measure(zero, objective, source, heldout, (1,), seed=0)
        own = math.log2(1 + objective.negatives)  # k negatives, all with v = 0
        assert row["L_un"] == pytest.approx(own) and row["L_un1"] == pytest.approx(1.0)
        assert row["L_sup_mu"] == pytest.approx(1.0) and row["bound"] == pytest.approx(1.0)
        assert row["L_un1_same_class"] == pytest.approx(1.0) and row["L_un1_different_class"] == pytest.approx(1.0)
    assert row["bound_block"] == pytest.approx(1.0)


@pytest.mark.slow
def test_reproducible_for_a_fixed_seed():
    small = replace(TINY, negatives=(2,), blocks=(), curve_negatives=2, steps=20, heldout_tuples=200,
                    heldout_per_class=20, labels_per_class=(1,), pairs=1)

    class Progress:
        def update(self):
            pass

    first, second = (run_seed(small, 3, Progress()) for _ in range(2))
    assert first[0] == second[0]
    assert run_seed(small, 4, Progress())[0][Objective(2).name] != first[0][Objective(2).name]


@pytest.mark.parametrize("bad", [
    {"classes": 1}, {"negatives": ()}, {"negatives": (0, 2)}, {"blocks": (1,)}, {"curve_negatives": 8},
    {"labels_per_class": ()}, {"noise": 0.0}, {"class_skew": -1.0}, {"pairs": 100}, {"seeds": 0},
    {"heldout_tuples": 5},
])
def test_bad_settings(bad, tmp_path):
    with pytest.raises(SimveError, match="curl: "):
        run(replace(TINY, **bad), tmp_path, "x")
    assert not any(tmp_path.iterdir())
