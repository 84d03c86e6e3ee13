"""Every model, registered by name in ``MODELS``; build one with ``build_model``."""

from simve.models import crvae, simve, vae  # noqa: F401  (registration)
from simve.models.base import MODELS, SSLModel, build_model, model_options, register

__all__ = ["MODELS", "SSLModel", "build_model", "model_options", "register"]
