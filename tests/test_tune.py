"""`simve tune`: the grid scored on validation only, the choice by the declared criterion, test once."""

import json

import pytest

from simve.cli import main
from simve.tune import knob_effects, pareto_front


def test_pareto_front():
    scores = [(0.5, 0.5), (0.6, 0.4), (0.4, 0.6), (0.4, 0.4), (0.6, 0.4)]
    assert pareto_front(scores) == [0, 1, 2, 4]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    argv = ["tune", "--data", "glyphs", "--limit", "300", "--model", "vae", "--grid", "latent_dim=2,8",
            "--grid", "lr=0.001,0.003", "--criterion", "content", "--epochs", "1", "--out", str(root / "out"),
            "--runs", str(root / "runs")]
    assert main(argv) == 0
    return root, argv


@pytest.mark.slow
def test_the_grid_is_scored_on_validation_and_only_the_choice_on_test(tuned):
    root, _ = tuned
    stored = json.loads((root / "out" / "vae" / "results.json").read_text())
    results = stored["results"]
    assert stored["meta"]["grid_size"] == 4 and len(results["grid"]) == 4
    best = max(results["grid"], key=lambda point: point["validation"][0]["content"])
    assert results["chosen"] == [best["label"]] and set(results["test"]) == {best["label"]}
    folders = list((root / "runs").iterdir())
    assert len(folders) == 4
    evaluated = {f.name for folder in folders for f in (folder / "eval").iterdir()}
    assert evaluated == {"tune-val.json", "tune-test.json"}
    assert sum((folder / "eval" / "tune-test.json").exists() for folder in folders) == 1
    assert "| vae | 4 | 1 | 1 | content |" in (root / "out" / "index.md").read_text()
    assert (root / "out" / "vae" / "validation_content_vs_style.png").exists()
    assert results["grid"][0]["validation"][0]["steps"] > 0


@pytest.mark.slow
def test_the_index_says_what_each_knob_did(tuned):
    root, _ = tuned
    stored = json.loads((root / "out" / "vae" / "results.json").read_text())
    (effect,) = [line for line in knob_effects(stored) if "`lr`" in line]
    with_lr = [p["validation"][0]["content"] for p in stored["results"]["grid"] if p["training"]["lr"] == 0.003]
    assert len(with_lr) == 2 and f"0.003: {100 * sum(with_lr) / 2:.1f} / " in effect
    assert effect in (root / "out" / "index.md").read_text()
    assert (root / "out" / "content_vs_style.png").stat().st_size > 10_000


@pytest.mark.slow
def test_a_rerun_reuses_every_run(tuned):
    root, argv = tuned
    stamps = sorted(p.stat().st_mtime_ns for p in (root / "runs").glob("*/checkpoint.pt"))
    assert main(argv) == 0
    assert sorted(p.stat().st_mtime_ns for p in (root / "runs").glob("*/checkpoint.pt")) == stamps


@pytest.mark.parametrize("extra, message", [
    (["--grid", "warmth=1,2"], "has no option 'warmth'"),
    (["--grid", "lr=0.1,0.1"], "distinct values"),
    (["--grid", "lr=0.1", "--set", "lr=0.2"], "both in --grid and --set"),
])
def test_bad_grids_are_refused_before_any_work(tmp_path, capsys, extra, message):
    argv = ["tune", "--data", "glyphs", "--limit", "100", "--model", "vae", "--criterion", "content", "--epochs", "1",
            "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs"), *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("fan_out", [["--jobs", "2"], ["--cluster", "local", "--cluster-set", "timeout_min=10"]],
                         ids=["jobs", "submitit"])
def test_jobs_train_the_grid_in_processes_and_a_rerun_reuses_them(fan_out, tmp_path):
    argv = ["tune", "--data", "glyphs", "--limit", "300", "--model", "vae", "--grid", "latent_dim=2,8",
            "--criterion", "content", "--epochs", "1", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    assert main([*argv, *fan_out]) == 0
    checkpoints = sorted((tmp_path / "runs").glob("*/checkpoint.pt"))
    stamps = [p.stat().st_mtime_ns for p in checkpoints]
    chosen = json.loads((tmp_path / "out" / "vae" / "results.json").read_text())["results"]["chosen"]
    assert len(checkpoints) == 2
    assert main(argv) == 0
    assert [p.stat().st_mtime_ns for p in checkpoints] == stamps
    assert json.loads((tmp_path / "out" / "vae" / "results.json").read_text())["results"]["chosen"] == chosen


@pytest.mark.slow
@pytest.mark.parametrize("options, words", [
    (["--cluster-set", "timeout_min=10"], "give --cluster slurm or local too"),
    (["--cluster", "local", "--cluster-set", "no_such_knob=1"], "--cluster-set:"),
    (["--cluster", "local", "--set", "lr=1e30"], "became nan or inf at step"),
])
def test_a_cluster_job_that_cannot_run_is_one_line(options, words, tmp_path, capsys):
    argv = ["tune", "--data", "glyphs", "--limit", "300", "--model", "vae", "--grid", "latent_dim=2,8",
            "--criterion", "content", "--epochs", "1", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    assert main([*argv, *options]) == 1
    err = capsys.readouterr().err
    assert words in err and len([line for line in err.splitlines() if "error:" in line]) == 1, err


def test_results_name_a_data_file_by_name_and_checksum_not_by_path(tmp_path):
    import hashlib

    from simve.runs import data_label

    path = tmp_path / "mine.npz"
    path.write_bytes(b"some bytes")
    label = data_label(str(path))
    assert label == f"mine.npz (sha1 {hashlib.sha1(b'some bytes').hexdigest()[:12]})" and str(tmp_path) not in label
    assert data_label("glyphs") == "glyphs"


SCORES_BY_SPLIT = {  # (latent_dim, scored) -> the fake evaluation's content and perturbed style accuracy
    (2, "val"): 0.9, (8, "val"): 0.5,  # validation favours latent_dim=2 on every criterion
    (2, "test"): 0.2, (8, "test"): 0.95,  # the test split would pull the other way
}


@pytest.mark.parametrize("criterion", ["content", "style", "pareto"])
def test_the_choice_follows_validation_where_test_favours_another_point(criterion, tmp_path, monkeypatch):
    """Workspace.evaluate replaced by scores that depend on the split: validation favours point A
    (latent_dim=2), test favours point B (latent_dim=8). Tune must choose A, score the test split for A
    only, and report A's test scores (not its validation ones). Training is skipped (the fake
    evaluation ignores the model)."""
    import simve.runs
    import simve.tune
    from simve.runs import Workspace

    calls = []
    monkeypatch.setattr(simve.tune, "train_many", lambda runs, jobs, cluster=None: None)
    monkeypatch.setattr(simve.runs, "train_or_reuse", lambda config, folder: None)

    def fake_evaluate(self, model, config, probes, max_train, particles=0, scored="test", progress=True):
        latent_dim = config.model_options["latent_dim"]
        calls.append((latent_dim, scored))
        accuracy = SCORES_BY_SPLIT[latent_dim, scored]
        probe = {"linear": {"test_accuracy": accuracy, "val_accuracy": accuracy, "chosen": {}}}
        return {"tasks": {"content": {"kind": "content", "perturbed": None, "classes": 2, "chance": 0.5, "probes": probe},
                          "rotation": {"kind": "style", "perturbed": True, "classes": 2, "chance": 0.5, "probes": probe}},
                "metrics": {"align": 1.0, "uniform": -1.0}}

    monkeypatch.setattr(Workspace, "evaluate", fake_evaluate)
    argv = ["tune", "--data", "glyphs", "--limit", "100", "--model", "vae", "--grid", "latent_dim=2,8",
            "--criterion", criterion, "--epochs", "1", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    assert main(argv) == 0
    results = json.loads((tmp_path / "out" / "vae" / "results.json").read_text())["results"]
    (a, b) = [point["label"] for point in results["grid"]]
    assert "latent_dim=2" in a and "latent_dim=8" in b
    assert sorted(calls) == [(2, "test"), (2, "val"), (8, "val")]  # test scored once, for the choice only
    assert results["chosen"] == [a] and set(results["test"]) == {a}
    assert [run["content"] for run in results["test"][a]] == [0.2]  # the test scores, read on test
    assert [point["validation"][0]["content"] for point in results["grid"]] == [0.9, 0.5]
