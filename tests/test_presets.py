"""The `paper` preset: the official SimVAE objective (reconstruction / sigma_x^2) and its equivalence
to beta = sigma_x^2 on the latent terms, the optimiser and the views it sets."""

import math

import pytest
import torch

from simve.errors import SimveError
from simve.models import build_model
from simve.presets import PAPER_LOG_VAR_X, preset_settings, with_preset
from simve.runs import Variant, parse_variant
from simve.train import TrainConfig, train

SIGMA2 = math.exp(PAPER_LOG_VAR_X)


def gradients(model, views, seed=0):
    torch.manual_seed(seed)
    model.zero_grad()
    loss = model.loss(views)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("name", ["simve", "vae"])
def test_divided_reconstruction_is_the_beta_objective_scaled(name):
    """L_paper = R / sigma^2 + K = (R + sigma^2 K) / sigma^2: the same gradients up to 1 / sigma^2."""
    torch.manual_seed(1)
    views = torch.rand(8, 2, 1, 28, 28, dtype=torch.float64)
    options = {"latent_dim": 4}
    paper = build_model(name, (1, 28, 28), recon_weight=1 / SIGMA2, **options).double()
    weighted = build_model("simve" if name == "simve" else "beta-vae", (1, 28, 28), beta=SIGMA2, **options).double()
    weighted.load_state_dict(paper.state_dict())
    loss_paper, grad_paper = gradients(paper, views)
    loss_beta, grad_beta = gradients(weighted, views)
    assert torch.allclose(loss_paper, loss_beta / SIGMA2, rtol=1e-10)
    for a, b in zip(grad_paper, grad_beta):
        assert torch.allclose(a, b / SIGMA2, rtol=1e-8, atol=1e-10)
    plain = build_model(name, (1, 28, 28), **options).double()
    plain.load_state_dict(paper.state_dict())
    loss_plain, _ = gradients(plain, views)
    assert loss_paper > 50 * loss_plain  # the reconstruction dominates: ~ 1 / sigma^2 = 99.5 times


def test_the_bounds_leave_the_weight_out():
    torch.manual_seed(2)
    views = torch.rand(4, 2, 1, 28, 28)
    paper = build_model("simve", (1, 28, 28), recon_weight=1 / SIGMA2, latent_dim=4)
    plain = build_model("simve", (1, 28, 28), latent_dim=4)
    plain.load_state_dict(paper.state_dict())
    bounds = []
    for model in (paper, plain):
        torch.manual_seed(0)
        bounds.append(model.bounds(views, 3)["elbo"])
    assert torch.equal(*bounds)


def test_paper_settings_per_family():
    options, training = preset_settings("paper", "simve", (1, 28, 28))
    assert options["recon_weight"] == pytest.approx(math.exp(4.6)) and options["likelihood"] == "bernoulli"
    assert options["latent_dim"] == 10 and options["prior_var"] == 0.15 and options["content_prior"] == "gaussian"
    assert training == {"lr": 8e-5, "adam_eps": 1e-4, "batch_size": 64, "views": 2, "augment": "paper-gray28"}
    options, training = preset_settings("paper", "vae", (3, 32, 32))
    assert options == {"latent_dim": 64, "likelihood": "gaussian", "sigma_x": pytest.approx(0.1003, abs=1e-4)}
    assert training["augment"] == "paper-colour"
    with pytest.raises(SimveError, match="discriminative"):
        preset_settings("paper", "simclr", (1, 28, 28))
    with pytest.raises(SimveError, match="unknown preset"):
        preset_settings("best", "simve", (1, 28, 28))


def test_a_variant_keeps_its_own_settings_over_the_preset():
    variant = with_preset(parse_variant("simve:prior_var=0.01:lr=0.001"), "paper", (1, 28, 28))
    assert dict(variant.options)["prior_var"] == 0.01 and dict(variant.training)["lr"] == 0.001
    assert dict(variant.training)["adam_eps"] == 1e-4
    assert with_preset(Variant("simclr"), "paper", (1, 28, 28)) == Variant("simclr")


def test_a_paper_run_trains_with_its_optimiser_and_views(tmp_path):
    options, training = preset_settings("paper", "simve", (1, 28, 28))
    config = TrainConfig(model="simve", data="glyphs", limit=200, epochs=1, model_options=options,
                         **{**training, "batch_size": 16})
    model = train(config, tmp_path / "run")
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["optimizer_state"]["param_groups"][0]["eps"] == 1e-4
    assert state["optimizer_state"]["param_groups"][0]["lr"] == 8e-5
    assert model.options.recon_weight == pytest.approx(math.exp(4.6))
    with pytest.raises(SimveError, match="augment must be one of gray28"):
        TrainConfig(model="simve", data="glyphs", epochs=1, augment="sideways")


@pytest.mark.parametrize("name", ["simve", "vae", "cr-vae"])
def test_the_official_entropy_adds_pi_minus_a_half_of_each_log_variance_and_the_bounds_leave_it_out(name):
    """The official code's entropy, 1/2 sum 2 pi log sigma^2, against the Gaussian's 1/2 sum log sigma^2:
    the loss (a negative ELBO per datum) falls by (pi - 1/2) sum_j sum_d log sigma_jd^2, averaged over data."""
    torch.manual_seed(3)
    views = torch.rand(5, 3, 1, 28, 28, dtype=torch.float64)
    correct = build_model(name, (1, 28, 28), latent_dim=4).double()
    official = build_model(name, (1, 28, 28), latent_dim=4, entropy="official").double()
    official.load_state_dict(correct.state_dict())
    losses, bounds = [], []
    for model in (correct, official):
        torch.manual_seed(0)
        losses.append(model.loss(views))
        torch.manual_seed(0)
        bounds.append(model.bounds(views, 3)["iwae"])
    log_var = 2 * correct.encoder(views)[1].log()
    expected = -(math.pi - 0.5) * log_var.sum((-2, -1)).mean()
    assert (losses[1] - losses[0]).item() == pytest.approx(expected.item(), rel=1e-9)
    assert torch.equal(*bounds)
