"""`simve bench`: the bare step equals the model's objective, the fits and the side-by-side timing are right."""

import json
import sys

import pytest
import torch

from simve.bench import BareELBO, check_bare, compare_commands, fit_line, process_scaling
from simve.cli import main
from simve.errors import SimveError
from simve.models import build_model


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
    assert fit_line([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])["r2"] < 0.9


def test_compare_commands_times_both_in_turn():
    python = sys.executable
    result = compare_commands(f"{python} -c 'import time; time.sleep(0.05)'",
                              f"{python} -c 'import time; time.sleep(0.6)'", repeats=2)
    assert len(result["seconds"]["ours"]) == len(result["seconds"]["theirs"]) == 2
    assert result["ours_speedup"] > 1.5
    with pytest.raises(SimveError, match="exited 3"):
        compare_commands(f"{python} -c 'pass'", f"{python} -c 'import sys; sys.exit(3)'", repeats=1)


def test_process_scaling_times_one_and_two_processes(tmp_path):
    command = (f"{sys.executable} -m simve train --model vae --data glyphs --limit 200 --batch-size 32 --epochs 1 "
               "--latent-dim 2 --out {tmp}/run")
    result = process_scaling(command, 2, repeats=1)
    assert set(result["seconds"]) == {"1", "2"}
    for times in result["median_seconds"].values():
        assert 0 < times["loop"] < times["wall"]
    assert result["loop_speedup"] == result["median_seconds"]["1"]["loop"] / result["median_seconds"]["2"]["loop"]


def test_simve_bench_writes_its_table(tmp_path):
    out = tmp_path / "bench"
    argv = ["bench", "--data", "glyphs", "--limit", "300", "--models", "vae,simclr", "--set", "latent_dim=4",
            "--steps", "1", "--repeats", "2", "--warmup", "1", "--out", str(out)]
    assert main(argv) == 0
    stored = json.loads((out / "results.json").read_text())
    assert stored["meta"]["command"] == "simve " + " ".join(argv)
    vae, simclr = stored["results"]["models"]["vae"], stored["results"]["models"]["simclr"]
    assert set(vae["steps_per_s"]) == {"pipeline", "model", "per-tensor", "bare"} and "bare" not in simclr["steps_per_s"]
    assert all(v > 0 for v in vae["ms_per_step"].values()) and 0 < vae["augmentation_share"] < 1
    assert set(vae["scaling"]["views"]["ms_per_step"]) == {"2", "4", "6", "8"}
    assert vae["evaluation"]["tasks"] > 1 and vae["evaluation"]["seconds"]["probe linear"] > 0
    overhead = stored["results"]["overhead"]
    assert 0 < overhead["loop_seconds"] < overhead["wall_seconds"]
    assert "pipeline / bare" in (out / "table.md").read_text()


def test_bench_refuses_unknown_models(capsys):
    assert main(["bench", "--data", "glyphs", "--models", "simvee", "--out", "/nonexistent/x"]) == 1
    assert "unknown model simvee" in capsys.readouterr().err
