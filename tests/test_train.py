import dataclasses
import json
import os
import shutil
from dataclasses import replace

import pytest
import torch
from torch import nn

from simve.cli import main
from simve.errors import SimveError
from simve.models.base import MODELS, Options, SSLModel, register
from simve.runs import train_or_reuse
from simve.settings import option
from simve.train import TrainConfig, load_config, read_metrics, scheduled_lr, train


class Interrupted(Exception):
    """Stands for a killed process in the middle of a step."""


@dataclasses.dataclass(frozen=True)
class TinyOptions(Options):
    latent_dim: int = option(8, "code size", positive=True)


class TinyAE(SSLModel):
    """A linear denoising autoencoder: real training, with the global RNG in the loss.

    The switches ``nan_at`` and ``stop_at`` (training calls of ``loss``, counted from 1) make the
    loss nan or raise :class:`Interrupted`.
    """

    Options = TinyOptions
    min_views = 2
    nan_at: int | None = None
    stop_at: int | None = None

    def __init__(self, image_shape, options):
        super().__init__(options)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        latent_dim = options.latent_dim
        self.encoder, self.decoder = nn.Linear(pixels, latent_dim), nn.Linear(latent_dim, pixels)
        self.calls = 0

    @classmethod
    def build(cls, image_shape, options):
        return cls(image_shape, options)

    def objective(self, views):
        x = views.flatten(2)
        noisy = x + 0.05 * torch.randn_like(x) if self.training else x
        loss = (self.decoder(self.encoder(noisy)) - x).pow(2).mean(-1).sum(1).mean()
        if self.training:
            self.calls += 1
            if self.calls == self.stop_at:
                raise Interrupted
            if self.calls == self.nan_at:
                return loss * float("nan")
        return loss

    def embed(self, images):
        return self.encoder(images.flatten(1))


@pytest.fixture(autouse=True)
def tiny_models():
    """Register the test models (two names, for a checkpoint of another model) and remove them after."""
    register("test-ae")(TinyAE)
    register("test-ae2")(type("TinyAE2", (TinyAE,), {}))
    yield
    del MODELS["test-ae"], MODELS["test-ae2"]


def config(**changes) -> TrainConfig:
    """11 steps of 16 glyphs per epoch (180 train, 20 validation images)."""
    return TrainConfig(**{"model": "test-ae", "data": "glyphs", "limit": 200, "epochs": 2, "batch_size": 16,
                          "lr": 3e-3, "checkpoint_every": 4, "log_every": 2, "device": "cpu", **changes})


def parameters(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def folder_bytes(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def losses(run_dir):
    """The logged losses, without the timings, which differ from run to run."""
    return [{k: v for k, v in r.items() if k not in ("time", "views_per_s")} for r in read_metrics(run_dir)]


def test_short_run_lowers_the_loss_and_writes_the_folder(tmp_path):
    model = train(config(epochs=4), tmp_path / "run")
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {"config.json", "checkpoint.pt", "metrics.jsonl"}
    assert load_config(run) == config(epochs=4)
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == config(epochs=4)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    steps = [r for r in records if "loss" in r]
    epochs = [r for r in records if "train_loss" in r]
    assert [r["step"] for r in steps] == list(range(2, 45, 2))
    assert set(steps[0]) == {"step", "epoch", "loss", "lr", "views_per_s", "time"} and steps[0]["lr"] == 3e-3
    assert [(r["epoch"], r["step"]) for r in epochs] == [(1, 11), (2, 22), (3, 33), (4, 44)]
    assert epochs[-1]["train_loss"] < 0.7 * epochs[0]["train_loss"]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]
    assert steps[-1]["loss"] < steps[0]["loss"]

    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["model"] == "test-ae" and checkpoint["config"] == config(epochs=4).to_dict()
    assert (checkpoint["step"], checkpoint["epoch"], checkpoint["batch"]) == (44, 4, 0)
    assert {"model_state", "optimizer_state", "rng", "simve_version"} <= set(checkpoint)
    assert_same(checkpoint["model_state"], parameters(model))
    assert not (run / "checkpoint.pt.tmp").exists()


def test_the_same_seed_repeats_exactly_another_differs(tmp_path):
    a = parameters(train(config(epochs=1), tmp_path / "a"))
    b = parameters(train(config(epochs=1), tmp_path / "b"))
    c = parameters(train(config(epochs=1, seed=1), tmp_path / "c"))
    assert_same(a, b)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert not torch.equal(a["encoder.weight"], c["encoder.weight"])


def test_resume_after_whole_epochs_equals_an_uninterrupted_run(tmp_path):
    straight = parameters(train(config(epochs=3), tmp_path / "straight"))
    train(config(epochs=1), tmp_path / "resumed")
    resumed = parameters(train(config(epochs=3), tmp_path / "resumed", resume=True))
    assert_same(straight, resumed)
    assert losses(tmp_path / "straight") == losses(tmp_path / "resumed")
    assert load_config(tmp_path / "resumed").epochs == 3


def test_resume_after_an_interruption_mid_epoch_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    straight = parameters(train(config(epochs=3), tmp_path / "straight"))
    run = tmp_path / "resumed"
    monkeypatch.setattr(TinyAE, "stop_at", 19)  # in epoch 2; checkpoints at steps 4, 8, 11, 12, 16, 20, 22, ...
    with pytest.raises(Interrupted):
        train(config(epochs=3), run)
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert (checkpoint["step"], checkpoint["epoch"], checkpoint["batch"]) == (16, 1, 5)
    assert read_metrics(run)[-1]["step"] == 18  # logged after the checkpoint: dropped and logged again on resume
    monkeypatch.setattr(TinyAE, "stop_at", None)
    resumed = parameters(train(config(epochs=3), run, resume=True))
    assert_same(straight, resumed)
    assert losses(tmp_path / "straight") == losses(run)


def test_the_cosine_learning_rate_falls_from_lr_to_zero_and_resumes_exactly(tmp_path, monkeypatch):
    assert scheduled_lr(0.1, "constant", 7, 10) == 0.1
    assert scheduled_lr(0.1, "cosine", 1, 10) == 0.1 and scheduled_lr(0.1, "cosine", 6, 10) == pytest.approx(0.05)
    assert 0 < scheduled_lr(0.1, "cosine", 10, 10) < 0.003
    settings = {"epochs": 3, "lr_schedule": "cosine"}
    straight = parameters(train(config(**settings), tmp_path / "straight"))
    logged = [r["lr"] for r in read_metrics(tmp_path / "straight") if "lr" in r]
    assert logged == sorted(logged, reverse=True) and logged[0] < 3e-3 and logged[-1] < 3e-4  # 33 steps, logs 2, 4, ...
    run = tmp_path / "resumed"
    monkeypatch.setattr(TinyAE, "stop_at", 19)
    with pytest.raises(Interrupted):
        train(config(**settings), run)
    monkeypatch.setattr(TinyAE, "stop_at", None)
    with pytest.raises(SimveError, match="fixed by its 3 epochs; resume it with --epochs 3"):
        train(config(**{**settings, "epochs": 4}), run, resume=True)
    assert_same(straight, parameters(train(config(**settings), run, resume=True)))
    assert losses(tmp_path / "straight") == losses(run)


@pytest.mark.slow
@pytest.mark.parametrize("name, data", [("vae", "glyphs"), ("simve", "glyphs"), ("simve", "glyphs-rgb")])
def test_a_pyro_model_trains_and_resumes_exactly_through_the_same_loop(tmp_path, name, data):
    settings = {"model": name, "data": data, "model_options": {"latent_dim": 4}, "lr": 1e-3, "checkpoint_every": 100}
    straight = parameters(train(config(**settings), tmp_path / "straight"))
    train(config(**settings, epochs=1), tmp_path / "resumed")
    assert_same(straight, parameters(train(config(**settings), tmp_path / "resumed", resume=True)))
    epochs = [r for r in read_metrics(tmp_path / "straight") if "train_loss" in r]
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"] and epochs[1]["val_loss"] < epochs[0]["val_loss"]
    assert (tmp_path / "straight" / "figures" / "samples.png").exists()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(TinyAE, "nan_at", 7)
    run = tmp_path / "run"
    with pytest.raises(SimveError) as err:
        train(config(), run)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("loss became nan at step 7 (epoch 1); the last good checkpoint (step 4) is kept in")
    assert str(run / "checkpoint.pt") in message and "--lr" in message
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 4 and all(torch.isfinite(v).all() for v in checkpoint["model_state"].values())
    assert [r["step"] for r in read_metrics(run)] == [2, 4, 6]


def test_an_existing_run_is_refused_without_resume_and_left_unchanged(tmp_path):
    run = tmp_path / "run"
    train(config(epochs=1), run)
    before = folder_bytes(run)
    with pytest.raises(SimveError, match="already holds a run; pass --resume to continue it or choose another --out"):
        train(config(epochs=1, lr=1e-2), run)
    assert folder_bytes(run) == before


def test_resume_without_a_run_is_refused(tmp_path):
    with pytest.raises(SimveError, match="holds no run"):
        train(config(), tmp_path / "nothing", resume=True)
    assert not (tmp_path / "nothing").exists()


def test_resume_may_change_only_epochs_and_device(tmp_path):
    train(config(epochs=1), tmp_path / "run")
    before = folder_bytes(tmp_path / "run")
    with pytest.raises(SimveError, match="may change only epochs and device, not lr"):
        train(config(epochs=2, lr=1e-2), tmp_path / "run", resume=True)
    assert folder_bytes(tmp_path / "run") == before


def _torch_file_of_another_kind(path):
    torch.save({"weights": torch.ones(3)}, path)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(os.urandom(4096)), "not a readable checkpoint"),
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "not a readable checkpoint"),
    (lambda p: p.write_bytes(b""), "not a readable checkpoint"),
    (_torch_file_of_another_kind, "is not a simve checkpoint"),
], ids=["random-bytes", "truncated", "empty", "another-structure"])
def test_a_damaged_checkpoint_is_refused(tmp_path, damage, message):
    run = tmp_path / "run"
    train(config(epochs=1), run)
    damage(run / "checkpoint.pt")
    before = folder_bytes(run)
    with pytest.raises(SimveError, match=message):
        train(config(epochs=2), run, resume=True)
    assert folder_bytes(run) == before


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    train(config(epochs=1), tmp_path / "run")
    train(config(epochs=1, model="test-ae2"), tmp_path / "other")
    shutil.copy(tmp_path / "other" / "checkpoint.pt", tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(SimveError, match="holds a 'test-ae2' model but the run's config.json says 'test-ae'"):
        train(config(epochs=2), tmp_path / "run", resume=True)


@pytest.mark.parametrize("changes, message", [
    ({"views": 1}, "test-ae needs at least 2 views per datum; pass --views 2 or more"),
    ({"model": "nope"}, "model must be one of .*, got 'nope'"),
    ({"data": "nope"}, "unknown dataset 'nope'"),
    ({"model_options": {"depth": 3}}, "test-ae takes no option depth"),
])
def test_bad_runs_are_refused_before_writing_anything(tmp_path, changes, message):
    with pytest.raises(SimveError, match=message):
        train(config(**changes), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused(tmp_path):
    with pytest.raises(SimveError, match="--device cuda was asked for"):
        train(config(device="cuda"), tmp_path / "run")


def test_config_round_trip_and_bad_values():
    c = config(model_options={"latent_dim": 4, "sigma_x": "learned"})
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(SimveError, match="epochs must be a whole number >= 1"):
        replace(c, epochs=0)
    with pytest.raises(SimveError, match="unknown fields: colour"):
        TrainConfig.from_dict({**c.to_dict(), "colour": 1})


CLI_RUN = ["train", "--model", "test-ae", "--data", "glyphs", "--limit", "200", "--batch-size", "16",
           "--device", "cpu"]


def test_cli_train_and_resume(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main([*CLI_RUN, "--epochs", "1", "--latent-dim", "4", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert f"run folder: {out}" in printed and "after epoch 1 (step 11): train loss" in printed
    saved = load_config(out)
    assert saved.model_options == {"latent_dim": 4} and saved.epochs == 1 and saved.seed == 0
    assert main(["train", "--out", out, "--resume", "--epochs", "2"]) == 0
    assert "after epoch 2 (step 22)" in capsys.readouterr().out
    assert main([*CLI_RUN, "--epochs", "1", "--out", out]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simve: error: ") and "pass --resume" in err[0]


@pytest.mark.parametrize("argv, message", [
    ([*CLI_RUN, "--epochs", "0", "--out", "r"], "epochs must be >= 1, got 0"),
    ([*CLI_RUN, "--epochs", "1", "--lr", "-1", "--out", "r"], "lr must be positive and finite, got -1.0"),
    ([*CLI_RUN, "--epochs", "1", "--device", "tpu", "--out", "r"], "invalid choice"),
    (["train", "--data", "glyphs", "--epochs", "1", "--out", "r"], "a new run needs --model"),
    (["train", "--out", "r", "--resume", "--lr", "0.1"], "with --resume give only --epochs and --device"),
    ([*CLI_RUN, "--epochs", "1"], "the following arguments are required: --out"),
])
def test_cli_bad_options_are_argparse_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_bf16_autocast_trains_a_pyro_model_and_differs_from_fp32(tmp_path):
    settings = {"model": "simve", "model_options": {"latent_dim": 4}, "lr": 1e-3, "epochs": 3}
    fp32 = parameters(train(config(**settings), tmp_path / "fp32"))
    bf16 = parameters(train(config(**settings, precision="bf16"), tmp_path / "bf16"))
    records = [r["train_loss"] for r in read_metrics(tmp_path / "bf16") if "train_loss" in r]
    assert records[-1] < records[0] and all(v.dtype == torch.float32 for v in bf16.values())
    assert not torch.equal(fp32["encoder.backbone.layers.0.weight"], bf16["encoder.backbone.layers.0.weight"])
    with pytest.raises(SimveError, match="precision must be one of fp32, bf16"):
        config(precision="fp16")


def test_a_field_added_later_keeps_the_earlier_run_folders():
    from simve.runs import run_folder

    plain = config()
    assert run_folder("runs", plain) == run_folder("runs", replace(plain, precision="fp32"))
    assert run_folder("runs", plain) != run_folder("runs", replace(plain, precision="bf16"))
    assert run_folder("runs", plain) == run_folder("runs", replace(plain, style_bins=3))
    assert run_folder("runs", plain) != run_folder("runs", replace(plain, style_bins=10))


def test_a_benchmark_or_tune_run_says_when_it_trains(tmp_path, capsys):
    config = TrainConfig(model="vae", data="glyphs", limit=200, epochs=1, batch_size=16,
                         model_options={"latent_dim": 4}, device="cpu")
    folder = tmp_path / "run"
    train_or_reuse(config, folder)
    assert capsys.readouterr().err.startswith(f"training run: 1 epoch, progress in {folder / 'metrics.jsonl'}\n")
    train_or_reuse(config, folder)  # finished: only loaded, silently
    assert "training" not in capsys.readouterr().err
