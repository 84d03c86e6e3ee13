"""Make a CUDA build of torchvision importable on a CPU build of torch.

PyPI only serves CUDA builds of torchvision. On a CPU torch their compiled library
``torchvision/_C.so`` cannot load, and ``import torchvision`` then fails with
``RuntimeError: operator torchvision::nms does not exist``: torchvision registers fake
(meta) kernels for ``nms`` and ``qnms`` at import time, and that needs their schemas.

``ensure_importable()`` declares those two schemas with ``torch.library`` when, and only
when, the compiled library cannot be loaded. Datasets, transforms and models then work;
the compiled ops themselves (``nms``, ``roi_align``, ...) stay unavailable. Where the
installed torchvision matches torch the library loads and this does nothing.

simve only opens ``torchvision.datasets``, through :func:`datasets`, so the repair runs only
when a torchvision dataset is opened, not on ``import simve``.
"""

import glob
import importlib.util
import os

import torch

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the registration alive for the life of the process


def _compiled_ops_load() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to repair
    paths = glob.glob(os.path.join(spec.submodule_search_locations[0], "_C*"))
    if not paths:
        return False
    try:
        torch.ops.load_library(paths[0])
    except (OSError, RuntimeError):
        return False
    return True


def ensure_importable() -> None:
    """Declare the op schemas torchvision needs at import if its compiled ops cannot load."""
    global _library
    if _library is not None or hasattr(torch.ops.torchvision, "nms") or _compiled_ops_load():
        return
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)


def datasets():
    """``torchvision.datasets``, importable on this torch (see the module docstring)."""
    ensure_importable()
    import torchvision.datasets

    return torchvision.datasets
