"""MoCo v2 (He et al. 2020; Chen et al. 2020): a query encoder trained against keys from a
momentum encoder and a queue of past keys.

Each training step: ``theta_k <- m theta_k + (1 - m) theta_q``; the query is view 1 through the
online encoder, the key view 2 through the momentum one; InfoNCE with the key as positive and the
queue as negatives; then the keys replace the oldest entries of the queue. In eval mode (the
validation loss) neither the momentum encoder nor the queue changes.

On several processes the queue takes the keys of every rank (the same queue on every rank), and
where the key nets hold rank-local BatchNorm (the CPU; GPUs use SyncBatchNorm) the keys are
computed on a shuffled share of the whole batch, the paper's shuffling BN.
"""

import copy
import dataclasses
import itertools

import torch
import torch.nn.functional as F

from simve import distributed, losses
from simve.errors import SimveError
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.nets.heads import flat_apply
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class MoCoOptions(DiscriminativeOptions):
    temperature: float = option(0.2, "softmax temperature", positive=True)
    momentum: float = option(0.99, "momentum m of the key encoder, in [0, 1)")
    queue_size: int = option(4096, "negative keys kept in the queue", positive=True)

    def check(self):
        if not 0 <= self.momentum < 1:
            raise SimveError(f"momentum must be in [0, 1), got {self.momentum}")


@register("moco")
class MoCo(Discriminative):
    Options = MoCoOptions
    min_views = 2
    table_position = 7

    def __init__(self, image_shape, options=None):
        super().__init__(image_shape, options)
        self.momentum, self.queue_size = self.options.momentum, self.options.queue_size
        self.key_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.key_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(self.queue_size, self.projection_dim), dim=1))
        self.register_buffer("queue_next", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def _momentum_update(self) -> None:
        online = itertools.chain(self.encoder.parameters(), self.projector.parameters())
        momentum = itertools.chain(self.key_encoder.parameters(), self.key_projector.parameters())
        for q, k in zip(online, momentum):
            k.mul_(self.momentum).add_(q, alpha=1 - self.momentum)

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        index = (self.queue_next + torch.arange(len(keys), device=keys.device)) % self.queue_size
        self.queue[index] = F.normalize(keys, dim=1)
        self.queue_next.copy_((self.queue_next + len(keys)) % self.queue_size)

    def _key_nets(self, images: torch.Tensor) -> torch.Tensor:
        return flat_apply(self.key_projector, self.key_encoder(images))

    def _keys(self, images: torch.Tensor) -> torch.Tensor:
        """The momentum nets' keys, through shuffling BN where BatchNorm would see this rank's batch only."""
        local_bn = any(map(distributed.rank_local_batchnorm, (self.key_encoder, self.key_projector)))
        if self.training and local_bn:
            return distributed.shuffled(self._key_nets, images)
        return self._key_nets(images)

    def objective(self, views):
        query = self.project(views[:, 0])
        with torch.no_grad():
            if self.training:
                self._momentum_update()
            key = self._keys(views[:, 1])
        loss = losses.moco(query, key, self.queue.clone(), self.options.temperature)
        if self.training:
            self._enqueue(distributed.gather(key))
        return loss
