"""The interface every model implements, and the one registry of models by name.

Every model is an ``nn.Module`` with

- ``loss(views)``: a differentiable scalar, the mean over the batch of a per-datum loss, for
  views ``(B, J, C, H, W)`` in [0, 1] (for the generative models, the negative ELBO of the J
  views of a datum, in nats);
- ``embed(images)``: the representation used downstream, ``(N, C, H, W) -> (N, d)``, computed
  without augmentation (call it in eval mode, under ``torch.no_grad()``);
- ``min_views``: the fewest views per datum its loss can take.

Generative models also implement ``sample(n)`` and ``reconstruct(images)`` (see
:class:`simve.models.generative.GenerativeModel`). The one training loop
(:mod:`simve.train`) relies on nothing else.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from simve.errors import SimveError


class SSLModel(nn.Module):
    """Base class: a self-supervised model with a loss on views and a representation."""

    name: ClassVar[str] = ""
    generative: ClassVar[bool] = False
    min_views: ClassVar[int] = 1

    def loss(self, views: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live (the CPU for a model without any)."""
        return next(self.parameters(), torch.empty(0)).device

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """The loss, so that wrappers that call ``forward`` (DistributedDataParallel) see it."""
        return self.loss(views)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def options(cls) -> dict[str, object]:
        """The options ``build`` takes, with their defaults: its keyword-only arguments."""
        parameters = inspect.signature(cls.build).parameters.values()
        return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}

    def check_views(self, views: torch.Tensor) -> None:
        """Refuse views that are not ``(B, J, C, H, W)`` with ``J >= min_views``, in one line."""
        if views.dim() != 5:
            raise SimveError(f"{self.name} takes views shaped (B, J, C, H, W), got {tuple(views.shape)}")
        if views.shape[1] < self.min_views:
            raise SimveError(f"{self.name} needs at least {self.min_views} views per datum, got {views.shape[1]}")


MODELS: dict[str, Callable[..., SSLModel]] = {}


def register(name: str) -> Callable:
    """Class decorator: add a model class (built as ``cls.build(image_shape, **options)``) to MODELS."""

    def add(cls):
        cls.name = name
        MODELS[name] = cls
        return cls

    return add


def model_options(name: str) -> dict[str, object]:
    """The options a model takes, with their defaults (``None`` where it depends on the data)."""
    return _model_class(name).options()


def build_model(name: str, image_shape: tuple[int, int, int], **options) -> SSLModel:
    """Build model ``name`` for images of ``image_shape``; unknown options are refused."""
    cls = _model_class(name)
    unknown = sorted(set(options) - set(model_options(name)))
    if unknown:
        raise SimveError(f"{name} takes no option {', '.join(unknown)}; it takes {', '.join(model_options(name))}")
    return cls.build(tuple(image_shape), **options)


def _model_class(name: str):
    if name not in MODELS:
        raise SimveError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]
