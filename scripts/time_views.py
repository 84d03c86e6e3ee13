"""Throughput of the multi-view augmentation: batches/s (median of repeats after a warm-up).

    python -m scripts.time_views [--repeats 20] [--device cpu]   (from the repository root)

Times ``MultiView(preset, views=2)`` on 256 uint8 images, 3x32x32 with ``colour32`` and
1x28x28 with ``gray28``; gray28 views of one step's 64 images against 512 at once, per image; the
resampling grid of the gray28 views, simve's multiply-adds against ``F.affine_grid`` (the same
numbers), in turn; and the colour32 job through kornia.augmentation
(per-sample RandomResizedCrop + flip + ColorJitter p=0.8 + RandomGrayscale p=0.2) when kornia imports.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from simve.data.torchvision_compat import ensure_importable

ensure_importable()  # before kornia, which imports torchvision: a CUDA build on CPU torch needs two op schemas
from simve.data.augment import affine_grid, preset
from simve.data.views import MultiView
from simve.timing.jobs import WorkJob

BATCH, VIEWS = 256, 2


def batches_per_second(job, device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Calls/s of ``job``: the median of ``repeats`` timed calls after ``warmup`` untimed ones."""
    return interleaved_rates({"job": job}, device, repeats, calls=1, warmup=warmup)["job"]


def interleaved_rates(jobs: dict, device: torch.device, repeats: int, calls: int = 5,
                      warmup: int = 1) -> dict[str, float]:
    """Median calls/s of each job over ``repeats`` rounds of ``calls`` calls that run the jobs in turn (a noisy
    machine slows every job of a round alike)."""
    timed = {name: WorkJob(job, device) for name, job in jobs.items()}
    for work in timed.values():
        work.block(warmup, record=False)
    for _ in range(repeats):
        for work in timed.values():
            work.block(calls)
    return {name: 1.0 / work.median() for name, work in timed.items()}


def grid_comparison(device: torch.device, repeats: int) -> None:
    """simve's grid against torch's for 256 x 2 maps of 28x28 views, in interleaved rounds."""
    n = BATCH * VIEWS
    theta = torch.randn(n, 2, 3, generator=torch.Generator().manual_seed(0)).to(device)
    median = interleaved_rates({"F.affine_grid": lambda: F.affine_grid(theta, [n, 1, 28, 28], align_corners=False),
                                "simve affine_grid": lambda: affine_grid(theta, 28, 28)}, device, repeats)
    print(f"grid {n}x28x28: F.affine_grid {1e3 / median['F.affine_grid']:.3f} ms, simve's "
          f"{1e3 / median['simve affine_grid']:.3f} ms ({median['simve affine_grid'] / median['F.affine_grid']:.2f}x)")


def per_image_cost(device: torch.device, repeats: int) -> None:
    """gray28 views of 64 images (one training step's batch) against 512 in one call, per 64 images, in
    interleaved rounds: how much of a step's augmentation is a fixed cost per call, which making several
    steps' views at once would save."""
    generator = torch.Generator().manual_seed(0)
    multiview = MultiView(preset("gray28"), VIEWS)
    sizes = (64, 512)
    images = {n: torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, device=device) for n in sizes}
    median = interleaved_rates({n: (lambda batch=batch: multiview(batch, generator)) for n, batch in images.items()},
                               device, repeats)
    ms = {n: 1e3 / median[n] * 64 / n for n in sizes}
    print(f"gray28 views, ms per 64 images: {ms[64]:.3f} in calls of 64, {ms[512]:.3f} in calls of 512 "
          f"({ms[512] / ms[64]:.2f} of it)")


def kornia_job(images: torch.Tensor):
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    pipeline = torch.nn.Sequential(
        K.RandomResizedCrop((32, 32), scale=(0.6, 1.0), ratio=(0.75, 4 / 3)),
        K.RandomHorizontalFlip(p=0.5),
        K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8),
        K.RandomGrayscale(p=0.2),
    ).to(images.device)
    return lambda: pipeline(images.float().div(255).repeat_interleave(VIEWS, dim=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, views {VIEWS}"
    )

    colour = torch.randint(0, 256, (BATCH, 3, 32, 32), dtype=torch.uint8, device=device)
    gray = torch.randint(0, 256, (BATCH, 1, 28, 28), dtype=torch.uint8, device=device)
    ours = batches_per_second(lambda: MultiView(preset("colour32"), VIEWS)(colour, generator), device, args.repeats)
    print(f"simve  colour32 256x3x32x32: {ours:8.1f} batches/s")
    rate = batches_per_second(lambda: MultiView(preset("gray28"), VIEWS)(gray, generator), device, args.repeats)
    print(f"simve  gray28   256x1x28x28: {rate:8.1f} batches/s")
    per_image_cost(device, args.repeats)
    grid_comparison(device, args.repeats)
    job = kornia_job(colour)
    if job is None:
        print("kornia not importable: no comparison")
        return
    theirs = batches_per_second(job, device, args.repeats)
    print(f"kornia colour32 256x3x32x32: {theirs:8.1f} batches/s  (simve / kornia = {ours / theirs:.2f}x)")


if __name__ == "__main__":
    main()
