"""``generative_metrics`` (the test ELBO, IWAE and reconstruction error) against values computed by hand."""

import math

import pytest
import torch
from torch import nn

from simve.data import MultiView, Split, preset
from simve.evaluate.generative import generative_metrics
from simve.models.likelihoods import Gaussian
from simve.models.simve import SimVE
from simve.models.vae import VAE

SHAPE = (1, 4, 4)
D, LATENT, SIGMA = 16, 2, 0.3


class ExactPosteriorEncoder(nn.Module):
    """``q(z | x) = p(z | x)`` of the linear-Gaussian VAE ``x = W z + b + N(0, SIGMA^2)``, ``z ~ N(0, I)``:
    with orthogonal columns of ``W`` the posterior covariance ``(I + W^T W / SIGMA^2)^-1`` is diagonal."""

    def __init__(self, weight, bias):
        super().__init__()
        var = 1 / (1 + weight.pow(2).sum(0) / SIGMA**2)
        self.register_buffer("gain", var[:, None] * weight.T / SIGMA**2)
        self.register_buffer("offset", -self.gain @ bias)
        self.register_buffer("scale", var.sqrt())

    def forward(self, x):
        loc = x.flatten(-3) @ self.gain.T + self.offset
        return loc, self.scale.expand_as(loc)


class LinearDecoder(nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, z):
        return (z @ self.weight.T + self.bias).unflatten(-1, SHAPE)


def exact_vae():
    """The linear-Gaussian VAE with its exact posterior as guide: every importance weight is ``p(x)``."""
    torch.manual_seed(0)
    weight = torch.linalg.qr(torch.randn(D, LATENT))[0] * torch.tensor([0.8, 0.4])  # orthogonal columns
    bias = 0.5 + 0.1 * torch.randn(D)
    decoder = LinearDecoder(weight, bias)
    return VAE(ExactPosteriorEncoder(weight, bias), decoder, Gaussian(SHAPE, SIGMA, link="identity"), LATENT)


def test_exact_posterior_encoder_is_the_posterior():
    model = exact_vae()
    w, b = model.decoder.weight.detach(), model.decoder.bias.detach()
    x = torch.rand(3, *SHAPE)
    loc, scale = model.encoder(x)
    precision = torch.eye(LATENT) + w.T @ w / SIGMA**2
    torch.testing.assert_close(torch.diag_embed(scale.pow(2)), torch.linalg.inv(precision).expand(3, -1, -1))
    torch.testing.assert_close(loc, (x.flatten(1) - b) @ w @ torch.linalg.inv(precision).T / SIGMA**2)


def noise_split(n, seed=0):
    images = torch.randint(0, 256, (n, *SHAPE), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    return Split(images, torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize("n_views", [2, 3])
def test_the_bounds_of_an_exact_posterior_are_log_p_per_view_whatever_the_batches(n_views):
    model, split, multiview = exact_vae(), noise_split(7), MultiView(preset("gray28"), n_views)
    # By hand: the views of the whole split (the seeded generator), their exact log p(x) each, the mean.
    views, _ = multiview(split.images, torch.Generator().manual_seed(3))
    w, b = model.decoder.weight.detach(), model.decoder.bias.detach()
    marginal = torch.distributions.MultivariateNormal(b, w @ w.T + SIGMA**2 * torch.eye(D))
    log_p_per_view = marginal.log_prob(views.flatten(2)).mean().item()  # (7, J) views
    originals = MultiView.original(split.images)
    with torch.no_grad():
        decoded = (model.encoder(originals)[0] @ w.T + b).unflatten(-1, SHAPE)  # the decoder mean at the posterior mean
    mse = (decoded - originals).pow(2).mean().item()
    for batch_size, particles in [(1, 1), (3, 5), (7, 2), (100, 3)]:
        metrics = generative_metrics(model, split, multiview, particles=particles, batch_size=batch_size, seed=3,
                                     progress=False)
        assert metrics["elbo_per_view"] == pytest.approx(log_p_per_view, abs=1e-4), (batch_size, particles)
        assert metrics["iwae_per_view"] == pytest.approx(log_p_per_view, abs=1e-4), (batch_size, particles)
        assert metrics["reconstruction_mse"] == pytest.approx(mse, rel=1e-5)
        assert (metrics["images"], metrics["views"], metrics["iwae_particles"]) == (7, n_views, particles)


def test_per_datum_bounds_are_summed_and_divided_by_images_times_views(monkeypatch):
    """Known per-datum bounds (a function of the views): ELBO and IWAE per view are their sums over the
    split divided by N J, for every batch size (a short last batch included)."""
    model, split, multiview = exact_vae(), noise_split(7, seed=1), MultiView(preset("gray28"), 3)

    def bounds(views, particles):
        value = -views.flatten(1).pow(2).sum(1).double() * 10
        return {"elbo": value, "iwae": value + math.log(particles)}

    monkeypatch.setattr(model, "bounds", bounds)
    views, _ = multiview(split.images, torch.Generator().manual_seed(0))
    total = bounds(views, 1)["elbo"].sum().item()
    for batch_size in (1, 2, 7):
        metrics = generative_metrics(model, split, multiview, particles=4, batch_size=batch_size, progress=False)
        assert metrics["elbo_per_view"] == pytest.approx(total / 21, rel=1e-9)
        assert metrics["iwae_per_view"] == pytest.approx((total + 7 * math.log(4)) / 21, rel=1e-9)


def test_the_bounds_do_not_depend_on_what_ran_before():
    """SimVE (a joint bound over its views, noisy weights): the same seed gives the same numbers, and the
    caller's random state is left as it was."""
    torch.manual_seed(0)
    weight, bias = torch.randn(D, LATENT), 0.5 + 0.1 * torch.randn(D)
    encoder = ExactPosteriorEncoder(weight, bias)  # not SimVE's posterior: the weights vary
    model = SimVE(encoder, LinearDecoder(weight, bias), Gaussian(SHAPE, SIGMA, link="identity"), LATENT)
    split, multiview = noise_split(6), MultiView(preset("gray28"), 2)
    first = generative_metrics(model, split, multiview, particles=3, batch_size=4, progress=False)
    torch.rand(10)
    state = torch.get_rng_state()
    again = generative_metrics(model, split, multiview, particles=3, batch_size=4, progress=False)
    assert first == again and torch.equal(torch.get_rng_state(), state)
    assert first["iwae_per_view"] > first["elbo_per_view"]
