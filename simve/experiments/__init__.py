"""The theory papers as runnable experiments (DESIGN §1), one module each.

Every experiment is a dataclass of settings (its defaults are the setting whose results are
committed, a few minutes on a 2-core CPU) and a ``run(config, out_dir, command)`` that writes
``results.json``, ``table.md`` and figures to ``out_dir``. ``simve experiment NAME`` builds its
options from the dataclass fields.
"""

from simve.experiments.common import EXPERIMENTS, Experiment, experiment, get_experiment

__all__ = ["EXPERIMENTS", "Experiment", "experiment", "get_experiment"]
