"""Where data and caches live.

The data root is, in order: the ``--data-root`` option, the ``SIMVE_DATA`` environment
variable, ``~/.cache/simve/data``. Each real dataset has its own folder under it
(``<root>/fashionmnist``, ``<root>/cifar10``, ...), holding the torchvision layout and/or
``<name>.npz``. Built data (glyphs, converted CelebA) is cached under ``SIMVE_CACHE`` or
``~/.cache/simve``, never in the read-only data root.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = Path("~/.cache/simve")


def data_root(option: str | os.PathLike | None = None) -> Path:
    if option is not None:
        return Path(option).expanduser()
    if os.environ.get("SIMVE_DATA"):
        return Path(os.environ["SIMVE_DATA"]).expanduser()
    return (DEFAULT_HOME / "data").expanduser()


def cache_dir() -> Path:
    path = Path(os.environ.get("SIMVE_CACHE") or DEFAULT_HOME).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
