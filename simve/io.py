"""Files and provenance, below everything else: atomic writes, strict JSON, and the lines that say
where a set of numbers was made (machine, versions).

An atomic write goes to a temporary file beside its target and is then moved into place, so an
interruption leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from simve.errors import SimveError


def make_folder(path: str | os.PathLike) -> Path:
    """The folder ``path``, created with its parents where missing; a file in the way is one line."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise SimveError(f"{blocking} is a file, not a folder; choose another output path") from None
    except PermissionError:
        raise SimveError(f"cannot create the folder {path}: permission denied; choose another output path") from None
    return path


def write_atomic(path: str | os.PathLike, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then move it into place. A failed write
    (a full disk, a read-only folder) leaves the old file as it was and no temporary file behind."""
    path = Path(path)
    make_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) or (isinstance(err, RuntimeError) and "write" in str(err).lower()):
            reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
            raise SimveError(f"could not write {path} ({reason}); the previous file, if any, is unchanged; "
                             "free some space or choose another output path") from None
        raise
    return path


@contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold ``folder/.lock`` (an exclusive ``flock``, released when the process ends however it ends):
    a second process that wants to write the same folder is refused in one line."""
    path = Path(folder) / ".lock"
    handle = open(path, "a+")  # noqa: SIM115  (held for the whole block)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SimveError(f"another process is writing {folder} (it holds {path}); wait for it to finish "
                         "or choose another --out") from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Delete the temporary files that a killed :func:`write_atomic` left in ``folder``."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | os.PathLike, value, indent: int | None = 1) -> Path:
    """``value`` as strict JSON (NaN and infinities as null, tensors as lists), atomically."""
    text = json.dumps(finite(value), indent=indent, allow_nan=False)
    return write_text(path, text + "\n")


def read_json(path: str | os.PathLike):
    """The JSON value in ``path``; a damaged or unreadable file is refused in one line."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SimveError(f"{path} is not readable JSON ({type(err).__name__}); delete it to recompute") from None


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``arrays`` as one ``.npz`` file, atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return write_atomic(path, write)


def finite(value):
    """``value`` with tensors and numpy scalars as plain Python numbers and every NaN or infinite
    float as None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, torch.Tensor):
        return finite(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def machine() -> str:
    """Where numbers were made, for the headers of results: ``x86_64, 2 threads``."""
    threads = torch.get_num_threads()
    return f"{platform.machine()}, {threads} thread{'s' * (threads > 1)}"


def versions() -> dict[str, str]:
    """The versions that made a set of numbers."""
    from simve import __version__

    return {"simve": __version__, "torch": torch.__version__, "python": platform.python_version()}
