"""Learning curves (``--curve``): the schedule, exact resumes, no test-split reads, the tables' marks."""

import dataclasses
import json
import re
import sys

import pytest
import torch
from conftest import load_script

from simve.cli import main
from simve.errors import SimveError
from simve.evaluate.curve import (
    CurveReader,
    curve_points,
    curve_table,
    last_doubling,
    schedule_cost,
    still_rising,
    with_rise,
)
from simve.models import SSLModel
from simve.runs import curve_reader, run_folder, shorter_run, train_or_reuse
from simve.train import (
    CHECKPOINT,
    TrainConfig,
    can_extend,
    curve_epochs,
    extend_into,
    read_curve,
    read_metrics,
    train,
)

KEPT = ("step", "epoch", "task", "kind", "perturbed", "accuracy")  # everything but the wall-clock seconds


def config(**changes) -> TrainConfig:
    """A 4-dim VAE on 200 glyphs: 11 steps an epoch, a curve after epochs 1, 2 and 4."""
    return TrainConfig(**{"model": "vae", "data": "glyphs", "limit": 200, "epochs": 4, "batch_size": 16, "lr": 3e-3,
                          "model_options": {"latent_dim": 4}, "checkpoint_every": 5, "device": "cpu",
                          "curve": "doubling", **changes})


def kept(run) -> list[dict]:
    return [{k: r[k] for k in KEPT} for r in read_curve(run)]


def weights(model: SSLModel) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("schedule, epochs, expected", [
    ("doubling", 100, [1, 2, 4, 8, 16, 32, 50, 64, 100]),
    ("doubling", 20, [1, 2, 4, 8, 10, 16, 20]),
    ("doubling", 1, [1]),
    ("doubling", 3, [1, 2, 3]),
    ("every", 3, [1, 2, 3]),
    ("off", 5, []),
])
def test_the_schedule_doubles_and_holds_half_the_last_epoch(schedule, epochs, expected):
    assert curve_epochs(schedule, epochs) == expected


@pytest.mark.slow
def test_a_curve_is_read_at_its_epochs_without_changing_the_training(tmp_path):
    with_curve = weights(train(config(), tmp_path / "curve", read_curve_at=curve_reader(config())))
    without = weights(train(config(curve="off"), tmp_path / "plain"))
    assert all(torch.equal(with_curve[k], without[k]) for k in without)  # the readings leave the RNG alone
    records = read_curve(tmp_path / "curve")
    assert sorted({r["epoch"] for r in records}) == [1, 2, 4]
    assert {r["step"] for r in records} == {11, 22, 44}
    tasks = {r["task"] for r in records}
    assert "content" in tasks and any(t.startswith("style:") for t in tasks)
    points = curve_points(records)
    assert [p["step"] for p in points] == [11, 22, 44]
    assert all(0.0 <= p["content"] <= 1.0 and p["probe_seconds"] > 0 for p in points)
    assert points[-1]["content"] > 0.15  # ten classes (chance 0.1) and 20 validation images
    assert points[-1]["seconds"] > points[0]["seconds"]


@pytest.mark.slow
def test_a_resumed_curve_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    train(config(), tmp_path / "straight", read_curve_at=curve_reader(config()))
    run = tmp_path / "resumed"
    original = CurveReader.__call__

    def killed(self, model, data):  # the process dies while reading the curve of epoch 4, before its checkpoint
        raise KeyboardInterrupt

    train(config(epochs=2), run, read_curve_at=curve_reader(config()))  # epochs 1 and 2 read
    monkeypatch.setattr(CurveReader, "__call__", killed)
    with pytest.raises(KeyboardInterrupt):
        train(config(epochs=4), run, resume=True, read_curve_at=curve_reader(config()))
    monkeypatch.setattr(CurveReader, "__call__", original)
    checkpoint = torch.load(run / CHECKPOINT, weights_only=True)
    assert checkpoint["step"] < 44  # the reading of epoch 4 was cut before the run was saved there
    train(config(epochs=4), run, resume=True, read_curve_at=curve_reader(config()))
    straight, resumed = kept(tmp_path / "straight"), kept(run)
    # the 2-epoch run reads epochs 1 and 2 (half of 2 is 1): the same readings as the 4-epoch run's
    assert straight == resumed


@pytest.mark.slow
def test_a_longer_run_starts_at_the_end_of_a_shorter_one_and_equals_a_run_from_its_first_step(tmp_path, capsys):
    """A 12-epoch run beside a finished 6-epoch run of its settings trains from that run's end: the same weights,
    losses and curve as a 12-epoch run from step 1 (less the 6-epoch run's reading of epoch 3, which the
    12-epoch schedule does not take), and the shorter run is left as it was."""
    short, long = config(epochs=6), config(epochs=12)
    runs = tmp_path / "runs"
    train_or_reuse(short, run_folder(runs, short))
    before = {p.name: p.read_bytes() for p in run_folder(runs, short).iterdir() if p.is_file()}
    assert sorted({r["epoch"] for r in read_curve(run_folder(runs, short))}) == [1, 2, 3, 4, 6]
    capsys.readouterr()
    extended = weights(train_or_reuse(long, run_folder(runs, long)))
    assert f"12 epochs, from the end of {run_folder(runs, short).name} (epoch 6)," in capsys.readouterr().err
    first_step = weights(train(long, tmp_path / "scratch", read_curve_at=curve_reader(long)))
    assert all(torch.equal(extended[k], first_step[k]) for k in first_step)
    assert kept(run_folder(runs, long)) == kept(tmp_path / "scratch")
    assert sorted({r["epoch"] for r in read_curve(tmp_path / "scratch")}) == [1, 2, 4, 6, 8, 12]
    losses = [[{k: v for k, v in r.items() if k not in ("time", "views_per_s")} for r in read_metrics(run)]
              for run in (run_folder(runs, long), tmp_path / "scratch")]
    assert losses[0] == losses[1]
    assert {p.name: p.read_bytes() for p in run_folder(runs, short).iterdir() if p.is_file()} == before


def test_only_a_run_that_passes_through_the_shorter_runs_end_starts_from_it(tmp_path):
    assert can_extend(config(epochs=100), config(epochs=200))  # reads 1, ..., 64, 100: all read by the shorter run
    assert not can_extend(config(epochs=4), config(epochs=6))  # the 6-epoch run reads epoch 3
    assert not can_extend(config(epochs=4, lr_schedule="cosine"), config(epochs=8, lr_schedule="cosine"))
    assert not can_extend(config(epochs=4, lr=1e-3), config(epochs=8))
    assert not can_extend(config(epochs=8), config(epochs=4))
    runs = tmp_path / "runs"
    train_or_reuse(config(epochs=1), run_folder(runs, config(epochs=1)))
    unfinished = config(epochs=3)
    with pytest.raises(KeyboardInterrupt):  # stopped during its reading of epoch 2
        train(unfinished, run_folder(runs, unfinished), read_curve_at=_stop_at_reading(2))
    assert shorter_run(config(epochs=4), run_folder(runs, config(epochs=4))) == run_folder(runs, config(epochs=1))
    (run_folder(runs, config(epochs=1)) / "config.json").write_text("{")  # damaged: passed over
    assert shorter_run(config(epochs=4), run_folder(runs, config(epochs=4))) is None
    with pytest.raises(SimveError, match="has not finished its 3 epochs"):
        extend_into(run_folder(runs, unfinished), config(epochs=4), tmp_path / "longer")


def _stop_at_reading(call: int):
    """A curve reader that stops the run (as Ctrl-C would) at its ``call``-th reading."""
    reader = curve_reader(config())

    def read(model, data):
        read.calls += 1
        if read.calls == call:
            raise KeyboardInterrupt
        return reader(model, data)

    read.calls = 0
    return read


class NoTestSplit:
    """Stands for a test split that must not be read: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the curve read the test split ({name})")

    def __len__(self):
        raise AssertionError("the curve read the test split (len)")


@pytest.mark.slow
def test_a_curve_never_reads_the_test_split(tmp_path, monkeypatch):
    load = TrainConfig.load_data
    monkeypatch.setattr(TrainConfig, "load_data", lambda self: dataclasses.replace(load(self), test=NoTestSplit()))
    train(config(epochs=2), tmp_path / "run", read_curve_at=curve_reader(config(epochs=2)))
    assert len(read_curve(tmp_path / "run")) > 0


def test_the_curve_scores_the_validation_split_with_the_capped_train_subset():
    data = config().load_data()
    reader = CurveReader(seed=0, max_train=50)
    scored = reader.scored_data(data)
    assert len(scored.train) == 50 and scored.test is data.val and scored.val is data.val
    again = reader.scored_data(data)
    assert torch.equal(scored.train.images, again.train.images)  # the same subset at every reading


def test_the_curve_bins_perturbed_style_as_the_run_asks(tmp_path):
    """A run with ``style_bins=10`` reads its curve's perturbed style in 10 bins (as its evaluation does), kept style in 3."""
    model = train(config(epochs=1, style_bins=10), tmp_path / "run", read_curve_at=curve_reader(config(style_bins=10)))
    reader = curve_reader(config(style_bins=10))
    reader(model, config().load_data())
    classes = {task.name: len(task.class_names) for task in reader._tasks}
    assert classes["style:rotation"] == classes["style:x"] == 10 and classes["style:thickness"] == 3
    assert {r["task"] for r in read_curve(tmp_path / "run")} == set(classes)


def test_train_refuses_a_curve_it_cannot_read(tmp_path):
    with pytest.raises(SimveError, match="reads a learning curve"):
        train(config(), tmp_path / "run")


@pytest.mark.slow
def test_simve_train_curve_writes_curve_jsonl(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--model", "vae", "--data", "glyphs", "--limit", "200", "--epochs", "2", "--batch-size", "16",
                 "--latent-dim", "4", "--curve", "--out", str(run)])
    assert code == 0
    assert json.loads((run / "config.json").read_text())["curve"] == "doubling"
    assert sorted({r["epoch"] for r in read_curve(run)}) == [1, 2]


def test_time_curve_reading_puts_a_reading_beside_an_epoch_and_the_share_the_run_logged(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "vae", "--data", "glyphs", "--limit", "200", "--epochs", "2", "--batch-size", "16",
                 "--latent-dim", "4", "--curve", "--out", str(run)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["time_curve_reading", str(run), "--repeats", "1", "--epochs", "100"])
    load_script("time_curve_reading").main()
    out = capsys.readouterr().out
    reading, epoch, cost = (float(v) for v in re.search(
        r"a reading ([\d.]+) s .* an epoch of 11 steps ([\d.]+) s .* 9 readings in 100 epochs add ([\d.]+) %", out).groups())
    assert cost == pytest.approx(100 * 9 * reading / (100 * epoch), rel=0.05, abs=0.1)
    probe = sum(p["probe_seconds"] for p in curve_points(read_curve(run)))
    assert f"its 2 readings took {probe:.1f} s" in out


def point(step, content, style=None, seconds=1.0):
    return {"step": step, "epoch": step, "seconds": seconds, "probe_seconds": 0.1, "content": content,
            "style_kept": None, "style_perturbed": style, "style_other": None}


def test_the_last_doubling_and_the_rows_still_rising():
    rising = [point(1, 0.3), point(2, 0.5), point(4, 0.55)]  # +5 points over the last doubling
    flat = [point(1, 0.3), point(2, 0.6), point(4, 0.605)]  # +0.5 point
    assert last_doubling(rising) == pytest.approx(0.05) and last_doubling(flat) == pytest.approx(0.005)
    assert last_doubling([point(3, 0.4)]) is None
    assert still_rising([rising, rising]) and not still_rising([flat, flat])
    assert still_rising([rising, flat])  # the mean over seeds (2.75 points) decides
    summary = {"content": 0.5, "style_perturbed": 0.4}
    rows = with_rise({"a": [summary], "b": [summary], "anchor": [summary]}, {"a": [rising], "b": [flat]})
    assert set(rows) == {"a (still rising)", "b", "anchor"}
    assert rows["b"][0]["content_rise"] == pytest.approx(0.005) and "content_rise" not in rows["anchor"][0]
    table = curve_table({"a": [rising], "b": [flat]}, {"a": [{"train_seconds": 10.0}], "b": [{"train_seconds": 10.0}]})
    assert "Still rising (validation content gained more than 1 point over the last doubling of steps): a." in table
    assert "| a | 55.0 | 5.0 |" in table and "| 3 | 3.0 % |" in table


def test_the_schedule_cost_counts_the_readings_of_the_schedule():
    # doubling over 100 epochs reads after 1, 2, 4, 8, 16, 32, 50, 64 and 100: 9 readings
    assert schedule_cost(2.0, 4.0, 100) == 9 * 2.0 / (100 * 4.0)
    assert schedule_cost(2.0, 4.0, 10, "every") == 10 * 2.0 / (10 * 4.0)
    assert schedule_cost(2.0, 4.0, 10, "off") == 0.0
