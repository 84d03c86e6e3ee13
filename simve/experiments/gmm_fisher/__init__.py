"""Contrastive learning on a Gaussian mixture finds the Fisher subspace (Bansal, Kavis & Sanghavi, arXiv 2411.03517).

On the mixtures of :mod:`simve.experiments.gmm_fisher.data` (K components, r = K - 1 nuisance directions of variance a, the
anisotropy; drawn once per seed and D, a swept), each method is a linear map W (r x D) of the inputs centred
with the training mean, scored against the Fisher subspace by :mod:`simve.experiments.gmm_fisher.subspaces`:

- ``lda-true``: the Fisher subspace of the true parameters, the top r generalised eigenvectors of
  S_b v = lambda Sigma v, i.e. span{Sigma^-1 (mu_k - mu_bar)}; ``lda``: the same from labelled training
  samples (within-class scatter^-1 between-class scatter);
- ``infonce``: f(x) = W x trained with :func:`simve.losses.info_nce` on the pairs (Adam);
- ``simve``: :class:`simve.models.simve.SimVE` with encoder q(z | x) = N(W x + b, diag softplus(V x + c)^2),
  likelihood N(D z + e, sigma^2 I) (one learned sigma), prior s^2 = ``prior_var`` and a N(0, I) content
  prior, on the same pairs (J = 2 views). Like probabilistic PCA its ELBO pulls row(W) to the high-variance
  (nuisance) directions; its content term pulls it to what the views share, the more so the smaller s^2;
- ``pca``: the top r principal directions of all training views pooled; ``random``: a Gaussian W, the anchor.

Two modalities (CLIP), setting ``clip``: two linear encoders trained with :func:`simve.losses.clip` on (x_A, x_B),
each scored in its own modality, beside PCA and random. ``clip-whitened`` trains on each modality times its own
(label-free) Sigma_total^-1/2, the encoder read back as W Sigma_total^-1/2: the same linear maps, so the same
optima, but without the plateau where raw ``clip`` starts from a random W: both encoders see mostly nuisance and
each one's gradient towards the signal is proportional to the signal the other already carries, which slows it
as a grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from simve import losses
from simve.errors import SimveError
from simve.experiments.common import experiment, write_experiment
from simve.experiments.gmm_fisher.data import AUGMENTS, Problem, draw_problem
from simve.experiments.gmm_fisher.figures import save_figures
from simve.experiments.gmm_fisher.nets import LinearDecoder, VectorBackbone
from simve.experiments.gmm_fisher.subspaces import (
    fisher_directions,
    kmeans_scores,
    lda_estimate,
    pca_map,
    subspace_scores,
    whitening,
)
from simve.models.likelihoods import Gaussian
from simve.models.simve import SimVE
from simve.nets.heads import GaussianHead
from simve.runs import timer
from simve.stats import mean_std, plus_minus
from simve.train import fit

NAME = "gmm-fisher"
METHODS = ("lda-true", "lda", "infonce", "simve", "pca", "random")
CLIP_METHODS = ("clip", "clip-whitened", "pca", "random")
COLUMNS = {"angle": ("largest angle (°)", 1, 1), "distance": ("distance", 1, 3),  # metric: head, scale, digits
           "fisher_ratio": ("Fisher ratio", 1, 3), "accuracy": ("k-means acc (%)", 100, 1), "nmi": ("NMI", 1, 3)}
CLIP_COLUMNS = {"angle_a": ("angle A (°)", 1, 1), "angle_b": ("angle B (°)", 1, 1),
                "fisher_ratio_a": ("Fisher ratio A", 1, 3), "fisher_ratio_b": ("Fisher ratio B", 1, 3)}


@dataclass
class Settings:
    dims: tuple[int, ...] = (10, 50)  # D, the ambient dimensions swept
    anisotropies: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)  # a, the variance of the nuisance directions
    seeds: int = 3  # each seed draws a new geometry, new samples and new initialisations
    components: int = 4  # K; every map has rank r = K - 1
    separation: float = 3.0  # the distance between any two means
    augment: str = "independent"  # how the two views of a pair are drawn: independent or coupled
    rho: float = 0.5  # coupled views: the fraction of noise they share
    train_pairs: int = 10000  # pairs every method learns from (LDA reads their first view and its label)
    test_samples: int = 2000  # held-out samples for k-means
    steps: int = 1000  # Adam steps of InfoNCE, SimVE and CLIP
    batch_size: int = 128  # pairs per step
    lr: float = 0.01
    temperature: float = 0.5  # InfoNCE and CLIP
    prior_var: float = 0.15  # SimVE's s^2
    methods: tuple[str, ...] = METHODS
    kmeans_restarts: int = 5
    clip: bool = True  # also run the two-modality variant


def check_settings(s: Settings) -> None:
    """Refuse settings the experiment cannot run, in one line each (the first that applies)."""
    least, a = 2 * (s.components - 1) + 1, s.anisotropies
    refusals = [
        (s.components < 2, f"components must be at least 2, got {s.components}"),
        (not s.dims or min(s.dims) < least or len(set(s.dims)) < len(s.dims),
         f"dims must be a non-empty list of distinct dimensions >= 2 (components - 1) + 1 = {least}, got {s.dims}"),
        (not a or len(set(a)) < len(a) or not all(x > 0 and math.isfinite(x) for x in a),
         f"anisotropies must be a non-empty list of distinct positive numbers, got {a}"),
        *((getattr(s, name) < 1, f"{name} must be at least 1, got {getattr(s, name)}")
          for name in ("seeds", "steps", "kmeans_restarts")),
        (s.batch_size < 2 or s.train_pairs < s.batch_size,
         f"need 2 <= batch_size <= train_pairs, got batch_size {s.batch_size} and train_pairs {s.train_pairs}"),
        (s.test_samples < s.components,
         f"test_samples must be at least components ({s.components}), got {s.test_samples}"),
        *((not getattr(s, name) > 0, f"{name} must be positive, got {getattr(s, name)}")
          for name in ("separation", "lr", "temperature", "prior_var")),
        (s.augment not in AUGMENTS, f"augment must be one of {', '.join(AUGMENTS)}, got {s.augment!r}"),
        (not 0 <= s.rho < 1, f"rho must be in [0, 1), got {s.rho}"),
        (not s.methods or any(m not in METHODS for m in s.methods),
         f"methods must be a non-empty list of {', '.join(METHODS)}, got {', '.join(s.methods) or 'none'}"),
    ]
    for refused, message in refusals:
        if refused:
            raise SimveError(message)


def linear_maps(inputs: list[Tensor], rank: int, loss, s: Settings) -> list[Tensor]:
    """One linear encoder (rank, D) per input, trained on ``loss`` of their codes of the same random rows."""
    encoders = nn.ModuleList([nn.Linear(x.shape[-1], rank, bias=False) for x in inputs])

    def batch_loss() -> Tensor:
        idx = torch.randint(len(inputs[0]), (s.batch_size,))
        return loss(*(encoder(x[idx]) for encoder, x in zip(encoders, inputs)))

    return [encoder.weight.detach() for encoder in fit(encoders, batch_loss, s.steps, s.lr)]


def simve_map(pairs: Tensor, rank: int, s: Settings) -> Tensor:
    """SimVE on the pairs as views (B, 2, 1, 1, D); the row space of its encoder's mean."""
    dim = pairs.shape[-1]
    model = SimVE(GaussianHead(VectorBackbone(dim), rank), LinearDecoder(rank, dim),
                  Gaussian((1, 1, dim), "learned", link="identity"), rank, SimVE.Options(prior_var=s.prior_var))
    views = pairs.unflatten(-1, (1, 1, dim))
    fit(model, lambda: model.loss(views[torch.randint(len(pairs), (s.batch_size,))]), s.steps, s.lr)
    return model.encoder.out.weight[:rank].detach()


def fit_method(method: str, pairs: Tensor, labels: Tensor, fisher: Tensor, rank: int, s: Settings) -> Tensor:
    """One method's map W (rank, D) from centred training pairs (n, 2, D); ``lda-true`` is ``fisher``."""
    x = pairs.float()
    maps = {"lda-true": lambda: fisher, "lda": lambda: lda_estimate(pairs[:, 0], labels, rank),
            "pca": lambda: pca_map(pairs.flatten(0, 1), rank),
            "random": lambda: torch.randn(rank, pairs.shape[-1], dtype=torch.float64),
            "infonce": lambda: linear_maps([x], rank, lambda z: losses.info_nce(z, s.temperature), s)[0].double(),
            "simve": lambda: simve_map(x, rank, s).double()}
    return maps[method]()


def clip_maps(data: list[Tensor], rank: int, s: Settings, whitened: bool) -> list[Tensor]:
    """CLIP's two linear encoders, trained on the centred modalities (each (n, D)), as maps of the raw inputs;
    ``whitened``: trained on each modality times its Sigma_total^-1/2 and read back as W Sigma_total^-1/2."""
    preconditioners = [whitening(x) if whitened else torch.eye(x.shape[1], dtype=x.dtype) for x in data]
    maps = linear_maps([(x @ p).float() for x, p in zip(data, preconditioners)], rank,
                       lambda a, b: losses.clip(a, b, s.temperature), s)
    return [w.double() @ p for w, p in zip(maps, preconditioners)]


def fit_clip_method(method: str, data: list[Tensor], rank: int, s: Settings) -> list[Tensor]:
    """One method's maps (rank, D) for the two modalities."""
    if method in ("clip", "clip-whitened"):
        return clip_maps(data, rank, s, whitened=method == "clip-whitened")
    return [pca_map(x, rank) if method == "pca" else torch.randn(rank, x.shape[1], dtype=torch.float64) for x in data]


SEED_STREAMS = (*METHODS, "data", *(f"two-modality {m}" for m in CLIP_METHODS))


def stream_seed(seed: int, dim: int, stream: str) -> int:
    """The seed of one random stream (a method's training, the data): fixed per (seed, D, stream), the same for
    every anisotropy and whichever other methods run."""
    return 1_000_003 * seed + 1009 * dim + SEED_STREAMS.index(stream)


def run_mixture(problem: Problem, anisotropy: float, seed: int, s: Settings) -> list[dict]:
    """Every method on one mixture: rows of subspace and clustering scores."""
    rank, labels, noise, mixture = s.components - 1, problem.labels, problem.noise, problem.geometry.at(anisotropy)
    pairs = mixture.sample(labels["train"][:, None], noise["train"])
    centre = pairs.flatten(0, 1).mean(0)
    test = mixture.sample(labels["test"], noise["test"]) - centre
    fisher = fisher_directions(mixture.covariance, mixture.between, rank)
    dim, rows = pairs.shape[-1], []
    for method in s.methods:
        with torch.random.fork_rng():
            torch.manual_seed(stream_seed(seed, dim, method))
            w = fit_method(method, pairs - centre, labels["train"], fisher, rank, s)
        clustering = kmeans_scores(w, test, labels["test"], s.components, s.kmeans_restarts,
                                   torch.Generator().manual_seed(seed))
        rows.append({"dim": dim, "anisotropy": anisotropy, "seed": seed, "method": method,
                     **subspace_scores(w, mixture, fisher), **clustering})
    return rows


def run_clip(problem: Problem, anisotropy: float, seed: int, s: Settings) -> list[dict]:
    """The two-modality variant on one anisotropy: every CLIP method's angle to each modality's Fisher subspace."""
    rank, mixtures = s.components - 1, [g.at(anisotropy) for g in problem.modalities]
    data = [m.sample(problem.labels["train"], n) for m, n in zip(mixtures, problem.modality_noise)]
    data = [x - x.mean(0) for x in data]
    fishers = [fisher_directions(m.covariance, m.between, rank) for m in mixtures]
    dim, rows = data[0].shape[1], []
    for method in CLIP_METHODS:
        with torch.random.fork_rng():
            torch.manual_seed(stream_seed(seed, dim, f"two-modality {method}"))
            maps = fit_clip_method(method, data, rank, s)
        a, b = (subspace_scores(w, m, f) for w, m, f in zip(maps, mixtures, fishers))
        rows.append({"dim": dim, "anisotropy": anisotropy, "seed": seed, "method": method, "angle_a": a["angle"],
                     "angle_b": b["angle"], "fisher_ratio_a": a["fisher_ratio"], "fisher_ratio_b": b["fisher_ratio"]})
    return rows


def summarise(rows: list[dict], metrics) -> list[dict]:
    """Mean and std over seeds per (D, anisotropy, method), in the order of the first seed's rows."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dim"], row["anisotropy"], row["method"]), []).append(row)
    return [{"dim": dim, "anisotropy": a, "method": method, "seeds": len(members),
             **{metric: mean_std(m[metric] for m in members) for metric in metrics}}
            for (dim, a, method), members in groups.items()]


def lookup(summary: list[dict], method: str, metric: str) -> dict[tuple, float]:
    return {(e["dim"], e["anisotropy"]): e[metric]["mean"] for e in summary if e["method"] == method}


def worst_by_anisotropy(summary: list[dict], method: str, metrics: tuple[str, ...]) -> str:
    """``method``'s largest mean over D (and over ``metrics``) at each anisotropy, as text."""
    worst: dict[float, float] = {}
    for e in (e for e in summary if e["method"] == method):
        worst[e["anisotropy"]] = max(worst.get(e["anisotropy"], -math.inf), *(e[m]["mean"] for m in metrics))
    return ", ".join(f"{value:.1f}° at {anisotropy:g}" for anisotropy, value in sorted(worst.items()))


def findings(summary: list[dict], clip_summary: list[dict], s: Settings) -> list[str]:
    """What the numbers show, in sentences computed from them."""
    lines, angle, top = [], {m: lookup(summary, m, "angle") for m in s.methods}, max(s.anisotropies)
    cells = sorted(next(iter(angle.values())))
    if "infonce" in angle and "pca" in angle:
        better = [c for c in cells if angle["infonce"][c] < angle["pca"][c]]
        lines.append(f"InfoNCE's largest angle to the Fisher subspace is below PCA's in {len(better)} of {len(cells)} "
                     f"(D, anisotropy) cells; at anisotropy {top:g} it is "
                     + ", ".join(f"{angle['infonce'][(d, top)]:.1f}° against PCA's {angle['pca'][(d, top)]:.1f}° "
                                 f"(D = {d})" for d in s.dims) + ".")
    for method in s.methods:
        ratio, accuracy = (list(lookup(summary, method, k).values()) for k in ("fisher_ratio", "accuracy"))
        lines.append(f"{method}: largest angle (worst D) {worst_by_anisotropy(summary, method, ('angle',))}; "
                     f"Fisher ratio {min(ratio):.3f} to {max(ratio):.3f}; k-means accuracy {100 * min(accuracy):.1f} "
                     f"to {100 * max(accuracy):.1f} %.")
    if {"simve", "pca", "infonce"} <= set(angle):
        below = [sum(angle["simve"][c] < angle[other][c] for c in cells) for other in ("pca", "infonce")]
        lines.append(f"SimVE's angle is below PCA's in {below[0]} and below InfoNCE's in {below[1]} of {len(cells)} "
                     "cells.")
    return lines + [f"Two modalities, {method}: largest angle of either encoder to its modality's Fisher subspace "
                    f"(worst D) {worst_by_anisotropy(clip_summary, method, ('angle_a', 'angle_b'))}."
                    for method in (CLIP_METHODS if clip_summary else ())]


def table(summary: list[dict], columns: dict[str, tuple[str, float, int]]) -> list[str]:
    """A markdown table of ``summary``: D, anisotropy, method, then mean ± std of each column's metric."""
    heads = ["D", "anisotropy", "method", *(head for head, _, _ in columns.values())]
    return ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)] + [
        f"| {e['dim']} | {e['anisotropy']:g} | {e['method']} | "
        + " | ".join(plus_minus(e[metric], scale, digits) for metric, (_, scale, digits) in columns.items()) + " |"
        for e in summary]


def markdown(summary: list[dict], clip_summary: list[dict], lines: list[str], s: Settings) -> str:
    text = [(f"K = {s.components} components (r = {s.components - 1}), separation {s.separation:g}, augmentation "
            f"{s.augment}{f' (rho {s.rho:g})' if s.augment == 'coupled' else ''}; {s.train_pairs} training pairs, "
            f"{s.test_samples} held-out samples; InfoNCE, SimVE and CLIP: {s.steps} Adam steps of {s.batch_size} "
            f"pairs (lr {s.lr:g}, temperature {s.temperature:g}, SimVE prior_var {s.prior_var:g}); mean ± std over "
            f"{s.seeds} seeds. Angle: largest principal angle to the Fisher subspace; distance: mean sin² of the "
            "angles; Fisher ratio relative to LDA from the true parameters; k-means on the whitened projection "
            "of held-out samples."), "", *table(summary, COLUMNS)]
    if clip_summary:
        text += ["", "Two modalities (CLIP): each map's angle to the Fisher subspace of its own modality.", "",
                 *table(clip_summary, CLIP_COLUMNS)]
    return "\n".join(text + ["", "What the numbers show:", ""] + [f"- {line}" for line in lines])


@experiment(NAME, Settings, "InfoNCE, CLIP and SimVE on a Gaussian mixture against the Fisher (LDA) subspace")
def run(settings: Settings, out_dir: Path, command: str) -> dict:
    s, elapsed, rows, clip_rows = settings, timer(), [], []
    check_settings(s)
    configs = [(seed, dim) for seed in range(s.seeds) for dim in s.dims]
    with tqdm(total=len(configs) * len(s.anisotropies), desc=NAME, unit="mixture") as bar:
        for seed, dim in configs:
            problem = draw_problem(dim, s.components, s.separation, s.train_pairs, s.test_samples, s.augment, s.rho,
                                   s.clip, torch.Generator().manual_seed(stream_seed(seed, dim, "data")))
            for anisotropy in s.anisotropies:
                rows += run_mixture(problem, anisotropy, seed, s)
                clip_rows += run_clip(problem, anisotropy, seed, s) if s.clip else []
                bar.update()
    summary, clip_summary = summarise(rows, COLUMNS), summarise(clip_rows, CLIP_COLUMNS)
    lines = findings(summary, clip_summary, s)
    title = f"GMM, K = {s.components}: which subspace each method finds ({s.augment} views, {s.seeds} seeds)"
    figures = save_figures(summary, clip_summary, s.methods, CLIP_METHODS, s.dims, title, Path(out_dir))
    results = {"summary": summary, "clip_summary": clip_summary, "findings": lines, "runs": rows,
               "clip_runs": clip_rows, "figures": [str(p.relative_to(out_dir)) for p in figures]}
    write_experiment(out_dir, NAME, s, command, elapsed(), markdown(summary, clip_summary, lines, s), results)
    return results
