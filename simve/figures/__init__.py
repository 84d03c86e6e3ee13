"""Figures of the theory experiments, one module each."""
