"""Cost of one Pyro training step against a hand-written plain-torch step of the same objective.

    python -m benchmarks.bench_simve_step [--repeats 30] [--steps 1] [--threads N] [--tiny]   (from the repository root)

One step = zero_grad + loss + backward + Adam step, with the reference MLP (784-2000-500-500-2d
and its mirror, d = 10), the Bernoulli likelihood, on 64 images x 2 views = 128 views of random
[0, 1] 1x28x28 data (FashionMNIST-sized; the cost does not depend on the pixel values).

- ``simve``: ``SimVE`` (prior_var 0.15, gaussian content prior, marginal guide: y integrated out,
  ``log p(z_1..J)`` through ``pyro.factor``), its loss Pyro's ``Trace_ELBO``;
- ``vae``: ``build_model("vae", ...)``, each view with the N(0, I) prior.

The hand-written step runs on deep copies of the same encoder and decoder:
``z = loc + scale * eps``, Bernoulli log-likelihood as ``-BCE-with-logits`` summed over pixels,
``log p(z)`` (``SimVE.log_p_views``, or the N(0, I) density for the VAE) minus the Gaussian
``log q(z | x)``, loss = -ELBO / batch: the same single-sample estimator Trace_ELBO computes.
At start-up both are checked to give the same loss and gradients for the same parameters and
the same noise (the same seed; Pyro's ``Normal.rsample`` and ``normal_`` read one stream).

Timing: a warm-up, then blocks of ``--steps`` steps alternating Pyro and hand-written
(ABAB...) ``--repeats`` times; medians of steps/s per block and the ratio of the median times
(and, steadier on a noisy machine, the median of the ratios of adjacent A and B blocks).
``--tiny`` swaps the MLP for one linear layer each way, so the step is almost all Python: the
difference is then Pyro's fixed cost per step (tracing, plates, log-prob bookkeeping), which the
MLP's compute dwarfs.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import time

import pyro
import pyro.infer.util
import torch
from torch import nn

from simve.models import build_model

BATCH, VIEWS, SHAPE, LATENT = 64, 2, (1, 28, 28), 10
LOG_2PI = math.log(2 * math.pi)


class HandWritten(nn.Module):
    """The same objective in plain torch, on copies of ``model``'s encoder and decoder."""

    def __init__(self, model):
        super().__init__()
        self.encoder, self.decoder = copy.deepcopy(model.encoder), copy.deepcopy(model.decoder)
        self.log_prior = model.log_p_views if model.name == "simve" else self.standard_normal

    @staticmethod
    def standard_normal(z: torch.Tensor) -> torch.Tensor:
        """``sum_j log N(z_j; 0, I)``: ``(B, J, d) -> (B,)``."""
        return -0.5 * (z.pow(2) + LOG_2PI).sum((-2, -1))

    def loss(self, views: torch.Tensor) -> torch.Tensor:
        loc, scale = self.encoder(views)  # (B, J, d)
        eps = torch.empty_like(loc).normal_()
        z = loc + scale * eps
        logits = self.decoder(z)
        log_lik = -nn.functional.binary_cross_entropy_with_logits(logits, views, reduction="none").sum()
        log_q = -(0.5 * eps.pow(2) + scale.log() + 0.5 * LOG_2PI).sum()
        elbo = log_lik + self.log_prior(z).sum() - log_q
        return -elbo / views.shape[0]


def make_step(module: nn.Module, views: torch.Tensor):
    optimiser = torch.optim.Adam(module.parameters(), lr=8e-5)

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss = module.loss(views)
        loss.backward()
        optimiser.step()
        return loss

    return step


def check_same(model, hand, views) -> float:
    """Same parameters, same noise: the same loss and gradients (else the comparison is moot)."""
    losses, grads = [], []
    for module, params in ((model, [*model.encoder.parameters(), *model.decoder.parameters()]),
                           (hand, [*hand.encoder.parameters(), *hand.decoder.parameters()])):
        module.zero_grad(set_to_none=True)
        torch.manual_seed(123)
        loss = module.loss(views)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in params]))
        module.zero_grad(set_to_none=True)
    assert math.isclose(losses[0], losses[1], rel_tol=1e-5), f"losses differ: pyro {losses[0]} hand {losses[1]}"
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6), "gradients differ"
    return losses[0]


def time_block(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


class TinyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(math.prod(SHAPE), 2 * LATENT)

    def forward(self, x):
        loc, raw = self.layer(x.flatten(-3)).chunk(2, dim=-1)
        return loc, nn.functional.softplus(raw) + 1e-4


class TinyDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(LATENT, math.prod(SHAPE))

    def forward(self, z):
        return self.layer(z).unflatten(-1, SHAPE)


def compare(name: str, views: torch.Tensor, repeats: int, steps: int, warmup: int, tiny: bool) -> None:
    torch.manual_seed(0)
    options = {"latent_dim": LATENT, "net": "mlp", "likelihood": "bernoulli"}
    if name == "simve":
        options |= {"prior_var": 0.15, "content_prior": "gaussian", "content_guide": "marginal"}
    model = build_model(name, SHAPE, **options)
    if tiny:
        model.encoder, model.decoder = TinyEncoder(), TinyDecoder()
    hand = HandWritten(model)
    loss = check_same(model, hand, views)
    jobs = {"pyro": make_step(model, views), "hand": make_step(hand, views)}
    for job in jobs.values():
        for _ in range(warmup):
            job()
    times = {key: [] for key in jobs}
    for _ in range(repeats):
        for key, job in jobs.items():  # ABAB...
            times[key].append(time_block(job, steps))
    med = {key: statistics.median(t) for key, t in times.items()}
    paired = statistics.median(a / b for a, b in zip(times["pyro"], times["hand"], strict=True))
    n_views = views.shape[0] * views.shape[1]
    cells = "  ".join(f"{key} {1 / med[key]:7.2f} steps/s {n_views / med[key]:7.0f} views/s" for key in jobs)
    print(f"{name:5s} (loss {loss:.1f}, equal)  {cells}  pyro/hand median time {med['pyro'] / med['hand']:.3f}"
          f"  (paired {paired:.3f}; pyro - hand {1e3 * (med['pyro'] - med['hand']):+.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="alternating blocks per implementation")
    parser.add_argument("--steps", type=int, default=1, help="steps per timed block")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per implementation first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--tiny", action="store_true", help="one linear layer each way: Pyro's fixed cost")
    parser.add_argument("--models", nargs="+", default=["simve", "vae"], choices=["simve", "vae"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, pyro {pyro.__version__}, python {platform.python_version()}, "
          f"{torch.get_num_threads()} torch threads, validation {'on' if pyro.infer.util.is_validation_enabled() else 'off'}")
    nets = "linear 784-2d / d-784 (--tiny)" if args.tiny else "MLP 784-2000-500-500-2d + mirror"
    print(f"{BATCH} images x {VIEWS} views of random [0,1] {'x'.join(map(str, SHAPE))}, {nets}, d={LATENT}, Bernoulli, "
          f"Adam; {args.repeats} x {args.steps} steps each, alternating, medians")
    torch.manual_seed(0)
    views = torch.rand(BATCH, VIEWS, *SHAPE)
    for name in args.models:
        compare(name, views, args.repeats, args.steps, args.warmup, args.tiny)


if __name__ == "__main__":
    main()
