"""No stale number: every committed results file says which probe protocol and which simve made it, and was
made under the probe protocol of the code as it is (a table made under another is regenerated or removed)."""

import json
from pathlib import Path

import pytest

from simve.evaluate.probes import PROTOCOL

ROOT = Path(__file__).resolve().parents[1]
# Timing tables hold seconds, not probe accuracies: the probe protocol does not make them stale.
FILES = sorted(p for p in (ROOT / "results").rglob("results.json") if "timing" not in p.relative_to(ROOT).parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT / "results").parent))
def test_a_committed_result_was_made_under_the_current_probe_protocol(path):
    meta = json.loads(path.read_text())["meta"]
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    made_under = meta.get("probe_protocol", 1)  # files from before the protocol was recorded: the first
    assert made_under == PROTOCOL, (f"{name} was made under probe protocol {made_under}, the code is at {PROTOCOL}: "
                                    f"regenerate it with `{meta.get('command')}` or remove it")
    assert meta.get("versions", {}).get("simve"), f"{name} does not say which simve made it"


def test_the_check_sees_a_stale_file(tmp_path):
    stale = tmp_path / "results.json"
    stale.write_text(json.dumps({"meta": {"command": "simve benchmark ...", "versions": {"simve": "0.1.0"}}}))
    with pytest.raises(AssertionError, match="made under probe protocol 1"):
        test_a_committed_result_was_made_under_the_current_probe_protocol(stale)
