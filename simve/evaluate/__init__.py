"""Evaluation of trained models: generative bounds now; probes and tasks later."""

from simve.evaluate.generative import generative_metrics

__all__ = ["generative_metrics"]
