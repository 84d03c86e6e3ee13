"""simve: generative latent-variable models of self-supervised learning (SimVE) and the
discriminative baselines, on the same encoders, data and probes."""

__version__ = "0.1.0"
