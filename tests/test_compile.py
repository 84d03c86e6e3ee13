"""``--compile``: the nets compiled in place train to the eager run's numbers up to float rounding, and
leave checkpoints an eager process loads and resumes."""

import pytest
import torch

from simve.train import load_trained, read_metrics, train
from tests.test_train import config, parameters

pytestmark = pytest.mark.slow


# SimCLR: its first logged step only, as in tests/test_golden.py (a bias before BatchNorm has zero gradient up
# to rounding, and Adam turns the sign of that rounding into steps of size lr, so later steps part)
@pytest.mark.parametrize("model, options, compared", [("simve", {"latent_dim": 4}, 5), ("simclr", {"latent_dim": 4}, 1)])
def test_compiled_nets_train_as_the_eager_ones_and_keep_the_checkpoint_format(tmp_path, model, options, compared):
    settings = {"model": model, "model_options": options, "epochs": 1, "lr": 1e-3}
    eager = parameters(train(config(**settings), tmp_path / "eager"))
    compiled_model = train(config(**settings, compile=True), tmp_path / "compiled")
    assert any(getattr(net, "_compiled_call_impl", None) for net in compiled_model.children())
    compiled = parameters(compiled_model)
    assert compiled.keys() == eager.keys()
    losses = [[r["loss"] for r in read_metrics(tmp_path / run) if "loss" in r][:compared] for run in ("eager", "compiled")]
    assert len(losses[0]) == compared and losses[1] == pytest.approx(losses[0], rel=1e-4)
    _, _, loaded = load_trained(tmp_path / "compiled")  # an eager process reads the compiled run's checkpoint
    assert all(torch.equal(v, compiled[k]) for k, v in parameters(loaded).items())
    resumed = parameters(train(config(**{**settings, "epochs": 2}, compile=True), tmp_path / "compiled", resume=True))
    assert any(not torch.equal(resumed[k], compiled[k]) for k in compiled)
