import json
import subprocess
import sys

import matplotlib.image
import pytest
from conftest import SHARED_DATA, needs_shared

from simve.cli import main


def run_cli(*args):
    """Run ``simve`` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "simve", *args], capture_output=True, text=True, timeout=120, check=False)


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_sample_and_eval_gen_on_a_trained_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "simve", "--data", "glyphs", "--limit", "300", "--epochs", "1",
                 "--batch-size", "32", "--latent-dim", "4", "--out", str(run)]) == 0
    assert main(["sample", str(run), "--n", "9", "--out", str(tmp_path / "s.png")]) == 0
    assert matplotlib.image.imread(tmp_path / "s.png").ndim == 3
    assert main(["eval-gen", str(run), "--particles", "4", "--limit", "40"]) == 0
    out = capsys.readouterr().out
    assert "ELBO" in out and "IWAE" in out and "reconstruction MSE" in out
    import json

    metrics = json.loads((run / "eval-gen.json").read_text())
    assert metrics["images"] == 40 and metrics["iwae_particles"] == 4
    assert metrics["elbo_per_view"] <= metrics["iwae_per_view"] + 1.0 and metrics["reconstruction_mse"] < 0.5
    assert "eval-gen" in metrics["command"]


@pytest.mark.slow
def test_sample_refuses_a_damaged_checkpoint_and_a_missing_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--model", "vae", "--data", "glyphs", "--limit", "100", "--epochs", "1",
                 "--batch-size", "50", "--latent-dim", "2", "--out", str(run)]) == 0
    checkpoint = run / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:500])
    result = run_cli("sample", str(run), "--out", str(tmp_path / "s.png"))
    assert result.returncode == 1 and "damaged, truncated or not a checkpoint" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "s.png").exists()
    result = run_cli("eval-gen", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "holds no run" in result.stderr


def test_experiment_options_come_from_the_settings(tmp_path, capsys):
    out = tmp_path / "gmm"
    argv = ["experiment", "gmm-fisher", "--dims", "6", "--anisotropies", "1,16", "--seeds", "1", "--components", "3",
            "--train-pairs", "600", "--test-samples", "300", "--steps", "30", "--kmeans-restarts", "1",
            "--methods", "lda-true,infonce,pca", "--clip", "no", "--out", str(out)]
    assert main(argv) == 0
    meta = json.loads((out / "results.json").read_text())["meta"]
    assert meta["command"] == "simve " + " ".join(argv)
    assert meta["settings"]["anisotropies"] == [1.0, 16.0] and meta["settings"]["clip"] is False
    assert (out / "table.md").read_text().startswith("# simve experiment: gmm-fisher")


def test_experiment_refuses_bad_settings_in_one_line(tmp_path, capsys):
    assert main(["experiment", "curl", "--classes", "1", "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("simve: error:") and err.count("\n") == 1 and not (tmp_path / "c").exists()


@pytest.mark.slow
def test_embed_exports_the_features_the_probes_read(tmp_path, capsys):
    import numpy as np

    from simve.evaluate.batches import embed_images
    from simve.train import load_trained

    run, out = tmp_path / "run", tmp_path / "features.npz"
    assert main(["train", "--model", "vae", "--data", "glyphs", "--limit", "200", "--latent-dim", "3", "--epochs", "1",
                 "--out", str(run)]) == 0
    assert main(["embed", str(run), "--split", "val", "--out", str(out)]) == 0
    stored = np.load(out)
    _, data, model = load_trained(run, "cpu")
    assert np.array_equal(stored["features"], embed_images(model, data.val.images).numpy())
    assert np.array_equal(stored["labels"], data.val.labels.numpy()) and stored["features"].shape == (20, 3)
    assert np.array_equal(stored["task_content"], data.val.labels.numpy()) and "task_style:font" in stored.files
    capsys.readouterr()
    assert main(["embed", str(run), "--data", str(_rgb_npz(tmp_path)), "--out", str(tmp_path / "x.npz")]) == 1
    assert "the run was trained on 1x28x28" in capsys.readouterr().err and not (tmp_path / "x.npz").exists()


def _rgb_npz(tmp_path):
    import numpy as np

    path = tmp_path / "rgb.npz"
    np.savez(path, x_train=np.zeros((10, 32, 32, 3), np.uint8), y_train=np.arange(10) % 2,
             x_test=np.zeros((4, 32, 32, 3), np.uint8), y_test=np.arange(4) % 2)
    return path
