"""The discriminative baselines: the interface, their mechanics, and that training helps a probe."""

import pytest
import torch

from simve.data import load_dataset
from simve.errors import SimveError
from simve.evaluate.features import extract_features
from simve.evaluate.probes import linear_probe
from simve.models import build_model
from simve.train import TrainConfig, train

DISCRIMINATIVE = ["simclr", "vicreg", "moco", "align-uniform", "clip", "curl"]


@pytest.mark.parametrize("name", DISCRIMINATIVE)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_loss_embed_and_projection(name, shape):
    model = build_model(name, shape)
    views = torch.rand(8, 2, *shape)
    loss = model.loss(views)
    loss.backward()
    assert loss.dim() == 0 and torch.isfinite(loss)
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    width = model.encoder.backbone.out_dim
    assert model.embed(torch.rand(5, *shape)).shape == (5, width)
    assert model.project(torch.rand(5, *shape)).shape == (5, model.projection_dim)


@pytest.mark.parametrize("name", DISCRIMINATIVE)
def test_latent_dim_sets_the_representation_width(name):
    model = build_model(name, (1, 28, 28), latent_dim=10)
    assert model.embed(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_moco_queue_and_momentum_encoder():
    model = build_model("moco", (1, 28, 28), queue_size=20, momentum=0.5)
    queue, key_weights = model.queue.clone(), [p.clone() for p in model.key_encoder.parameters()]
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    views = torch.rand(8, 2, 1, 28, 28)
    model.loss(views).backward()
    optimiser.step()
    assert all(p.grad is None for p in model.key_encoder.parameters())
    assert int(model.queue_next) == 8 and not torch.equal(model.queue[:8], queue[:8])
    assert torch.equal(model.queue[8:], queue[8:])
    assert torch.allclose(model.queue.norm(dim=1), torch.ones(20))
    model.loss(views)  # the momentum step: theta_k <- m theta_k + (1 - m) theta_q
    expected = [0.5 * k + 0.5 * q for k, q in zip(key_weights, model.encoder.parameters())]
    assert all(torch.allclose(k, e) for k, e in zip(model.key_encoder.parameters(), expected))
    for _ in range(2):  # the queue wraps around
        model.loss(views)
    assert int(model.queue_next) == 32 % 20
    model.eval()
    before = model.queue.clone(), [p.clone() for p in model.key_encoder.parameters()]
    model.loss(views)
    assert torch.equal(model.queue, before[0])
    assert all(torch.equal(a, b) for a, b in zip(model.key_encoder.parameters(), before[1]))


def test_clip_on_glyph_pairs_reads_two_modalities():
    model = build_model("clip", (4, 32, 32))
    assert model.min_views == 1
    assert model.encoder.backbone.image_shape == (3, 32, 32) and model.encoder_b.backbone.image_shape == (1, 32, 32)
    images = torch.rand(6, 4, 32, 32)
    changed = images.clone()
    changed[:, 3] = torch.rand(6, 32, 32)
    model.eval()
    assert torch.equal(model.embed(images), model.embed(changed))  # the representation is the image encoder's
    assert torch.isfinite(model.loss(torch.rand(8, 1, 4, 32, 32)))


def test_clip_on_one_modality_needs_two_views():
    with pytest.raises(SimveError, match="clip needs at least 2 views"):
        build_model("clip", (1, 28, 28)).loss(torch.rand(4, 1, 1, 28, 28))


def test_curl_block_and_hinge():
    views = torch.rand(6, 3, 1, 28, 28)
    for options in ({"block": True}, {"curl_loss": "hinge", "negatives": 5}, {"block": True, "curl_loss": "hinge"}):
        assert torch.isfinite(build_model("curl", (1, 28, 28), **options).loss(views))
    with pytest.raises(SimveError, match="6 negatives need a batch of at least 7"):
        build_model("curl", (1, 28, 28), negatives=6).loss(views)


@pytest.mark.parametrize("name, options, message", [
    ("simclr", {"temperature": 0}, "temperature must be positive"),
    ("moco", {"momentum": 1.0}, "momentum must be in [0, 1)"),
    ("curl", {"curl_loss": "square"}, "curl_loss must be one of logistic, hinge"),
    ("vicreg", {"head": "deep"}, "head must be one of mlp, linear, none, got 'deep'"),
    ("simclr", {"prior_var": 0.1}, "simclr takes no option prior_var"),
])
def test_bad_options(name, options, message):
    with pytest.raises(SimveError) as err:
        build_model(name, (1, 28, 28), **options)
    assert message in str(err.value)


@pytest.fixture(scope="module")
def glyphs():
    return load_dataset("glyphs", limit=800)


def _probe(model, data):
    features = [extract_features(model, split) for split in (data.train, data.val, data.test)]
    labels = [split.labels for split in (data.train, data.val, data.test)]
    return linear_probe(*zip(features, labels))["test_accuracy"]


@pytest.mark.parametrize("name", DISCRIMINATIVE)
def test_training_lowers_the_loss_and_beats_a_random_encoder(name, glyphs, tmp_path):
    torch.manual_seed(0)
    random_accuracy = _probe(build_model(name, glyphs.image_shape), glyphs)
    # MoCo's loss is comparable across epochs once its queue holds real keys only: a small queue fills
    # within the first epoch (with 4096 random keys at first, the loss rises as they are replaced).
    options = {"queue_size": 128} if name == "moco" else {}
    config = TrainConfig(model=name, data="glyphs", limit=800, epochs=3, log_every=2, model_options=options)
    model = train(config, tmp_path / "run")
    from simve.train import read_metrics

    epochs = [r["train_loss"] for r in read_metrics(tmp_path / "run") if "train_loss" in r]
    assert epochs[-1] < epochs[0]
    assert _probe(model, glyphs) > random_accuracy + 0.04
