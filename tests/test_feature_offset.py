"""scripts/feature_offset.py: an offset shared by every feature sends the mean classifier to one class, and
centring by the train mean brings the classes back; without an offset the two agree."""

import torch
from conftest import load_script


def clusters(n, offset, seed):
    """Three unit-noise clusters around orthogonal means of norm 4, all shifted by ``offset``."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    return torch.eye(8)[y] * 4 + offset + torch.randn(n, 8, generator=g), y


def test_a_shared_offset_puts_every_image_in_one_class_and_centring_recovers_them():
    report = load_script("feature_offset").offset_report
    offset = torch.tensor([40.0, 0, 0, 10.0, 30.0, 0, 0, 0])  # |m| about 12 times the spread
    (train, y_train), (val, y_val) = clusters(600, offset, 0), clusters(300, offset, 1)
    shifted = report(train, y_train, val, y_val)
    assert shifted["mean_cosine"] > 0.9 and shifted["offset_over_spread"] > 5
    assert sorted(shifted["raw_predicted"]) == [0, 0, 300] and shifted["raw"] == 1 / 3
    assert shifted["centred"] > 0.95
    plain = report(train - offset, y_train, val - offset, y_val)
    assert plain["raw"] > 0.95 and abs(plain["raw"] - plain["centred"]) < 0.02
    assert plain["mean_cosine"] < 0.3
