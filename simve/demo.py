"""The embedded demo: on the glyphs (no download), train SimVE (at the reference prior_var = 0.15
and at 0.01, which ties the views' latents closer), the VAE and SimCLR briefly, probe
content and style with frozen features, and print one table beside two anchors (raw pixels and a
random encoder). Finished runs in the output folder are reused, so a second call only evaluates.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from simve.data import MultiView, load_dataset, preset
from simve.evaluate.report import RawPixels, comparison_table, evaluate, summarise, write_results
from simve.models import build_model
from simve.plots import save_tradeoff, save_view_grid
from simve.train import CONFIG, TrainConfig, train

MODELS = {  # row: (model, options)
    "simve": ("simve", {}),
    "simve prior_var=0.01": ("simve", {"prior_var": 0.01}),
    "vae": ("vae", {}),
    "simclr": ("simclr", {}),
}
PROBES = ("linear", "knn")


def run_demo(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = 3) -> str:
    """Run the demo into ``out_dir``; returns the table it printed."""
    out_dir, started = Path(out_dir), time.time()
    data = load_dataset("glyphs", seed=seed, limit=limit)
    images = data.train.images[:8]
    views, _ = MultiView(preset(data.preset), views=6)(images, torch.Generator().manual_seed(seed))
    save_view_grid(MultiView.original(images), views, out_dir / "glyph_views.png",
                   title="glyphs: content fixed along each row, style varied by the views")
    torch.manual_seed(seed)
    anchors = {"raw pixels": RawPixels(), "random encoder": build_model("simclr", data.image_shape)}
    rows = {}
    for name, model in anchors.items():
        rows[name] = [summarise(evaluate(model, data, probes=PROBES, seed=seed, progress=False))]
    for name, (model_name, options) in MODELS.items():
        run_dir = out_dir / "runs" / name.replace(" ", "-").replace("=", "")
        config = TrainConfig(model=model_name, data="glyphs", limit=limit, epochs=epochs, seed=seed,
                             model_options=options)
        model = train(config, run_dir, resume=(run_dir / CONFIG).exists())
        results = evaluate(model, data, probes=PROBES, seed=seed, progress=False)
        write_results(results, run_dir / "eval", f"# {name} on glyphs (demo)")
        rows[name] = [summarise(results)]
    table = comparison_table(rows)
    header = (f"# simve demo: glyphs ({len(data.train)} train, {len(data.val)} validation, {len(data.test)} test "
              f"images), {epochs} epochs, seed {seed}\n\nMade by `simve demo`. Linear-probe test accuracy (%): content "
              f"= the digit; style kept = font and thickness (the augmentations never change them); style "
              f"perturbed = rotation, scale, x, y (the augmentations change them). L_align / L_uniform on "
              f"l2-normalised test features. Wall time {time.time() - started:.0f} s.\n\n")
    (out_dir / "table.md").write_text(header + table)
    groups = {name: "anchor" if name in anchors else "generative" if name != "simclr" else "discriminative"
              for name in rows}
    save_tradeoff({name: r[0] for name, r in rows.items()}, out_dir / "content_vs_style.png", groups)
    return header + table
