"""The end summary's arithmetic and wording (pure logic): what was read but not written, grammar, and the
JSON of `report_path`."""

from __future__ import annotations

import json
from pathlib import Path

from target_zoho_crm.report.summary import RunSummary, RunTotals, plural, were


def test_grammar() -> None:
    assert (plural(1, "record"), plural(2, "record"), plural(1000, "record")) == (
        "1 record",
        "2 records",
        "1,000 records",
    )
    assert (were(1, "record"), were(0, "record")) == ("1 record was", "0 records were")


def test_a_stopped_run_counts_and_explains_the_records_read_but_not_written(tmp_path: Path) -> None:
    summary = RunSummary()
    summary.add("leads", read=1000, inserted=250, updated=40, unchanged=10, rejected=1, merged=9)
    summary.stream("leads").module = "Leads"
    totals = RunTotals(credits_used=40, stream_calls={"leads": 4}, stopped="max_credits=40 reached")
    assert summary.unwritten == 690
    lines = summary.lines(totals)
    assert "The run stopped early: max_credits=40 reached" in lines
    assert any(line.startswith("690 records were read but not written") for line in lines)
    assert any(line.startswith("leads: unchanged 10,") for line in lines)
    path = tmp_path / "report.json"
    summary.write_report(str(path), totals)
    data = json.loads(path.read_text())
    assert (data["status"], data["records_unwritten"], data["streams"][0]["calls"]) == ("stopped", 690, 4)
    assert data["streams"][0]["unwritten"] == 690


def test_a_finished_run_has_nothing_unwritten() -> None:
    summary = RunSummary()
    summary.add("leads", read=3, inserted=2, rejected=1)
    lines = summary.lines(RunTotals(credits_used=1))
    assert summary.unwritten == 0
    assert not any("stopped" in line or "not written" in line for line in lines)
    assert any(line.startswith("3 records read in ") for line in lines)
