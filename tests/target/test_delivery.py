"""The delivery promises under the attacks of issue 13, through the CLI against the emulator:

- a record merged into a later version of its key counts as done only when that version is: a STATE
  between them waits for the call carrying the later version (and a SIGKILL then leaves no STATE past
  the key);
- a valid version is never dropped behind a rejected successor: the last valid version is written;
- an upsert with no value to match on is rejected (MISSING_KEY), never inserted again on every replay,
  unless the stream allows keyless inserts;
- poison lines (invalid UTF-8, deep nesting, RECORD/STATE without their fields) go to the rejects file
  with their line number and the run goes on; misleading messages (BOM, NaN, SCHEMA shapes) are fixed.

Zoho behaviour relied on: upsert matches Leads on Email and Contacts on Email
(https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html, "How does the duplicate check
work?"); a lookup naming a record that does not exist is INVALID_DATA on that field.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.target.faults_support import LEADS_WRITE, fault_config, run_messages, summary_row
from tests.target.singer_io import CLI, LEAD_PROPERTIES, lead, read_rejects, record, run_target, schema, state

_run = partial(run_messages, timeout=90)
ARRIVAL_WAIT = 60.0  # generous: other suites share the two cores
SLOW_CALL_MS = 10_000  # the slow call stays unanswered this long: far beyond the checks made meanwhile


class OpenInput:
    """The CLI reading a pipe that stays open (a tap that is still running), its STATE lines collected."""

    def __init__(self, config: dict[str, Any], tmp_path: Path) -> None:
        config_path = tmp_path / "open.config.json"
        config_path.write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
        self.stderr_path = tmp_path / "open.stderr"
        with self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                [CLI, "--config", str(config_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=tmp_path,
                env=env,
            )
        self.states: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                with self._lock:
                    self.states.append(json.loads(line))

    def send(self, messages: list[dict[str, Any]]) -> None:
        assert self.proc.stdin is not None
        for message in messages:
            self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def echoed(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.states)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)


@pytest.fixture
def open_runs() -> Iterator[list[OpenInput]]:
    runs: list[OpenInput] = []
    yield runs
    for run in runs:
        run.kill()


def _wait(condition: Any, timeout: float = ARRIVAL_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_state_between_two_versions_of_a_key_waits_for_the_later_ones_call(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, open_runs: list[OpenInput]
) -> None:
    """K v1, STATE, K v2 in one batch: the batch writes only v2, in a call Zoho answers slowly (and
    refuses with a 503, so K is nowhere meanwhile). The STATE stands for v1 too: it must not be echoed
    while that call is out, and a SIGKILL then leaves no STATE past K; the replay writes K once."""
    emulator.set_faults({"script": [{"status": 503, "delay_ms": SLOW_CALL_MS}], "match": LEADS_WRITE})
    config = fault_config(target_config, tmp_path, state_flush_seconds=0.2, request_timeout=60)
    k_v1, k_v2 = lead(1, company="Version 1"), lead(1, company="Version 2")
    messages = [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        record("leads", k_v1),
        state({"position": 1}),
        record("leads", k_v2),
    ]
    run = OpenInput(config, tmp_path)
    open_runs.append(run)
    run.send(messages)

    # The slow call has reached Zoho once the fault's script is used up.
    assert _wait(lambda: emulator.faults()["remaining"]["script"] == []), run.stderr_path.read_text()[-3000:]
    time.sleep(2.0)  # the housekeeper re-checks the frontier every half second: give it several turns
    echoed, stored = run.echoed(), emulator.records("Leads")
    run.kill()

    assert stored == [], "the slow call was refused: K must be nowhere yet"
    assert echoed == [], "a STATE was echoed while the record it stands for was nowhere"

    # The killed target's call still sleeps in the emulator, outside its concurrency gate: let it end
    # here, not in the next test's call log.
    assert _wait(lambda: any(c.get("fault") for c in emulator.calls), SLOW_CALL_MS / 1000 + ARRIVAL_WAIT)
    emulator.clear_faults()
    replay = _run(fault_config(target_config, tmp_path), [*messages, state({"position": 2})], tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    leads = emulator.records("Leads")
    assert [(r["Email"], r["Company"]) for r in leads] == [(k_v2["email"], "Version 2")]
    assert replay.states[-1] == {"position": 2}


CONTACT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "last_name": {"type": "string"},
    "email": {"type": "string"},
    "account_name": {"type": ["string", "null"]},
}


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_a_valid_version_is_written_when_its_successor_is_rejected(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, api_type: str
) -> None:
    """K v1 is valid; K v2, in the same batch, names an Account that matches nothing. v2 goes to the
    rejects file and v1, the last valid version, lands; the summary accounts for all three records."""
    account = emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    messages: list[Any] = [
        schema("contacts", CONTACT_PROPERTIES, ["id"]),
        record("contacts", {"id": 1, "last_name": "K", "email": "k@x.test", "account_name": "Zylker"}),
        state({"position": 1}),
        record("contacts", {"id": 1, "last_name": "K", "email": "k@x.test", "account_name": "Nobody Inc"}),
        record("contacts", {"id": 2, "last_name": "L", "email": "l@x.test", "account_name": "Zylker"}),
        state({"position": 3}),
    ]
    run = _run(fault_config(target_config, tmp_path, api_type=api_type), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    contacts = {r["Email"]: r for r in emulator.records("Contacts")}
    assert sorted(contacts) == ["k@x.test", "l@x.test"]
    assert contacts["k@x.test"]["Account_Name"]["id"] == account
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["account_name"], r["code"], r["field"]) for r in rows] == [
        ("Nobody Inc", "INVALID_DATA", "Account_Name")
    ]
    row = summary_row(run.stderr, "contacts")
    assert (row["read"], row["inserted"] + row["updated"], row["rejected"]) == (3, 2, 1)
    assert "superseded" not in run.stderr  # nothing was superseded: v1 itself landed
    assert run.states[-1] == {"position": 3}


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_a_valid_version_is_written_when_its_successor_is_rejected_into_a_module_that_holds_records(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, api_type: str
) -> None:
    """The same break into a module that already holds records: lookups and keys are then resolved on
    the lane with the read of what Zoho holds (skip_unchanged), and the fallback to the last valid
    version must hold there too; an unchanged record is skipped and its earlier version superseded."""
    account = emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    emulator.add_record("Contacts", {"Last_Name": "M", "Email": "m@x.test", "Account_Name": {"id": account}})
    messages: list[Any] = [
        schema("contacts", CONTACT_PROPERTIES, ["id"]),
        record("contacts", {"id": 1, "last_name": "K", "email": "k@x.test", "account_name": "Zylker"}),
        record("contacts", {"id": 3, "last_name": "Old", "email": "m@x.test", "account_name": "Zylker"}),
        state({"position": 2}),
        record("contacts", {"id": 1, "last_name": "K", "email": "k@x.test", "account_name": "Nobody Inc"}),
        record("contacts", {"id": 3, "last_name": "M", "email": "m@x.test", "account_name": "Zylker"}),
        state({"position": 4}),
    ]
    run = _run(fault_config(target_config, tmp_path, api_type=api_type), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    contacts = {r["Email"]: r for r in emulator.records("Contacts")}
    assert sorted(contacts) == ["k@x.test", "m@x.test"]
    assert contacts["k@x.test"]["Account_Name"]["id"] == account
    assert contacts["m@x.test"]["Last_Name"] == "M"
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["account_name"], r["code"]) for r in rows] == [("Nobody Inc", "INVALID_DATA")]
    row = summary_row(run.stderr, "contacts")
    assert (row["read"], row["inserted"] + row["updated"], row["rejected"]) == (4, 1, 1)
    assert "contacts: unchanged 1," in run.stderr
    assert "contacts: 1 record superseded" in run.stderr
    assert run.states[-1] == {"position": 4}


def test_versions_merged_into_one_that_landed_are_counted_as_superseded(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(1, company=f"Version {v}")) for v in (1, 2, 3)]
    messages += [record("leads", lead(2)), state({"position": 4})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted((r["Email"], r["Company"]) for r in emulator.records("Leads")) == [
        ("lead1@example.com", "Version 3"),
        ("lead2@example.com", "Company 2"),
    ]
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"] + row["updated"], row["rejected"]) == (4, 2, 0)
    assert "leads: 2 records superseded by a later version" in run.stderr


KEYLESS = [lead(1, email=""), lead(2, email=None), lead(3, email="   ")]


def test_keyless_upserts_are_rejected_and_replays_add_nothing(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Leads are matched on Email: an upsert whose Email is "", null or spaces would be a new Zoho
    record on every run. Three replays of three such records leave none, and each is rejected with
    MISSING_KEY naming the fields and the option that allows them."""
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", r) for r in KEYLESS] + [record("leads", lead(4)), state({"position": 4})]
    config = fault_config(target_config, tmp_path)
    for attempt in range(3):
        run = _run(config, messages, tmp_path, name=f"in{attempt}")
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.states[-1] == {"position": 4}
    assert [r["Email"] for r in emulator.records("Leads")] == ["lead4@example.com"]
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [r["code"] for r in rows] == ["MISSING_KEY"] * 9  # the rejects file is appended to, run by run
    assert "Email" in rows[0]["message"] and "allow_keyless_inserts" in rows[0]["message"]


def test_keyless_upserts_are_inserted_when_the_stream_allows_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", r) for r in KEYLESS] + [state({"position": 3})]
    config = fault_config(target_config, tmp_path, streams={"leads": {"allow_keyless_inserts": True}})
    run = _run(config, messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["Last_Name"] for r in emulator.records("Leads")) == ["Last1", "Last2", "Last3"]
    assert read_rejects(tmp_path / "rejects.jsonl") == []


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_an_empty_key_falls_back_to_the_modules_other_match_fields(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, api_type: str
) -> None:
    """Vehicles matched on VIN, whose value is only spaces, still carry an External ID Zoho's upsert
    matches on next: they are upserted on it (two runs, one record each), neither rejected nor doubled."""
    props = {"name": {"type": "string"}, "vin": {"type": "string"}, "ext": {"type": "string"}}
    messages: list[Any] = [schema("vehicles", props, ["ext"])]
    messages += [record("vehicles", {"name": f"Car {i}", "vin": "   ", "ext": f"X-{i}"}) for i in range(2)]
    messages.append(state({"position": 2}))
    streams = {"vehicles": {"duplicate_check_fields": ["VIN"], "field_map": {"ext": "External_Vehicle_ID"}}}
    config = fault_config(target_config, tmp_path, streams=streams, api_type=api_type)
    for attempt in range(2):
        run = _run(config, messages, tmp_path, name=f"in{attempt}")
        assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["External_Vehicle_ID"] for r in emulator.records("Vehicles")) == ["X-0", "X-1"]
    assert read_rejects(tmp_path / "rejects.jsonl") == []


def _poison_input(tmp_path: Path, bad_lines: list[bytes]) -> Path:
    """A good record, the bad lines, another good record, a STATE; written as bytes (not all UTF-8)."""
    lines = [
        json.dumps(schema("leads", LEAD_PROPERTIES, ["id"])).encode(),
        json.dumps(record("leads", lead(1))).encode(),
        *bad_lines,
        json.dumps(record("leads", lead(2))).encode(),
        json.dumps(state({"position": 2})).encode(),
    ]
    path = tmp_path / "poison.singer"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


POISON: list[tuple[bytes, str]] = [
    (b'{"type": "RECORD", "stream": "leads", "record": {"id": 9, "email": "bad\xff@x.test"}}', "UTF-8"),
    (b'{"type": "RECORD", "stream": "leads", "record": {"id": 9, "not_loaded": "caf\xe9"}}', "UTF-8"),
    (b'{"type": "RECORD", "stream": "lea\xffds", "record": {"id": 9}}', "UTF-8"),
    (
        b'{"type": "RECORD", "stream": "leads", "record": {"id": 9, "x": '
        + b"[" * 1200
        + b"]" * 1200
        + b"}}",
        "nested",
    ),
    (b"[" * 100_000, "nested"),
    (b'{"type": "RECORD", "stream": "leads"}', "'record'"),
    (b'{"type": "RECORD", "stream": "leads", "record": null}', "'record' must be an object, not null"),
    (b'{"type": "RECORD", "stream": "leads", "record": [1, 2]}', "'record' must be an object, not a list"),
    (b'{"type": "RECORD", "record": {"id": 9}}', "'stream'"),
    (b'{"type": "STATE"}', "'value'"),
    (b'{"type": "RECORD", "stream": "leads", "record": {"id": 9, "company": NaN}}', "NaN"),
    (b'{"type": "RECORD", "stream": "leads", "record": {"id": 9, "company": -Infinity}}', "Infinity"),
]


def test_poison_lines_are_rejected_with_their_line_and_the_rest_loads(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    path = _poison_input(tmp_path, [line for line, _ in POISON])
    run = run_target(fault_config(target_config, tmp_path), path, tmp_path, timeout=90)

    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["Email"] for r in emulator.records("Leads")) == ["lead1@example.com", "lead2@example.com"]
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["code"], r["details"]["line_number"]) for r in rows] == [
        ("INVALID_INPUT_LINE", 3 + i) for i in range(len(POISON))
    ]
    for row, (_, words) in zip(rows, POISON, strict=True):
        assert words in row["message"], row["message"]
        assert f"line {row['details']['line_number']}" in run.stderr
    assert "\\xff" in rows[0]["record"]  # the undecodable byte is shown, not lost or fatal
    assert "Traceback" not in run.stderr
    assert run.states[-1] == {"position": 2}


def test_a_utf8_byte_order_mark_before_the_first_line_is_accepted(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    path = _poison_input(tmp_path, [])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    run = run_target(fault_config(target_config, tmp_path), path, tmp_path, timeout=90)

    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["Email"] for r in emulator.records("Leads")) == ["lead1@example.com", "lead2@example.com"]
    assert read_rejects(tmp_path / "rejects.jsonl") == []


@pytest.mark.parametrize(
    ("schema_body", "words"),
    [
        ({"type": "object", "properties": 5}, "'properties' must be an object"),
        ({"type": "object", "properties": ["id"]}, "'properties' must be an object"),
        ("not a schema", "'schema' that is a string"),
    ],
)
def test_a_schema_of_the_wrong_shape_stops_with_a_clear_message(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, schema_body: Any, words: str
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"]), record("leads", lead(1))]
    messages += [state({"position": 1}), {"type": "SCHEMA", "stream": "contacts", "schema": schema_body}]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert words in run.stderr and "input line 4" in run.stderr and "'contacts'" in run.stderr
    assert "has no attribute" not in run.stderr and "pop expected" not in run.stderr
    assert [r["Email"] for r in emulator.records("Leads")] == ["lead1@example.com"]
    assert run.states == [{"position": 1}]


def test_a_record_missing_its_key_property_names_stream_key_and_line(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    keyless = lead(2)
    del keyless["id"]
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"]), record("leads", lead(1))]
    messages += [state({"position": 1}), record("leads", keyless)]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert "input line 4" in run.stderr and "stream 'leads'" in run.stderr and "'id'" in run.stderr
    assert [r["Email"] for r in emulator.records("Leads")] == ["lead1@example.com"]
    assert run.states == [{"position": 1}]
