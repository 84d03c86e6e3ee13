"""Time to accuracy (``simve timing --to-accuracy``): how long a recipe takes to reach a validation target.

MLPerf's measure: not how fast a step is but how soon the representation is good enough. Each side
(``ours``, and ``theirs`` where given) is a shell command that trains with a learning curve read after
every epoch; the commands run in turn, seed by seed (ours s0, theirs s0, ours s1, ...), so that a noisy
machine slows both alike. From each run's curve: the first epoch whose validation content reaches the
target, the training seconds until then (the loop's own clock, probing excluded), and the process
seconds until then: those training seconds plus what the process spent outside training and probing
(start-up, data, checkpoints), estimated as its wall time less its whole training and probing. Medians
over the seeds that reached the target; the speed-up is the ratio of the medians of training seconds
(> 1: ours reaches it sooner).

A command writes its curve where ``{tmp}`` (a fresh folder) says, and takes its seed from ``{seed}``:
a simve run folder ``{tmp}/run`` (``simve train --curve every``: its ``curve.jsonl``), or a JSON file
``{tmp}/*.json`` holding ``"curve": [{"epoch", "step", "training_seconds", "val_content_accuracy",
"probe_seconds"}]``, what ``scripts/official_simvae.py --curve-epochs 1,2,...`` writes.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from simve.errors import SimveError
from simve.evaluate.curve import curve_points
from simve.timing.processes import timed_command
from simve.train import CURVE, read_curve


def curve_in(folder: Path) -> list[dict]:
    """The validation content curve a command wrote in ``folder``: ``epoch, step, seconds, probe_seconds,
    content`` per reading, in order."""
    if (folder / "run" / CURVE).exists():
        return [{key: p[key] for key in ("epoch", "step", "seconds", "probe_seconds", "content")}
                for p in curve_points(read_curve(folder / "run"))]
    for path in sorted(folder.glob("*.json")):
        try:
            stored = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(stored, dict) and stored.get("curve"):
            return [{"epoch": r["epoch"], "step": r["step"], "seconds": r["training_seconds"],
                     "probe_seconds": r.get("probe_seconds", 0.0), "content": r["val_content_accuracy"]}
                    for r in stored["curve"]]
    raise SimveError(f"the command wrote no learning curve in {{tmp}} (looked for run/{CURVE} and *.json with a "
                     "\"curve\"): give simve train --curve every --out {tmp}/run, or a command that writes such a JSON")


def reached(points: list[dict], target: float) -> dict | None:
    """The first reading whose content is at least ``target`` (None: never)."""
    return next((p for p in points if p["content"] >= target), None)


def one_run(command: str, target: float) -> dict:
    """Run ``command`` once; when (epoch, step, training and process seconds) its curve first reached ``target``."""
    wall, points = timed_command(command, curve_in)
    if not points:
        raise SimveError(f"{command!r} read no point of its learning curve")
    outside = wall - points[-1]["seconds"] - sum(p["probe_seconds"] for p in points)
    hit = reached(points, target)
    run = {"wall_seconds": wall, "epochs": points[-1]["epoch"], "final_content": points[-1]["content"],
           "curve": [[p["epoch"], p["seconds"], p["content"]] for p in points]}
    if hit is None:
        return {**run, "reached": False}
    return {**run, "reached": True, "epoch": hit["epoch"], "step": hit["step"], "training_seconds": hit["seconds"],
            "process_seconds": hit["seconds"] + outside}


def time_to_accuracy(commands: dict[str, str], target: float, seeds: tuple[int, ...]) -> dict:
    """Each side's ``command`` (``{seed}``, ``{tmp}``) for every seed, in turn; per side its runs and the medians
    over the seeds that reached ``target``; ``ours_speedup`` where both sides have one."""
    if not 0 < target <= 1:
        raise SimveError(f"the target is a validation accuracy in (0, 1], got {target}")
    runs = {side: [] for side in commands}
    for seed in seeds:
        for side, command in commands.items():
            runs[side].append({"seed": seed, **one_run(command.replace("{seed}", str(seed)), target)})
    sides = {}
    for side, done in runs.items():
        hits = [r for r in done if r["reached"]]
        medians = {key: statistics.median(r[key] for r in hits) if hits else None
                   for key in ("epoch", "training_seconds", "process_seconds")}
        sides[side] = {"command": commands[side].replace(sys.executable, "python"), "runs": done,
                       "reached": len(hits), "median": medians}
    results = {"target": target, "seeds": list(seeds), "sides": sides}
    if "theirs" in sides and all(sides[s]["median"]["training_seconds"] for s in ("ours", "theirs")):
        results["ours_speedup"] = {key: sides["theirs"]["median"][key] / sides["ours"]["median"][key]
                                   for key in ("training_seconds", "process_seconds")}
    return results


def accuracy_table(results: dict) -> str:
    """The runs of each side, their medians and the speed-up, in markdown."""
    target = 100 * results["target"]
    lines = [(f"Time to {target:g} % validation content (the linear probe of the learning curve, read after every "
             f"epoch), {len(results['seeds'])} seeds, commands run in turn. Training seconds: the loop's clock until "
             "the first reading at the target (probing excluded); process seconds: those plus the process's start-up "
             "and other work outside training and probing. Medians over the seeds that reached the target."), "",
             "| side | seed | reached at epoch | step | training s | process s | final content (epochs) |",
             "|---|---|---|---|---|---|---|"]
    for side, s in results["sides"].items():
        for r in s["runs"]:
            at = (f"{r['epoch']} | {r['step']} | {r['training_seconds']:.1f} | {r['process_seconds']:.1f}" if r["reached"]
                  else "never | – | – | –")
            lines.append(f"| {side} | {r['seed']} | {at} | {100 * r['final_content']:.1f} ({r['epochs']}) |")
    lines += ["", "| side | reached | median epoch | median training s | median process s | command |", "|---|---|---|---|---|---|"]
    for side, s in results["sides"].items():
        m = s["median"]
        cells = " | ".join("–" if m[k] is None else f"{m[k]:.1f}" for k in ("epoch", "training_seconds", "process_seconds"))
        lines.append(f"| {side} | {s['reached']} of {len(s['runs'])} | {cells} | `{s['command']}` |")
    if "ours_speedup" in results:
        up = results["ours_speedup"]
        lines += ["", (f"Ours reaches {target:g} % {up['training_seconds']:.2f}x as soon in training seconds and "
                      f"{up['process_seconds']:.2f}x in process seconds (ratios of medians; > 1: ours sooner).")]
    return "\n".join(lines)
