"""`simve timing`: the bare step equals the model's objective, the fits and the side-by-side timing are right."""

import json
import sys

import pytest
import torch

from simve.cli import main
from simve.errors import SimveError
from simve.models import build_model
from simve.timing.bare import BareELBO, check_bare
from simve.timing.jobs import fit_line
from simve.timing.processes import compare_commands, process_scaling


@pytest.mark.parametrize("name, options", [
    ("simve", {}),
    ("simve", {"likelihood": "gaussian", "beta": 0.1, "prior_var": 0.01}),
    ("vae", {"recon_weight": 99.5}),
    ("beta-vae", {"beta": 4.0, "likelihood": "gaussian", "sigma_x": 0.2}),
])
def test_the_bare_step_is_the_same_objective(name, options):
    torch.manual_seed(0)
    model = build_model(name, (1, 28, 28), latent_dim=4, **options)
    views = torch.rand(8, 2, 1, 28, 28)
    bare = BareELBO(model)
    check_bare(model, bare, views)  # raises when loss or gradients differ
    bare.beta *= 2
    with pytest.raises(SimveError, match="disagrees"):
        check_bare(model, bare, views)


def test_no_bare_step_for_a_learned_sigma():
    model = build_model("vae", (1, 28, 28), latent_dim=4, likelihood="gaussian", sigma_x="learned")
    with pytest.raises(SimveError, match="no bare step"):
        BareELBO(model)


def test_fit_line():
    fit = fit_line([1, 2, 3, 4], [3.0, 5.0, 7.0, 9.0])
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1) and fit["r2"] == pytest.approx(1)
    # by hand: x - 2.5 = (-1.5, -.5, .5, 1.5), y - 2.5 = (-1.5, .5, -.5, 1.5): slope 4 / 5, intercept 2.5 - 0.8 * 2.5;
    # residuals (-.3, .9, -.9, .3): R^2 = 1 - 1.8 / 5
    noisy = fit_line([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert noisy == pytest.approx({"slope": 0.8, "intercept": 0.5, "r2": 0.64})


@pytest.mark.slow
def test_compare_commands_times_both_in_turn():
    python = sys.executable
    result = compare_commands(f"{python} -c 'import time; time.sleep(0.05)'",
                              f"{python} -c 'import time; time.sleep(0.6)'", repeats=2)
    assert len(result["seconds"]["ours"]) == len(result["seconds"]["theirs"]) == 2
    assert result["ours_speedup"] > 1.5
    with pytest.raises(SimveError, match="exited 3"):
        compare_commands(f"{python} -c 'pass'", f"{python} -c 'import sys; sys.exit(3)'", repeats=1)


@pytest.mark.slow
def test_process_scaling_times_one_and_two_processes(tmp_path):
    command = (f"{sys.executable} -m simve train --model vae --data glyphs --limit 200 --batch-size 32 --epochs 1 "
               "--latent-dim 2 --out {tmp}/run")
    result = process_scaling(command, 2, repeats=1)
    assert set(result["seconds"]) == {"1", "2"}
    for count, times in result["median_seconds"].items():
        assert 0 < times["loop"] < times["wall"]
        assert [times["loop"]] == result["seconds"][count]["loop"]  # one run each: its median is itself
    # the arithmetic of the ratios is checked on known times below


# A stand-in for `simve train ... --out {tmp}/run --nproc N`: it logs the training seconds it is told to, the
# k-th call with N processes the k-th number of LOOP[N], in the metrics.jsonl that the real run writes.
FAKE_TRAIN = """
import json, pathlib, sys
out, nproc, state = pathlib.Path(sys.argv[1]), sys.argv[sys.argv.index("--nproc") + 1], pathlib.Path(sys.argv[2])
LOOP = {"1": [3.0, 1.0, 2.0], "2": [0.4, 1.6, 0.5]}
calls = state / nproc
done = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(done + 1))
out.mkdir()
(out / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0, "time": 0.5}) + "\\n"
                                   + json.dumps({"step": 2, "train_loss": 1.0, "time": LOOP[nproc][done]}) + "\\n")
"""


def test_process_scaling_takes_the_ratio_of_medians(tmp_path):
    """Known loop seconds: 1 process (3, 1, 2), median 2; 2 processes (0.4, 1.6, 0.5), median 0.5; so the
    loop speed-up is 2 / 0.5 = 4 (the ratio of means would be 2 / 0.833 = 2.4, the inverse ratio 0.25)."""
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    result = process_scaling(f"{sys.executable} {script} {{tmp}}/run {tmp_path}", 2, repeats=3)
    assert result["seconds"]["1"]["loop"] == [3.0, 1.0, 2.0] and result["seconds"]["2"]["loop"] == [0.4, 1.6, 0.5]
    assert result["median_seconds"]["1"]["loop"] == 2.0 and result["median_seconds"]["2"]["loop"] == 0.5
    assert result["loop_speedup"] == pytest.approx(4.0)
    walls = {count: sorted(result["seconds"][count]["wall"])[1] for count in ("1", "2")}
    assert result["wall_speedup"] == pytest.approx(walls["1"] / walls["2"])
    assert result["processes"] == 2 and (tmp_path / "1").read_text() == (tmp_path / "2").read_text() == "3"


@pytest.mark.slow
def test_simve_bench_writes_its_table(tmp_path):
    out = tmp_path / "bench"
    argv = ["timing", "--data", "glyphs", "--limit", "300", "--models", "vae,simclr", "--set", "latent_dim=4",
            "--steps", "1", "--repeats", "2", "--warmup", "1", "--out", str(out)]
    assert main(argv) == 0
    stored = json.loads((out / "results.json").read_text())
    assert stored["meta"]["command"] == "simve " + " ".join(argv)
    vae, simclr = stored["results"]["models"]["vae"], stored["results"]["models"]["simclr"]
    assert set(vae["steps_per_s"]) == {"pipeline", "model", "per-tensor", "bare"} and "bare" not in simclr["steps_per_s"]
    assert all(v > 0 for v in vae["ms_per_step"].values()) and 0 < vae["augmentation_share"] < 1
    # each ratio in the direction its name says: speed ratios (steps per second), shares of a step's time
    rate = vae["steps_per_s"]
    assert vae["pipeline_vs_bare"] == pytest.approx(rate["pipeline"] / rate["bare"])
    assert vae["model_vs_bare"] == pytest.approx(rate["model"] / rate["bare"])
    for model in (vae, simclr):
        assert model["fused_speedup"] == pytest.approx(model["steps_per_s"]["model"] / model["steps_per_s"]["per-tensor"])
        assert model["augmentation_share"] == pytest.approx(
            model["ms_per_step"]["augmentation"] / 1e3 * model["steps_per_s"]["pipeline"])
        assert model["views_per_s"]["model"] == pytest.approx(64 * 2 * model["steps_per_s"]["model"])
    assert set(vae["scaling"]["views"]["ms_per_step"]) == {"2", "4", "6", "8"}
    assert vae["evaluation"]["tasks"] > 1 and vae["evaluation"]["seconds"]["probe linear"] > 0
    overhead = stored["results"]["overhead"]
    assert 0 < overhead["loop_seconds"] < overhead["wall_seconds"]
    assert vae["evaluation"]["curve_reading_seconds"] > 0
    table = (out / "table.md").read_text()
    assert "pipeline / bare" in table and "cost, % of training" in table


def test_bench_refuses_unknown_models(capsys):
    assert main(["bench", "--data", "glyphs", "--models", "simvee", "--out", "/nonexistent/x"]) == 1
    assert "unknown model simvee" in capsys.readouterr().err


def curve_command(curves: dict[int, list[float]], seconds_per_epoch: float) -> str:
    """A shell command that writes, for the seed ``{seed}``, the JSON curve ``curves[seed]`` (one content per epoch,
    ``seconds_per_epoch`` training seconds an epoch) to ``{tmp}/curve.json``, as scripts/official_simvae.py does."""
    script = ("import json, sys; curves = json.loads(sys.argv[1]); seed, out = sys.argv[2], sys.argv[3]; "
              "json.dump({'curve': [{'epoch': e + 1, 'step': 10 * (e + 1), 'training_seconds': (e + 1) * float(sys.argv[4]), "
              "'val_content_accuracy': c, 'probe_seconds': 0.0} for e, c in enumerate(curves[seed])]}, open(out, 'w'))")
    return (f"{sys.executable} -c {json.dumps(script)} '{json.dumps({str(k): v for k, v in curves.items()})}' "
            f"{{seed}} {{tmp}}/curve.json {seconds_per_epoch}")


def test_time_to_accuracy_reads_the_first_epoch_at_the_target_and_the_ratio_of_medians():
    from simve.timing.accuracy import time_to_accuracy

    ours = curve_command({0: [0.5, 0.76, 0.8], 1: [0.6, 0.7, 0.75], 2: [0.75, 0.8, 0.9]}, 2.0)
    theirs = curve_command({0: [0.1, 0.2, 0.3, 0.8], 1: [0.5, 0.74, 0.76, 0.9], 2: [0.2, 0.2, 0.2, 0.2]}, 3.0)
    results = time_to_accuracy({"ours": ours, "theirs": theirs}, 0.75, (0, 1, 2))
    ours_runs, theirs_runs = results["sides"]["ours"]["runs"], results["sides"]["theirs"]["runs"]
    assert [r["epoch"] for r in ours_runs] == [2, 3, 1] and [r["training_seconds"] for r in ours_runs] == [4.0, 6.0, 2.0]
    assert [r.get("epoch") for r in theirs_runs] == [4, 3, None] and not theirs_runs[2]["reached"]
    assert results["sides"]["ours"]["median"]["training_seconds"] == 4.0
    assert results["sides"]["theirs"]["median"]["training_seconds"] == 10.5  # the median of the two that reached it
    assert results["sides"]["theirs"]["reached"] == 2
    assert results["ours_speedup"]["training_seconds"] == pytest.approx(10.5 / 4.0)
    for run in ours_runs:  # process seconds: training seconds to the target plus what the process did outside training
        assert run["process_seconds"] == pytest.approx(run["training_seconds"] + run["wall_seconds"] - 6.0)


def test_time_to_accuracy_without_a_curve_or_an_out_of_range_target_is_one_line():
    from simve.timing.accuracy import time_to_accuracy

    with pytest.raises(SimveError, match="wrote no learning curve"):
        time_to_accuracy({"ours": "true"}, 0.75, (0,))
    with pytest.raises(SimveError, match="accuracy in"):
        time_to_accuracy({"ours": "true"}, 75.0, (0,))


@pytest.mark.slow
def test_simve_timing_to_accuracy_runs_simve_train_with_its_curve(tmp_path):
    out = tmp_path / "tta"
    assert main(["timing", "--data", "glyphs", "--limit", "200", "--models", "vae", "--set", "latent_dim=4",
                 "--batch-size", "16", "--to-accuracy", "5", "--seeds", "2", "--max-epochs", "2",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert results["target"] == 0.05 and "theirs" not in results["sides"]
    runs = results["sides"]["ours"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and all(r["reached"] and r["epoch"] == 1 for r in runs)
    assert "--curve every --seed" in results["sides"]["ours"]["command"]
    assert "| ours | 2 of 2 |" in (out / "table.md").read_text()
