import subprocess
import sys

from simve import _torchvision_compat


def test_torchvision_imports_after_simve_in_a_fresh_interpreter():
    code = (
        "import simve, torch, torchvision\n"
        "from torchvision.transforms import v2\n"
        "x = torch.rand(3, 8, 8)\n"
        "assert v2.functional.horizontal_flip(x).equal(x.flip(-1))\n"
        "assert torchvision.models.resnet18(num_classes=3)(torch.rand(2, 3, 32, 32)).shape == (2, 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_ensure_importable_is_idempotent():
    import torchvision  # noqa: F401  (already importable: simve was imported by the test run)

    _torchvision_compat.ensure_importable()
    _torchvision_compat.ensure_importable()
