"""The math of SimVE and the generative baselines, checked against closed forms."""

import math

import pyro
import pytest
import torch
from torch import nn
from torch.distributions import Normal

from simve.errors import SimveError
from simve.models import build_model, model_options
from simve.models.crvae import CRVAE
from simve.models.likelihoods import Gaussian, build_likelihood
from simve.models.simve import SimVE
from simve.models.vae import VAE, BetaVAE

D, LATENT, SIGMA = 6, 2, 0.1  # pixels, latent size, observation noise of the linear-Gaussian model


class LinearEncoder(nn.Module):
    """``loc = A x + a``, ``scale = softplus(r)``: a per-view linear Gaussian guide."""

    def __init__(self):
        super().__init__()
        self.loc = nn.Linear(D, LATENT)
        self.raw_scale = nn.Parameter(torch.full((LATENT,), -2.0))

    def forward(self, x):
        loc = self.loc(x.flatten(-3))
        return loc, nn.functional.softplus(self.raw_scale).expand_as(loc)


class LinearDecoder(nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, z):
        return (z @ self.weight.T + self.bias).unflatten(-1, (1, 1, D))


def linear_simve(**knobs):
    torch.manual_seed(0)
    decoder = LinearDecoder(torch.randn(D, LATENT), 0.1 * torch.randn(D))
    return SimVE(LinearEncoder(), decoder, Gaussian((1, 1, D), SIGMA, link="identity"), LATENT, SimVE.Options(**knobs))


def exact_log_marginal(model, views):
    """``log p(x_1..J)``: x = (I_J kron W) z + b + noise, z ~ N(0, (s^2 I + s_y^2 11^T) kron I_d)."""
    n_views = views.shape[1]
    w, b = model.decoder.weight.detach(), model.decoder.bias.detach()
    cov_z = model.prior_var * torch.eye(n_views) + model.content_scale**2 * torch.ones(n_views, n_views)
    cov_x = torch.kron(cov_z, w @ w.T) + SIGMA**2 * torch.eye(n_views * D)
    joint = torch.distributions.MultivariateNormal(b.repeat(n_views), cov_x)
    return joint.log_prob(views.flatten(1))


def sample_linear_data(model, n, n_views):
    """Draw ``n`` data of ``n_views`` views from the model itself."""
    with torch.no_grad():
        y = model.content_scale * torch.randn(n, 1, LATENT)
        z = y + math.sqrt(model.prior_var) * torch.randn(n, n_views, LATENT)
        return model.decoder(z) + SIGMA * torch.randn(n, n_views, 1, 1, D)


def fit_encoder(model, views, schedule=((1500, 0.02), (500, 0.002))):
    """Maximise the ELBO over the encoder alone (the decoder stays the true one)."""
    optimiser = torch.optim.Adam(model.encoder.parameters())
    for steps, lr in schedule:
        optimiser.param_groups[0]["lr"] = lr
        for _ in range(steps):
            optimiser.zero_grad()
            model.loss(views).backward()
            optimiser.step()


@pytest.fixture(scope="module")
def fitted():
    """A linear SimVE with its true decoder and a fitted encoder, and data drawn from it."""
    model = linear_simve()
    views = sample_linear_data(model, 256, 3)
    pyro.set_rng_seed(1)
    fit_encoder(model, views)
    return model, views


@pytest.mark.slow
def test_elbo_below_log_marginal_and_iwae_rises_towards_it(fitted):
    model, views = fitted
    log_p = exact_log_marginal(model, views).mean()
    pyro.set_rng_seed(2)
    with torch.no_grad():
        elbo = model.bounds(views, 4000)["elbo"].mean()
        iwae = [model.bounds(views, k)["iwae"].mean() for k in (1, 10, 100, 1000)]
    assert elbo < log_p
    assert all(bound < log_p + 0.01 for bound in iwae)  # 0.01: Monte Carlo noise at K = 1000
    assert iwae[0] < iwae[1] < iwae[2] < iwae[3]
    assert log_p - iwae[3] < 0.25 * (log_p - iwae[0])


@pytest.mark.slow
def test_gap_is_small_at_the_fitted_linear_encoder(fitted):
    model, views = fitted
    log_p = exact_log_marginal(model, views).mean()
    pyro.set_rng_seed(3)
    with torch.no_grad():
        gap_fitted = log_p - model.bounds(views, 2000)["elbo"].mean()
        untrained = linear_simve()
        gap_untrained = log_p - untrained.bounds(views, 2000)["elbo"].mean()
    assert 0 < gap_fitted < 0.5  # nats per datum of 3 views, 18 pixels
    assert gap_untrained > 20 * gap_fitted


@pytest.mark.slow
def test_loss_is_the_negative_elbo(fitted):
    model, views = fitted
    pyro.set_rng_seed(4)
    with torch.no_grad():
        loss = torch.stack([model.loss(views) for _ in range(300)]).mean()
    with torch.no_grad():
        elbo = model.bounds(views, 300)["elbo"].mean()
    assert abs(float(loss + elbo)) < 0.1


def test_factor_and_sampled_content_agree():
    marginal = linear_simve()
    sampled = linear_simve(content_guide="sampled")
    views = sample_linear_data(marginal, 64, 4)
    # For the same z's the two ELBOs are equal exactly: log p(y) + log p(z | y) - log p(y | z) = log p(z).
    for seed in range(3):
        pyro.set_rng_seed(seed)
        a = marginal.loss(views)
        pyro.set_rng_seed(seed)
        b = sampled.loss(views)
        assert torch.allclose(a, b, rtol=1e-5)
    # In expectation, over independent draws.
    pyro.set_rng_seed(10)
    with torch.no_grad():
        a = torch.stack([marginal.loss(views) for _ in range(200)]).mean()
        b = torch.stack([sampled.loss(views) for _ in range(200)]).mean()
    assert abs(float(a - b)) < 0.05 * float(abs(a))


def test_factor_and_sampled_agree_with_flat_prior():
    marginal = linear_simve(content_prior="flat")
    sampled = linear_simve(content_prior="flat", content_guide="sampled")
    views = sample_linear_data(linear_simve(), 32, 3)
    pyro.set_rng_seed(0)
    a = marginal.loss(views)
    pyro.set_rng_seed(0)
    assert torch.allclose(a, sampled.loss(views), rtol=1e-5)


def test_log_p_views_matches_the_joint_gaussian():
    model = linear_simve(prior_var=0.3, content_scale=0.7)
    z = torch.randn(5, 4, LATENT)
    cov = model.prior_var * torch.eye(4) + model.content_scale**2 * torch.ones(4, 4)
    joint = torch.distributions.MultivariateNormal(torch.zeros(4), cov)
    expected = joint.log_prob(z.transpose(-1, -2)).sum(-1)  # dimensions are independent
    assert torch.allclose(model.log_p_views(z), expected, atol=1e-4)
    posterior_mean, posterior_var = model.content_posterior(z)
    assert posterior_var == pytest.approx(1 / (1 / 0.49 + 4 / 0.3))
    assert torch.allclose(posterior_mean, posterior_var * z.sum(-2) / 0.3)


def test_flat_prior_is_shift_invariant_and_the_limit_of_wide_gaussians():
    flat = linear_simve(content_prior="flat")
    z = torch.randn(6, 3, LATENT)
    shift = 5 * torch.randn(6, 1, LATENT)
    assert torch.allclose(flat.log_p_views(z + shift), flat.log_p_views(z), atol=1e-4)
    gaussian = linear_simve()
    assert not torch.allclose(gaussian.log_p_views(z + shift), gaussian.log_p_views(z), atol=1e-2)
    # s_y -> inf: log p_gauss(z) + (d/2) log(2 pi s_y^2) -> log p_flat(z).
    wide = linear_simve(content_scale=1e4)
    limit = wide.log_p_views(z) + LATENT / 2 * math.log(2 * math.pi * 1e8)
    assert torch.allclose(limit, flat.log_p_views(z), atol=1e-3)


@pytest.mark.parametrize("content_scale", [0.0, 1e-4])
def test_simve_with_no_content_spread_is_a_vae_on_each_view(content_scale):
    base = linear_simve(prior_var=1.0, content_scale=content_scale)
    vae = VAE(base.encoder, base.decoder, base.likelihood, LATENT)
    views = sample_linear_data(linear_simve(), 16, 3)
    pyro.set_rng_seed(7)
    a = base.loss(views)
    pyro.set_rng_seed(7)
    b = vae.loss(views)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-4)


def test_bounds_ignore_beta_and_penalties():
    base = linear_simve()
    parts = (base.encoder, base.decoder, base.likelihood, LATENT)
    views = sample_linear_data(base, 16, 2)
    weights = []
    for model in (VAE(*parts), BetaVAE(*parts, BetaVAE.Options(beta=4.0)), CRVAE(*parts, CRVAE.Options(consistency_weight=10.0))):
        pyro.set_rng_seed(5)
        weights.append(model.log_weights(views, 3))
    assert torch.allclose(weights[0], weights[1]) and torch.allclose(weights[0], weights[2])
    # ... while the training losses do see them.
    losses = []
    for model in (VAE(*parts), BetaVAE(*parts, BetaVAE.Options(beta=4.0)), CRVAE(*parts, CRVAE.Options(consistency_weight=10.0))):
        pyro.set_rng_seed(5)
        losses.append(model.loss(views).item())
    assert losses[1] != pytest.approx(losses[0]) and losses[2] > losses[0]


def test_beta_scales_the_latent_terms_of_simve():
    """loss(beta) = -E[log p(x|z)] - beta * E[log p(z) - log q(z|x)] for the same draws."""
    views = sample_linear_data(linear_simve(), 16, 2)
    losses = {}
    for beta in (1.0, 2.0, 3.0):
        model = linear_simve(beta=beta)
        pyro.set_rng_seed(9)
        losses[beta] = model.loss(views).item()
    assert losses[3.0] - losses[2.0] == pytest.approx(losses[2.0] - losses[1.0], rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["simve", "vae", "beta-vae", "cr-vae"])
def test_a_short_training_run_lowers_the_loss(name):
    from simve.data import MultiView, load_dataset, preset

    data = load_dataset("glyphs", limit=256)
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    model = build_model(name, data.image_shape, latent_dim=8)
    views, _ = MultiView(preset("glyphs"), views=2)(data.train.images[:64], torch.Generator().manual_seed(0))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = model.loss(views)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_embeddings_samples_and_style_grids_have_the_right_shapes():
    model = build_model("simve", (3, 32, 32), latent_dim=16).eval()
    images = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        assert model.embed(images).shape == (5, 16)
        assert model.reconstruct(images).shape == (5, 3, 32, 32)
        samples = model.sample(7)
        assert samples.shape == (7, 3, 32, 32) and 0 <= samples.min() and samples.max() <= 1
        assert model.same_content_new_style(images, 4).shape == (5, 4, 3, 32, 32)


@pytest.mark.parametrize("side", [16, 32])
def test_the_resnet18_nets_build_train_and_decode_to_the_image_size(side):
    model = build_model("simve", (3, side, side), net="resnet18", latent_dim=8)
    blocks = [m for m in model.encoder.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 8 and model.encoder.backbone.out_dim == 256  # 4 stages of 2 blocks, half width
    views = torch.rand(4, 2, 3, side, side)
    loss = model.loss(views)
    loss.backward()
    assert torch.isfinite(loss) and model.encoder.backbone.layers[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert model.eval().reconstruct(views[:, 0]).shape == (4, 3, side, side)


def test_learned_sigma_is_a_parameter():
    model = build_model("vae", (3, 32, 32), likelihood="gaussian", sigma_x="learned-pixel")
    assert model.likelihood.sigma.shape == (3, 32, 32)
    assert any(p is model.likelihood.raw_sigma for p in model.parameters())


def linear_vae(likelihood):
    """A VAE on images of D pixels with the linear nets above and the given likelihood."""
    torch.manual_seed(0)
    return VAE(LinearEncoder(), LinearDecoder(0.1 * torch.randn(D, LATENT), 0.5 * torch.randn(D)), likelihood, LATENT)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["learned", "learned-pixel"])
def test_learned_sigma_trains_to_the_residual_scale(mode):
    """Data with known noise, 0.02 on half the pixels and 0.5 on the others, around the decoder's mean; the
    nets fixed, only sigma_x trains. The ELBO's optimum is the root mean square of the residuals
    x - decoder mean(z), z ~ q(z | x), per pixel (learned-pixel) or over all of them (learned): sigma_x
    starts at 0.1 and must end there."""
    model = linear_vae(build_likelihood("gaussian", (1, 1, D), mode))
    pyro.set_rng_seed(0)
    with torch.no_grad():
        noise = torch.tensor([0.02, 0.5] * (D // 2)).view(1, 1, D)
        views = model.decode(torch.zeros(1, LATENT)) + noise * torch.randn(256, 2, 1, 1, D)
        loc, scale = model.encoder(views)
        z = loc + scale * torch.randn(400, *loc.shape)
        square = (views - model.decode(z)).pow(2).mean((0, 1, 2))  # per pixel (1, 1, D)
        target = square.sqrt() if mode == "learned-pixel" else square.mean().sqrt().expand(1, 1, D)
    if mode == "learned-pixel":  # the two halves part from the start, 0.1, in opposite directions
        assert target[..., 0::2].max() < 0.07 and target[..., 1::2].min() > 0.4
    optimiser = torch.optim.Adam([model.likelihood.raw_sigma], lr=0.1)
    losses = []
    for _ in range(80):
        optimiser.zero_grad()
        loss = model.loss(views)
        loss.backward()
        if not losses:  # every sigma_x gets a gradient
            assert model.likelihood.raw_sigma.grad is not None and (model.likelihood.raw_sigma.grad != 0).all()
        optimiser.step()
        losses.append(loss.item())
    sigma = model.likelihood.sigma.detach().expand(1, 1, D)
    assert torch.allclose(sigma, target, rtol=0.05), (sigma, target)
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])


def test_continuous_bernoulli_likelihood_is_torchs_and_trains():
    torch.manual_seed(0)
    model = build_model("vae", (1, 8, 8), net="mlp", latent_dim=2, likelihood="continuous-bernoulli")
    out = torch.cat([3 * torch.randn(3, 1, 8, 8), torch.zeros(1, 1, 8, 8), 1e-3 * torch.randn(1, 1, 8, 8)])
    x = torch.rand(5, 1, 8, 8)
    reference = torch.distributions.ContinuousBernoulli(logits=out)
    torch.testing.assert_close(model.likelihood(out).log_prob(x), reference.log_prob(x).sum((1, 2, 3)))
    # log p(x | lambda) = x log lambda + (1 - x) log(1 - lambda) + log C(lambda), C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)
    lam = torch.sigmoid(out[:3])
    by_hand = x[:3] * lam.log() + (1 - x[:3]) * (1 - lam).log() + (2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam)).log()
    torch.testing.assert_close(model.likelihood(out[:3]).log_prob(x[:3]), by_hand.sum((1, 2, 3)), rtol=1e-4, atol=1e-3)
    z = torch.randn(2, 2)
    torch.testing.assert_close(model.decode(z), torch.distributions.ContinuousBernoulli(
        logits=model.decoder(z)).mean)  # the mean image is the distribution's mean, not lambda
    # The likelihood in a VAE: a few steps on stripes lower the loss.
    vae = linear_vae(model.likelihood)
    pyro.set_rng_seed(0)
    phase = torch.rand(64, 2, 1, 1, 1)
    views = 0.5 + 0.45 * torch.sin(torch.arange(D) * (1 + 2 * phase))
    optimiser = torch.optim.Adam(vae.parameters(), lr=0.02)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = vae.loss(views)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(map(math.isfinite, losses)) and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1, losses
    assert torch.isfinite(vae.bounds(views[:4], 3)["iwae"]).all()


@pytest.mark.parametrize("weight", [0.5, 2.5])
def test_crvae_penalty_is_lambda_times_the_kl_from_view_1_to_each_other_view(weight):
    """loss(CR-VAE) - loss(VAE) = lambda * mean_b sum_{j >= 2} KL(q(z | x_b1) || q(z | x_bj)), for the same draws."""
    torch.manual_seed(0)
    model = build_model("cr-vae", (1, 8, 8), net="mlp", latent_dim=3, consistency_weight=weight).double()
    with torch.no_grad():
        model.encoder.out.weight.mul_(30)  # posteriors far apart, with scales that differ from view to view
    vae = VAE(model.encoder, model.decoder, model.likelihood, 3)
    views = torch.rand(5, 3, 1, 8, 8, dtype=torch.float64)
    pyro.set_rng_seed(0)
    penalised = model.loss(views)
    pyro.set_rng_seed(0)
    plain = vae.loss(views)
    loc, scale = model.encoder(views)
    kl = torch.distributions.kl_divergence
    by_hand = sum(kl(Normal(loc[:, 0], scale[:, 0]), Normal(loc[:, j], scale[:, j])).sum(-1) for j in (1, 2)).mean()
    assert by_hand > 0.05  # well above rounding (the scales also differ, so the KL's direction shows)
    torch.testing.assert_close(penalised - plain, weight * by_hand, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("build, message", [
    (lambda: build_model("nope", (1, 28, 28)), "unknown model 'nope'; choose one of"),
    (lambda: build_model("vae", (1, 28, 28), prior_var=0.1), "vae takes no option prior_var"),
    (lambda: build_model("simve", (1, 28, 28), latent_dim=600), "latent size must be between 1 and 500"),
    (lambda: build_model("simve", (3, 32, 32), latent_dim=0), "latent size must be between 1 and 160"),
    (lambda: build_model("simve", (3, 30, 30)), "square images of side 16, 32, 64"),
    (lambda: build_model("simve", (3, 24, 24), net="resnet18"), "the resnet18 nets take square images of side 16"),
    (lambda: build_model("simve", (1, 28, 28), prior_var=0), "prior_var (s^2) must be positive"),
    (lambda: build_model("simve", (1, 28, 28), content_prior="wide"), "content_prior must be one of"),
    (lambda: build_model("vae", (1, 28, 28), likelihood="poisson"), "likelihood must be one of bernoulli, gaussian, continuous-bernoulli, got 'poisson'"),
    (lambda: build_model("vae", (1, 28, 28), likelihood="gaussian", sigma_x="big"), "sigma_x must be a positive"),
    (lambda: build_model("beta-vae", (1, 28, 28), beta=-1), "beta must be positive"),
])
def test_bad_options_are_refused_in_one_line(build, message):
    with pytest.raises(SimveError) as err:
        build()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_simve_refuses_a_single_view():
    model = build_model("simve", (1, 28, 28))
    with pytest.raises(SimveError, match="simve needs at least 2 views per datum, got 1"):
        model.loss(torch.rand(4, 1, 1, 28, 28))


def test_every_model_lists_its_options():
    assert model_options("simve")["prior_var"] == 0.15 and model_options("simve")["content_guide"] == "marginal"
    assert "beta" in model_options("beta-vae") and "beta" not in model_options("vae")
    assert model_options("cr-vae")["consistency_weight"] == 1.0


def test_the_documented_example_of_custom_nets_runs():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    (block,) = [b.split("\n", 1)[1] for b in page.split("```")[1::2] if "class LinearBackbone" in b]
    namespace = {}
    exec(compile(block, "docs/extending.md", "exec"), namespace)  # noqa: S102  (our own documentation)
    assert torch.isfinite(namespace["loss"]) and namespace["model"].latent_dim == 8


def test_the_demo_sized_mlps_are_mirrored():
    simve = build_model("simve", (1, 28, 28), net="mlp-small")
    widths = [m.out_features for m in simve.encoder.backbone.modules() if isinstance(m, nn.Linear)]
    assert widths == [512, 256] and simve.encoder.backbone.out_dim == 256
    decoder = [(m.in_features, m.out_features) for m in simve.decoder.modules() if isinstance(m, nn.Linear)]
    assert decoder == [(10, 256), (256, 512), (512, 784)]
    reference = build_model("simve", (1, 28, 28))
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(simve) < count(reference) / 4
    assert build_model("simclr", (1, 28, 28), net="mlp-small", latent_dim=10).encoder.out_dim == 10
    assert build_model("simclr", (1, 28, 28), net="mlp-small").encoder.out_dim == 256  # its natural width
    with pytest.raises(SimveError, match="the MLP takes images of at most"):
        build_model("simclr", (3, 128, 128), net="mlp-small")
    tiny = build_model("simve", (1, 14, 14), net="mlp-tiny")
    assert [m.out_features for m in tiny.encoder.backbone.modules() if isinstance(m, nn.Linear)] == [256, 128]
    assert [(m.in_features, m.out_features) for m in tiny.decoder.modules() if isinstance(m, nn.Linear)] == [
        (10, 128), (128, 256), (256, 196)]
