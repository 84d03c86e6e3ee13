import pytest
import torch

from simve.data.augment import preset
from simve.data.base import Split
from simve.data.views import MultiView, ViewLoader
from simve.errors import SimveError


def uint8_images(n=6, c=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, c, size // 4, size // 4, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (smooth * 255).round().to(torch.uint8)


def split(n=50, c=3, size=16):
    return Split(uint8_images(n, c, size), torch.arange(n))


def test_multiview_shapes_and_reproduction():
    images = uint8_images(5)
    mv = MultiView(preset("colour32"), views=3)
    views, params = mv(images, torch.Generator().manual_seed(0))
    assert views.shape == (5, 3, 3, 32, 32) and views.dtype == torch.float32
    assert views.min() >= 0 and views.max() <= 1
    assert set(params) == set(mv.augment.keys) and all(v.shape == (5, 3) for v in params.values())
    flat = {k: v.reshape(-1) for k, v in params.items()}
    again = mv.augment.apply(mv.original(images).repeat_interleave(3, 0), flat)
    assert torch.equal(again.view(5, 3, 3, 32, 32), views)
    for i in range(5):  # the views of one image differ
        assert not torch.allclose(views[i, 0], views[i, 1]) and not torch.allclose(views[i, 1], views[i, 2])


def test_multiview_seeded_and_single_view():
    images = uint8_images(4, c=1, size=28)
    mv = MultiView(preset("gray28"), views=1)
    a, pa = mv(images, torch.Generator().manual_seed(3))
    b, pb = mv(images, torch.Generator().manual_seed(3))
    assert a.shape == (4, 1, 1, 28, 28) and torch.equal(a, b)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


def test_original():
    images = uint8_images(2)
    original = MultiView.original(images)
    assert original.shape == images.shape and original.dtype == torch.float32
    assert torch.allclose(original * 255, images.float())


def test_multiview_bad_input():
    for views in (0, -1, 2.0):
        with pytest.raises(SimveError, match="views"):
            MultiView(preset("gray28"), views)
    mv = MultiView(preset("gray28"), 2)
    for bad in (torch.rand(2, 1, 28, 28), uint8_images(2)[0], uint8_images(2).numpy()):
        with pytest.raises(SimveError, match="uint8"):
            mv(bad)


def epoch_batches(loader):
    return [(v.clone(), y.clone(), {k: p.clone() for k, p in params.items()}) for v, y, params in loader]


def test_loader_covers_each_index_once_per_epoch():
    data = split(50)
    loader = ViewLoader(data, MultiView(preset("colour32"), 2), batch_size=8, seed=1)
    assert len(loader) == 6
    batches = epoch_batches(loader)
    assert len(batches) == 6
    views, labels, params = batches[0]
    assert views.shape == (8, 2, 3, 16, 16) and labels.shape == (8,) and params["flip"].shape == (8, 2)
    seen = torch.cat([y for _, y, _ in batches])
    assert len(seen) == 48 and seen.unique().numel() == 48
    full = ViewLoader(data, MultiView(preset("colour32"), 2), batch_size=8, drop_last=False, shuffle=False)
    assert len(full) == 7
    labels = torch.cat([y for _, y, _ in full])
    assert torch.equal(labels, torch.arange(50))


def test_loader_repeatable_and_epoch_dependent():
    data = split(40)
    make = lambda seed: ViewLoader(data, MultiView(preset("colour32"), 2), batch_size=10, seed=seed)
    a, b = make(0), make(0)
    first, again = epoch_batches(a), epoch_batches(b)
    for (va, ya, pa), (vb, yb, pb) in zip(first, again):
        assert torch.equal(va, vb) and torch.equal(ya, yb) and all(torch.equal(pa[k], pb[k]) for k in pa)
    second = epoch_batches(a)  # the internal counter moved to epoch 1
    assert a.epoch == 2
    assert not torch.equal(first[0][1], second[0][1])
    b.set_epoch(1)
    assert all(torch.equal(x[0], y[0]) for x, y in zip(second, epoch_batches(b)))
    assert not torch.equal(first[0][0], epoch_batches(make(1))[0][0])


def test_loader_views_match_their_images():
    data = split(12)
    mv = MultiView(preset("gray28"), 2)  # works on 3 channels too: geometry only
    views, labels, params = next(iter(ViewLoader(data, mv, batch_size=4, seed=5)))
    flat = {k: v.reshape(-1) for k, v in params.items()}
    again = mv.augment.apply(mv.original(data.images[labels]).repeat_interleave(2, 0), flat)
    assert torch.equal(again.view_as(views), views)


def test_loader_bad_input():
    data = split(10)
    mv = MultiView(preset("gray28"), 2)
    with pytest.raises(SimveError, match="batch_size"):
        ViewLoader(data, mv, batch_size=0)
    with pytest.raises(SimveError, match="drop_last"):
        ViewLoader(data, mv, batch_size=11)
    with pytest.raises(SimveError, match="Split"):
        ViewLoader(data.images, mv, batch_size=2)
    assert len(ViewLoader(data, mv, batch_size=11, drop_last=False)) == 1


def test_loader_starts_mid_epoch_exactly():
    split = Split(torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8), torch.arange(40))
    loader = ViewLoader(split, MultiView(preset("gray28"), views=2), batch_size=8, seed=5)
    whole = list(loader.epoch_batches(3))
    tail = list(loader.epoch_batches(3, start=2))
    assert len(tail) == len(whole) - 2
    for (v, y, _), (v2, y2, _) in zip(whole[2:], tail):
        assert torch.equal(v, v2) and torch.equal(y, y2)


def test_prefetching_yields_the_same_batches():
    data = Split(torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8), torch.arange(40))
    plain = ViewLoader(data, MultiView(preset("gray28"), views=3), batch_size=8, seed=5)
    ahead = ViewLoader(data, MultiView(preset("gray28"), views=3), batch_size=8, seed=5, prefetch=True)
    assert not plain.prefetch  # by default a CPU loader makes its batches in the caller's thread
    for start in (0, 3, 5):
        pairs = list(zip(plain.epoch_batches(2, start), ahead.epoch_batches(2, start), strict=True))
        assert len(pairs) == 5 - start
        for (v, y, p), (v2, y2, p2) in pairs:
            assert torch.equal(v, v2) and torch.equal(y, y2) and all(torch.equal(p[k], p2[k]) for k in p)
    first = next(iter(ahead.epoch_batches(0)))  # leaving early is fine
    assert first[0].shape == (8, 3, 1, 8, 8)
