"""Regressions found by review: each scenario once lost a record (neither in Zoho nor in the rejects
file) while STATE moved on and the run exited 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.target.faults_support import LEADS_WRITE, fault_config, lead_input, run_messages
from tests.target.singer_io import (
    LEAD_PROPERTIES,
    lead,
    read_rejects,
    record,
    schema,
    state,
)


def test_lost_answer_on_an_upsert_of_existing_records_still_applies_the_update(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A 500 on an upsert may or may not have been applied: keyed records are resent (idempotent),
    not assumed written because their key exists (it existed before the run)."""
    cfg = fault_config(target_config, tmp_path)
    assert run_messages(cfg, lead_input(range(5)), tmp_path, "first").returncode == 0
    emulator.set_faults({"script": [{"status": 500}], "match": LEADS_WRITE})
    second = run_messages(
        cfg, lead_input(range(5), make=lambda i: lead(i, company="NEWCO")), tmp_path, "second"
    )

    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(str(r.get("Company")) for r in emulator.records("Leads")) == ["NEWCO"] * 5
    assert read_rejects(tmp_path / "rejects.jsonl") == []


def test_a_rejected_newer_record_does_not_swallow_the_valid_older_one(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """De-duplication keeps the last *valid* record per key: the invalid newer one is rejected, the
    valid older one is written."""
    messages = [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        record("leads", lead(7)),
        record("leads", lead(7, company="X" * 300)),
        state({"position": 2}),
    ]
    run = run_messages(fault_config(target_config, tmp_path), messages, tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["Company"] for r in emulator.records("Leads")] == [lead(7)["company"]]
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["code"], r["field"]) for r in rejects] == [("INVALID_DATA", "Company")]


def test_partial_update_of_a_key_written_earlier_in_the_run_is_not_rejected(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Key matching cached "no such key" before batch 1 inserted it; batch 2's partial record (no
    Last_Name) updates that record, so it must not be rejected as MANDATORY_NOT_FOUND."""
    cfg = fault_config(target_config, tmp_path, batch_size_rows=1)
    assert (
        run_messages(cfg, lead_input(range(1)), tmp_path, "first").returncode == 0
    )  # the module is not empty
    partial = lead(100, company="NEWCO")
    del partial["last_name"]
    messages = [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        record("leads", lead(100)),
        record("leads", partial),
        state({"position": 2}),
    ]
    second = run_messages(cfg, messages, tmp_path, "second")

    assert second.returncode == 0, second.stderr[-2000:]
    assert read_rejects(tmp_path / "rejects.jsonl") == []
    by_email = {r["Email"]: r for r in emulator.records("Leads")}
    assert by_email[lead(100)["email"]]["Company"] == "NEWCO"
    assert by_email[lead(100)["email"]]["Last_Name"] == lead(100)["last_name"]
