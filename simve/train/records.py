"""The logs of a run folder: ``metrics.jsonl`` and ``curve.jsonl``, one JSON object a line, appended while
the run trains and cut back to a checkpoint's step when it resumes."""

from __future__ import annotations

import json
from pathlib import Path

from simve.io import write_atomic
from simve.train.config import CURVE, METRICS


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The records of ``metrics.jsonl``, in order (empty if there are none yet)."""
    path = Path(run_dir) / METRICS
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def read_curve(run_dir: str | Path) -> list[dict]:
    """The records of ``curve.jsonl``, in order (empty if the run reads no curve)."""
    path = Path(run_dir) / CURVE
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def log_records(run_dir: Path, *records: dict, name: str = METRICS) -> None:
    with open(run_dir / name, "a") as f:
        f.write("".join(json.dumps(record) + "\n" for record in records))


def truncate_records(run_dir: Path, step: int, name: str) -> None:
    """Drop the records of ``name`` written after the checkpoint at ``step``: the resumed run writes them
    again."""
    if not (run_dir / name).exists():
        return
    kept = []
    for line in (run_dir / name).read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the interruption
            continue
        if record["step"] <= step:
            kept.append(record)
    write_records(run_dir, kept, name)


def write_records(run_dir: Path, records: list[dict], name: str) -> None:
    """Replace ``name`` with ``records``, atomically."""
    write_atomic(run_dir / name, lambda tmp: tmp.write_text("".join(json.dumps(r) + "\n" for r in records)))
