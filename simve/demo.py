"""The embedded demo, a preset of the benchmark: on the glyphs (no download), train SimVE, the VAE and
SimCLR at SimVE's latent size, each at the package's defaults on demo-sized nets, with their learning
curves; probe content and style with frozen features beside two anchors (raw pixels and a random
encoder of the same demo-sized net), and say what the numbers show. Finished runs in the output
folder are reused, so a second call only evaluates.

The means that fit it in about three minutes on two cores, each chosen on validation curves
(docs/results.md): the demo-sized MLP (``net=mlp-small``, 784-512-256), 256 images a step at lr 5e-3
for every row, the rows trained side by side (one thread each), probes fitted on 5,000 train images.
The style the augmentations perturb (rotation, scale, x, y) is probed in 10 equal-frequency bins: in
3 bins raw pixels read it as well as any model, so it could not tell the rows apart.
"""

from __future__ import annotations

from pathlib import Path

import torch

from simve.benchmark import BenchmarkSpec, run_benchmark
from simve.data import MultiView, load_dataset, preset
from simve.evaluate.curve import RISING, mean_rise
from simve.evaluate.report import summarise
from simve.io import write_text
from simve.plots import save_view_grid
from simve.runs import parse_variant
from simve.stats import mean_std

RECIPE = "net=mlp-small:batch_size=256:lr=0.005"  # the same for every row
ROWS = {
    "simve": f"simve:{RECIPE}",
    "vae": f"vae:{RECIPE}",
    "simclr (matched d)": f"simclr:latent_dim=10:{RECIPE}",
}
EPOCHS = 32  # see docs/results.md: what fits in three minutes here; rows still rising are marked so
STYLE_BINS = 10  # bins of each perturbed style factor: chance 10 %, raw pixels far from saturated
PROBES = ("linear",)  # what its table and findings read; `simve benchmark` runs all four
DEMO_ANCHORS = ("raw pixels", "random encoder")  # the anchor rows its table shows and its findings read
MAX_TRAIN = 5000  # train images each probe is fitted on (the benchmark's default: 10,000)
# What the converged FashionMNIST table (results/fashionmnist, 100 epochs, 3 seeds) shows, as the sign of
# SimVE minus the other row, for content and perturbed style (tests/test_evaluate.py keeps it equal to the
# committed table): the demo's findings say where its own numbers agree.
CONVERGED = {("vae", "content"): +1, ("simclr (matched d)", "content"): +1,
             ("vae", "style_perturbed"): -1, ("simclr (matched d)", "style_perturbed"): +1}


def demo_spec(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = EPOCHS) -> BenchmarkSpec:
    """The demo's benchmark: one seed, no bounds, the rows of :data:`ROWS` with their curves, runs inside
    ``out_dir``."""
    out_dir = Path(out_dir)
    return BenchmarkSpec(data="glyphs", epochs=epochs, out=out_dir, runs=out_dir / "runs", models=tuple(ROWS.values()),
                         seeds=(seed,), limit=limit, probes=PROBES, particles=0, matched_dims=False, curve="doubling",
                         style_bins=STYLE_BINS, jobs=len(ROWS), anchors=DEMO_ANCHORS,
                         random_encoder="simclr:net=mlp-small", max_train=MAX_TRAIN,
                         title="simve demo: glyphs", names={text: role for role, text in ROWS.items()})


def findings(means: dict[str, dict[str, float]], rises: dict[str, float]) -> list[str]:
    """What the demo's numbers show, in sentences computed from them. ``means``: row -> content and
    perturbed style; ``rises``: row -> validation content gained over the last doubling of steps."""
    simve, raw, random = means["simve"], means["raw pixels"], means["random encoder"]
    lines = []
    for key, what in (("content", "Content (the digit)"),
                      ("style_perturbed", f"Style the augmentations perturb ({STYLE_BINS} bins of pose)")):
        parts = [f"{row} {100 * means[row][key]:.1f} % ({100 * (simve[key] - means[row][key]):+.1f} points)"
                 for row in ROWS if row != "simve"]
        lines.append(f"{what}: SimVE {100 * simve[key]:.1f} %, against " + ", ".join(parts)
                     + f"; raw pixels {100 * raw[key]:.1f} %, a random encoder {100 * random[key]:.1f} %.")
    def versus(row: str, key: str) -> str:
        return f"{'content' if key == 'content' else 'perturbed style'} against {row}"

    same = [versus(row, key) for (row, key), sign in CONVERGED.items() if (simve[key] - means[row][key]) * sign > 0]
    opposite = [f"{versus(row, key)} (there {'SimVE' if sign > 0 else row} is ahead)"
                for (row, key), sign in CONVERGED.items() if (simve[key] - means[row][key]) * sign <= 0]
    lines.append("Set against the converged FashionMNIST table (results/fashionmnist): the same direction for "
                 + (", ".join(same) or "none of the comparisons")
                 + ("; the opposite for " + ", ".join(opposite) if opposite else "") + ".")
    rising = [f"{row} ({100 * rise:+.1f})" for row, rise in rises.items() if rise > RISING]
    lines.append("Every row's validation content gained under 1 point over its last doubling of steps: the curves "
                 "have flattened." if not rising else
                 "Still rising (validation content gained over 1 point in the last doubling of steps): "
                 + ", ".join(rising) + "; their numbers would move with a longer budget.")
    return lines


def run_demo(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = EPOCHS,
             command: str = "simve demo") -> str:
    """Run the demo into ``out_dir``; returns the table it printed and what it shows."""
    spec = demo_spec(out_dir, seed, limit, epochs)
    data = load_dataset("glyphs", seed=seed, limit=limit)
    images = data.train.images[:8]
    views, _ = MultiView(preset(data.preset), views=6)(images, torch.Generator().manual_seed(seed))
    save_view_grid(MultiView.original(images), views, spec.out / "glyph_views.png",
                   title="glyphs: content fixed along each row, style varied by the views")
    table, rows, curves = run_benchmark(spec, command)
    means = {name: {k: mean_std(s[k] for s in map(summarise, runs))["mean"] for k in ("content", "style_perturbed")}
             for name, runs in rows.items()}
    rises = {row: rise for row, points in curves.items() if (rise := mean_rise(points)) is not None}
    lines = findings(means, rises) if set(DEMO_ANCHORS) <= set(means) else []
    legend = "".join(f"- {role}: `{parse_variant(text).label}`\n" for role, text in ROWS.items())
    shown = "\nWhat the numbers show:\n\n" + "".join(f"- {line}\n" for line in lines)
    write_text(spec.out / "table.md", (spec.out / "table.md").read_text() + shown + "\nRows:\n\n" + legend)
    return ("Content = the digit; style kept = font and thickness (the augmentations never change them); style "
            f"perturbed = rotation, scale, x, y in {STYLE_BINS} bins each (the augmentations change them). Rows, each at "
            "the package's defaults on the demo-sized MLP, 256 images a step at lr 5e-3:\n\n" + legend + "\n" + table
            + shown)
