"""The target as a user runs it: a real process reading a Singer file, writing to the emulator over HTTP.

Zoho behaviours relied on: per-record results in input order with 201/200/207/400
(https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html, status-codes.html); upsert matches
Leads on the system duplicate-check field Email (upsert-records.html, "How does the duplicate check work").
"""

from __future__ import annotations

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
    state,
    write_lines,
)


def _config(target_config: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {**target_config, "rejects_path": str(tmp_path / "rejects.jsonl"), **extra}


def test_loads_records_and_echoes_final_state(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i)) for i in range(250)]
    messages.append(state({"bookmarks": {"leads": {"id": 249}}}))
    run = run_target(
        _config(target_config, tmp_path), write_lines(tmp_path / "in.singer", messages), tmp_path
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states[-1] == {"bookmarks": {"leads": {"id": 249}}}
    stored = emulator.records("Leads")
    assert len(stored) == 250
    by_email = {r["Email"]: r for r in stored}
    assert by_email["lead7@example.com"]["Last_Name"] == "Last7"
    assert by_email["lead7@example.com"]["First_Name"] == "First7"
    assert by_email["lead7@example.com"]["Company"] == "Company 7"
    writes = [c for c in emulator.calls if c["path"].endswith("/Leads/upsert")]
    assert len(writes) == 3 and max(c["records"] for c in writes) <= 100
    assert "leads" in run.stderr and "250" in run.stderr  # the summary


def test_second_run_updates_instead_of_duplicating(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    first = [schema("leads", LEAD_PROPERTIES, ["id"]), *[record("leads", lead(i)) for i in range(30)]]
    run_target(_config(target_config, tmp_path), write_lines(tmp_path / "a.singer", first), tmp_path)
    second = [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        *[record("leads", lead(i, company="Renamed")) for i in range(30)],
    ]
    run = run_target(_config(target_config, tmp_path), write_lines(tmp_path / "b.singer", second), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    stored = emulator.records("Leads")
    assert len(stored) == 30
    assert {r["Company"] for r in stored} == {"Renamed"}


def test_bad_records_are_rejected_one_by_one(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    for i in range(20):
        if i == 3:
            messages.append(record("leads", lead(i, last_name=None)))  # Last_Name is mandatory
        elif i == 5:
            messages.append(record("leads", lead(i, email="not-an-email")))
        elif i == 8:
            messages.append(record("leads", lead(i, company="x" * 300)))  # Company is 200 long at most
        else:
            messages.append(record("leads", lead(i)))
    messages.append(state({"done": True}))
    cfg = _config(target_config, tmp_path)
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states[-1] == {"done": True}
    assert len(emulator.records("Leads")) == 17
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    by_id = {r["record"]["id"]: r for r in rejects}
    assert set(by_id) == {3, 5, 8}
    assert by_id[3]["code"] == "MANDATORY_NOT_FOUND" and by_id[3]["field"] == "Last_Name"
    assert by_id[5]["code"] == "INVALID_DATA" and by_id[5]["field"] == "Email"
    assert by_id[8]["code"] == "INVALID_DATA" and by_id[8]["field"] == "Company"
    assert all(r["stream"] == "leads" and r["module"] == "Leads" and r["message"] for r in rejects)


def test_state_never_runs_ahead_of_a_failed_write(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    contact_props = {"id": {"type": "integer"}, "last_name": {"type": "string"}, "email": {"type": "string"}}
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i)) for i in range(50)]
    messages.append(state({"position": 1}))
    messages.append(schema("contacts", contact_props, ["id"]))
    messages += [
        record("contacts", {"id": i, "last_name": f"C{i}", "email": f"c{i}@x.com"}) for i in range(50)
    ]
    messages.append(state({"position": 2}))
    emulator.set_faults({"script": [{"status": 500}] * 50, "match": {"path_contains": "/Contacts"}})
    cfg = _config(target_config, tmp_path, max_retries=2)
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 1
    assert {"position": 2} not in run.states
    assert len(emulator.records("Leads")) == 50
    assert emulator.records("Contacts") == []


def test_malformed_line_is_rejected_and_the_rest_is_loaded(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"]), record("leads", lead(1))]
    messages.append('{"type": "RECORD", "stream": "leads", "record": {"id": 2,')  # cut-off line
    messages += [record("leads", lead(3)), state({"s": 3})]
    run = run_target(
        _config(target_config, tmp_path), write_lines(tmp_path / "in.singer", messages), tmp_path
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["Email"] for r in emulator.records("Leads")) == ["lead1@example.com", "lead3@example.com"]
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert len(rejects) == 1 and rejects[0]["code"] == "INVALID_INPUT_LINE"
    assert rejects[0]["details"]["line_number"] == 3
    assert "line 3" in run.stderr


def test_unknown_stream_stops_at_its_schema_and_names_candidates(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        record("leads", lead(1)),
        state({"s": 1}),
    ]
    messages += [schema("contactz", {"id": {"type": "integer"}}), record("contactz", {"id": 1})]
    run = run_target(
        _config(target_config, tmp_path), write_lines(tmp_path / "in.singer", messages), tmp_path
    )

    assert run.returncode == 1
    assert "contactz" in run.stderr and "Contacts" in run.stderr
    assert len(emulator.records("Leads")) == 1  # what came before the bad stream was finished
    assert run.states == [{"s": 1}]


def test_dry_run_writes_nothing_but_reports(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i)) for i in range(10)]
    messages.append(record("leads", lead(10, last_name=None)))
    run = run_target(
        _config(target_config, tmp_path, dry_run=True),
        write_lines(tmp_path / "in.singer", messages),
        tmp_path,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert emulator.records("Leads") == []
    assert not [c for c in emulator.calls if c["method"] in ("POST", "PUT") and "/Leads" in c["path"]]
    assert [r["record"]["id"] for r in read_rejects(tmp_path / "rejects.jsonl")] == [10]
    assert "would write" in run.stderr


def test_max_rejects_exceeded_exits_3(emulator: Any, target_config: dict[str, Any], tmp_path: Path) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i, last_name=None)) for i in range(3)]
    messages.append(record("leads", lead(9)))
    run = run_target(
        _config(target_config, tmp_path, max_rejects=2),
        write_lines(tmp_path / "in.singer", messages),
        tmp_path,
    )

    assert run.returncode == 3
    assert len(emulator.records("Leads")) == 1
    assert len(read_rejects(tmp_path / "rejects.jsonl")) == 3


def test_parents_before_children_in_one_run(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A Contact names its Account (a unique field of the related module, resolved with COQL): the
    Account loaded earlier in the same run is found, an unknown one is rejected, nothing is guessed."""
    account_props = {"name": {"type": "string"}, "phone": {"type": ["string", "null"]}}
    contact_props = {
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "account_name": {"type": ["string", "null"]},
    }
    messages: list[Any] = [schema("accounts", account_props, ["name"])]
    messages += [record("accounts", {"name": f"Acme {i}", "phone": "+1 555 0100"}) for i in range(3)]
    messages.append(schema("contacts", contact_props, ["email"]))
    messages += [
        record(
            "contacts", {"last_name": f"C{i}", "email": f"c{i}@acme.test", "account_name": f"Acme {i % 3}"}
        )
        for i in range(6)
    ]
    messages.append(
        record("contacts", {"last_name": "Lost", "email": "lost@x.test", "account_name": "Nobody Inc"})
    )
    messages.append(state({"done": True}))
    cfg = _config(target_config, tmp_path, streams={"accounts": {"field_map": {"name": "Account_Name"}}})
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    accounts = {r["Account_Name"]: r["id"] for r in emulator.records("Accounts")}
    contacts = {r["Email"]: r for r in emulator.records("Contacts")}
    assert len(contacts) == 6
    assert contacts["c4@acme.test"]["Account_Name"]["id"] == accounts["Acme 1"]
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["email"], r["code"], r["field"]) for r in rejects] == [
        ("lost@x.test", "INVALID_DATA", "Account_Name")
    ]
    assert run.states[-1] == {"done": True}


def test_line_items_go_through_rest_even_when_bulk_is_asked(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Bulk Write takes one CSV per module; line items would need parent/child files. Such a stream is
    loaded through REST (with a warning), never rejected because of the API choice."""
    product = emulator.add_record("Products", {"Product_Name": "Widget", "Product_Code": "W-1"})
    props = {
        "subject": {"type": "string"},
        "quoted_items": {"type": "array", "items": {"type": "object"}},
    }
    messages: list[Any] = [schema("quotes", props, ["subject"])]
    messages += [
        record("quotes", {"subject": f"Q{i}", "quoted_items": [{"Product_Name": product, "Quantity": i + 1}]})
        for i in range(3)
    ]
    run = run_target(
        _config(target_config, tmp_path, api_type="bulk"),
        write_lines(tmp_path / "in.singer", messages),
        tmp_path,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert "loaded through REST" in run.stderr
    quotes = {q["Subject"]: q for q in emulator.records("Quotes")}
    assert set(quotes) == {"Q0", "Q1", "Q2"}
    assert quotes["Q2"]["Quoted_Items"][0]["Quantity"] == 3
    assert read_rejects(tmp_path / "rejects.jsonl") == []


def test_dates_and_datetimes_land_in_zohos_formats(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Zoho takes `date` as yyyy-MM-dd and `datetime` as ISO 8601 with an offset, to the second
    (https://www.zoho.com/crm/developer/docs/api/v4/field-meta.html, insert-records.html). A naive
    time is read in the configured `timezone`; a value that is no date is rejected with Zoho's error."""
    props = {
        "name": {"type": "string"},
        "purchased": {"type": ["string", "null"], "format": "date"},
        "serviced": {"type": ["string", "null"], "format": "date-time"},
    }
    rows = [
        ("naive", "2026-03-01", "2026-03-01T10:00:00"),
        ("utc", "2026-03-01T23:30:00Z", "2026-03-01T10:00:00Z"),
        ("fraction", "2026-03-02", "2026-03-01T10:00:00.654321-05:00"),
        ("date only", "2026-03-03", "2026-03-04"),
        ("bad", "2026-03-03", "next tuesday"),
    ]
    messages: list[Any] = [schema("vehicles", props, ["name"])]
    messages += [
        record("vehicles", {"name": name, "purchased": day, "serviced": at}) for name, day, at in rows
    ]
    cfg = _config(
        target_config,
        tmp_path,
        timezone="Asia/Kolkata",
        streams={"vehicles": {"field_map": {"purchased": "Purchase_Date", "serviced": "Last_Serviced_At"}}},
    )
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    stored = {r["Name"]: r for r in emulator.records("Vehicles")}
    assert {n: (r["Purchase_Date"], r["Last_Serviced_At"]) for n, r in stored.items()} == {
        "naive": ("2026-03-01", "2026-03-01T10:00:00+05:30"),
        "utc": ("2026-03-01", "2026-03-01T10:00:00+00:00"),
        "fraction": ("2026-03-02", "2026-03-01T10:00:00-05:00"),
        "date only": ("2026-03-03", "2026-03-04T00:00:00+05:30"),
    }
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["name"], r["code"], r["field"]) for r in rejects] == [
        ("bad", "INVALID_DATA", "Last_Serviced_At")
    ]


def test_a_record_with_several_errors_is_one_row_of_the_same_shape_wherever_they_are_found(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The rejects file has one shape: the first error in `code`/`message`/`field`/`details`, the others
    in `more_errors`, whether the local checks found them (conversion) or the lookups did (two lookups
    matching nothing), so one reader handles every row and every offending field is named."""
    emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    properties = {
        "id": {"type": "integer"},
        "last_name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "account_name": {"type": ["string", "null"]},
        "vendor_name": {"type": ["string", "null"]},
    }
    good = {"id": 1, "last_name": "Ok", "email": "ok@zylker.com", "account_name": "Zylker"}
    lookups_fail = {"id": 2, "last_name": "Ada", "account_name": "Nobody Inc", "vendor_name": "No Vendor"}
    checks_fail = {"id": 3, "email": "not-an-email"}  # and no Last_Name, mandatory on insert
    messages: list[Any] = [schema("contacts", properties, ["id"])]
    messages += [record("contacts", r) for r in (good, lookups_fail, checks_fail)]
    messages.append(state({"done": True}))
    rejects = tmp_path / "rejects.jsonl"
    run = run_target(
        _config(target_config, tmp_path, operation="insert"),
        write_lines(tmp_path / "in.singer", messages),
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert [r["Last_Name"] for r in emulator.records("Contacts")] == ["Ok"]
    rows = {r["record"]["id"]: r for r in read_rejects(rejects)}
    assert sorted(rows) == [2, 3]
    for row in rows.values():
        assert set(row) >= {"code", "message", "field", "details", "record", "more_errors"}
        assert row["code"] != "MULTIPLE_OR_MULTI_ERRORS"
        assert all(set(e) == {"code", "message", "details"} for e in row["more_errors"])

    def fields(row: dict[str, Any]) -> list[tuple[str, str]]:
        more = [(e["code"], e["details"]["api_name"]) for e in row["more_errors"]]
        return [(row["code"], row["field"]), *more]

    assert fields(rows[2]) == [("INVALID_DATA", "Account_Name"), ("INVALID_DATA", "Vendor_Name")]
    assert fields(rows[3]) == [("INVALID_DATA", "Email"), ("MANDATORY_NOT_FOUND", "Last_Name")]


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_children_before_parents_in_one_run_are_all_linked(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, api_type: str
) -> None:
    """Parents first, whatever the input order: 2,500 Contacts arrive (in batches of 500) before the
    500 Accounts they name, 500 more after them. They wait for the Accounts (STATE waits with them)
    and are all linked, retried with the stream's next batch or at the end of the input; a Contact
    naming an Account that no stream loads is still rejected."""
    account_props = {"name": {"type": "string"}}
    contact_props = {
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "account_name": {"type": ["string", "null"]},
    }

    def contact(i: int) -> dict[str, Any]:
        return record(
            "contacts", {"last_name": f"C{i}", "email": f"c{i}@acme.test", "account_name": f"Acme {i % 500}"}
        )

    messages: list[Any] = [schema("contacts", contact_props, ["email"])]
    for i in range(2_500):
        messages.append(contact(i))
        if i == 1_200:
            messages.append(state({"at": "contacts"}))
    messages.append(
        record("contacts", {"last_name": "Lost", "email": "lost@x.test", "account_name": "Nobody Inc"})
    )
    messages.append(schema("accounts", account_props, ["name"]))
    messages += [record("accounts", {"name": f"Acme {i}"}) for i in range(500)]
    messages += [contact(i) for i in range(2_500, 3_000)]
    messages.append(state({"done": True}))
    cfg = _config(
        target_config,
        tmp_path,
        batch_size_rows=500,
        api_type=api_type,
        bulk_poll_max_interval=0.3,
        streams={"accounts": {"field_map": {"name": "Account_Name"}}},
    )
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    accounts = {r["Account_Name"]: r["id"] for r in emulator.records("Accounts")}
    contacts = {r["Email"]: r for r in emulator.records("Contacts")}
    assert len(accounts) == 500
    assert len(contacts) == 3_000
    assert all(
        c["Account_Name"]["id"] == accounts[f"Acme {int(email[1:].split('@')[0]) % 500}"]
        for email, c in contacts.items()
    )
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["email"], r["code"], r["field"]) for r in rejects] == [
        ("lost@x.test", "INVALID_DATA", "Account_Name")
    ]
    # The STATE after the first 1,200 Contacts could not pass them while they waited for their Accounts:
    # it is echoed only with (or replaced by) the final one.
    assert run.states == [{"done": True}] or run.states == [{"at": "contacts"}, {"done": True}]
    assert run.states[-1] == {"done": True}


def test_a_jsonb_column_lands_as_json_text(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """tap-postgres sends a `jsonb` column as an object or array: into a textarea it is JSON text."""
    props = {**LEAD_PROPERTIES, "attributes": {"type": ["object", "array", "null"]}}
    messages: list[Any] = [schema("leads", props, ["id"])]
    messages.append(record("leads", lead(1, attributes={"tier": "gold", "tags": ["a", "b"], "score": 9.5})))
    messages.append(record("leads", lead(2, attributes=[1, 2, 3])))
    messages.append(record("leads", lead(3, attributes={"blob": "x" * 40_000})))  # longer than the field
    cfg = _config(target_config, tmp_path, streams={"leads": {"field_map": {"attributes": "Description"}}})
    run = run_target(cfg, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    stored = {r["Email"]: r.get("Description") for r in emulator.records("Leads")}
    assert stored == {
        "lead1@example.com": '{"tier":"gold","tags":["a","b"],"score":9.5}',
        "lead2@example.com": "[1,2,3]",
    }
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["id"], r["field"], r["details"].get("maximum_length")) for r in rejects] == [
        (3, "Description", 32000)
    ]
