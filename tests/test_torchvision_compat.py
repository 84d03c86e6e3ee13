import subprocess
import sys

import pytest

from simve.data import torchvision_compat


@pytest.mark.slow
def test_torchvision_imports_after_the_repair_in_a_fresh_interpreter():
    code = (
        "from simve.data.torchvision_compat import ensure_importable\n"
        "ensure_importable()\n"
        "import torch, torchvision\n"
        "from torchvision.transforms import v2\n"
        "x = torch.rand(3, 8, 8)\n"
        "assert v2.functional.horizontal_flip(x).equal(x.flip(-1))\n"
        "assert torchvision.models.resnet18(num_classes=3)(torch.rand(2, 3, 32, 32)).shape == (2, 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_import_simve_leaves_torchvision_alone():
    code = "import sys, simve, simve.cli, simve.models, simve.train\nassert 'torchvision' not in sys.modules\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_datasets_opens_torchvision_datasets_and_is_idempotent():
    first, second = torchvision_compat.datasets(), torchvision_compat.datasets()
    assert first is second and hasattr(first, "FashionMNIST")
