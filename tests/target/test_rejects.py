"""The rejects file's lifecycle, as a user lives it: rows that carry their run and time, only the columns
that are loaded, the stream's schema for a replay; `target-zoho-crm-replay` turns the file back into a
Singer stream that loads the rows once their cause is fixed; a rejects file that cannot be written
stops the run with a clear message and no STATE past the records it holds.

Zoho behaviour relied on: a lookup value that matches no record is refused with INVALID_DATA
(https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html, "Possible Errors").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from target_zoho_crm.replay import build_replay
from tests.target.singer_io import read_rejects, record, run_target, schema, state, write_lines

REPLAY = str(Path(sys.executable).parent / "target-zoho-crm-replay")
CONTACT_PROPS = {
    "email": {"type": "string"},
    "last_name": {"type": "string"},
    "account_name": {"type": ["string", "null"]},
    "password_hash": {"type": ["string", "null"]},
}


def _contacts(n: int, account: str) -> list[dict[str, Any]]:
    return [
        record(
            "contacts",
            {
                "email": f"c{i}@acme.test",
                "last_name": f"C{i}",
                "account_name": account if i % 2 else None,
                "password_hash": f"$2b$12$secret{i}",
            },
        )
        for i in range(n)
    ]


def _config(target_config: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {**target_config, "rejects_path": str(tmp_path / "rejects.jsonl"), **extra}


def test_rejected_rows_are_replayed_once_their_cause_is_fixed(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Half the Contacts name an Account Zoho does not have yet: they are rejected, with their run and
    time and without the unmapped password hash. Once the Account exists, the replay loads them."""
    cfg = _config(target_config, tmp_path)  # password_hash matches no Contacts field: it is not loaded
    messages: list[Any] = [schema("contacts", CONTACT_PROPS, ["email"]), *_contacts(6, "Acme Later")]
    messages.insert(3, "not a singer message")  # a poison line: rejected, but nothing to replay
    messages.append(state({"bookmark": 6}))
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert len(emulator.records("Contacts")) == 3
    lines = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    rejects = [r for r in lines if r["kind"] == "reject"]
    schemas = [r for r in lines if r["kind"] == "schema"]
    assert len(rejects) == 4 and len(schemas) == 1
    assert len({r["run_id"] for r in lines}) == 1 and all(r["rejected_at"].endswith("Z") for r in rejects)
    contacts = [r for r in rejects if r["stream"] == "contacts"]
    assert {r["code"] for r in contacts} == {"INVALID_DATA"}
    assert all(set(r["record"]) == {"email", "last_name", "account_name"} for r in contacts)
    assert "password_hash" not in (tmp_path / "rejects.jsonl").read_text()
    assert schemas[0]["key_properties"] == ["email"]
    assert set(schemas[0]["schema"]["properties"]) == {"email", "last_name", "account_name"}

    # The cause is fixed in Zoho; the file is moved aside (the replay's own rejects start a new one).
    emulator.add_record("Accounts", {"Account_Name": "Acme Later"})
    old = tmp_path / "rejects.jsonl"
    replayed = tmp_path / "rejects.replayed.jsonl"
    old.rename(replayed)
    out = subprocess.run([REPLAY, str(replayed)], capture_output=True, text=True, timeout=60, check=True)
    assert "3 records to load again" in out.stderr
    assert "skipped 1 input lines that were not Singer messages" in out.stderr
    stream = [json.loads(line) for line in out.stdout.splitlines()]
    assert [m["type"] for m in stream] == ["SCHEMA", "RECORD", "RECORD", "RECORD"]
    run = run_target(
        _config(target_config, tmp_path), write_lines(tmp_path / "replay.singer", stream), tmp_path
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == []  # a replay moves no bookmark
    account_id = emulator.records("Accounts")[0]["id"]
    stored = {r["Email"]: r for r in emulator.records("Contacts")}
    assert len(stored) == 6
    assert all(stored[f"c{i}@acme.test"]["Account_Name"]["id"] == account_id for i in (1, 3, 5))
    assert read_rejects(tmp_path / "rejects.jsonl") == []


def test_a_replay_filters_by_stream_and_code_and_sends_each_record_once() -> None:
    """Pure logic of the replay over a file of two runs: the latest version of a record is sent once."""

    def schema_row(run: str, stream: str) -> dict[str, Any]:
        props = {"email": {"type": "string"}, "n": {"type": "integer"}}
        return {
            "kind": "schema",
            "run_id": run,
            "schema_id": 1,
            "stream": stream,
            "schema": {"type": "object", "properties": props},
            "key_properties": ["email"],
        }

    def reject(run: str, stream: str, code: str, email: str, n: int) -> dict[str, Any]:
        return {
            "kind": "reject",
            "run_id": run,
            "schema_id": 1,
            "stream": stream,
            "code": code,
            "record": {"email": email, "n": n},
        }

    rows = [
        schema_row("r1", "leads"),
        reject("r1", "leads", "INVALID_DATA", "a@x", 1),
        reject("r1", "leads", "DUPLICATE_DATA", "b@x", 1),
        {"kind": "reject", "run_id": "r1", "stream": None, "code": "INVALID_INPUT_LINE", "record": "{oops"},
        schema_row("r2", "leads"),
        reject("r2", "leads", "INVALID_DATA", "a@x", 2),
        schema_row("r2", "deals"),
        reject("r2", "deals", "INVALID_DATA", "d@x", 1),
    ]
    lines = [json.dumps(r) for r in rows]

    everything = build_replay(lines)
    records = [(m["stream"], m["record"]) for m in everything.messages if m["type"] == "RECORD"]
    assert records == [
        ("leads", {"email": "b@x", "n": 1}),
        ("leads", {"email": "a@x", "n": 2}),
        ("deals", {"email": "d@x", "n": 1}),
    ]
    assert [m["stream"] for m in everything.messages if m["type"] == "SCHEMA"] == ["leads", "deals"]
    assert sum(everything.skipped.values()) == 1

    only = build_replay(lines, streams=["leads"], codes=["INVALID_DATA"])
    assert [m["record"] for m in only.messages if m["type"] == "RECORD"] == [{"email": "a@x", "n": 2}]
    assert build_replay(lines, runs=["r1"], codes=["INVALID_DATA"]).records == {"leads": 1}


def test_rejects_include_unmapped_keeps_the_whole_row(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    cfg = _config(target_config, tmp_path, rejects_include_unmapped=True)
    messages: list[Any] = [schema("contacts", CONTACT_PROPS, ["email"]), *_contacts(2, "Nobody")]
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [r["record"]["password_hash"] for r in rejects] == ["$2b$12$secret1"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (ENOSPC on write)")
def test_a_full_disk_for_the_rejects_file_stops_the_run_with_a_clear_message(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does: the run stops (exit 1) with a
    message that says so and what to do, and no STATE is echoed past the reject it could not keep."""
    cfg = {**target_config, "rejects_path": "/dev/full"}
    messages: list[Any] = [schema("contacts", CONTACT_PROPS, ["email"]), *_contacts(4, "Nobody")]
    messages.append(state({"bookmark": 4}))
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 1
    assert "Cannot write the rejects file /dev/full: the disk is full (no space left on device)" in run.stderr
    assert "point rejects_path at a disk with room" in run.stderr
    assert "ERROR | 28" not in run.stderr.replace("  ", " ")
    assert run.states == []
