"""The discriminative baselines: the interface, their mechanics, and that training helps a probe."""

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F

from simve import losses
from simve.data import load_dataset
from simve.errors import SimveError
from simve.evaluate.batches import embed_images
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
    features = [embed_images(model, split.images) for split in (data.train, data.val, data.test)]
    labels = [split.labels for split in (data.train, data.val, data.test)]
    return linear_probe(*zip(features, labels))["test_accuracy"]


@pytest.mark.slow
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


# ------------------------------------------------------------------ how each model feeds its loss, by value
# A tiny case each: 8x8 gray images through the MLP backbone, float64, the model in training mode. The
# features are computed by hand, view by view, with the model's own nets (linear heads, or none: per-row
# functions, so one view at a time gives the rows the model computes on the whole batch), and the pure
# loss of simve.losses is called on them by hand.

SMALL = (1, 8, 8)


def _tiny(name, **options):
    torch.manual_seed(0)
    return build_model(name, SMALL, net="mlp", **options).double()


def _views(batch, n_views, shape=SMALL):
    return torch.rand(batch, n_views, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_simclr_is_info_nce_of_the_projected_views():
    model = _tiny("simclr", head="linear", temperature=0.3)
    views = _views(6, 3)
    z = torch.stack([model.projector(model.encoder(views[:, j])) for j in range(3)], dim=1)
    _close(model.loss(views), losses.info_nce(z, 0.3))


def test_vicreg_is_the_vicreg_loss_over_every_view():
    model = _tiny("vicreg", head="linear", head_dim=16, invariance=2.0, variance=3.0, covariance=0.5)
    views = _views(6, 3)
    z = torch.stack([model.projector(model.encoder(views[:, j])) for j in range(3)], dim=1)
    _close(model.loss(views), losses.vicreg(z, invariance=2.0, variance=3.0, covariance=0.5))


def test_align_uniform_averages_every_pair_and_every_view():
    model = _tiny("align-uniform", align_alpha=1.5, uniform_t=3.0, uniform_weight=0.7)
    views = _views(6, 3)
    z = [model.projector(model.encoder(views[:, j])) for j in range(3)]
    align = (losses.align(z[0], z[1], 1.5) + losses.align(z[0], z[2], 1.5) + losses.align(z[1], z[2], 1.5)) / 3
    uniform = (losses.uniform(z[0], 3.0) + losses.uniform(z[1], 3.0) + losses.uniform(z[2], 3.0)) / 3
    _close(model.loss(views), align + 0.7 * uniform)


def test_clip_feeds_view_1_to_the_image_encoder_and_view_2_to_the_other():
    model = _tiny("clip", head="linear", temperature=0.2)
    views = _views(6, 2)
    a = model.projector(model.encoder(views[:, 0]))
    b = model.projector_b(model.encoder_b(views[:, 1]))
    _close(model.loss(views), losses.clip(a, b, 0.2))


def test_clip_on_pairs_takes_rgb_and_gray_of_each_view_in_one_batch_per_view():
    torch.manual_seed(0)
    model = build_model("clip", (4, 8, 8), net="mlp", head="linear", temperature=0.2).double()
    views = _views(6, 2, (4, 8, 8))
    per_view = [losses.clip(model.projector(model.encoder(views[:, j, :3])),
                            model.projector_b(model.encoder_b(views[:, j, 3:])), 0.2) for j in range(2)]
    _close(model.loss(views), (per_view[0] + per_view[1]) / 2)


def test_moco_is_the_query_of_view_1_against_the_updated_key_of_view_2_and_the_old_queue():
    model = _tiny("moco", head="linear", head_dim=16, queue_size=32, momentum=0.6, temperature=0.3)
    with torch.no_grad():  # a key encoder apart from the online one, so that the momentum step shows
        for p in [*model.key_encoder.parameters(), *model.key_projector.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    views = _views(6, 2)
    queue = model.queue.clone()
    key_nets = copy.deepcopy(torch.nn.Sequential(model.key_encoder, model.key_projector))
    online = [*model.encoder.parameters(), *model.projector.parameters()]
    with torch.no_grad():
        for k, q in zip(key_nets.parameters(), online):
            k.copy_(0.6 * k + 0.4 * q)
    query = model.projector(model.encoder(views[:, 0]))
    key = key_nets(views[:, 1])
    _close(model.loss(views), losses.moco(query, key, queue, 0.3))
    _close(model.queue[:6], F.normalize(key, dim=1))  # the keys enqueued
    _close(model.queue[6:], queue[6:])


@pytest.mark.parametrize("kind", ["logistic", "hinge"])
def test_curl_anchor_positive_and_negatives(kind):
    """View 1 the anchor, view 2 the positive, view 1 of k other data the negatives: the model's loss is the
    hand loss of one choice of k other data (the same offsets for every anchor), and over seeds not always
    the same one."""
    batch, k, radius = 5, 2, 3.0
    model = _tiny("curl", negatives=k, curl_loss=kind, radius=radius)
    views = _views(batch, 3)
    f = torch.stack([radius * F.normalize(model.encoder(views[:, j]), dim=-1) for j in range(3)], dim=1)
    rows = torch.arange(batch)
    candidates = {
        offsets: losses.contrastive_negatives(f[:, 0], f[:, 1], f[(rows[:, None] + torch.tensor(offsets)) % batch, 0],
                                              kind)
        for offsets in itertools.combinations(range(1, batch), k)
    }
    assert len({round(v.item(), 6) for v in candidates.values()}) == len(candidates)  # the choices tell apart
    chosen = set()
    for seed in range(8):
        torch.manual_seed(seed)
        loss = model.loss(views)
        matches = [o for o, v in candidates.items() if torch.allclose(loss, v, rtol=1e-6, atol=1e-6)]
        assert len(matches) == 1, f"seed {seed}: loss {loss.item()} is no choice of negatives"
        chosen.add(matches[0])
    assert len(chosen) > 1


@pytest.mark.parametrize("kind", ["logistic", "hinge"])
def test_curl_block_is_views_2_to_j_of_the_datum_against_those_of_another(kind):
    batch, radius = 5, 3.0
    model = _tiny("curl", block=True, curl_loss=kind, radius=radius)
    views = _views(batch, 4)
    f = torch.stack([radius * F.normalize(model.encoder(views[:, j]), dim=-1) for j in range(4)], dim=1)
    rows = torch.arange(batch)
    candidates = {o: losses.contrastive_block(f[:, 0], f[:, 1:], f[(rows + o) % batch, 1:], kind) for o in range(1, batch)}
    assert len({round(v.item(), 6) for v in candidates.values()}) == len(candidates)
    chosen = set()
    for seed in range(8):
        torch.manual_seed(seed)
        loss = model.loss(views)
        matches = [o for o, v in candidates.items() if torch.allclose(loss, v, rtol=1e-6, atol=1e-6)]
        assert len(matches) == 1, f"seed {seed}: loss {loss.item()} is no choice of the negative block"
        chosen.add(matches[0])
    assert len(chosen) > 1
