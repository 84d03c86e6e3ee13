"""Every model, registered by name in ``MODELS``; build one with ``build_model``."""

from simve.models import (  # noqa: F401  (registration)
    align_uniform,
    clip,
    crvae,
    curl,
    moco,
    simclr,
    simve,
    vae,
    vicreg,
)
from simve.models.base import MODELS, SSLModel, build_model, model_options, register

__all__ = ["MODELS", "SSLModel", "build_model", "model_options", "register"]
