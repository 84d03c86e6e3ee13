"""Named bundles of settings, applied to a model and a dataset's image shape: ``paper``, the official
SimVAE code's objective and optimiser (alicebizeul/simvae: main.py, src/model/models.py,
src/utils/options.py), per data family.

The official code divides the reconstruction term by ``sigma_x^2 = exp(log_var_x)`` with
``log_var_x = -4.6``, for the Bernoulli likelihood of 28x28 gray data too::

    L_paper = (1 / sigma^2) R + K,    R = -sum_j log p(x_j | z_j),    K = the latent terms (-log p(z) + log q)
            = (1 / sigma^2) (R + sigma^2 K)

so it is the beta = sigma^2 = exp(-4.6) ~ 0.01 objective times the constant 1 / sigma^2: the same
gradient direction, and to Adam (whose step m / (sqrt(v) + eps) is invariant to a constant factor on
the loss, up to eps) nearly the same optimisation. simve reproduces it literally, with the
reconstruction weighted by ``recon_weight = exp(4.6)`` through ``poutine.scale`` (beta stays 1); the
bounds leave every weight out. For colour the likelihood is Gaussian with ``sigma_x^2 = exp(-4.6)``
(0.5 MSE / sigma_x^2 up to a constant), i.e. ``sigma_x = exp(-2.3)`` and no extra weight.

Both families: Adam with lr 8e-5 and eps 1e-4, 64 images x J = 2 views a step, prior variance 0.15
with a Gaussian p(y); latent 10 (28x28, the 784-2000-500-500 MLP) or 64 (colour, the conv nets; the
official code uses a ResNet18). Views: crops of 0.4-1 of the area (ratio 0.75-1.3) and a vertical flip
for 28x28 gray; crops of 0.6-1, a horizontal flip and ColorJitter(0.8, 0.8, 0.8, 0.2) for colour.
The official runs train 400 epochs; the epochs are left to the caller.
"""

from __future__ import annotations

import math

from simve.data import load_dataset
from simve.errors import SimveError
from simve.models import MODELS, model_options
from simve.runs import Variant
from simve.train import TrainConfig

PRESETS = ("paper",)
PAPER_LOG_VAR_X = -4.6
PAPER_TRAINING = {"lr": 8e-5, "adam_eps": 1e-4, "batch_size": 64, "views": 2}


def paper(model: str, image_shape: tuple[int, int, int]) -> tuple[dict, dict]:
    """The ``paper`` settings of a generative ``model`` for images of ``image_shape``: (options, training)."""
    if not MODELS[model].generative:
        raise SimveError(f"the paper preset is the official SimVAE objective of the generative models; "
                         f"{model} is discriminative: give its settings instead")
    gray = image_shape[0] == 1
    options = {"latent_dim": 10, "likelihood": "bernoulli", "recon_weight": math.exp(-PAPER_LOG_VAR_X)} if gray else {
        "latent_dim": 64, "likelihood": "gaussian", "sigma_x": math.exp(PAPER_LOG_VAR_X / 2)}
    if "prior_var" in model_options(model):
        options.update(prior_var=0.15, content_prior="gaussian", content_scale=1.0)
    return options, {**PAPER_TRAINING, "augment": "paper-gray28" if gray else "paper-colour"}


def preset_settings(name: str, model: str, image_shape: tuple[int, int, int]) -> tuple[dict, dict]:
    """The model options and training settings of preset ``name`` for ``model`` on ``image_shape``."""
    if name not in PRESETS:
        raise SimveError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return paper(model, image_shape)


def with_preset(variant: Variant, name: str | None, image_shape: tuple[int, int, int]) -> Variant:
    """``variant`` on top of its own preset, else preset ``name`` (its own settings win), with the preset
    spelt out; unchanged for no preset, and for a discriminative model under ``name``, which keeps its own
    settings (a discriminative row that names a preset itself is refused)."""
    name = variant.preset or name
    if name is None or (not variant.preset and not MODELS[variant.model].generative):
        return variant
    options, training = preset_settings(name, variant.model, image_shape)
    return Variant(variant.model, tuple(sorted({**options, **dict(variant.options)}.items())),
                   tuple(sorted({**training, **dict(variant.training)}.items())))


def preset_config(name: str | None, model: str, data: str, epochs: int, options: dict, settings: dict) -> TrainConfig:
    """The training config of ``model`` on ``data`` with ``options`` and ``settings`` over preset ``name``'s
    (for the dataset's image shape; none: just these)."""
    if name is not None:
        shape = load_dataset(data, settings.get("data_root"), download=bool(settings.get("download")),
                             limit=settings.get("limit")).image_shape
        preset_options, preset_training = preset_settings(name, model, shape)
        options, settings = {**preset_options, **options}, {**preset_training, **settings}
    return TrainConfig(model=model, data=data, epochs=epochs, model_options=options, **settings)
