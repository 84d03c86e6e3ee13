"""scripts/parity_table.py on the official side: the JSON files of scripts/official_simvae.py grouped by
objective, learning rate and scored epoch, unfinished runs left out, the table's means and differences, and a
figure from runs of unequal length."""

import json

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def parity():
    return load_script("parity_table")


def official(folder, model, seed, tests, epochs, finished=True, lr=1e-3, entropy="official"):
    record = {"model": model, "lr": lr, "entropy": entropy, "finished": finished, "command": f"run {model} {seed}",
              "seed": seed, "init_seed": seed,
              "official": {"commit": "c7368de8"},
              "tests": [{"epoch": e, "test_content_accuracy": a} for e, a in tests],
              "curve": [{"step": 119 * e, "val_content_accuracy": 0.5 + e / 1000} for e in range(1, epochs + 1)]}
    (folder / f"{model}-e{epochs}-s{seed}.json").write_text(json.dumps(record))


def test_official_runs_are_grouped_by_scored_epoch_and_unfinished_ones_left_out(parity, tmp_path):
    official(tmp_path, "selfsup", 0, [(20, 0.75), (100, 0.78)], 100)
    official(tmp_path, "selfsup", 1, [(20, 0.77)], 20)
    official(tmp_path, "vae", 0, [(20, 0.74), (100, 0.76)], 100)
    official(tmp_path, "vae", 1, [(20, 0.70)], 20, finished=False)
    official(tmp_path, "selfsup", 2, [(20, 0.60)], 20, entropy="correct")
    rows, curves, commits = parity.official_rows(tmp_path)
    assert rows[("official code", 1e-3, 20)] == {"simve": [0.75, 0.77], "vae": [0.74]}
    assert rows[("official code", 1e-3, 100)] == {"simve": [0.78], "vae": [0.76]}
    assert rows[("official code, correct entropy", 1e-3, 20)] == {"simve": [0.60]}
    assert commits == {"c7368de8"} and len(curves[("official code", 1e-3, "simve")]) == 2
    lines = parity.table(rows).splitlines()
    assert "| official code | 0.001 | 20 | 2 | 76.0 ± 1.4 | 74.0 | +2.0 |" in lines
    assert "| official code | 0.001 | 100 | 1 | 78.0 | 76.0 | +2.0 |" in lines
    assert "| official code, correct entropy | 0.001 | 20 | 1 | 60.0 |  |  |" in lines
    steps, means = parity.mean_curve(curves[("official code", 1e-3, "simve")])
    assert steps == [119 * e for e in range(1, 101)]  # the 100-epoch run goes on past the 20-epoch one
    assert means[0] == pytest.approx(50.1) and means[-1] == pytest.approx(60.0)
    assert parity.seeds_label(curves[("official code", 1e-3, "simve")]) == "2 seeds, 1 past step 2380"
    assert parity.seeds_label(curves[("official code", 1e-3, "vae")]) == "1 seed"
    parity.figure(curves, tmp_path / "curves.png")  # a 20-epoch run beside a 100-epoch one
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_a_seed_scored_at_an_epoch_by_a_shorter_and_a_longer_run_counts_once(parity, tmp_path):
    official(tmp_path, "selfsup", 1, [(20, 0.77)], 20)
    official(tmp_path, "selfsup", 1, [(20, 0.77), (100, 0.79)], 100)  # the same seed, 80 epochs further
    official(tmp_path, "selfsup", 2, [(20, 0.75)], 20)
    rows, curves, _ = parity.official_rows(tmp_path)
    assert rows[("official code", 1e-3, 20)] == {"simve": [0.77, 0.75]}
    assert [len(curve) for curve in curves[("official code", 1e-3, "simve")]] == [100, 20]  # the longer run's curve
    official(tmp_path, "selfsup", 2, [(20, 0.74), (100, 0.78)], 100)  # not what the 20-epoch run of seed 2 scored
    with pytest.raises(SystemExit, match="seed 2 at epoch 20"):
        parity.official_rows(tmp_path)


def test_a_simve_row_is_named_by_its_preset_and_entropy(parity):
    assert parity.row_objective("simve preset=paper lr=0.001") == "simve, paper preset"
    assert parity.row_objective("simve entropy=official preset=paper lr=0.001") == "simve, paper preset, official entropy"
    assert parity.row_objective("vae") == "simve, defaults (true ELBO)"
