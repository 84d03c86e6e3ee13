"""Evaluation end to end on tiny data: tasks x probes, the tables, eval/demo/benchmark commands, the notebook."""

import json
import math
import os
from pathlib import Path

import pytest
import torch

from simve.cli import main
from simve.data import MultiView, load_dataset, preset
from simve.evaluate.metrics import alignment_uniformity
from simve.evaluate.report import comparison_table, evaluate, markdown_table, summarise
from simve.io import finite
from simve.models.anchors import RawPixels
from simve.models.base import SSLModel


@pytest.fixture(scope="module")
def glyphs():
    return load_dataset("glyphs", limit=400)


@pytest.mark.slow
def test_raw_pixels_on_every_glyph_task(glyphs):
    results = evaluate(RawPixels(), glyphs, probes=("linear", "mean"), progress=False)
    tasks = results["tasks"]
    assert set(tasks) == {"content", "style:font", "style:thickness", "style:rotation", "style:scale",
                          "style:x", "style:y"}
    assert tasks["content"]["kind"] == "content" and tasks["style:font"]["perturbed"] is False
    assert tasks["style:rotation"]["perturbed"] is True
    for task in tasks.values():
        for probe in task["probes"].values():
            assert 0 <= probe["test_accuracy"] <= 1
    assert tasks["content"]["probes"]["linear"]["test_accuracy"] > tasks["content"]["chance"] + 0.2
    assert -4.5 < results["metrics"]["uniform"] < 0 and results["metrics"]["align"] > 0


class Constant(SSLModel):
    name = "constant"

    def embed(self, images):
        return torch.ones(len(images), 3)


def test_alignment_and_uniformity_of_a_collapsed_representation(glyphs):
    metrics = alignment_uniformity(Constant(), glyphs.test, MultiView(preset("glyphs"), 2))
    assert metrics["align"] == pytest.approx(0, abs=1e-6) and metrics["uniform"] == pytest.approx(0, abs=1e-6)


def test_summary_and_tables():
    results = {"tasks": {
        "content": {"kind": "content", "perturbed": None, "classes": 10, "chance": 0.1,
                    "probes": {"linear": {"test_accuracy": 0.9}}},
        "style:a": {"kind": "style", "perturbed": False, "classes": 3, "chance": 0.34,
                    "probes": {"linear": {"test_accuracy": 0.5}}},
        "style:b": {"kind": "style", "perturbed": True, "classes": 3, "chance": 0.34,
                    "probes": {"linear": {"test_accuracy": 0.6}}},
        "style:c": {"kind": "style", "perturbed": True, "classes": 3, "chance": 0.34,
                    "probes": {"linear": {"test_accuracy": 0.8}}},
    }, "metrics": {"align": 0.5, "uniform": -1.0}}
    summary = summarise(results)
    assert summary["content"] == 0.9 and summary["style_kept"] == 0.5
    assert summary["style_perturbed"] == pytest.approx(0.7) and math.isnan(summary["style_other"])
    table = comparison_table({"m": [summary, {**summary, "content": 0.8}]})
    assert "| m | 85.0 ± 7.1 | 50.0 ± 0.0 | 70.0 ± 0.0 |" in table and "style (attributes)" not in table
    assert "| style:b | style (perturbed) | 3 | 34.0 | 60.0 |" in markdown_table(results, ("linear",))
    assert finite({"a": [float("nan"), 1.0]}) == {"a": [None, 1.0]}


@pytest.mark.slow
def test_eval_command_writes_results(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "simclr", "--data", "glyphs", "--limit", "300", "--epochs", "1",
                 "--out", str(run)]) == 0
    assert main(["eval", str(run), "--probes", "linear,knn", "--particles", "0"]) == 0
    stored = json.loads((run / "eval" / "results.json").read_text())
    results = stored["results"]
    assert stored["meta"]["command"].startswith("simve eval") and "content" in results["tasks"]
    assert set(results["tasks"]["content"]["probes"]) == {"linear", "knn"}
    assert "| content | content |" in (run / "eval" / "table.md").read_text()


@pytest.mark.slow
def test_demo_on_tiny_settings(tmp_path):
    from simve.demo import ROWS, run_demo
    from simve.runs import parse_variant

    table = run_demo(tmp_path, limit=300, epochs=2)
    for row in ("raw pixels", "random encoder", *ROWS):
        assert f"| {row} |" in table or f"| {row} (still rising) |" in table
    assert "| pca |" not in table
    assert all(f"`{parse_variant(text).label}`" in table for text in ROWS.values())
    assert "What the numbers show:" in table and "- Content (the digit): SimVE" in table
    assert "10 equal-frequency bins" in table and "Set against the converged FashionMNIST table" in table
    assert "What the numbers show:" in (tmp_path / "table.md").read_text()
    assert "| model | epochs | steps | encoder passes | train time (s) |" in table
    figures = tmp_path / "figures"
    assert {"content_vs_style.png", "curves.png", "simve_reconstructions.png", "simve_same_content_new_style.png"} <= {
        p.name for p in figures.iterdir()} and (tmp_path / "glyph_views.png").exists()
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["meta"]["style_bins"] == 10 and set(stored["curves"]) == set(ROWS)
    tasks = stored["results"]["simve"][0]["tasks"]
    assert tasks["style:rotation"]["classes"] == 10 and tasks["style:thickness"]["classes"] == 3
    (checkpoint,) = (tmp_path / "runs").glob("simve-*-e2-s0-*/checkpoint.pt")
    stamp = checkpoint.stat().st_mtime_ns
    run_demo(tmp_path, limit=300, epochs=2)  # a second call reuses the finished runs
    assert checkpoint.stat().st_mtime_ns == stamp


def test_the_demo_rows_share_one_recipe_at_the_package_defaults():
    """Every row trains with the same recipe and sets no model option but the demo's net (and SimCLR's latent
    size, SimVE's): no row was tuned more than another."""
    from simve.demo import RECIPE, ROWS
    from simve.models.generative import default_latent_dim
    from simve.runs import parse_variant

    recipe = dict(parse_variant(f"simve:{RECIPE}").training)
    assert recipe == {"batch_size": 256, "lr": 0.005}
    for text in ROWS.values():
        variant = parse_variant(text)
        assert dict(variant.training) == recipe
        assert dict(variant.options) in ({"net": "mlp-small"}, {"net": "mlp-small", "latent_dim": default_latent_dim((1, 28, 28))})


def test_the_demo_findings_say_what_its_numbers_show():
    from simve.demo import findings

    means = {"simve": {"content": 0.95, "style_perturbed": 0.45}, "vae": {"content": 0.88, "style_perturbed": 0.42},
             "simclr (matched d)": {"content": 0.98, "style_perturbed": 0.16},
             "raw pixels": {"content": 0.79, "style_perturbed": 0.40}, "random encoder": {"content": 0.87, "style_perturbed": 0.38}}
    lines = findings(means, {"simve": 0.077, "vae": 0.32, "simclr (matched d)": 0.009})
    assert lines[0].startswith("Content (the digit): SimVE 95.0 %, against vae 88.0 % (+7.0 points), "
                               "simclr (matched d) 98.0 % (-3.0 points)")
    assert "SimVE 45.0 %" in lines[1] and "simclr (matched d) 16.0 % (+29.0 points)" in lines[1]
    assert lines[2] == ("Set against the converged FashionMNIST table (results/fashionmnist): the same direction for "
                        "content against vae, perturbed style against simclr (matched d); the opposite for content "
                        "against simclr (matched d) (there SimVE is ahead), perturbed style against vae (there vae is "
                        "ahead).")
    assert lines[3] == ("Still rising (validation content gained over 1 point in the last doubling of steps): "
                        "simve (+7.7), vae (+32.0); their numbers would move with a longer budget.")
    flat = findings(means, {"simve": 0.004, "vae": -0.01, "simclr (matched d)": 0.0})
    assert flat[3].startswith("Every row's validation content gained under 1 point")


def test_the_demo_states_the_directions_of_the_converged_fashionmnist_table():
    """:data:`simve.demo.CONVERGED` is the sign of SimVE minus each row in the committed results/fashionmnist."""
    from simve.demo import CONVERGED
    from simve.evaluate.report import summarise
    from simve.stats import mean_std

    stored = json.loads((Path(__file__).resolve().parents[1] / "results" / "fashionmnist" / "results.json").read_text())
    rows = {"simve": "simve", "vae": "vae", "simclr (matched d)": "simclr (d=10)"}
    mean = {row: {k: mean_std(summarise(r)[k] for r in stored["results"][name])["mean"]
                  for k in ("content", "style_perturbed")} for row, name in rows.items()}
    for (row, key), sign in CONVERGED.items():
        assert (mean["simve"][key] - mean[row][key]) * sign > 0, (row, key)


@pytest.mark.slow
def test_benchmark_on_tiny_settings_and_reuse(tmp_path):
    out, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["benchmark", "--data", "glyphs", "--limit", "200", "--models", "vae,simclr", "--seeds", "2",
            "--epochs", "1", "--probes", "linear", "--particles", "2", "--sweep", "views=3",
            "--out", str(out), "--runs", str(runs)]
    assert main(argv) == 0
    stored = json.loads((out / "results.json").read_text())
    results = stored["results"]
    assert stored["meta"]["command"].startswith("simve benchmark") and stored["meta"]["seeds"] == 2
    assert set(results) == {"raw pixels", "random encoder", "pca", "vae", "simclr", "simclr (d=10)", "simve views=3"}
    assert all(len(runs_) == 2 for runs_ in results.values())
    table = (out / "table.md").read_text()
    assert "| simclr (d=10) |" in table and "Generative bounds" in table
    assert {p.name for p in (out / "figures").iterdir()} >= {"content_vs_style.png", "embeddings_pca.png",
                                                             "vae_samples.png", "vae_reconstructions.png"}
    reused = [*runs.glob("vae-e1-s0-*/checkpoint.pt"), *runs.glob("vae-e1-s0-*/eval/benchmark.json"),
              runs / "anchor-raw-pixels-s1.json"]
    assert len(reused) == 3
    stamps = [path.stat().st_mtime_ns for path in reused]
    assert main(argv) == 0
    assert [path.stat().st_mtime_ns for path in reused] == stamps
    assert json.loads((out / "results.json").read_text())["results"] == results
    assert main([*argv, "--no-anchors"]) == 0
    assert set(json.loads((out / "results.json").read_text())["results"]) == set(results) - {
        "raw pixels", "random encoder", "pca"}


def test_sweep_rows_set_model_options_or_training(tmp_path):
    from simve.benchmark import BenchmarkSpec, benchmark_rows, parse_sweep
    from simve.runs import Variant

    sweep = parse_sweep(["sigma_x=0.05", "likelihood=gaussian", "lr=3e-3", "latent_dim=4", "views=4"])
    assert sweep == {"sigma_x": [0.05], "likelihood": ["gaussian"], "lr": [0.003], "latent_dim": [4], "views": [4]}
    spec = BenchmarkSpec(data="glyphs", models=("simve", "simclr:temperature=0.2"), seeds=(0,), epochs=2,
                         out=tmp_path, runs=tmp_path, sweep=sweep)
    rows, swept = benchmark_rows(spec, (1, 28, 28))
    assert rows["simve likelihood=gaussian"] == Variant("simve", (("likelihood", "gaussian"),))
    assert swept == set(rows) - {"simve", "simclr temperature=0.2", "simclr temperature=0.2 (d=10)"}
    run = {"data": "glyphs", "epochs": 2, "seed": 1}
    assert rows["simve lr=0.003"].config(**run).lr == 0.003
    assert rows["simve views=4"].config(**run).views == 4 and rows["simve"].config(**run).views == 2
    assert rows["simve latent_dim=4"].config(**run).model_options == {"latent_dim": 4}
    assert rows["simclr temperature=0.2 (d=10)"].config(**run).model_options == {"temperature": 0.2, "latent_dim": 10}


def test_a_matched_copy_that_is_already_a_row_is_not_added_again(tmp_path):
    from simve.benchmark import BenchmarkSpec, benchmark_rows

    for models in (("simclr:latent_dim=10:temperature=0.2", "simclr:temperature=0.2"),
                   ("simclr:temperature=0.2", "simclr:latent_dim=10:temperature=0.2")):
        spec = BenchmarkSpec(data="glyphs", models=models, seeds=(0,), epochs=2, out=tmp_path, runs=tmp_path)
        rows, _ = benchmark_rows(spec, (1, 28, 28))
        assert set(rows) == {"simclr latent_dim=10 temperature=0.2", "simclr temperature=0.2"}
    spec = BenchmarkSpec(data="glyphs", models=("simclr:latent_dim=16", "simclr"), seeds=(0,), epochs=2,
                         out=tmp_path, runs=tmp_path)
    assert list(benchmark_rows(spec, (1, 28, 28))[0]) == ["simclr latent_dim=16", "simclr", "simclr (d=10)"]


def test_benchmark_refuses_a_bad_sweep(tmp_path, capsys):
    assert main(["benchmark", "--data", "glyphs", "--epochs", "1", "--sweep", "colour=1", "--out", str(tmp_path)]) == 1
    assert "--sweep has no option 'colour'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("notebook", "figures"), [
    ("quickstart.ipynb", ["styles.png"]),
    ("theory.ipynb", ["theory/gmm-fisher/figures/fisher_subspace.png", "theory/curl/sample_complexity.png",
                      "theory/align-uniform/align_uniform.png"]),
])
def test_notebook_runs(notebook, figures, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    monkeypatch.setenv("SIMVE_NOTEBOOK_LIMIT", "300")
    monkeypatch.setenv("SIMVE_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("SIMVE_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("SIMVE_NOTEBOOK_OUT", str(tmp_path / "out"))
    path = Path(__file__).resolve().parents[1] / "notebooks" / notebook
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("text/markdown" in o.get("data", {}) for o in outputs)  # a table
    assert all(os.path.exists(tmp_path / "out" / figure) for figure in figures)


@pytest.mark.slow
def test_the_analysis_notebook_reads_a_benchmark_folder(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    out = tmp_path / "results"
    assert main(["benchmark", "--data", "glyphs", "--limit", "300", "--epochs", "2", "--seeds", "2", "--curve",
                 "--probes", "linear", "--particles", "0", "--anchors", "raw-pixels", "--models", "simve,vae,simclr",
                 "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    monkeypatch.setenv("SIMVE_RESULTS", str(out))
    monkeypatch.setenv("SIMVE_NOTEBOOK_OUT", str(tmp_path / "out"))
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "analysis.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = "\n".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    assert "| simve" in markdown and "val content rise, last doubling" in markdown  # the table, with the rise
    assert " vs vae " in markdown and " vs simclr (d=10) " in markdown  # the reading's comparisons
    assert "+-" not in markdown  # a falling curve's rise reads -0.2, not +-0.2
    assert (tmp_path / "out" / "curves.png").stat().st_size > 10_000
