"""scripts/curve_slope.py: the least-squares slope per doubling of steps recovers a known rate, looks only at the
last doublings, and reads a committed benchmark folder."""

import math
from pathlib import Path

import pytest
from conftest import load_script

from simve.evaluate.curve import last_doubling


def curve(steps, content):
    return [{"step": s, "content": c} for s, c in zip(steps, content)]


def test_the_slope_of_a_straight_line_in_log_steps_is_its_rate_per_doubling():
    slope = load_script("curve_slope").log2_slope
    steps = [100, 200, 400, 800, 1600, 2400, 3200]
    line = curve(steps, [0.5 + 0.02 * math.log2(s) for s in steps])
    assert math.isclose(slope(line), 2.0, rel_tol=1e-9)
    early_jump = curve([1, 2, *steps], [0.1, 0.2] + [0.5 + 0.02 * math.log2(s) for s in steps])
    assert math.isclose(slope(early_jump, doublings=3), 2.0, rel_tol=1e-9)  # readings before step 400 are left out
    assert slope(line[-2:]) is None and slope([]) is None


def test_one_noisy_reading_moves_the_slope_less_than_the_last_doubling():
    script = load_script("curve_slope")
    steps = [400, 800, 1600, 3200]
    noisy = curve(steps, [0.70, 0.70, 0.70, 0.72])  # flat, with a last reading 2 points high
    assert math.isclose(script.log2_slope(noisy), 0.6, rel_tol=1e-9)
    assert math.isclose(100 * last_doubling(noisy), 2.0, rel_tol=1e-9)  # the table's rise takes the whole jump


def test_it_reads_every_row_of_a_committed_benchmark(capsys, monkeypatch):
    script = load_script("curve_slope")
    monkeypatch.setattr("sys.argv", ["curve_slope", str(Path(__file__).resolve().parents[1] / "results" / "fashionmnist-e200-true-elbo")])
    script.main()
    out = capsys.readouterr().out
    assert "simve: +" in out and "vae: +" in out and "seeds" in out


def test_a_folder_without_results_is_a_one_line_error(capsys, monkeypatch, tmp_path):
    script = load_script("curve_slope")
    monkeypatch.setattr("sys.argv", ["curve_slope", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert exit_.value.code == 2 and "holds no benchmark results" in capsys.readouterr().err
