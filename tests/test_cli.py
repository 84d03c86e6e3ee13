import subprocess
import sys

import matplotlib.image
import pytest
from conftest import SHARED_DATA, needs_shared

from simve.cli import main


def run_cli(*args):
    """Run ``simve`` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "simve.cli", *args], capture_output=True, text=True, timeout=120, check=False)


@needs_shared("fashionmnist")
def test_data_info_fashionmnist(capsys):
    assert main(["data", "info", "fashionmnist", "--data-root", str(SHARED_DATA)]) == 0
    out = capsys.readouterr().out
    assert "train 8517 images" in out and "test 4443 images" in out and "Ankle boot" in out


def test_data_info_glyphs_lists_style_factors(capsys):
    assert main(["data", "info", "glyphs", "--limit", "300"]) == 0
    out = capsys.readouterr().out
    assert "train 300 images" in out and "style factor font: categorical" in out
    assert "style factor rotation: continuous" in out and "perturbed by the augmentations" in out


def test_data_show_writes_a_png_grid(tmp_path):
    out = tmp_path / "g.png"
    assert main(["data", "show", "glyphs", "--views", "4", "--rows", "5", "--limit", "200", "--out", str(out)]) == 0
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > image.shape[0]  # 5 rows, 5 columns + labels


def test_missing_data_root_is_one_line_and_nonzero(tmp_path):
    result = run_cli("data", "info", "fashionmnist", "--data-root", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simve: error: no fashionmnist data in")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv, message", [
    (["data", "show", "glyphs", "--views", "0", "--out", "x.png"], "expected a number >= 1"),
    (["data", "show", "glyphs", "--views", "two", "--out", "x.png"], "expected a whole number"),
    (["data", "show", "glyphs", "--out", "x.jpg"], "must name a .png file"),
    (["data", "info"], "the following arguments are required: name"),
    (["fly"], "invalid choice"),
])
def test_bad_options_are_argparse_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
