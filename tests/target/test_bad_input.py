"""Bad input: each case gets a clear message naming the stream and the problem, the documented exit code
(target.py: 0 ok, 1 run stopped, 3 too many rejects), and loses none of the good records around it.

Zoho behaviours relied on: field types and lengths as the fields metadata gives them (email, currency,
integer, textarea of 32,000 characters; https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html)
and Zoho's per-record errors INVALID_DATA / MANDATORY_NOT_FOUND
(https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html, status-codes.html).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from tests.target.faults_support import (
    assert_each_once,
    fault_config,
    lead_input,
    rejects_by_id,
    run_messages,
)
from tests.target.singer_io import (
    LEAD_PROPERTIES,
    lead,
    read_rejects,
    record,
    schema,
    state,
)

_run = partial(run_messages, timeout=60)


def test_lines_that_are_not_singer_messages_are_rejected_and_the_rest_loads(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"]), record("leads", lead(0))]
    messages.append("this is not json")  # line 3
    messages.append(record("leads", lead(1)))
    messages.append('{"type": "RECORD", "stream": "leads", "record": {"id": 2')  # line 5: cut off
    messages.append('["a", "list"]')  # line 6: JSON, not a message
    messages.append('{"type": "SURPRISE", "stream": "leads"}')  # line 7: unknown type
    messages += [record("leads", lead(3)), state({"position": 4})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, [0, 1, 3])
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["code"], r["details"]["line_number"], r["stream"]) for r in rows] == [
        ("INVALID_INPUT_LINE", 3, None),
        ("INVALID_INPUT_LINE", 5, None),
        ("INVALID_INPUT_LINE", 6, None),
        ("INVALID_INPUT_LINE", 7, None),
    ]
    assert rows[0]["record"].startswith("this is not json")
    assert "not valid JSON" in rows[0]["message"] and "SURPRISE" in rows[3]["message"]
    for number in (3, 5, 6, 7):
        assert f"line {number}" in run.stderr
    assert run.states == [{"position": 4}]
    assert "input lines rejected" in run.stderr and ": 4" in run.stderr  # the summary


def test_record_before_its_schema_stops_after_finishing_what_came_before(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = lead_input(range(5), state_every=5)
    messages.append(record("contacts", {"id": 1, "last_name": "Early"}))
    messages += [record("leads", lead(5)), state({"position": 6})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert "contacts" in run.stderr and "schema" in run.stderr.lower()
    assert_each_once(emulator, range(5))
    assert emulator.records("Contacts") == []
    assert run.states == [{"position": 5}]
    assert rejects_by_id(tmp_path) == {}


def test_stream_that_maps_to_no_module_stops_and_names_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = lead_input(range(10), state_every=10)
    messages += [
        schema("purchase_widgets", {"id": {"type": "integer"}}),
        record("purchase_widgets", {"id": 1}),
    ]
    messages += [record("leads", lead(10)), state({"position": 11})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert "purchase_widgets" in run.stderr and "module" in run.stderr.lower()
    assert_each_once(emulator, range(10))
    assert run.states == [{"position": 10}]
    assert rejects_by_id(tmp_path) == {}


def test_records_that_break_their_schema_are_rejected_with_the_stream_and_reason(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    for i in range(12):
        if i == 4:
            messages.append(record("leads", lead(i, first_name=123)))  # string expected
        elif i == 9:
            messages.append(record("leads", {**lead(i), "id": "nine"}))  # integer expected
        else:
            messages.append(record("leads", lead(i)))
    messages.append(state({"position": 12}))
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, [i for i in range(12) if i not in (4, 9)])
    rows = read_rejects(tmp_path / "rejects.jsonl")
    assert len(rows) == 2
    by_email = {r["record"]["email"]: r for r in rows}
    assert set(by_email) == {"lead4@example.com", "lead9@example.com"}
    for row in rows:
        assert row["stream"] == "leads" and row["module"] == "Leads"
        assert row["code"] == "INVALID_RECORD" and "schema" in row["message"]
    assert "first_name" in by_email["lead4@example.com"]["message"]
    assert run.states == [{"position": 12}]


def test_values_zoho_cannot_take_are_rejected_one_by_one(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    props = {
        **LEAD_PROPERTIES,
        "annual_revenue": {"type": ["string", "number", "null"]},
        "no_of_employees": {"type": ["string", "integer", "null"]},
    }
    bad = {
        2: {"email": "not-an-email"},
        5: {"annual_revenue": "lots"},
        7: {"no_of_employees": "many"},
        11: {"last_name": None},
        13: {"company": "x" * 201},
    }
    messages: list[Any] = [schema("leads", props, ["id"])]
    for i in range(16):
        messages.append(record("leads", lead(i, **bad.get(i, {}))))
    messages.append(state({"position": 16}))
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, [i for i in range(16) if i not in bad])
    rejected = rejects_by_id(tmp_path)
    assert {i: (r["code"], r["field"]) for i, r in rejected.items()} == {
        2: ("INVALID_DATA", "Email"),
        5: ("INVALID_DATA", "Annual_Revenue"),
        7: ("INVALID_DATA", "No_of_Employees"),
        11: ("MANDATORY_NOT_FOUND", "Last_Name"),
        13: ("INVALID_DATA", "Company"),
    }
    assert all(r["stream"] == "leads" and r["message"] for r in rejected.values())
    assert run.states == [{"position": 16}]


def test_huge_field_is_rejected_and_a_huge_line_does_not_stop_the_reader(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Description is a textarea of at most 32,000 characters; a 3 MB line is read like any other."""
    props = {**LEAD_PROPERTIES, "description": {"type": ["string", "null"]}}
    messages: list[Any] = [schema("leads", props, ["id"])]
    messages += [record("leads", lead(i, description="fine")) for i in range(3)]
    messages.append(record("leads", lead(3, description="d" * 3_000_000)))
    messages.append(record("leads", lead(4, description="e" * 32_000)))  # exactly the limit
    messages.append(state({"position": 5}))
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, [0, 1, 2, 4])
    rejected = rejects_by_id(tmp_path)
    assert set(rejected) == {3}
    assert (rejected[3]["code"], rejected[3]["field"]) == ("INVALID_DATA", "Description")
    by_email = {r["Email"]: r for r in emulator.records("Leads")}
    assert len(by_email["lead4@example.com"]["Description"]) == 32_000
    assert len(run.stderr) < 200_000, "the huge value was echoed to the log"
    assert run.states == [{"position": 5}]


def test_empty_and_record_less_inputs_are_clean(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = fault_config(target_config, tmp_path)
    empty = _run(config, [], tmp_path)
    assert empty.returncode == 0, empty.stderr[-3000:]
    assert empty.stdout == ""
    assert emulator.calls == []

    only_state = _run(config, [state({"position": 0}), state({"position": 0, "again": True})], tmp_path)
    assert only_state.returncode == 0, only_state.stderr[-3000:]
    assert only_state.states[-1] == {"position": 0, "again": True}

    schema_only = _run(config, [schema("leads", LEAD_PROPERTIES, ["id"]), state({"p": 1})], tmp_path)
    assert schema_only.returncode == 0, schema_only.stderr[-3000:]
    assert schema_only.states == [{"p": 1}]
    assert emulator.records("Leads") == []
    assert not (tmp_path / "rejects.jsonl").exists()


def test_too_many_rejects_exits_3_after_loading_the_good_records(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    for i in range(30):
        messages.append(record("leads", lead(i, email=f"bad{i}" if i % 10 == 0 else f"lead{i}@example.com")))
    messages.append(state({"position": 30}))
    run = _run(fault_config(target_config, tmp_path, max_rejects=2), messages, tmp_path)

    assert run.returncode == 3
    assert_each_once(emulator, [i for i in range(30) if i % 10])
    assert set(rejects_by_id(tmp_path)) == {0, 10, 20}
    assert "max_rejects" in run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"position": 30}


def test_invalid_schema_message_stops_and_names_the_stream(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = lead_input(range(8), state_every=8)
    messages.append(
        {
            "type": "SCHEMA",
            "stream": "contacts",
            "schema": {"type": "object", "properties": {"id": {"type": "bogus"}}},
        }
    )
    messages += [record("contacts", {"id": 1}), record("leads", lead(8)), state({"position": 9})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert "contacts" in run.stderr and "schema" in run.stderr.lower()
    assert_each_once(emulator, range(8))
    assert run.states == [{"position": 8}]
    assert emulator.records("Contacts") == []


def test_record_missing_its_key_property_stops_behind_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A record without its key property cannot be matched or replayed safely: the documented exit 1,
    with every record before it loaded and STATE behind it."""
    messages = lead_input(range(6), state_every=6)
    keyless = lead(6)
    del keyless["id"]
    messages += [record("leads", keyless), record("leads", lead(7)), state({"position": 8})]
    run = _run(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 1
    assert "leads" in run.stderr and "id" in run.stderr
    assert_each_once(emulator, range(6))
    assert run.states == [{"position": 6}]
