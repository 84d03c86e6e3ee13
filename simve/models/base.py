"""The contract every model keeps, and the one registry of models by name.

A model is an ``nn.Module`` with

- ``Options``: a frozen dataclass of its options, declared once with :func:`option` (default, help,
  and the checks: choices, positive, at least). The command line, the run configs and the benchmark
  all read it; building a model checks every value;
- ``build(image_shape, options)``: the model for images of that shape;
- ``objective(views)``: a differentiable scalar, the mean over the batch of a per-datum loss, for
  views ``(B, J, C, H, W)`` in [0, 1] (for the generative models, the negative ELBO of the J views of
  a datum, in nats); callers use ``loss(views)``, which first checks the views' shape and number;
- ``embed(images)``: the representation used downstream, ``(N, C, H, W) -> (N, d)``, computed
  without augmentation (call it in eval mode, under ``torch.no_grad()``);
- ``min_views``: the fewest views per datum its loss can take;
- ``capabilities``: what it can do beyond that, by name (:data:`CAPABILITIES`), so that callers ask
  ``model.can("sample")`` instead of probing for methods.

A model registers with ``@register("name")`` in its own module under :mod:`simve.models`; every module
there is imported with the package, so adding a model is adding one file.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from simve.errors import SimveError
from simve.settings import check_fields

CAPABILITIES = {
    "reconstruct": "reconstruct(images): decoder mean at the posterior mean",
    "sample": "sample(n): mean images of draws from the prior",
    "bounds": "bounds(views, particles): per-datum ELBO and IWAE bounds on log p(x_1..J)",
    "new_style": "same_content_new_style(images, n): each image's content decoded with new styles",
    "project": "project(images): the projection head's output, on which the loss is computed",
}


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every model's options; values are checked when the options are made."""

    def __post_init__(self):
        check_fields(self)
        self.check()

    def check(self) -> None:
        """Checks across fields (none by default)."""


class SSLModel(nn.Module):
    """Base class: a self-supervised model with a loss on views and a representation."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = Options
    generative: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[str]] = frozenset()
    min_views: ClassVar[int] = 1
    table_position: ClassVar[int | None] = None  # its row in the default benchmark (the paper's table); None: not in it

    def __init__(self, options: Options | None = None):
        super().__init__()
        self.options = self.Options() if options is None else options

    @classmethod
    def build(cls, image_shape: tuple[int, int, int], options: Options) -> SSLModel:
        raise NotImplementedError

    def objective(self, views: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, views: torch.Tensor) -> torch.Tensor:
        """The objective on ``views``, refused in one line unless they are ``(B, J, C, H, W)`` with
        ``J >= min_views``."""
        if views.dim() != 5:
            raise SimveError(f"{self.name} takes views shaped (B, J, C, H, W), got {tuple(views.shape)}")
        if views.shape[1] < self.min_views:
            raise SimveError(f"{self.name} needs at least {self.min_views} views per datum, got {views.shape[1]}")
        return self.objective(views)

    def begin_step(self, step: int) -> None:
        """Called by the training loop before its optimiser step ``step`` (1, 2, ...), a resumed run's too:
        an objective that follows a schedule of steps (the generative models' annealed reconstruction
        weight) takes its value here. Most objectives have none."""

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """The loss: calling the model (or the DistributedDataParallel wrapper around it) runs :meth:`loss`."""
        return self.loss(views)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def can(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise SimveError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
        return capability in self.capabilities

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live (the CPU for a model without any)."""
        return next(self.parameters(), torch.empty(0)).device


MODELS: dict[str, type[SSLModel]] = {}


def register(name: str) -> Callable:
    """Class decorator: add a model class to :data:`MODELS` under ``name``."""

    def add(cls):
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise SimveError(f"{name} declares unknown capabilities {', '.join(sorted(unknown))}")
        cls.name = name
        MODELS[name] = cls
        return cls

    return add


def model_class(name: str) -> type[SSLModel]:
    if name not in MODELS:
        raise SimveError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return MODELS[name]


def model_names() -> list[str]:
    """Every registered model: the default benchmark's in its order, then the others by name."""
    return sorted(MODELS, key=lambda n: (MODELS[n].table_position is None, MODELS[n].table_position or 0, n))


def benchmark_models() -> tuple[str, ...]:
    """The models of the default benchmark (the paper's table), in its order."""
    return tuple(n for n in model_names() if MODELS[n].table_position is not None)


def option_fields(name: str) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(model_class(name).Options)


def option_hints(name: str) -> dict[str, object]:
    """Each option of model ``name`` and its declared type (``int | None``, ``float | str``, ...)."""
    return typing.get_type_hints(model_class(name).Options)


def model_options(name: str) -> dict[str, object]:
    """The options a model takes, with their defaults (``None`` where it depends on the data)."""
    return {f.name: f.default for f in option_fields(name)}


def make_options(name: str, **values) -> Options:
    """Model ``name``'s options from ``values`` (the rest at their defaults), checked; unknown ones refused."""
    unknown = sorted(set(values) - set(model_options(name)))
    if unknown:
        raise SimveError(f"{name} takes no option {', '.join(unknown)}; it takes {', '.join(model_options(name))}")
    return model_class(name).Options(**values)


def build_model(name: str, image_shape: tuple[int, int, int], **options) -> SSLModel:
    """Build model ``name`` for images of ``image_shape`` with ``options`` (checked)."""
    return model_class(name).build(tuple(image_shape), make_options(name, **options))
