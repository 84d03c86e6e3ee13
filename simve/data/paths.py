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

import numpy as np

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


def write_atomic(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then move it into place, so that a crash
    leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` through a temporary file, so a crash leaves no half file."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(path, write)
