"""The parity table: the official SimVAE code against simve, on the same FashionMNIST split, probe and budgets.

    python scripts/parity_table.py --official DIR --simve RESULTS_DIR ... --out results/parity

``--official DIR`` holds the JSON files ``scripts/official_simvae.py`` wrote (one per model, learning rate
and seed, each with its test content at the epochs it scored); each ``--simve RESULTS_DIR`` names a results
folder of ``simve benchmark`` (its rows ``simve ...`` and ``vae ...``, under the paper preset or simve's
defaults). The table gives, per objective, learning rate and epochs, the test content of SimVAE / SimVE and
of the VAE (linear probe, l2 chosen on validation; mean ± std over seeds) and their difference; the figure
draws the validation content curves of both codes. Everything is read from the files: nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from simve.benchmark import read_benchmark
from simve.evaluate.probes import PROTOCOL
from simve.evaluate.report import summarise
from simve.io import versions, write_json, write_text
from simve.stats import mean_std

OFFICIAL_MODELS = {"selfsup": "simve", "vae": "vae"}  # the official model -> simve's counterpart


def cell(values: list[float]) -> str:
    if not values:
        return ""
    stats = mean_std(values)
    return f"{100 * stats['mean']:.1f}" + (f" ± {100 * stats['std']:.1f}" if len(values) > 1 else "")


def official_rows(folder: Path) -> tuple[dict, dict]:
    """(objective, lr, epochs) -> model -> test content per seed; and the curves: (lr, model) -> list per seed.

    A seed counts once at each epoch: a longer run of the same seed scored at that epoch too (``--test-epochs``)
    trained the same steps up to it and must have scored the same (it is an error otherwise); its curve, the
    longer, stands for the seed."""
    by_seed, curves, commits = {}, {}, set()
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        if not record.get("finished"):
            continue
        commits.add(record["official"]["commit"])
        model = OFFICIAL_MODELS[record["model"]]
        name = "official code" + ("" if record["entropy"] == "official" else ", correct entropy")
        seed = record["seed"], record["init_seed"]
        for test in record["tests"]:
            scores = by_seed.setdefault((name, record["lr"], test["epoch"]), {}).setdefault(model, {})
            if scores.setdefault(seed, test["test_content_accuracy"]) != test["test_content_accuracy"]:
                raise SystemExit(f"parity_table: {path.name} scored seed {record['seed']} at epoch {test['epoch']} "
                                 f"{test['test_content_accuracy']}, another run of that seed {scores[seed]}: the "
                                 "official runs are not repeatable here; rerun them on one machine")
        seeds = curves.setdefault((name, record["lr"], model), {})
        curve = [(p["step"], p["val_content_accuracy"]) for p in record["curve"]]
        if seed not in seeds or curve[-1][0] > seeds[seed][-1][0]:
            seeds[seed] = curve
    rows = {key: {model: list(scores.values()) for model, scores in models.items()} for key, models in by_seed.items()}
    return rows, {key: list(seeds.values()) for key, seeds in curves.items()}, commits


def row_objective(row: str) -> str:
    """What a simve row's objective is called in the table: its preset (the paper's, or simve's defaults: the
    true ELBO), and the official code's entropy where the row puts it in."""
    name = "simve, paper preset" if "preset=paper" in row else "simve, defaults (true ELBO)"
    return name + (", official entropy" if "entropy=official" in row else "")


def simve_rows(folder: Path) -> tuple[dict, dict]:
    """Like :func:`official_rows` for a simve benchmark folder: its ``simve`` and ``vae`` rows, the objective
    named by their preset (the paper's, or simve's defaults: the true ELBO)."""
    meta, per_row, curves = read_benchmark(folder)
    rows, drawn = {}, {}
    for row, runs in per_row.items():
        model = row.split()[0]
        if model not in ("simve", "vae") or row.endswith(")"):  # a matched-dimension copy is no objective
            continue
        name = row_objective(row)
        lr = next((float(p.split("=")[1]) for p in row.split()[1:] if p.startswith("lr=")),
                  8e-5 if "preset=paper" in row else 1e-3)
        rows.setdefault((name, lr, meta["epochs"]), {})[model] = [summarise(r)["content"] for r in runs]
        if row in curves:
            drawn[(name, lr, model)] = [[(p["step"], p["content"]) for p in points] for points in curves[row]]
    return rows, drawn, meta["command"]


def table(rows: dict) -> str:
    lines = ["| objective | lr | epochs | seeds | SimVAE / SimVE | VAE | difference |", "|---|---|---|---|---|---|---|"]
    for (name, lr, epochs), models in sorted(rows.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        a, b = models.get("simve", []), models.get("vae", [])
        difference = (f"{100 * (mean_std(a)['mean'] - mean_std(b)['mean']):+.1f}" if a and b else "")
        lines.append(f"| {name} | {lr:g} | {epochs} | {max(len(a), len(b))} | {cell(a)} | {cell(b)} | {difference} |")
    return "\n".join(lines)


def mean_curve(runs: list[list[tuple[int, float]]]) -> tuple[list[int], list[float]]:
    """Steps and mean content (%) over the runs that reached each step: a 20-epoch run stops where a
    100-epoch run of another seed goes on."""
    at = {}
    for run in runs:
        for step, content in run:
            at.setdefault(step, []).append(content)
    steps = sorted(at)
    return steps, [100 * sum(at[s]) / len(at[s]) for s in steps]


def seeds_label(runs: list[list[tuple[int, float]]]) -> str:
    """``3 seeds``, or ``3 seeds, 1 past step 2380`` where the shorter runs stop before the longest."""
    text = f"{len(runs)} seed{'s' * (len(runs) > 1)}"
    ends = sorted(run[-1][0] for run in runs if run)
    if ends and ends[0] < ends[-1]:
        text += f", {sum(end > ends[0] for end in ends)} past step {ends[0]}"
    return text


def figure(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    objectives = sorted({(name, lr) for name, lr, _ in curves})
    colours = {objective: f"C{i % 10}" for i, objective in enumerate(objectives)}  # the same in both panels
    for ax, model in zip(axes, ("simve", "vae")):
        for (name, lr, which), runs in sorted(curves.items()):
            if which != model:
                continue
            steps, mean = mean_curve(runs)
            ax.plot(steps, mean, "-" if name.startswith("official") else "--", marker="o", ms=3,
                    color=colours[name, lr], label=f"{name}, lr {lr:g} ({seeds_label(runs)})")
        ax.set_xscale("log")
        ax.set_xlabel("optimiser steps (64 images x 2 views)")
        ax.set_title({"simve": "SimVAE (official) / SimVE (simve)", "vae": "VAE"}[model], fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("validation content (linear probe %)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--official", required=True, type=Path, help="folder of official_simvae.py JSON files")
    p.add_argument("--simve", action="append", default=[], type=Path, metavar="DIR", help="a simve benchmark folder")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    rows, curves, commits = official_rows(args.official)
    commands = []
    for folder in args.simve:
        more, drawn, command = simve_rows(folder)
        for key, models in more.items():
            rows.setdefault(key, {}).update(models)
        curves.update(drawn)
        commands.append(command)
    figure(curves, args.out / "curves.png")
    command = shlex.join(["python", "scripts/parity_table.py", *(argv if argv is not None else sys.argv[1:])])
    official_commands = sorted({json.loads(p.read_text())["command"] for p in args.official.glob("*.json")})
    text = (f"# Parity: the official SimVAE code and simve on the FashionMNIST subset\n\nMade by `{command}` from the "
            f"official runs in `{args.official}` (alicebizeul/simvae at {', '.join(sorted(commits))}) and the simve "
            "benchmarks made by:\n\n" + "\n".join(f"- `{c}`" for c in commands) + "\n\nTest content accuracy (%), "
            "simve's linear probe fitted on the frozen posterior means of the train split, l2 chosen on validation, "
            "test scored once; mean ± std over seeds.\n\n" + table(rows) + "\n\n![validation content curves]"
            "(curves.png)\n\nThe official runs, one command each:\n\n" + "\n".join(f"- `{c}`" for c in official_commands)
            + "\n")
    write_text(args.out / "table.md", text)
    write_json(args.out / "results.json", {"meta": {"command": command, "probe_protocol": PROTOCOL, "versions": versions(),
                                                    "official_commits": sorted(commits),
                                                    "simve_commands": commands},
                                           "rows": [{"objective": k[0], "lr": k[1], "epochs": k[2], **v}
                                                    for k, v in rows.items()]})


if __name__ == "__main__":
    main()
