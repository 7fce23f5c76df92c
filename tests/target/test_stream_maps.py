"""With `stream_maps` set, records take singer-sdk's full record path (copy, map, validate, key check)
instead of the target's fast path for plain streams: the same records must land, the same rejects and
STATE come out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.target.faults_support import email, fault_config, lead_input, run_messages
from tests.target.singer_io import lead, read_rejects, record


def test_a_mapped_and_aliased_stream_lands_through_the_sdks_record_path(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = lead_input(range(5), stream="people", state_every=2)
    # A record that fails its schema (id is not an integer) goes to the rejects file on this path too.
    messages.insert(3, record("people", lead(99, id="not a number")))
    config = fault_config(
        target_config,
        tmp_path,
        stream_maps={"people": {"__alias__": "leads", "company": "'Mapped ' + str(id)"}},
    )
    run = run_messages(config, messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    stored = {r["Email"]: r for r in emulator.records("Leads")}
    assert sorted(stored) == sorted(email(i) for i in range(5))
    assert {stored[email(i)]["Company"] for i in range(5)} == {f"Mapped {i}" for i in range(5)}
    positions = [s["position"] for s in run.states]
    assert positions and positions[-1] == 5 and positions == sorted(set(positions))  # in order, once
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["stream"], r["code"]) for r in rows] == [("leads", "INVALID_RECORD")]
