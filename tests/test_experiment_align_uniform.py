"""`simve experiment align-uniform` (Wang & Isola): tiny settings, real training, real probes."""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from simve.cli import main
from simve.data import MultiView, preset
from simve.errors import SimveError
from simve.evaluate.probes import linear_probe
from simve.experiments.align_uniform import Configuration, Settings, parse_configuration, run
from simve.experiments.align_uniform.measure import collapse, compare, spearman
from simve.runs import run_folder, train_or_reuse

TINY = {"seeds": 1, "limit": 300, "epochs": 1, "grid": ("simclr", "align-uniform", "vae")}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One tiny study: its settings, output folder and results."""
    root = tmp_path_factory.mktemp("align-uniform")
    settings = Settings(**TINY, runs=str(root / "runs"))
    out = root / "out"
    return settings, out, run(settings, out, "simve experiment align-uniform (test)")


def _checkpoints(settings):
    return sorted(Path(settings.runs).glob("*/checkpoint.pt"))


@pytest.mark.slow
def test_writes_the_outputs_and_they_parse(study):
    settings, out, _ = study
    stored = json.loads((out / "results.json").read_text())
    assert stored["meta"]["experiment"] == "align-uniform"
    assert stored["meta"]["settings"]["grid"] == list(TINY["grid"])
    assert [r["label"] for r in stored["results"]["rows"]] == ["simclr", "align-uniform", "vae"]
    table = (out / "table.md").read_text()
    assert "| simclr | defaults | 1 |" in table and "Spearman" in table and "What the numbers show" in table
    assert (out / "align_uniform.png").stat().st_size > 10_000
    assert len(_checkpoints(settings)) == 3


def _unit(x):
    return x.double() / x.double().norm(dim=1, keepdim=True)


def _by_hand(model, data, seed):
    """Wang & Isola's metrics written out from their definitions, on the validation split: L_align the mean
    over images of ||u - u+||^2 for the unit features of its two views (drawn as the study draws them: seed
    ``seed``, one batch); L_uniform the log of the mean over the pairs i < j of exp(-2 ||u_i - u_j||^2) of the
    un-augmented images; in the representation (embed) and in the loss space (the head's output where there is
    one); and the linear probe on the representation of the train / val / test images, scored on test."""
    views, _ = MultiView(preset(data.preset), 2)(data.val.images, torch.Generator().manual_seed(seed))
    plain = MultiView.original(data.val.images)
    i, j = torch.triu_indices(len(plain), len(plain), 1)
    found = {}
    with torch.no_grad():
        model.eval()
        spaces = {"": model.embed, "head_": model.project if model.can("project") else model.embed}
        for prefix, f in spaces.items():
            first, second = (f(views[:, k]) for k in (0, 1))
            found[prefix + "align"] = float((_unit(first) - _unit(second)).pow(2).sum(1).mean())
            u = _unit(f(plain))
            found[prefix + "uniform"] = math.log(float(torch.exp(-2 * (u[i] - u[j]).pow(2).sum(1)).mean()))
        parts = [(model.embed(MultiView.original(split.images)), split.labels)
                 for split in (data.train, data.val, data.test)]
    probe = linear_probe(*parts, seed=seed)
    return found, probe


@pytest.mark.slow
def test_metrics_and_accuracy_by_hand_and_the_probe_learns(study):
    settings, _, results = study
    configurations = {c.label: c for c in (parse_configuration(spec, settings.epochs) for spec in settings.grid)}
    for encoder in results["encoders"]:
        config = configurations[encoder["label"]].train_config(settings, encoder["seed"])
        model = train_or_reuse(config, run_folder(settings.runs, config))  # a finished run: only loaded
        data = config.load_data()
        metrics, probe = _by_hand(model, data, encoder["seed"])
        for prefix in ("", "head_"):
            for name in ("align", "uniform"):
                assert encoder[prefix + name] == pytest.approx(metrics[prefix + name], rel=1e-4, abs=1e-6), (
                    encoder["label"], prefix + name)
            assert encoder[prefix + "sum"] == pytest.approx(metrics[prefix + "align"] + metrics[prefix + "uniform"],
                                                            rel=1e-4, abs=1e-6)
        # the test accuracy of the linear probe on the representation, a whole number of test images
        assert encoder["accuracy"] == probe["test_accuracy"] and encoder["val_accuracy"] == probe["val_accuracy"]
        correct = encoder["accuracy"] * len(data.test)
        assert correct == pytest.approx(round(correct), abs=1e-9)
    contrastive = [e for e in results["encoders"] if e["method"] != "vae"]
    assert all(e["accuracy"] > 0.3 for e in contrastive)  # ten digits: chance is 0.1
    vae = next(e for e in results["encoders"] if e["method"] == "vae")
    assert vae["head_align"] == vae["align"]  # no head: the loss space is the representation


@pytest.mark.slow
def test_correlations_and_the_comparison(study):
    _, _, results = study
    found = results["correlations"]["representation"]["all"]
    assert found["sum"]["n"] == 3
    # Spearman's rho by hand: without ties, 1 - 6 sum d^2 / (n (n^2 - 1)), d the differences of the ranks
    for prefix, space in (("", "representation"), ("head_", "loss space")):
        for metric in ("align", "uniform", "sum"):
            metric_values = [e[prefix + metric] for e in results["encoders"]]
            accuracies = [e["accuracy"] for e in results["encoders"]]
            if len(set(metric_values)) < 3 or len(set(accuracies)) < 3:
                continue  # a tie: the formula does not apply
            ranks = [sorted(metric_values).index(v) - sorted(accuracies).index(a)
                     for v, a in zip(metric_values, accuracies)]
            expected = 1 - 6 * sum(d * d for d in ranks) / (3 * (3**2 - 1))
            assert results["correlations"][space]["all"][metric]["rho"] == pytest.approx(expected), (space, metric)
    assert math.isnan(results["correlations"]["representation"]["contrastive"]["sum"]["rho"])  # 2 points: none
    [comparison] = results["comparisons"]
    au, simclr = (next(r for r in results["rows"] if r["method"] == m) for m in ("align-uniform", "simclr"))
    assert comparison["difference"] == pytest.approx(au["accuracy"] - simclr["accuracy"])
    # one seed: no spread, so the verdict is the sign of the difference alone
    assert comparison["epochs"] == 1 and comparison["spread"] == 0
    difference = au["accuracy"] - simclr["accuracy"]
    assert comparison["verdict"] == ("beats" if difference > 0 else "falls short of" if difference < 0 else "matches")
    assert any("At 1 epoch, training on L_align + L_uniform alone" in line for line in results["findings"])


def test_spearman_signs():
    encoders = [{"m": m, "accuracy": a} for m, a in ((0.1, 0.9), (0.5, 0.7), (0.9, 0.2), (0.3, 0.8))]
    assert spearman(encoders, "m")["rho"] == pytest.approx(-1.0)
    assert math.isnan(spearman(encoders[:2], "m")["rho"])
    # ranks (1, 2, 3, 4) against (1, 3, 2, 4): sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8
    partial = [{"m": m, "accuracy": a} for m, a in ((1.0, 0.1), (2.0, 0.3), (3.0, 0.2), (4.0, 0.4))]
    assert spearman(partial, "m")["rho"] == pytest.approx(0.8) and spearman(partial, "m")["n"] == 4


def test_the_best_configurations_are_chosen_on_validation_at_matched_epochs():
    def row(method, epochs, val, test, std=0.01):
        return {"method": method, "epochs": epochs, "label": f"{method} {val}", "val_accuracy": val,
                "accuracy": test, "accuracy_std": std}

    rows = [row("simclr", 3, 0.90, 0.80), row("simclr", 3, 0.85, 0.95), row("align-uniform", 3, 0.92, 0.81),
            row("align-uniform", 1, 0.99, 0.99), row("vae", 3, 0.5, 0.5)]
    [comparison] = compare(rows)  # no SimCLR at 1 epoch: compared at 3 only
    assert comparison["simclr"]["label"] == "simclr 0.9" and comparison["align-uniform"]["label"] == "align-uniform 0.92"
    assert comparison["difference"] == pytest.approx(0.01) and comparison["verdict"] == "matches"
    rows[2]["accuracy"] = 0.70
    assert compare(rows)[0]["verdict"] == "falls short of"
    # 0.02 above: beyond the combined std hypot(0.01, 0.01) = 0.0141 (not beyond their sum, 0.02)
    rows[2]["accuracy"] = 0.82
    assert compare(rows)[0]["spread"] == pytest.approx(math.sqrt(2) * 0.01)
    assert compare(rows)[0]["verdict"] == "beats"
    rows[2]["accuracy"] = 0.78  # 0.02 below
    assert compare(rows)[0]["verdict"] == "falls short of"
    rows[2]["accuracy_std"] = 0.02  # spread hypot(0.02, 0.01) = 0.0224: 0.02 is within it
    assert compare(rows)[0]["verdict"] == "matches"
    assert compare([r for r in rows if r["method"] != "simclr"]) == []


def test_collapsed_encoders_are_found():
    encoders = [{"method": "align-uniform", "label": f"e{k}", "head_uniform": u, "head_align": a, "align": a,
                 "accuracy": acc} for k, (u, a, acc) in enumerate(
                     [(-0.001, 0.0, 0.6), (-2.0, 0.5, 0.9), (-3.0, 1.0, 0.95), (-1.5, 0.3, 0.85)])]
    found = collapse(encoders)
    assert found["labels"] == ["e0"] and found["count"] == 1 and found["accuracy"] == [0.6, 0.6]
    assert found["align_rho_contrastive_without"]["rho"] == pytest.approx(1.0)


@pytest.mark.slow
def test_finished_runs_are_reused(study):
    settings, out, results = study
    times = {path: path.stat().st_mtime_ns for path in _checkpoints(settings)}
    again = run(settings, out, "again")
    assert again["encoders"] == results["encoders"]
    # without its cached measurement a finished run is measured again, not trained again
    next(iter(times)).parent.joinpath("eval", "align-uniform.json").unlink()
    measured = run(settings, out, "again")
    assert {path: path.stat().st_mtime_ns for path in _checkpoints(settings)} == times
    for new, old in zip(measured["encoders"], results["encoders"]):
        assert {k: new[k] for k in ("align", "uniform", "accuracy")} == pytest.approx(
            {k: old[k] for k in ("align", "uniform", "accuracy")})


@pytest.mark.slow
def test_the_command_line_reuses_the_runs(study, tmp_path, capsys):
    settings, _, _ = study
    argv = ["experiment", "align-uniform", "--seeds", "1", "--limit", "300", "--epochs", "1",
            "--grid", "simclr,align-uniform,vae", "--runs", settings.runs, "--out", str(tmp_path)]
    assert main(argv) == 0
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["meta"]["command"] == "simve " + " ".join(argv)
    assert len(stored["results"]["encoders"]) == 3


def test_parse_configuration():
    assert parse_configuration("simclr:temperature=0.1:epochs=2", 5) == Configuration(
        "simclr", (("temperature", 0.1),), 2)
    parsed = parse_configuration("align-uniform:uniform_weight=4", 3)
    assert parsed.epochs == 3 and parsed.label == "align-uniform uniform_weight=4"
    config = parsed.train_config(Settings(limit=100), seed=1)
    assert config.model_options == {"uniform_weight": 4} and config.seed == 1 and config.limit == 100
    assert run_folder(Path("r"), config).name.startswith("align-uniform-uniform_weight4.0-e3-s1-")


@pytest.mark.parametrize("change, message", [
    ({"grid": ()}, "grid is empty"),
    ({"grid": ("simclr", "nonsense")}, "unknown model 'nonsense'"),
    ({"grid": ("simclr:warmth=2",)}, "has no option 'warmth'"),
    ({"grid": ("simclr:temperature",)}, "KEY=VALUE"),
    ({"grid": ("simclr:epochs=0",)}, "epochs must be"),
    ({"grid": ("simclr:temperature=-1",)}, "temperature must be positive"),
    ({"grid": ("simclr", "simclr:epochs=1")}, "twice"),
    ({"seeds": 0}, "seeds must be"),
    ({"limit": 0}, "limit must be"),
])
def test_bad_settings_are_refused_before_any_work(tmp_path, change, message):
    settings = replace(Settings(**TINY, runs=str(tmp_path / "runs")), **change)
    with pytest.raises(SimveError, match=message):
        run(settings, tmp_path / "out", "test")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()
