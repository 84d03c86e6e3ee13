"""The losses of simve.losses against slow, obviously correct references written with Python loops,
plus their invariances, known values, gradients and input checks."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from simve import losses
from simve.errors import SimveError

TEMPERATURES = (0.1, 0.5, 1.0)
SHAPES = list(itertools.product((2, 5, 8), (3, 16)))  # (B, D)


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def close(actual: torch.Tensor, expected: float, rel=1e-9, abs=1e-12):
    assert actual.dim() == 0
    assert actual.item() == pytest.approx(expected, rel=rel, abs=abs)


# ------------------------------------------------------------------ slow references, on Python floats


def unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def dot(u, v):
    return sum(a * b for a, b in zip(u, v))


def sub(u, v):
    return [a - b for a, b in zip(u, v)]


def sq_dist(u, v):
    return sum((a - b) ** 2 for a, b in zip(u, v))


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def ref_info_nce(z, temperature):
    views = [(i, unit(view)) for i, datum in enumerate(z) for view in datum]
    anchor_losses = []
    for a, (datum_a, za) in enumerate(views):
        sims = {b: dot(za, zb) / temperature for b, (_, zb) in enumerate(views) if b != a}
        log_denominator = math.log(sum(math.exp(s) for s in sims.values()))
        positives = [b for b, (datum_b, _) in enumerate(views) if b != a and datum_b == datum_a]
        anchor_losses.append(-mean(sims[p] - log_denominator for p in positives))
    return mean(anchor_losses)


def ref_vicreg_terms(z, gamma, eps):
    B, J, D = len(z), len(z[0]), len(z[0][0])
    pair_terms = []
    for j in range(J):
        for k in range(j + 1, J):
            pair_terms.append(mean(sq_dist(z[b][j], z[b][k]) / D for b in range(B)))
    invariance = mean(pair_terms)
    variance = covariance = 0.0
    for j in range(J):
        m = [mean(z[b][j][d] for b in range(B)) for d in range(D)]
        cov = [[sum((z[b][j][d] - m[d]) * (z[b][j][e] - m[e]) for b in range(B)) / (B - 1) for e in range(D)]
               for d in range(D)]
        variance += mean(max(0.0, gamma - math.sqrt(cov[d][d] + eps)) for d in range(D))
        covariance += sum(cov[d][e] ** 2 for d in range(D) for e in range(D) if d != e) / D
    return {"invariance": invariance, "variance": variance, "covariance": covariance}


def ref_moco(q, k, queue, temperature):
    total = []
    for qb, kb in zip(q, k):
        positive = dot(unit(qb), unit(kb)) / temperature
        negatives = [dot(unit(qb), unit(n)) / temperature for n in queue]
        total.append(-positive + math.log(math.exp(positive) + sum(math.exp(s) for s in negatives)))
    return mean(total)


def ref_clip(a, b, temperature):
    B = len(a)
    logits = [[dot(unit(a[i]), unit(b[j])) / temperature for j in range(B)] for i in range(B)]
    a_to_b = mean(-logits[i][i] + math.log(sum(math.exp(logits[i][j]) for j in range(B))) for i in range(B))
    b_to_a = mean(-logits[j][j] + math.log(sum(math.exp(logits[i][j]) for i in range(B))) for j in range(B))
    return (a_to_b + b_to_a) / 2


def ref_align(x, y, alpha):
    return mean(math.sqrt(sq_dist(unit(xb), unit(yb))) ** alpha for xb, yb in zip(x, y))


def ref_uniform(x, t):
    rows = [unit(r) for r in x]
    pairs = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows))]
    return math.log(mean(math.exp(-t * sq_dist(rows[i], rows[j])) for i, j in pairs))


def ref_arora_l(v, kind):
    if kind == "logistic":
        return math.log(1 + sum(math.exp(-vi) for vi in v))
    return max(0.0, 1 + max(-vi for vi in v))


def ref_contrastive_negatives(anchor, positive, negatives, kind):
    return mean(
        ref_arora_l([dot(x, sub(xp, xn)) for xn in negs], kind) for x, xp, negs in zip(anchor, positive, negatives)
    )


def ref_contrastive_block(anchor, positives, negatives, kind):
    def block_mean(block):
        return [mean(column) for column in zip(*block)]

    return mean(
        ref_arora_l([dot(x, sub(block_mean(pos), block_mean(neg)))], kind)
        for x, pos, neg in zip(anchor, positives, negatives)
    )


# ------------------------------------------------------------------------------ against the references


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("J", (2, 3, 4))
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_info_nce_matches_reference(B, D, J, temperature):
    z = randn(B, J, D, seed=B * 100 + D * 10 + J)
    close(losses.info_nce(z, temperature), ref_info_nce(z.tolist(), temperature))


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("J", (2, 3, 4))
@pytest.mark.parametrize("gamma,eps", ((1.0, 1e-4), (2.5, 0.0)))
def test_vicreg_matches_reference(B, D, J, gamma, eps):
    z = randn(B, J, D, seed=B * 100 + D * 10 + J)
    expected = ref_vicreg_terms(z.tolist(), gamma, eps)
    terms = losses.vicreg_terms(z, gamma=gamma, eps=eps)
    assert set(terms) == {"invariance", "variance", "covariance"}
    for name, value in expected.items():
        close(terms[name], value)
    weights = {"invariance": 3.0, "variance": 5.0, "covariance": 0.5}
    close(losses.vicreg(z, **weights, gamma=gamma, eps=eps), sum(weights[n] * expected[n] for n in weights))
    # The defaults are the paper's: 25, 25, 1.
    defaults = ref_vicreg_terms(z.tolist(), 1.0, 1e-4)
    close(losses.vicreg(z), 25 * defaults["invariance"] + 25 * defaults["variance"] + defaults["covariance"])


def test_vicreg_invariance_is_mse_for_two_views():
    z = randn(6, 2, 5)
    close(losses.vicreg_terms(z)["invariance"], torch.nn.functional.mse_loss(z[:, 0], z[:, 1]).item())


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("K", (1, 7))
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_moco_matches_reference(B, D, K, temperature):
    q, k, queue = randn(B, D, seed=1), randn(B, D, seed=2), randn(K, D, seed=3)
    close(losses.moco(q, k, queue, temperature), ref_moco(q.tolist(), k.tolist(), queue.tolist(), temperature))


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("temperature", TEMPERATURES + (0.07,))
def test_clip_matches_reference(B, D, temperature):
    a, b = randn(B, D, seed=1), randn(B, D, seed=2)
    close(losses.clip(a, b, temperature), ref_clip(a.tolist(), b.tolist(), temperature))


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("alpha", (1.0, 2.0, 3.0))
def test_align_matches_reference(B, D, alpha):
    x, y = randn(B, D, seed=1), randn(B, D, seed=2)
    close(losses.align(x, y, alpha), ref_align(x.tolist(), y.tolist(), alpha))


@pytest.mark.parametrize("N,D", SHAPES)
@pytest.mark.parametrize("t", (0.5, 2.0))
def test_uniform_matches_reference(N, D, t):
    x = randn(N, D)
    close(losses.uniform(x, t), ref_uniform(x.tolist(), t))


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("k", (1, 4))
@pytest.mark.parametrize("kind", ("logistic", "hinge"))
def test_contrastive_negatives_matches_reference(B, D, k, kind):
    anchor, positive, negatives = randn(B, D, seed=1), randn(B, D, seed=2), randn(B, k, D, seed=3)
    expected = ref_contrastive_negatives(anchor.tolist(), positive.tolist(), negatives.tolist(), kind)
    close(losses.contrastive_negatives(anchor, positive, negatives, kind), expected)


@pytest.mark.parametrize("B,D", SHAPES)
@pytest.mark.parametrize("b", (1, 3))
@pytest.mark.parametrize("kind", ("logistic", "hinge"))
def test_contrastive_block_matches_reference(B, D, b, kind):
    anchor, positives, negatives = randn(B, D, seed=1), randn(B, b, D, seed=2), randn(B, b, D, seed=3)
    expected = ref_contrastive_block(anchor.tolist(), positives.tolist(), negatives.tolist(), kind)
    close(losses.contrastive_block(anchor, positives, negatives, kind), expected)


def test_hinge_is_zero_once_every_margin_is_met():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[2.0, 0.0]])
    negatives = torch.tensor([[[0.5, 3.0], [-1.0, 0.0]]])  # v = (1.5, 3): margins >= 1
    assert losses.contrastive_negatives(anchor, positive, negatives, "hinge").item() == 0.0
    close(losses.contrastive_negatives(anchor, positive, negatives), math.log(1 + math.exp(-1.5) + math.exp(-3)),
          rel=1e-6)


def test_float32_agrees_with_float64_and_keeps_its_dtype():
    z = randn(5, 3, 8)
    for fn in (losses.info_nce, losses.vicreg, lambda t: losses.uniform(t.flatten(0, 1)),
               lambda t: losses.clip(t[:, 0], t[:, 1]), lambda t: losses.moco(t[:, 0], t[:, 1], t[:, 2]),
               lambda t: losses.align(t[:, 0], t[:, 1]),
               lambda t: losses.contrastive_negatives(t[:, 0], t[:, 1], t[:, 1:])):
        single = fn(z.float())
        assert single.dtype == torch.float32
        assert single.item() == pytest.approx(fn(z).item(), rel=1e-5, abs=1e-6)


# ------------------------------------------------------------------------------------------ invariances


def test_batch_permutation_leaves_every_loss_unchanged():
    B, D = 8, 6
    perm = torch.randperm(B, generator=torch.Generator().manual_seed(7))
    z, a, b, c = randn(B, 3, D, seed=1), randn(B, D, seed=2), randn(B, D, seed=3), randn(B, D, seed=4)
    blocks, negatives, queue = randn(B, 3, D, seed=5), randn(B, 4, D, seed=6), randn(5, D, seed=8)
    cases = [
        (losses.info_nce, (z,)),
        (losses.vicreg, (z,)),
        (lambda q, k: losses.moco(q, k, queue), (a, b)),
        (losses.clip, (a, b)),
        (losses.align, (a, b)),
        (losses.uniform, (a,)),
        (lambda *t: losses.contrastive_negatives(*t, kind="logistic"), (a, b, negatives)),
        (lambda *t: losses.contrastive_negatives(*t, kind="hinge"), (a, b, negatives)),
        (lambda *t: losses.contrastive_block(*t, kind="logistic"), (c, blocks, negatives[:, :3])),
        (lambda *t: losses.contrastive_block(*t, kind="hinge"), (c, blocks, negatives[:, :3])),
    ]
    for fn, args in cases:
        close(fn(*(x[perm] for x in args)), fn(*args).item())


def test_permutations_of_views_negatives_queue_and_blocks():
    g = torch.Generator().manual_seed(3)
    z = randn(5, 4, 6)
    # info_nce: any permutation of each datum's views; vicreg: one permutation of the views for all data.
    per_datum = torch.stack([z[i, torch.randperm(4, generator=g)] for i in range(5)])
    close(losses.info_nce(per_datum), losses.info_nce(z).item())
    close(losses.vicreg(z[:, torch.randperm(4, generator=g)]), losses.vicreg(z).item())
    q, k, queue = randn(5, 6, seed=1), randn(5, 6, seed=2), randn(9, 6, seed=3)
    close(losses.moco(q, k, queue[torch.randperm(9, generator=g)]), losses.moco(q, k, queue).item())
    anchor, negatives, blocks = randn(5, 6, seed=4), randn(5, 4, 6, seed=5), randn(5, 3, 6, seed=6)
    for kind in ("logistic", "hinge"):
        permuted = negatives[:, torch.randperm(4, generator=g)]
        close(losses.contrastive_negatives(anchor, q, permuted, kind),
              losses.contrastive_negatives(anchor, q, negatives, kind).item())
        reordered = blocks[:, torch.randperm(3, generator=g)]
        close(losses.contrastive_block(anchor, reordered, negatives[:, :3], kind),
              losses.contrastive_block(anchor, blocks, negatives[:, :3], kind).item())


def positive_scales(*shape, seed=11):
    return torch.rand(*shape, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 10 + 0.1


def test_scaling_rows_by_positive_constants_before_normalisation():
    z, a, b, queue = randn(6, 3, 5), randn(6, 5, seed=1), randn(6, 5, seed=2), randn(4, 5, seed=3)
    sz, sa, sb, sq = positive_scales(6, 3), positive_scales(6, seed=1), positive_scales(6, seed=2), positive_scales(4)
    close(losses.info_nce(z * sz), losses.info_nce(z).item())
    close(losses.moco(a * sa, b * sb, queue * sq), losses.moco(a, b, queue).item())
    close(losses.align(a * sa, b * sb), losses.align(a, b).item())
    close(losses.uniform(a * sa), losses.uniform(a).item())
    close(losses.clip(a * sa, b * sb), losses.clip(a, b).item())


def test_arora_losses_use_raw_inner_products():
    anchor, positive, negatives = randn(4, 5, seed=1), randn(4, 5, seed=2), randn(4, 2, 5, seed=3)
    before = losses.contrastive_negatives(anchor, positive, negatives)
    assert losses.contrastive_negatives(3 * anchor, positive, negatives).item() != pytest.approx(before.item())


def test_symmetries_of_clip_and_align():
    a, b = randn(7, 4, seed=1), randn(7, 4, seed=2)
    close(losses.clip(b, a, 0.3), losses.clip(a, b, 0.3).item())
    close(losses.align(b, a, 1.5), losses.align(a, b, 1.5).item())


# ----------------------------------------------------------------------------------------- known values


def test_align_of_perfect_pairs_is_zero_and_of_opposite_pairs_is_maximal():
    x = randn(9, 4)
    assert losses.align(x, x).item() == pytest.approx(0.0, abs=1e-12)
    assert losses.align(x, 2.5 * x, alpha=1.0).item() == pytest.approx(0.0, abs=1e-7)
    close(losses.align(x, -x, alpha=2.0), 4.0)
    close(losses.align(x, -x, alpha=3.0), 8.0)


@pytest.mark.parametrize("D", (32, 128))
@pytest.mark.parametrize("t", (1.0, 2.0))
def test_uniformity_of_random_unit_vectors_matches_high_dimension_value(D, t):
    # For x, y uniform on S^{D-1}: ||x - y||^2 = 2 - 2<x, y>, <x, y> ~ N(0, 1/D), so the uniformity is
    # log E exp(-t ||x - y||^2) ~ -2t + 2t^2/D (the exact Bessel-function value differs by < 2e-3 here).
    x = randn(3000, D, seed=D)
    value = losses.uniform(x, t).item()
    assert value == pytest.approx(-2 * t + 2 * t * t / D, abs=3e-3)
    assert abs(value + 2 * t) > 0.01  # the 2t^2/D correction is resolved, not just the -2t limit


def test_uniformity_of_collapsed_features_is_zero():
    assert losses.uniform(randn(1, 5).expand(6, 5) * torch.arange(1.0, 7.0)[:, None]).item() == pytest.approx(0.0)


@pytest.mark.parametrize("B,J", ((2, 2), (5, 3), (8, 4)))
@pytest.mark.parametrize("temperature", TEMPERATURES + (0.05,))
def test_info_nce_of_identical_views_of_orthogonal_data(B, J, temperature):
    # All views of datum i equal e_i: s = 1/T for the J - 1 positives, 0 for the (B - 1) J negatives.
    z = torch.eye(16, dtype=torch.float64)[:B, None, :].expand(B, J, 16)
    value = losses.info_nce(z, temperature).item()
    assert value == pytest.approx(math.log(J - 1 + (B - 1) * J * math.exp(-1 / temperature)), rel=1e-9, abs=1e-12)
    # The infimum of the loss is log(J - 1) (the mean over positives of -log p_ap with sum_p p_ap <= 1);
    # it is nearly reached at small temperature, and random views do worse.
    assert value >= math.log(J - 1) - 1e-12
    if temperature <= 0.1:
        assert value - math.log(J - 1) < 1e-2
    assert losses.info_nce(randn(B, J, 16), temperature).item() > value


def test_info_nce_of_collapsed_views_is_log_of_the_other_views():
    B, J = 6, 3
    z = randn(1, 1, 4).expand(B, J, 4)
    close(losses.info_nce(z, 0.3), math.log(B * J - 1))


def test_moco_known_values():
    q = torch.eye(8, dtype=torch.float64)[:3]
    queue = torch.eye(8, dtype=torch.float64)[3:]  # orthogonal to every query
    close(losses.moco(q, 4 * q, queue, 0.2), math.log(1 + 5 * math.exp(-1 / 0.2)))
    close(losses.moco(q, q, queue[:0], 0.2), 0.0)  # an empty queue: only the positive, loss 0


@pytest.mark.parametrize("B", (2, 5, 8))
def test_clip_of_matching_one_hot_pairs_at_small_temperature_is_zero(B):
    a = torch.eye(B, 8)
    assert losses.clip(a, 3 * a, temperature=0.01).item() < 1e-6
    close(losses.clip(torch.ones(B, 8), torch.ones(B, 8), 0.07), math.log(B), rel=1e-6)  # collapse: chance


@pytest.mark.parametrize("J", (2, 3))
def test_vicreg_terms_of_independent_standard_normal_views(J):
    B, D = 4000, 16
    terms = losses.vicreg_terms(randn(B, J, D, seed=J))
    # E ||z_j - z_k||^2 / D = E (z_j - z_k)_d^2 = Var + Var = 2.
    assert terms["invariance"].item() == pytest.approx(2.0, abs=0.05)
    # Sample standard deviations ~ 1 +- 1/sqrt(2B): relu(1 - std) is tiny.
    assert 0 <= terms["variance"].item() < 0.03
    # Off-diagonal sample covariances ~ N(0, 1/(B-1)): E c(Z) = D (D - 1) / (B - 1) / D per view.
    expected = J * (D - 1) / (B - 1)
    assert terms["covariance"].item() == pytest.approx(expected, rel=0.4)


def test_vicreg_terms_of_identical_constant_views():
    z = torch.full((5, 3, 4), 2.0, dtype=torch.float64)
    terms = losses.vicreg_terms(z, gamma=1.0, eps=1e-4)
    assert terms["invariance"].item() == 0.0
    close(terms["variance"], 3 * (1 - math.sqrt(1e-4)))
    assert terms["covariance"].item() == 0.0


# --------------------------------------------------------------------------------------------- gradients


def all_losses(z, a, b, c, negatives):
    return {
        "info_nce": lambda: losses.info_nce(z),
        "vicreg": lambda: losses.vicreg(z),
        "clip": lambda: losses.clip(a, b),
        "align": lambda: losses.align(a, b),
        "uniform": lambda: losses.uniform(a),
        "logistic": lambda: losses.contrastive_negatives(a, b, negatives, "logistic"),
        "hinge": lambda: losses.contrastive_negatives(a, b, negatives, "hinge"),
        "block": lambda: losses.contrastive_block(c, negatives, negatives.flip(1)),
    }


@pytest.mark.parametrize("name", ("info_nce", "vicreg", "clip", "align", "uniform", "logistic", "hinge", "block"))
def test_gradients_flow_and_are_finite(name):
    z = randn(6, 3, 5, dtype=torch.float32).requires_grad_()
    a, b, c = (randn(6, 5, seed=s, dtype=torch.float32).requires_grad_() for s in (1, 2, 3))
    negatives = randn(6, 4, 5, seed=4, dtype=torch.float32).requires_grad_()
    loss = all_losses(z, a, b, c, negatives)[name]()
    loss.backward()
    grads = [t.grad for t in (z, a, b, c, negatives) if t.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_gradients_are_finite_at_degenerate_points():
    x = randn(5, 4).requires_grad_()
    losses.align(x, x.detach()).backward()  # distance 0
    assert torch.isfinite(x.grad).all()
    y = randn(1, 4).expand(5, 4).clone().requires_grad_()
    losses.uniform(y).backward()  # all pairwise distances 0
    assert torch.isfinite(y.grad).all()
    z = torch.eye(4)[:, None, :].expand(4, 2, 4).clone().requires_grad_()
    losses.info_nce(z, 0.05).backward()
    assert torch.isfinite(z.grad).all()


def test_moco_gives_no_gradient_to_the_key_or_queue():
    q, k, queue = (randn(4, 6, seed=s).requires_grad_() for s in (1, 2, 3))
    losses.moco(q, k, queue).backward()
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    assert k.grad is None and queue.grad is None


# -------------------------------------------------------------------------------------------- bad input


BAD_INPUTS = {
    "info_nce 2-D": lambda: losses.info_nce(randn(4, 5)),
    "info_nce J=1": lambda: losses.info_nce(randn(4, 1, 5)),
    "info_nce B=0": lambda: losses.info_nce(randn(0, 2, 5)),
    "info_nce T=0": lambda: losses.info_nce(randn(4, 2, 5), temperature=0),
    "info_nce T<0": lambda: losses.info_nce(randn(4, 2, 5), temperature=-0.5),
    "info_nce T=nan": lambda: losses.info_nce(randn(4, 2, 5), temperature=float("nan")),
    "info_nce T=str": lambda: losses.info_nce(randn(4, 2, 5), temperature="hot"),
    "info_nce ints": lambda: losses.info_nce(torch.ones(4, 2, 5, dtype=torch.long)),
    "info_nce list": lambda: losses.info_nce([[[1.0, 2.0]]]),
    "vicreg 2-D": lambda: losses.vicreg(randn(4, 5)),
    "vicreg B=1": lambda: losses.vicreg(randn(1, 2, 5)),
    "vicreg J=1": lambda: losses.vicreg(randn(4, 1, 5)),
    "vicreg gamma=0": lambda: losses.vicreg(randn(4, 2, 5), gamma=0),
    "vicreg eps<0": lambda: losses.vicreg_terms(randn(4, 2, 5), eps=-1e-4),
    "vicreg weight<0": lambda: losses.vicreg(randn(4, 2, 5), invariance=-1),
    "moco batch": lambda: losses.moco(randn(4, 5), randn(3, 5), randn(7, 5)),
    "moco queue D": lambda: losses.moco(randn(4, 5), randn(4, 5), randn(7, 6)),
    "moco queue 1-D": lambda: losses.moco(randn(4, 5), randn(4, 5), randn(5)),
    "moco T=0": lambda: losses.moco(randn(4, 5), randn(4, 5), randn(7, 5), temperature=0.0),
    "clip D": lambda: losses.clip(randn(4, 5), randn(4, 6)),
    "clip B": lambda: losses.clip(randn(4, 5), randn(3, 5)),
    "clip 3-D": lambda: losses.clip(randn(4, 2, 5), randn(4, 2, 5)),
    "clip T<0": lambda: losses.clip(randn(4, 5), randn(4, 5), temperature=-0.07),
    "align shapes": lambda: losses.align(randn(4, 5), randn(5, 5)),
    "align alpha=0": lambda: losses.align(randn(4, 5), randn(4, 5), alpha=0),
    "align 1-D": lambda: losses.align(randn(5), randn(5)),
    "uniform N=1": lambda: losses.uniform(randn(1, 5)),
    "uniform t=0": lambda: losses.uniform(randn(4, 5), t=0),
    "uniform 3-D": lambda: losses.uniform(randn(4, 2, 5)),
    "arora kind": lambda: losses.contrastive_negatives(randn(4, 5), randn(4, 5), randn(4, 2, 5), kind="square"),
    "arora 2-D negatives": lambda: losses.contrastive_negatives(randn(4, 5), randn(4, 5), randn(4, 5)),
    "arora k=0": lambda: losses.contrastive_negatives(randn(4, 5), randn(4, 5), randn(4, 0, 5)),
    "arora negatives B": lambda: losses.contrastive_negatives(randn(4, 5), randn(4, 5), randn(3, 2, 5)),
    "arora negatives D": lambda: losses.contrastive_negatives(randn(4, 5), randn(4, 5), randn(4, 2, 6)),
    "arora positive": lambda: losses.contrastive_negatives(randn(4, 5), randn(3, 5), randn(4, 2, 5)),
    "block kind": lambda: losses.contrastive_block(randn(4, 5), randn(4, 2, 5), randn(4, 2, 5), kind="hinges"),
    "block b": lambda: losses.contrastive_block(randn(4, 5), randn(4, 2, 5), randn(4, 3, 5)),
    "block B": lambda: losses.contrastive_block(randn(4, 5), randn(3, 2, 5), randn(3, 2, 5)),
    "block 2-D": lambda: losses.contrastive_block(randn(4, 5), randn(4, 5), randn(4, 5)),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_a_one_line_simve_error(case):
    with pytest.raises(SimveError) as info:
        BAD_INPUTS[case]()
    assert "\n" not in str(info.value) and str(info.value)
