"""Every model, registered by name in ``MODELS``; build one with ``build_model``.

Each module of this package is imported here, so a model registers itself (``@register``) by
being a file in it.
"""

import importlib
import pkgutil

from simve.models.base import (
    MODELS,
    SSLModel,
    benchmark_models,
    build_model,
    make_options,
    model_class,
    model_names,
    model_options,
    option_fields,
    option_hints,
    register,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "SSLModel", "benchmark_models", "build_model", "make_options", "model_class", "model_names",
           "model_options", "option_fields", "option_hints", "register"]
