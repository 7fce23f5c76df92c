"""Change-aware loading through the CLI against the emulator (issue 15): what Zoho holds is read once
per batch (COQL), records equal to it are not sent (`skip_unchanged`), `hard_delete` deletes by key, and
a dry run writes its plan.

Zoho behaviours relied on: every update call moves Modified_Time, even with identical values (so not
sending is the only way to keep it); COQL answers empty fields as null, currency as numbers, multi-select
picklists as arrays (Get-Records-through-COQL-Query.html); DELETE /{module}?ids= takes ≤ 100 ids and moves
the records to the recycle bin (delete-records.html).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.target.singer_io import (
    LEAD_PROPERTIES,
    lead,
    read_rejects,
    record,
    run_target,
    schema,
    write_lines,
)

WRITE_METHODS = ("POST", "PUT", "DELETE")


def _config(target_config: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {**target_config, "rejects_path": str(tmp_path / "rejects.jsonl"), **extra}


def _writes(emulator: Any, module: str, since: int = 0) -> list[dict[str, Any]]:
    return [
        c
        for c in emulator.calls[since:]
        if c["method"] in WRITE_METHODS and f"/{module}" in c["path"] and "/coql" not in c["path"]
    ]


def _run(target_config: dict[str, Any], tmp_path: Path, name: str, messages: list[Any], **extra: Any) -> Any:
    run = run_target(
        _config(target_config, tmp_path, **extra), write_lines(tmp_path / name, messages), tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("existing_read", ["in", "scan", "auto"])
def test_identical_second_run_writes_nothing_and_keeps_modified_time(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, existing_read: str
) -> None:
    messages = [schema("leads", LEAD_PROPERTIES, ["id"]), *[record("leads", lead(i)) for i in range(120)]]
    _run(target_config, tmp_path, "a.singer", messages, existing_read=existing_read)
    before = {r["id"]: r["Modified_Time"] for r in emulator.records("Leads")}
    assert len(before) == 120
    mark = len(emulator.calls)

    run = _run(target_config, tmp_path, "b.singer", messages, existing_read=existing_read)

    assert _writes(emulator, "Leads", mark) == []
    assert {r["id"]: r["Modified_Time"] for r in emulator.records("Leads")} == before
    assert "unchanged 120" in run.stderr


def test_changed_new_and_deleted_rows_write_exactly_those(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    props = {**LEAD_PROPERTIES, "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"}}
    first = [schema("leads", props, ["id"]), *[record("leads", lead(i)) for i in range(10)]]
    _run(target_config, tmp_path, "a.singer", first, hard_delete=True)
    before = {r["Email"]: r for r in emulator.records("Leads")}
    mark = len(emulator.calls)

    second = [schema("leads", props, ["id"])]
    second += [record("leads", lead(i)) for i in range(10) if i not in (2, 5, 7)]
    second.append(record("leads", lead(2, company="Changed Inc")))  # changed
    second.append(record("leads", {**lead(5), "_sdc_deleted_at": "2024-05-01T00:00:00Z"}))  # deleted
    second.append(record("leads", {**lead(77), "_sdc_deleted_at": "2024-05-01T00:00:00Z"}))  # no such key
    second.append(record("leads", lead(7)))
    second.append(record("leads", lead(11)))  # new
    run = _run(target_config, tmp_path, "b.singer", second, hard_delete=True)

    writes = _writes(emulator, "Leads", mark)
    upserts = [c for c in writes if c["path"].endswith("/Leads/upsert")]
    deletes = [c for c in writes if c["method"] == "DELETE"]
    assert sum(c["records"] for c in upserts) == 2 and len(deletes) == 1 and deletes[0]["records"] == 1
    after = {r["Email"]: r for r in emulator.records("Leads")}
    assert set(after) == (set(before) - {"lead5@example.com"}) | {"lead11@example.com"}
    assert after["lead2@example.com"]["Company"] == "Changed Inc"
    for email in set(before) - {"lead2@example.com", "lead5@example.com"}:
        assert after[email]["Modified_Time"] == before[email]["Modified_Time"]
    assert "unchanged 8, deleted 1, delete keys not found 1" in run.stderr
    assert read_rejects(tmp_path / "rejects.jsonl") == []


def test_without_hard_delete_the_deleted_at_column_is_an_ordinary_property(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    props = {**LEAD_PROPERTIES, "_sdc_deleted_at": {"type": ["string", "null"]}}
    first = [schema("leads", props, ["id"]), record("leads", lead(1))]
    _run(target_config, tmp_path, "a.singer", first)
    second = [
        schema("leads", props, ["id"]),
        record("leads", {**lead(1), "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
    ]
    _run(
        target_config,
        tmp_path,
        "b.singer",
        second,
        streams={"leads": {"field_map": {"_sdc_deleted_at": "Description"}}},
    )
    [stored] = emulator.records("Leads")
    assert stored["Description"] == "2024-05-01T00:00:00Z"


VEHICLE_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string"},
    "vin": {"type": ["string", "null"]},
    "features": {"type": ["array", "null"], "items": {"type": "string"}},
    "purchase_date": {"type": ["string", "null"], "format": "date"},
    "last_serviced_at": {"type": ["string", "null"], "format": "date-time"},
    "mileage": {"type": ["number", "null"]},
    "year": {"type": ["integer", "null"]},
    "currency": {"type": ["string", "null"]},
    "email": {"type": ["string", "null"]},
}
VEHICLE: dict[str, Any] = {
    "name": "Van 1",
    "vin": "VIN0001",
    "features": ["Bluetooth", "Sunroof"],
    "purchase_date": "2023-02-03",
    "last_serviced_at": "2024-01-01T10:00:00+01:00",
    "mileage": 1.5,
    "year": 2020,
    "currency": "EUR",
    "email": "fleet@example.com",
}
# The same values in another spelling Zoho stores identically: no write.
SAME_NORMALISED: dict[str, Any] = {
    "features": ["Sunroof", "Bluetooth"],
    "last_serviced_at": "2024-01-01T09:00:00Z",
    "mileage": "1.50",
    "purchase_date": "2023-02-03",
}
# One real change per field type: each is written.
REAL_CHANGES: dict[str, Any] = {
    "vin": "VIN0002",
    "features": ["Bluetooth"],
    "purchase_date": "2023-02-04",
    "last_serviced_at": "2024-01-01T09:00:01Z",
    "mileage": 1.6,
    "year": 2021,
    "currency": "USD",
    "email": "Fleet@example.com",
}


def _vehicle_run(target_config: dict[str, Any], tmp_path: Path, name: str, rows: list[dict[str, Any]]) -> Any:
    props = dict(VEHICLE_PROPERTIES)
    if any(isinstance(r.get("mileage"), str) for r in rows):
        props["mileage"] = {"type": ["string", "number", "null"]}
    messages = [schema("vehicles", props, ["name"]), *[record("vehicles", r) for r in rows]]
    return _run(target_config, tmp_path, name, messages, timezone="Europe/Paris")


@pytest.mark.parametrize("version", ["v2.1", "v4", "v7", "v8"])
def test_each_field_type_compares_as_zoho_stores_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, version: str
) -> None:
    target_config = {**target_config, "api_version": version}
    _vehicle_run(target_config, tmp_path, "a.singer", [VEHICLE])
    [before] = emulator.records("Vehicles")

    mark = len(emulator.calls)
    _vehicle_run(target_config, tmp_path, "b.singer", [{**VEHICLE, **SAME_NORMALISED}])
    assert _writes(emulator, "Vehicles", mark) == []
    stored = {r["Name"]: r for r in emulator.records("Vehicles")}
    assert stored["Van 1"]["Modified_Time"] == before["Modified_Time"]

    rows = [{**VEHICLE, "name": f"Van {i + 2}", "vin": f"VIN1{i:03d}"} for i in range(len(REAL_CHANGES))]
    _vehicle_run(target_config, tmp_path, "c.singer", rows)
    mark = len(emulator.calls)
    changed = [{**row, field: value} for row, (field, value) in zip(rows, REAL_CHANGES.items(), strict=True)]
    _vehicle_run(target_config, tmp_path, "d.singer", [*changed, {**VEHICLE, **SAME_NORMALISED}])
    writes = _writes(emulator, "Vehicles", mark)
    assert sum(c["records"] for c in writes) == len(REAL_CHANGES)
    stored = {r["Name"]: r for r in emulator.records("Vehicles")}
    assert stored["Van 1"]["Modified_Time"] == before["Modified_Time"]


def test_dry_run_plan_says_what_a_run_would_do_and_writes_nothing(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    props = {**LEAD_PROPERTIES, "_sdc_deleted_at": {"type": ["string", "null"]}}
    _run(
        target_config,
        tmp_path,
        "a.singer",
        [schema("leads", props, ["id"]), *[record("leads", lead(i)) for i in range(4)]],
    )
    before = {r["Email"]: r for r in emulator.records("Leads")}
    mark = len(emulator.calls)
    credits_before = emulator.credits_used
    second = [
        schema("leads", props, ["id"]),
        record("leads", lead(0)),  # unchanged
        record("leads", lead(1, company="Changed Inc")),  # update
        record("leads", {**lead(2), "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),  # delete
        record("leads", lead(3, email="not-an-email")),  # reject (a new key, and invalid)
        record("leads", lead(9)),  # insert
    ]
    plan_path = tmp_path / "plan.jsonl"
    run = _run(
        target_config, tmp_path, "b.singer", second, dry_run=True, plan_path=str(plan_path), hard_delete=True
    )

    assert _writes(emulator, "Leads", mark) == []
    assert {r["Email"]: r for r in emulator.records("Leads")} == before
    rows = [json.loads(line) for line in plan_path.read_text().splitlines()]
    by_key = {r["key"]: r for r in rows if r["action"] != "reject"}
    assert {r["action"] for r in rows} == {"unchanged", "update", "delete", "reject", "insert"}
    assert len(rows) == 5
    assert by_key["lead0@example.com"]["action"] == "unchanged"
    assert by_key["lead1@example.com"] == {
        "stream": "leads",
        "module": "Leads",
        "key": "lead1@example.com",
        "action": "update",
        "changes": [{"field": "Company", "old": "Company 1", "new": "Changed Inc"}],
    }
    assert by_key["lead2@example.com"]["action"] == "delete"
    assert by_key["lead9@example.com"]["action"] == "insert"
    [rejected] = [r for r in rows if r["action"] == "reject"]
    assert rejected["key"] == "not-an-email" and "INVALID_DATA" in rejected["reason"]
    spent = emulator.credits_used - credits_before
    assert f"API credits used by this run (Zoho's published costs): {spent}" in run.stderr
    # the record count (1), a one-page scan of the 4-record module (LIMIT 200: 1) and, to show the update's
    # old values that the scan's digest only flagged as changed, one `in` read (1)
    assert (
        "unchanged 1, would delete 1, delete keys not found 0, credits spent reading what Zoho holds 3"
        in run.stderr
    )
    assert "secret" not in plan_path.read_text().lower()


def test_lookups_compare_by_id_and_a_relinked_record_is_written(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A lookup given by the parent's name is resolved to `{"id"}` first and compared by id with COQL's
    `{"id"}` answer: the same parent is no change, another parent is."""
    account_props = {"name": {"type": "string"}}
    contact_props = {
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "account_name": {"type": ["string", "null"]},
    }

    def messages(link: dict[int, str]) -> list[Any]:
        out: list[Any] = [schema("accounts", account_props, ["name"])]
        out += [record("accounts", {"name": f"Acme {i}"}) for i in range(2)]
        out.append(schema("contacts", contact_props, ["email"]))
        out += [
            record("contacts", {"last_name": f"C{i}", "email": f"c{i}@acme.test", "account_name": link[i]})
            for i in range(4)
        ]
        return out

    streams = {"accounts": {"field_map": {"name": "Account_Name"}}}
    first = {i: f"Acme {i % 2}" for i in range(4)}
    _run(target_config, tmp_path, "a.singer", messages(first), streams=streams)
    mark = len(emulator.calls)
    _run(target_config, tmp_path, "b.singer", messages(first), streams=streams)
    assert _writes(emulator, "Accounts", mark) == [] and _writes(emulator, "Contacts", mark) == []

    relinked = {**first, 3: "Acme 0"}
    mark = len(emulator.calls)
    _run(target_config, tmp_path, "c.singer", messages(relinked), streams=streams)
    assert sum(c["records"] for c in _writes(emulator, "Contacts", mark)) == 1
    accounts = {r["Account_Name"]: r["id"] for r in emulator.records("Accounts")}
    contacts = {r["Email"]: r for r in emulator.records("Contacts")}
    assert contacts["c3@acme.test"]["Account_Name"]["id"] == accounts["Acme 0"]


def test_a_bulk_reload_of_unchanged_records_creates_no_job(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = [schema("leads", LEAD_PROPERTIES, ["id"]), *[record("leads", lead(i)) for i in range(40)]]
    _run(target_config, tmp_path, "a.singer", messages, api_type="bulk")
    assert len(emulator.records("Leads")) == 40
    mark = len(emulator.calls)
    changed = [*messages[:-1], record("leads", lead(39, company="Changed Inc"))]
    _run(target_config, tmp_path, "b.singer", changed, api_type="bulk")

    jobs = [c for c in emulator.calls[mark:] if "/bulk/" in c["path"] and c["method"] == "POST"]
    assert len(jobs) == 1  # the one changed record, in a job since api_type is bulk
    by_email = {r["Email"]: r for r in emulator.records("Leads")}
    assert by_email["lead39@example.com"]["Company"] == "Changed Inc"
    mark = len(emulator.calls)
    _run(target_config, tmp_path, "c.singer", changed, api_type="bulk")
    assert not [c for c in emulator.calls[mark:] if "/bulk/" in c["path"] and c["method"] == "POST"]


def test_deletes_go_in_calls_of_at_most_100_ids(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    props = {**LEAD_PROPERTIES, "_sdc_deleted_at": {"type": ["string", "null"]}}
    _run(
        target_config,
        tmp_path,
        "a.singer",
        [schema("leads", props, ["id"]), *[record("leads", lead(i)) for i in range(150)]],
    )
    mark = len(emulator.calls)
    gone = [record("leads", {**lead(i), "_sdc_deleted_at": "2024-05-01T00:00:00Z"}) for i in range(150)]
    run = _run(
        target_config,
        tmp_path,
        "b.singer",
        [schema("leads", props, ["id"]), *gone],
        hard_delete=True,
        trigger=[],
    )

    deletes = [c for c in emulator.calls[mark:] if c["method"] == "DELETE"]
    assert sorted(c["records"] for c in deletes) == [50, 100]
    assert emulator.records("Leads") == []
    assert "deleted 150, delete keys not found 0" in run.stderr
