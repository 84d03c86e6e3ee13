"""A catalogue of bad inputs and faults: each gives its exit status, one line on stderr and no
traceback, and leaves every file that was already there byte for byte as it was."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from simve.cli import main

GLYPHS = ["--data", "glyphs", "--limit", "200", "--batch-size", "32"]
TRAIN = ["train", "--model", "vae", *GLYPHS, "--latent-dim", "2"]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def npz(path: Path, **changes) -> str:
    arrays = {"x_train": np.zeros((20, 8, 8), np.uint8), "y_train": np.arange(20) % 2,
              "x_test": np.zeros((10, 8, 8), np.uint8), "y_test": np.arange(10) % 2}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return str(path)


class Evil:
    """Unpickled, it would create the file ``mark``."""

    mark = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.mark}",))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A finished run, an unfinished one, and the files the cases below point at."""
    root = tmp_path_factory.mktemp("catalogue")
    Evil.mark = str(root / "pwned")
    assert main([*TRAIN, "--epochs", "1", "--out", str(root / "run")]) == 0
    (root / "a-file").write_text("not a folder\n")
    for name, state_change in {
        "no-rng": lambda s: s.pop("rng"),
        "nan-weights": lambda s: next(iter(s["model_state"].values())).fill_(float("nan")),
        "foreign": lambda s: s.update(model="simclr"),
    }.items():
        copy = root / name
        copy.mkdir()
        (copy / "config.json").write_bytes((root / "run" / "config.json").read_bytes())
        state = torch.load(root / "run" / "checkpoint.pt", weights_only=True)
        state_change(state)
        torch.save(state, copy / "checkpoint.pt")
    for name, content in {"truncated": (root / "run" / "checkpoint.pt").read_bytes()[:5000],
                          "malicious": pickle.dumps({"x": Evil()}, protocol=2)}.items():
        copy = root / name
        copy.mkdir()
        (copy / "config.json").write_bytes((root / "run" / "config.json").read_bytes())
        (copy / "checkpoint.pt").write_bytes(content)
    unfinished = root / "unfinished"
    unfinished.mkdir()
    (unfinished / "checkpoint.pt").write_bytes((root / "run" / "checkpoint.pt").read_bytes())
    config = json.loads((root / "run" / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps({**config, "epochs": 3}))
    nonsense = root / "nonsense"
    nonsense.mkdir()
    (nonsense / "config.json").write_text(json.dumps({"model": "vae", "epochs": "many", "colour": 1}))
    data = root / "data"
    data.mkdir()
    npz(data / "no-test.npz", x_test=None)
    npz(data / "float-images.npz", x_train=np.zeros((20, 8, 8), np.float32))
    npz(data / "bad-shape.npz", x_train=np.zeros((20, 8), np.uint8))
    npz(data / "empty.npz", x_train=np.zeros((0, 8, 8), np.uint8), y_train=np.zeros(0, np.int64))
    npz(data / "string-labels.npz", y_train=np.array(["a", "b"] * 10))
    npz(data / "nan-labels.npz", y_train=np.where(np.arange(20) == 3, np.nan, 1.0))
    npz(data / "negative-labels.npz", y_train=np.arange(20) - 5)
    npz(data / "huge-labels.npz", y_train=np.arange(20) * 100)
    npz(data / "few-labels.npz", y_train=np.arange(5))
    (data / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return root


CASES = {  # name: (argv with {root}, exit status, words of the one line)
    "missing data root": (["train", "--model", "vae", "--data", "fashionmnist", "--data-root", "{root}/nowhere",
                           "--epochs", "1", "--out", "{root}/new"], 1, "fashionmnist"),
    "out is a file": ([*TRAIN, "--epochs", "1", "--out", "{root}/a-file"], 1, "is a file"),
    "out under a file": ([*TRAIN, "--epochs", "1", "--out", "{root}/a-file/run"], 1, "is a file"),
    "finished run without --resume": ([*TRAIN, "--epochs", "1", "--out", "{root}/run"], 1, "already holds a run"),
    "zero epochs": ([*TRAIN, "--epochs", "0", "--out", "{root}/new"], 2, "epochs must be >= 1, got 0"),
    "zero batch": ([*TRAIN, "--epochs", "1", "--batch-size", "0", "--out", "{root}/new"], 2, "batch_size must be >= 1, got 0"),
    "negative lr": ([*TRAIN, "--epochs", "1", "--lr", "-1", "--out", "{root}/new"], 2, "lr must be positive and finite"),
    "nan lr": ([*TRAIN, "--epochs", "1", "--lr", "nan", "--out", "{root}/new"], 2, "lr must be positive and finite"),
    "infinite lr": ([*TRAIN, "--epochs", "1", "--lr", "inf", "--out", "{root}/new"], 2, "lr must be positive and finite"),
    "zero latent": (["train", "--model", "vae", *GLYPHS, "--latent-dim", "0", "--epochs", "1", "--out", "{root}/new"],
                    1, "latent size must be between 1"),
    "zero head": (["train", "--model", "simclr", *GLYPHS, "--head-dim", "0", "--epochs", "1", "--out", "{root}/new"],
                  1, "head_dim must be positive"),
    "unknown model": (["train", "--model", "simvee", *GLYPHS, "--epochs", "1", "--out", "{root}/new"], 2,
                      "invalid choice"),
    "unknown dataset": (["train", "--model", "vae", "--data", "imagenet", "--epochs", "1", "--out", "{root}/new"], 1,
                        "imagenet"),
    "unknown device": ([*TRAIN, "--epochs", "1", "--device", "tpu", "--out", "{root}/new"], 2, "invalid choice"),
    "one view for simve": (["train", "--model", "simve", *GLYPHS, "--views", "1", "--epochs", "1", "--out",
                            "{root}/new"], 1, "at least 2 views"),
    "npz without x_test": (["train", "--model", "vae", "--data", "{root}/data/no-test.npz", "--epochs", "1", "--out",
                            "{root}/new"], 1, "lacks x_test"),
    "npz of float images": (["train", "--model", "vae", "--data", "{root}/data/float-images.npz", "--epochs", "1",
                             "--out", "{root}/new"], 1, "must be uint8"),
    "npz of a wrong shape": (["train", "--model", "vae", "--data", "{root}/data/bad-shape.npz", "--epochs", "1",
                              "--out", "{root}/new"], 1, "images must be (N, H, W)"),
    "npz with empty arrays": (["train", "--model", "vae", "--data", "{root}/data/empty.npz", "--epochs", "1",
                               "--out", "{root}/new"], 1, "hold no images"),
    "npz with string labels": (["train", "--model", "vae", "--data", "{root}/data/string-labels.npz", "--epochs", "1",
                                "--out", "{root}/new"], 1, "labels must be whole numbers"),
    "npz with a nan label": (["train", "--model", "vae", "--data", "{root}/data/nan-labels.npz", "--epochs", "1",
                              "--out", "{root}/new"], 1, "non-finite or fractional"),
    "npz with negative labels": (["train", "--model", "vae", "--data", "{root}/data/negative-labels.npz", "--epochs",
                                  "1", "--out", "{root}/new"], 1, "labels must lie in 0..255"),
    "npz with labels up to 1900": (["train", "--model", "vae", "--data", "{root}/data/huge-labels.npz", "--epochs",
                                    "1", "--out", "{root}/new"], 1, "labels must lie in 0..255"),
    "npz with too few labels": (["train", "--model", "vae", "--data", "{root}/data/few-labels.npz", "--epochs", "1",
                                 "--out", "{root}/new"], 1, "expected 20 labels"),
    "npz that is not a zip": (["train", "--model", "vae", "--data", "{root}/data/garbage.npz", "--epochs", "1",
                               "--out", "{root}/new"], 1, "not a readable .npz"),
    "truncated checkpoint": (["eval-gen", "{root}/truncated", "--particles", "2"], 1, "not a readable checkpoint"),
    "malicious checkpoint": (["eval-gen", "{root}/malicious", "--particles", "2"], 1, "not a weights-only checkpoint"),
    "malicious checkpoint, resumed": (["train", "--out", "{root}/malicious", "--resume", "--epochs", "2"], 1,
                                      "not a weights-only checkpoint"),
    "checkpoint of another model": (["eval-gen", "{root}/foreign", "--particles", "2"], 1, "holds a 'simclr' model"),
    "checkpoint without its rng": (["train", "--out", "{root}/no-rng", "--resume", "--epochs", "2"], 1,
                                   "incomplete (no rng)"),
    "checkpoint with nan weights": (["eval-gen", "{root}/nan-weights", "--particles", "2"], 1, "nan or inf weights"),
    "config.json of nonsense": (["eval-gen", "{root}/nonsense"], 1, "not a simve training config"),
    "unfinished run evaluated": (["eval-gen", "{root}/unfinished", "--particles", "2"], 1, "stopped at step 5 (epoch 1 of 3)"),
    "unfinished run sampled": (["sample", "{root}/unfinished", "--out", "{root}/s.png"], 1, "pass --partial"),
    "a diverging run": ([*TRAIN, "--epochs", "1", "--lr", "1e30", "--out", "{root}/diverged"], 1,
                        "the last good checkpoint"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_and_nothing_is_lost(name, root, capsys):
    argv, status, words = CASES[name]
    before = snapshot(root)
    capsys.readouterr()
    if status == 2:
        with pytest.raises(SystemExit) as exit_:
            main([a.format(root=root) for a in argv])
        code = exit_.value.code
    else:
        code = main([a.format(root=root) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(("simve", "usage")) or "error" in line]
    assert code == status
    assert "Traceback" not in err and words in err
    assert len([line for line in lines if "error:" in line]) == 1
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing that was there changed
    assert not (root / "pwned").exists()  # and nothing ran


@pytest.mark.parametrize("variable, value, words", [("RANK", "1", "RANK=1 LOCAL_RANK=1, which is not a rank"),
                                                    ("WORLD_SIZE", "two", "WORLD_SIZE='two', not a whole number"),
                                                    ("WORLD_SIZE", "2", "not MASTER_ADDR or MASTER_PORT")])
def test_a_stray_distributed_environment_is_refused(variable, value, words, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(variable, value)
    assert main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert words in err and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_starts_afresh(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    straight = tmp_path / "straight"
    assert main([*TRAIN, "--epochs", "1", "--out", str(straight)]) == 0
    (run / "config.json").write_bytes((straight / "config.json").read_bytes())  # as if killed right after it
    (run / ".checkpoint.pt.12345.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", "--out", str(run), "--resume", "--epochs", "1"]) == 0
    assert not list(run.glob(".*.tmp"))
    a = torch.load(run / "checkpoint.pt", weights_only=True)["model_state"]
    b = torch.load(straight / "checkpoint.pt", weights_only=True)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_checkpoint_and_the_run_resumes(tmp_path, capsys, monkeypatch):
    from simve.models.vae import VAE

    run = tmp_path / "run"
    calls = {"n": 0}
    objective = VAE.objective

    def interrupted(self, views):
        calls["n"] += 1
        if calls["n"] == 4 and self.training:
            raise KeyboardInterrupt
        return objective(self, views)

    monkeypatch.setattr(VAE, "objective", interrupted)
    assert main([*TRAIN, "--epochs", "1", "--checkpoint-every", "2", "--out", str(run)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("simve: error: interrupted at step 4; the last checkpoint (step 2)")
    monkeypatch.setattr(VAE, "objective", objective)
    assert main(["train", "--out", str(run), "--resume", "--epochs", "1"]) == 0


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from simve.errors import SimveError
    from simve.io import write_text

    path = write_text(tmp_path / "table.md", "old\n")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(SimveError, match="No space left on device.*unchanged"):
        write_text(path, "new\n")
    monkeypatch.undo()
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_is_one_line(tmp_path, capsys):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert main([*TRAIN, "--epochs", "1", "--out", str(out / "run")]) == 1
        assert "permission denied" in capsys.readouterr().err
    finally:
        out.chmod(0o700)


@pytest.mark.slow
def test_a_second_writer_of_the_same_run_is_refused(tmp_path, capsys):
    from simve.io import folder_lock

    run = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "1", "--out", str(run)]) == 0
    before = snapshot(run)
    with folder_lock(run):  # as if another process were training it
        assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 1
    assert "another process is writing" in capsys.readouterr().err and snapshot(run) == before
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 0  # released


def _final_state(run: Path) -> tuple[dict, list]:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    metrics = [{k: v for k, v in json.loads(line).items() if k not in ("time", "views_per_s")}
               for line in (run / "metrics.jsonl").read_text().splitlines()]
    return state["model_state"], metrics


@pytest.mark.slow
def test_ten_kill_9_at_random_points_resume_to_the_same_run_bit_for_bit(tmp_path):
    """Kill -9 a run right after each new checkpoint (plus 0-40 ms: often inside the next write), resume it,
    and repeat until it finishes; then compare with an uninterrupted run of the same seed."""
    import random
    import signal
    import subprocess
    import sys
    import time

    settings = [*GLYPHS, "--checkpoint-every", "1"]
    first = [sys.executable, "-m", "simve", "train", "--model", "vae", "--latent-dim", "2", *settings, "--epochs", "5"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run([*first, "--out", str(straight)], check=True, capture_output=True)
    resume = [sys.executable, "-m", "simve", "train", "--out", str(killed), "--resume", "--epochs", "5"]
    rng, kills = random.Random(0), 0
    while True:
        command = resume if (killed / "config.json").exists() else [*first, "--out", str(killed)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen = (killed / "checkpoint.pt").stat().st_mtime_ns if (killed / "checkpoint.pt").exists() else None
        while process.poll() is None and kills < 10:
            now = (killed / "checkpoint.pt").stat().st_mtime_ns if (killed / "checkpoint.pt").exists() else None
            if now != seen:
                time.sleep(rng.uniform(0, 0.04))
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                break
            time.sleep(0.002)
        if process.wait() == 0:
            break
        assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
        torch.load(killed / "checkpoint.pt", weights_only=True)  # always loadable
    assert kills == 10
    (a, metrics_a), (b, metrics_b) = _final_state(straight), _final_state(killed)
    assert all(torch.equal(a[k], b[k]) for k in a) and metrics_a == metrics_b


@pytest.mark.slow
def test_the_same_command_twice_gives_the_same_files(tmp_path):
    for name in ("a", "b"):
        assert main([*TRAIN, "--epochs", "2", "--out", str(tmp_path / name)]) == 0
    (a, metrics_a), (b, metrics_b) = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a) and metrics_a == metrics_b


@pytest.mark.slow
def test_the_checkpoint_a_diverged_run_keeps_is_not_evaluated_as_a_finished_one(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "2", "--lr", "1e6", "--out", str(run)]) == 1
    assert "loss became nan at step 2" in capsys.readouterr().err
    assert main(["eval-gen", str(run), "--particles", "2", "--partial"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stopped at step 0 (epoch 0 of 2)" in err[0] and "--partial" not in err[0]


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, monkeypatch):
    mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if "locked" in self.parts:
            raise PermissionError(13, "Permission denied")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)  # a read-only parent, as root cannot simulate with chmod
    assert main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "locked" / "run")]) == 1
    assert "permission denied; choose another output path" in capsys.readouterr().err
