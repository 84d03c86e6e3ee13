"""The annealed reconstruction weight (``recon_anneal``): its schedule, the objective it gives at a step,
and the training loop setting it from the run's absolute step (so a resumed run anneals alike)."""

import itertools

import pytest
import torch

from simve.models import build_model
from simve.models.generative import annealed_weight
from simve.train import train
from tests.test_train import assert_same, config, parameters


def test_the_weight_falls_geometrically_from_its_start_to_one():
    assert annealed_weight(100.0, 4, 1) == 100.0
    assert annealed_weight(100.0, 4, 3) == pytest.approx(10.0)  # halfway: sqrt(100)
    assert annealed_weight(100.0, 4, 5) == 1.0 and annealed_weight(100.0, 4, 500) == 1.0
    assert [annealed_weight(100.0, 0, t) for t in (1, 50)] == [100.0, 100.0]
    falling = [annealed_weight(50.0, 10, t) for t in range(1, 12)]
    assert all(a > b for a, b in itertools.pairwise(falling))
    assert falling[0] / falling[1] == pytest.approx(50 ** 0.1)


@pytest.mark.parametrize("name", ["simve", "vae"])
def test_at_each_step_the_loss_is_that_of_the_constant_weight_of_the_step(name):
    torch.manual_seed(0)
    views = torch.rand(6, 2, 1, 28, 28, dtype=torch.float64)
    annealed = build_model(name, (1, 28, 28), latent_dim=4, recon_weight=100.0, recon_anneal=8).double()
    for step, weight in ((1, 100.0), (5, 10.0), (9, 1.0), (40, 1.0)):
        constant = build_model(name, (1, 28, 28), latent_dim=4, recon_weight=weight).double()
        constant.load_state_dict(annealed.state_dict())
        annealed.begin_step(step)
        losses = []
        for model in (annealed, constant):
            torch.manual_seed(1)
            losses.append(model.loss(views))
        assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-12)


@pytest.mark.slow
def test_a_run_anneals_by_its_absolute_step_and_resumes_exactly(tmp_path, monkeypatch):
    """22 steps (2 epochs of 11) of an anneal over 30: a resumed run goes on from step 12, not from 1."""
    options = {"latent_dim": 4, "recon_weight": 50.0, "recon_anneal": 30}
    settings = {"model": "simve", "lr": 1e-3, "checkpoint_every": 100, "model_options": options}
    steps = []
    simve = type(build_model("simve", (1, 28, 28)))
    begin_step = simve.begin_step
    monkeypatch.setattr(simve, "begin_step", lambda self, step: (steps.append(step), begin_step(self, step))[1])
    straight = parameters(train(config(**settings), tmp_path / "straight"))
    assert steps == list(range(1, 23))
    steps.clear()
    train(config(**settings, epochs=1), tmp_path / "resumed")
    resumed = parameters(train(config(**settings), tmp_path / "resumed", resume=True))
    assert steps == list(range(1, 12)) + list(range(12, 23))
    assert_same(straight, resumed)
    constant = parameters(train(config(**{**settings, "model_options": {**options, "recon_anneal": 0}}),
                                tmp_path / "constant"))
    assert any(not torch.equal(straight[k], constant[k]) for k in straight)
