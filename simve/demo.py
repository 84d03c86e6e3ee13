"""The embedded demo, a preset of the benchmark: on the glyphs (no download), train SimVE and the
VAE family at the settings chosen for them on validation (``results/tuning/glyphs``, made at this
budget: 3 epochs on 9,000 glyphs), and SimCLR at its chosen settings at SimVE's latent size and at
its natural width; probe content and style with frozen features beside two anchors (raw pixels and
a random encoder), and say what the numbers show. Finished runs in the output folder are reused,
so a second call only evaluates.
"""

from __future__ import annotations

from pathlib import Path

import torch

from simve.benchmark import ANCHORS, BenchmarkSpec, run_benchmark
from simve.data import MultiView, load_dataset, preset
from simve.evaluate.report import summarise
from simve.io import write_text
from simve.plots import save_view_grid
from simve.runs import parse_variant
from simve.stats import mean_std

# The settings chosen on validation by the commands in results/tuning/glyphs, at the demo's budget
# (tests/test_evaluate.py keeps them equal to the choices there). SimVE and the VAE family chose d = 32,
# so the matched SimCLR row is SimCLR tuned at d = 32.
ROWS = {
    "simve": "simve:batch_size=32:beta=0.01:latent_dim=32:likelihood=gaussian:lr=0.003:prior_var=0.001:views=2",
    "vae family": "beta-vae:batch_size=32:beta=0.01:latent_dim=32:likelihood=gaussian:lr=0.001:sigma_x=0.1",
    "simclr (matched d)": "simclr:batch_size=128:head=linear:head_dim=64:latent_dim=32:lr=0.0003:temperature=0.1",
    "simclr (natural width)": "simclr:batch_size=128:head=linear:head_dim=256:lr=0.0003:temperature=0.2",
}
TUNED = {  # role -> the folder of results/tuning/glyphs whose choice it is (the last stage of each model)
    "simve": "simve-beta0.01-latent_dim32-likelihoodgaussian-prior_var0.001-lr0.003-views2",
    "vae family": "beta-vae-beta0.01-likelihoodgaussian-lr0.001",
    "simclr (matched d)": "simclr-latent_dim32-temperature0.1-lr0.0003",
    "simclr (natural width)": "simclr-temperature0.2-lr0.0003",
}
PROBES = ("linear",)  # what its table and findings read; `simve benchmark` runs all four


def demo_spec(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = 3) -> BenchmarkSpec:
    """The demo's benchmark: one seed, no bounds, the rows of :data:`ROWS`, runs inside ``out_dir``."""
    out_dir = Path(out_dir)
    return BenchmarkSpec(data="glyphs", epochs=epochs, out=out_dir, runs=out_dir / "runs", models=tuple(ROWS.values()),
                         seeds=(seed,), limit=limit, probes=PROBES, particles=0, matched_dims=False,
                         title="simve demo: glyphs", names={text: role for role, text in ROWS.items()})


def findings(means: dict[str, dict[str, float]]) -> list[str]:
    """What the demo's numbers show, in sentences computed from them (``means``: row -> summary)."""
    simve, vae = means["simve"], means["vae family"]
    matched, natural = means["simclr (matched d)"], means["simclr (natural width)"]
    raw, random = means["raw pixels"], means["random encoder"]

    def versus(a: float, b: float) -> str:
        return f"{100 * (a - b):+.1f} points"

    return [
        (f"Content: SimVE {100 * simve['content']:.1f} %, {versus(simve['content'], vae['content'])} against the VAE "
        f"family and {versus(simve['content'], matched['content'])} against SimCLR at the same dimension; raw pixels "
        f"{100 * raw['content']:.1f} %, a random encoder {100 * random['content']:.1f} %, SimCLR at its natural width "
        f"{100 * natural['content']:.1f} %."),
        (f"Style the augmentations perturb: SimVE {100 * simve['style_perturbed']:.1f} %, "
        f"{versus(simve['style_perturbed'], matched['style_perturbed'])} against SimCLR at the same dimension and "
        f"{versus(simve['style_perturbed'], natural['style_perturbed'])} against SimCLR at its natural width."),
        ("SimVE is above both anchors on content." if simve["content"] > max(raw["content"], random["content"])
         else f"SimVE is below the {'raw-pixel' if simve['content'] <= raw['content'] else 'random-encoder'} anchor "
              f"on content ({100 * simve['content']:.1f} against "
              f"{100 * (raw if simve['content'] <= raw['content'] else random)['content']:.1f} %)."),
    ]


def run_demo(out_dir: str | Path, seed: int = 0, limit: int = 10_000, epochs: int = 3,
             command: str = "simve demo") -> str:
    """Run the demo into ``out_dir``; returns the table it printed and what it shows."""
    spec = demo_spec(out_dir, seed, limit, epochs)
    data = load_dataset("glyphs", seed=seed, limit=limit)
    images = data.train.images[:8]
    views, _ = MultiView(preset(data.preset), views=6)(images, torch.Generator().manual_seed(seed))
    save_view_grid(MultiView.original(images), views, spec.out / "glyph_views.png",
                   title="glyphs: content fixed along each row, style varied by the views")
    table, rows = run_benchmark(spec, command)
    means = {name: {k: mean_std(s[k] for s in map(summarise, runs))["mean"] for k in ("content", "style_perturbed")}
             for name, runs in rows.items()}
    lines = findings(means) if set(ANCHORS) <= set(means) else []
    legend = "".join(f"- {role}: `{parse_variant(text).label}`\n" for role, text in ROWS.items())
    shown = "\nWhat the numbers show:\n\n" + "".join(f"- {line}\n" for line in lines)
    write_text(spec.out / "table.md", (spec.out / "table.md").read_text() + shown + "\nRows:\n\n" + legend)
    return ("Content = the digit; style kept = font and thickness (the augmentations never change them); style "
            "perturbed = rotation, scale, x, y (the augmentations change them). Rows, each at the settings chosen "
            "on validation in results/tuning/glyphs:\n\n" + legend + "\n" + table
            + shown)
