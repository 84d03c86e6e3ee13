"""The optimiser step every fit shares (the training loop's and the theory experiments' in-memory fits),
where a model runs (the device, channels-last conv weights), and the validation loss."""

from __future__ import annotations

import math

import torch

from simve.data import ViewLoader
from simve.errors import SimveError
from simve.models import SSLModel
from simve.models.likelihoods import Likelihood


def place(model: SSLModel, device: torch.device) -> SSLModel:
    """``model`` on ``device``, conv weights in channels-last (NHWC) layout, which the CPU and cuDNN
    kernels run faster (``simve timing`` on the 32 px conv nets: about 1.25x a step on CPU)."""
    model = model.to(device)
    if any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def compile_nets(model: SSLModel) -> SSLModel:
    """``model`` with each of its nets compiled in place (``nn.Module.compile``: the parameters, the state
    dict's keys and the checkpoints stay those of the eager model). A likelihood, which returns a
    distribution rather than tensors, stays eager, and so do the Pyro programs around the nets."""
    for net in model.children():
        if not isinstance(net, Likelihood) and any(True for _ in net.parameters()):
            net.compile()
    return model


def choose_device(name: str, index: int | None = None) -> torch.device:
    """``auto``: CUDA where available, else the CPU; ``cuda`` where unavailable is refused. ``index``:
    the GPU of this process (its local rank), on a node where each process has its own."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SimveError("--device cuda was asked for, but this torch sees no CUDA GPU; use --device cpu or auto")
    if not (name == "cuda" or (name == "auto" and torch.cuda.is_available())):
        return torch.device("cpu")
    if index is not None and index >= torch.cuda.device_count():
        raise SimveError(f"process {index} of this node has no GPU of its own ({torch.cuda.device_count()} visible); "
                         "start at most one process per GPU")
    return torch.device("cuda", index) if index is not None else torch.device("cuda")


@torch.no_grad()
def validation_loss(model: SSLModel, loader: ViewLoader, seed: int) -> float | None:
    """Mean loss over ``loader``'s epoch-0 batches, in eval mode, with the global RNG forked and seeded."""
    if len(loader.split) == 0:
        return None
    model.eval()
    total = 0.0
    with torch.random.fork_rng(devices=[loader.device] if loader.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for views, _, _ in loader.epoch_batches(0):
            total += model.loss(views).item() * len(views)
    model.train()
    return total / len(loader.split)


class TrainingInterrupted(SimveError):
    """Ctrl-C during training: the step in progress is dropped, the last checkpoint kept."""

    exit_code = 130


class NonFiniteLoss(SimveError):
    """The loss of a step was nan or inf (nothing was updated)."""


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, value: float | None = None) -> float:
    """One optimiser step on ``loss``; its value (or the ``value`` given: the mean over the ranks of a
    distributed run, so that every rank decides alike), or :class:`NonFiniteLoss` before any update."""
    value = loss.item() if value is None else value
    if not math.isfinite(value):
        raise NonFiniteLoss(f"loss became {value}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return value


def make_optimizer(parameters, lr: float, eps: float = 1e-8, weight_decay: float = 0.0,
                   fused: bool = True) -> torch.optim.Adam:
    """Adam, by default the fused kernel: one pass over all parameters instead of a loop of small
    per-tensor ops (the same update up to float rounding; ``simve timing`` measures the gain)."""
    return torch.optim.Adam(parameters, lr=lr, eps=eps, weight_decay=weight_decay, fused=fused or None)


def scheduled_lr(lr: float, schedule: str, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (1, 2, ..., ``total_steps``) of a run at ``lr`` under ``schedule``;
    cosine (Loshchilov & Hutter's SGDR without restarts)::

        lr_t = lr * (1 + cos(pi * (t - 1) / T)) / 2

    a function of the step alone, so that a resumed run follows it exactly."""
    if schedule == "constant":
        return lr
    return lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / total_steps))


def fit(module: torch.nn.Module, batch_loss, steps: int, lr: float) -> torch.nn.Module:
    """Adam (learning rate ``lr``) on ``batch_loss()``, a fresh batch's loss, for ``steps`` steps.

    The small in-memory fits of the theory experiments use it; :func:`train` takes the same step."""
    optimizer = make_optimizer(module.parameters(), lr)
    for step in range(1, steps + 1):
        try:
            descend(batch_loss(), optimizer)
        except NonFiniteLoss as err:
            raise SimveError(f"{err} at step {step} of {steps}; lower the learning rate") from None
    return module
