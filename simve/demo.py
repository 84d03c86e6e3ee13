"""The embedded demo, a preset of the benchmark: on the glyphs (no download), train SimVE (at the
reference prior_var = 0.15 and at 0.01, which ties the views' latents closer), the VAE and SimCLR
briefly, probe content and style with frozen features, and print one table beside two anchors (raw
pixels and a random encoder). Finished runs in the output folder are reused, so a second call only
evaluates.
"""

from __future__ import annotations

from pathlib import Path

import torch

from simve.benchmark import BenchmarkSpec, run_benchmark
from simve.data import MultiView, load_dataset, preset
from simve.plots import save_view_grid

MODELS = ("simve", "simve:prior_var=0.01", "vae", "simclr")
PROBES = ("linear", "knn")


def demo_spec(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = 3) -> BenchmarkSpec:
    """The demo's benchmark: one seed, no bounds, no matched-dimension rows, runs inside ``out_dir``."""
    out_dir = Path(out_dir)
    return BenchmarkSpec(data="glyphs", epochs=epochs, out=out_dir, runs=out_dir / "runs", models=MODELS,
                         seeds=(seed,), limit=limit, probes=PROBES, particles=0, matched_dims=False,
                         title="simve demo: glyphs")


def run_demo(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = 3,
             command: str = "simve demo") -> str:
    """Run the demo into ``out_dir``; returns the table it printed."""
    spec = demo_spec(out_dir, seed, limit, epochs)
    data = load_dataset("glyphs", seed=seed, limit=limit)
    images = data.train.images[:8]
    views, _ = MultiView(preset(data.preset), views=6)(images, torch.Generator().manual_seed(seed))
    save_view_grid(MultiView.original(images), views, spec.out / "glyph_views.png",
                   title="glyphs: content fixed along each row, style varied by the views")
    return ("Content = the digit; style kept = font and thickness (the augmentations never change them); style "
            "perturbed = rotation, scale, x, y (the augmentations change them).\n\n" + run_benchmark(spec, command))
