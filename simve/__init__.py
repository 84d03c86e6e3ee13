"""simve: generative latent-variable models of self-supervised learning (SimVE) and the
discriminative baselines, on the same encoders, data and probes."""

from simve._torchvision_compat import ensure_importable as _ensure_torchvision_importable

_ensure_torchvision_importable()

__version__ = "0.1.0"
