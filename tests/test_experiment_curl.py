"""simve experiment curl (Arora et al. 2019) on tiny settings: the data, the bound, the downstream gains."""

import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from simve.data.latent_classes import LatentClasses, Objective
from simve.errors import SimveError
from simve.evaluate.latent_classes import contrastive_loss, mean_classifier_tasks
from simve.experiments import get_experiment
from simve.experiments.curl import RAW, SUPERVISED, UNTRAINED, Settings, run, run_seed

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


def test_outputs_written(tiny_run):
    _, out = tiny_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["meta"]["settings"]["classes"] == 8 and saved["meta"]["command"] == "simve experiment curl (tiny)"
    assert set(saved["results"]["summary"]) == {K1, K4, Objective(1, 2).name, SUPERVISED, UNTRAINED, RAW}
    table = (out / "table.md").read_text()
    assert "| contrastive k=4 | mean |" in table and "What it shows:" in table
    for figure in ("sample_complexity.png", "negatives.png"):
        assert (out / figure).stat().st_size > 10_000


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


def test_the_bound_holds_on_heldout_data(tiny_run):
    """L_sup^mu <= (L_un - tau)/(1 - tau) for k = 1 (and blocks), for every f; up to 3 standard errors of L_un."""
    results, _ = tiny_run
    for name, rows in results["per_seed"][0].items():
        assert rows["L_sup_mu"] <= rows["bound"] + 3 * rows["bound_se"], name
        if "bound_block" in rows:  # with the block's own loss, tighter than with its k = 1 loss
            assert rows["L_sup_mu"] <= rows["bound_block"] + 3 * rows["bound_block_se"], name
            assert rows["bound_block"] < rows["bound"], name
        # the two halves of the proof: same-class tuples cost at least l(0) = 1 bit, others at least L_sup^mu
        assert rows["L_un1_same_class"] > 1 - 0.05, name
        assert rows["L_un1_different_class"] >= rows["L_sup_mu"] - 3 * rows["L_un1_se"], name
    assert results["bound_check"]["holds"] == results["bound_check"]["cases"]


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
