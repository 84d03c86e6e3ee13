"""One run on several processes (``torchrun``, ``torch.distributed``): which rank this process is,
and the few collectives the loop and the batch-wide losses need.

torchrun starts W processes and tells each its ``RANK`` (0..W-1), ``WORLD_SIZE``, ``LOCAL_RANK``
(its GPU on the node) and the rendezvous ``MASTER_ADDR`` / ``MASTER_PORT``. Without a launcher
the world is one process and every function here is the identity or does nothing, so one-process
code never touches ``torch.distributed``.

Batch-wide losses (NT-Xent, CLIP, VICReg's variance and covariance, uniformity) see every rank's
batch through :func:`gather`, an all-gather whose backward sums the gradients of every rank's copy
onto the rank that owns the rows. Every rank computes the same loss L on the gathered batch, so
rank r's parameters receive ``W dL/dz_r dz_r/dtheta``, and DDP's average over the W ranks gives
``sum_r dL/dz_r dz_r/dtheta = dL/dtheta``: the gradient one process gets on the whole batch.
Per-datum losses (the ELBOs, MoCo) need no gather: the mean of the W local means is the global mean.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from simve.errors import SimveError

if TYPE_CHECKING:
    from typing import Self  # Python 3.11


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, metrics, figures and messages."""
        return self.rank == 0

    # What the training loop asks of its world: the identity, or nothing, for one process.

    def prepare(self, model: nn.Module, device: torch.device, seed: int) -> nn.Module:
        """``model`` as this rank trains it: BatchNorm over the whole batch on GPUs (SyncBatchNorm; gloo on
        the CPU has none), and this rank's own noise stream from here on (the weights were drawn alike)."""
        if self.size == 1:
            return model
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.seed_noise(seed)
        return model

    def seed_noise(self, seed: int, step: int = 0) -> None:
        """Seed this rank's own random stream (the ELBO's noise) from the run's seed (and the step of a
        stream restarted mid-run)."""
        import pyro

        pyro.set_rng_seed(rank_seed(seed, self.rank, step))

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """What the loop calls for a loss: ``model`` itself, or on several processes ``model`` in
        DistributedDataParallel (its forward is the loss, so Pyro's ELBO runs through it)."""
        if self.size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                       forward_sync_buffers=False)

    def agree(self, value: torch.Tensor, interrupted: bool = False) -> tuple[float, bool]:
        """:func:`agree`: the loss every rank decides on, and whether any rank was interrupted."""
        return agree(value, interrupted)

    def gather(self, value) -> list:
        """:func:`gather_objects`: every rank's ``value``, on every rank."""
        return gather_objects(value)

    def main_first(self):
        """:func:`main_first`: rank 0 runs the block before the others."""
        return main_first()


def _whole(name: str, default: str) -> int:
    text = os.environ.get(name, default)
    try:
        return int(text)
    except ValueError:
        raise SimveError(f"the environment sets {name}={text!r}, not a whole number; launch with torchrun "
                         "(which sets it) or unset it") from None


def launched() -> World:
    """The world the environment describes (torchrun's variables); one process where none are set.

    Refuses, in one line, variables that do not describe a world (a stray ``RANK``, a rank outside the
    world, no rendezvous address)."""
    size, rank, local = _whole("WORLD_SIZE", "1"), _whole("RANK", "0"), _whole("LOCAL_RANK", os.environ.get("RANK", "0"))
    if size < 1 or not 0 <= rank < size or local < 0:
        raise SimveError(f"the environment sets WORLD_SIZE={size} RANK={rank} LOCAL_RANK={local}, which is not a "
                         "rank of the world; launch with torchrun or unset them")
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if size > 1 and name not in os.environ]
    if missing:
        raise SimveError(f"the environment sets WORLD_SIZE={size} but not {' or '.join(missing)} (the rendezvous): "
                         "launch with torchrun, or simve train --nproc N, or unset WORLD_SIZE")
    return World(rank, size, local)


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of rank ``rank``'s own random stream (for the ELBO's noise), from the run's seed and,
    for a stream restarted mid-run, the step; a 32-bit number, as numpy's seeding needs."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


def current() -> World:
    """This process's world once the process group is up (one process otherwise)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))


@contextlib.contextmanager
def joined(world: World, device: torch.device):
    """The process group of ``world`` for the block (gloo on the CPU, NCCL on GPUs), set up from the
    environment and torn down at the end; nothing for one process or a group that is already up.

    Torn down means gone, its worker threads joined, before the interpreter finalises:
    ``destroy_process_group`` only forgets the group, which lives on while anything refers to it,
    and so do gloo's workers. One that takes the GIL once the interpreter is finalising (to free the
    Python object of a tensor its last collective held) is ended there by Python, inside a C++
    ``noexcept`` destructor, and the process aborts (``terminate called without an active
    exception``, exit 134) after a run that trained well. So nothing may keep the group: see the
    import below; the block's own references (a DistributedDataParallel) must be gone by its end. An
    error leaving the block would keep them in its traceback's frames (a Ctrl-C's: the run, its DDP,
    the interrupted step's graph) until it is handled: their locals are cleared first (the traceback
    still prints)."""
    if world.size == 1 or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # torch.distributed.nn.functional's collectives take ``group=group.WORLD`` as a default argument,
    # evaluated at import: imported while the group is up (DDP imports it, through torch._dynamo) ten
    # functions would hold the group past destroy_process_group, with its threads, until the process ends
    importlib.import_module("torch.distributed.nn.functional")
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    except (RuntimeError, ValueError) as err:
        raise SimveError(f"rank {world.rank} could not join the other {world.size - 1} processes "
                         f"({str(err).splitlines()[0]})") from None
    try:
        yield
    except BaseException as err:
        _clear_frames(err)
        raise
    finally:
        dist.destroy_process_group()


def _clear_frames(error: BaseException) -> None:
    """The locals of the finished frames in the tracebacks of ``error`` and the errors it chains."""
    chained, seen = [error], set()
    while chained:
        error = chained.pop()
        if error is not None and id(error) not in seen:
            seen.add(id(error))
            traceback.clear_frames(error.__traceback__)
            chained += [error.__cause__, error.__context__]


def gather(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` ``(B, ...)`` stacked along dim 0 in rank order, ``(W B, ...)``, differentiable
    (the gradient of every rank's copy comes back to this rank); ``x`` itself for one process."""
    if current().size == 1:
        return x
    # torch's own successor of torch.distributed.nn.functional.all_gather: its backward reduce-scatters
    # the gradients; wait_tensor makes the result a plain tensor
    from torch.distributed._functional_collectives import all_gather_single, wait_tensor

    return wait_tensor(all_gather_single(x.contiguous(), 0, dist.group.WORLD))


def agree(value: torch.Tensor, interrupted: bool = False) -> tuple[float, bool]:
    """The mean over the ranks of a scalar, and whether any rank says ``interrupted``, in one
    all-reduce: the same two answers on every rank."""
    world = current()
    if world.size == 1:
        return value.item(), interrupted
    both = torch.stack([value.detach().float().reshape(()), torch.tensor(float(interrupted), device=value.device)])
    dist.all_reduce(both)
    total, interrupting = both.tolist()
    return total / world.size, interrupting > 0


class HeldInterrupt:
    """Ctrl-C on several processes, taken at a step every rank agrees on.

    Raised where SIGINT lands, a KeyboardInterrupt can stop a rank between a collective and its wait
    (torch then warns, as the process ends, of a collective nobody waited for) or leave its peers
    waiting in a step it will not take. So for the block, on several processes, the first Ctrl-C is
    only noted (:attr:`noted`); the loop hands the note to :func:`agree` with each step's loss, and
    every rank stops at the same step. A second Ctrl-C raises at once; a note no step took is raised
    at the end of the block. One process, or a thread other than the main one (where no signal
    handler can be set), keeps Python's own KeyboardInterrupt."""

    def __init__(self, world: World):
        self.world, self.noted, self._before = world, False, None

    def __enter__(self) -> Self:
        if self.world.size > 1 and threading.current_thread() is threading.main_thread():
            self._before = (signal.signal(signal.SIGINT, self._note),)  # a tuple: the handler before may be None
        return self

    def _note(self, signum, frame) -> None:
        if self.noted:
            raise KeyboardInterrupt
        self.noted = True

    def __exit__(self, kind, error, trace) -> None:
        if self._before is not None:
            signal.signal(signal.SIGINT, *self._before)
            self._before = None
        if self.noted and kind is None:
            raise KeyboardInterrupt


def gather_objects(value) -> list:
    """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
    world = current()
    if world.size == 1:
        return [value]
    everyone = [None] * world.size
    dist.all_gather_object(everyone, value)
    return everyone


@contextlib.contextmanager
def main_first():
    """The main rank runs the block before the others (e.g. a download the others then read)."""
    world = current()
    if world.size > 1 and not world.main:
        dist.barrier()
    yield
    if world.size > 1 and world.main:
        dist.barrier()


def rank_local_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` normalises over this rank's part of the batch only (plain BatchNorm)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.SyncBatchNorm)
               for m in module.modules())


@torch.no_grad()
def shuffled(apply, x: torch.Tensor) -> torch.Tensor:
    """``apply`` on this rank's ``x`` computed on a random share of the whole batch instead: MoCo's
    shuffling BN (He et al. 2020). The rows of every rank are gathered, permuted the same way on every
    rank (rank 0 draws the permutation), each rank applies ``apply`` to its share, and the results go
    back to their own rows, so BatchNorm inside ``apply`` sees other data than this rank's queries.
    For a per-row ``apply`` the result equals ``apply(x)``."""
    world = current()
    if world.size == 1:
        return apply(x)
    everyone = gather(x)
    order = torch.randperm(len(everyone), device=x.device)
    dist.broadcast(order, src=0)
    share = everyone[order].chunk(world.size)[world.rank]
    back = torch.argsort(order)
    return gather(apply(share))[back].chunk(world.size)[world.rank]


def launch(processes: int, argv: list[str]) -> int:
    """``python -m simve ARGV`` as ``processes`` ranks on this machine, what ``torchrun --standalone
    --nproc_per_node PROCESSES -m simve ARGV`` does (a free port, no restarts), with the CPU threads
    shared out; the exit status of the first rank that failed, 0 when all succeeded.

    The ranks print their own messages (rank 0 the run's); the launcher adds none of its own."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # the agent's own notices: the ranks say what happened
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=processes, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    try:
        elastic_launch(config, sys.executable)("-m", "simve", *argv)
    except ChildFailedError as err:
        first = min(err.failures.values(), key=lambda failure: failure.timestamp)
        return first.exitcode if first.exitcode > 0 else 128 - first.exitcode  # killed by signal s: 128 + s
    except SignalException as err:  # Ctrl-C or a kill: the agent has stopped the ranks, rank 0 said where
        return 128 + int(err.sigval)
    return 0
