"""What ``simve timing`` times as whole processes: one ``simve train`` epoch, several processes, another command."""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simve.errors import SimveError
from simve.train import read_metrics


def timed_command(command: str, inspect=None) -> tuple[float, object]:
    """Wall seconds of the shell ``command`` (``{tmp}`` in it: a fresh empty folder), and what
    ``inspect(folder)`` reads from that folder before it is removed; a failure is one line."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run(command.replace("{tmp}", shlex.quote(tmp)), shell=True, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - start
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SimveError(f"{command!r} exited {done.returncode}: {tail}")
        return wall, inspect(Path(tmp)) if inspect else None


def _loop_seconds(folder: Path) -> float:
    """The training seconds the run in ``folder/run`` logged last."""
    return read_metrics(folder / "run")[-1]["time"]


def run_overhead(command: str) -> dict:
    """Wall seconds of one ``simve train`` process (``command``, writing ``{tmp}/run``) against the seconds
    its training loop logged: the rest is start-up, data, checkpoints, validation and figures."""
    wall, loop = timed_command(command, _loop_seconds)
    return {"command": command.replace(sys.executable, "python"), "wall_seconds": wall, "loop_seconds": loop, "overhead_seconds": wall - loop}


def in_turn(commands: dict, repeats: int, inspect=None) -> dict[object, list[tuple[float, object]]]:
    """The shell ``commands`` (key -> command) run one after the other, ``repeats`` rounds, so that a
    noisy machine slows each alike: per key, the (wall seconds, what ``inspect`` read) of each run."""
    runs = {key: [] for key in commands}
    for _ in range(repeats):
        for key, command in commands.items():
            runs[key].append(timed_command(command, inspect))
    return runs


def process_scaling(command: str, processes: int, repeats: int) -> dict:
    """One epoch of ``simve train`` (``command``, writing ``{tmp}/run``) on one process and on ``processes``
    (``--nproc``), in turn, ``repeats`` times each: wall and loop seconds, and the speed ratio of the
    medians (``loop_speedup`` > 1: the N processes train faster)."""
    timed = in_turn({count: f"{command} --nproc {count}" for count in (1, processes)}, repeats, _loop_seconds)
    runs = {count: {"wall": [wall for wall, _ in t], "loop": [loop for _, loop in t]} for count, t in timed.items()}
    medians = {count: {k: statistics.median(v) for k, v in times.items()} for count, times in runs.items()}
    return {"command": command.replace(sys.executable, "python"), "processes": processes,
            "seconds": {str(k): v for k, v in runs.items()}, "median_seconds": {str(k): v for k, v in medians.items()},
            "loop_speedup": medians[1]["loop"] / medians[processes]["loop"],
            "wall_speedup": medians[1]["wall"] / medians[processes]["wall"]}


def compare_commands(ours: str, theirs: str, repeats: int) -> dict:
    """Wall seconds of two commands run in turn (ours, theirs, ours, ...), each ``repeats`` times, and
    the ratio of their medians (``ours_speedup`` > 1: ours is faster)."""
    timed = in_turn({"ours": ours, "theirs": theirs}, repeats)
    times = {key: [wall for wall, _ in t] for key, t in timed.items()}
    medians = {key: statistics.median(t) for key, t in times.items()}
    return {"commands": {"ours": ours.replace(sys.executable, "python"), "theirs": theirs}, "seconds": times, "median_seconds": medians,
            "ours_speedup": medians["theirs"] / medians["ours"]}


