"""Runs you can watch and budget (issue 16), through the CLI against the emulator: progress lines while a
slow load runs, an end summary that tells the whole story (and its JSON twin, `report_path`), Zoho's
daily credits running out, and the run's own `max_credits`.

Zoho behaviours relied on (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html,
status-codes.html): credits are a rolling 24-hour budget per org; a spent budget is answered with HTTP
429 TOO_MANY_REQUESTS to every call until credits come back; `X-API-CREDITS-REMAINING` comes with the
answers once half of the day's credits are used; a Bulk Write job costs 500 credits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.target.faults_support import (
    assert_each_once,
    bulk_speed,
    credit_budget,
    email,
    fault_config,
    lead_input,
    rejects_by_id,
    run_messages,
    stored_emails,
    summary_row,
)
from tests.target.singer_io import LEAD_PROPERTIES, lead, record, schema, state

SUMMARY_MARK = "API credits used by this run"


def _states_never_ahead(run: Any, emulator: Any) -> None:
    held = set(stored_emails(emulator))
    for st in run.states:
        for i in range(int(st["position"])):
            assert email(i) in held, f"STATE {st} echoed before record {i} was handled"


def _lines(stderr: str, needle: str) -> list[int]:
    return [n for n, line in enumerate(stderr.splitlines()) if needle in line]


# -- Zoho's daily credits ----------------------------------------------------------------------------


def test_spent_daily_credits_stop_the_run_at_once_with_state_behind_and_one_clear_message(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The 429 of a spent budget is not retried (the default 8 attempts would take minutes and change
    nothing). The calls already in flight (slowed to 300 ms each) are waited for before the summary, so
    the summary's counts are Zoho's; the records read but not written are counted and explained; one
    ERROR line gives the options; no traceback; exit 1; STATE behind; nothing rejected; the report file
    says the same."""
    emulator.set_latency(300)
    report = tmp_path / "report.json"
    config = fault_config(target_config, tmp_path, max_retries=8, max_concurrency=2, report_path=str(report))
    with credit_budget(emulator, 45):
        run = run_messages(config, lead_input(range(1000)), tmp_path)
    written = len(stored_emails(emulator))
    refused = [c for c in emulator.calls if c["status"] == 429]

    assert run.returncode == 1, run.stderr[-3000:]
    assert 0 < written < 1000
    assert len(refused) <= 2, (
        f"a spent budget was retried: {len(refused)} calls refused"
    )  # at most the calls that were in flight
    assert "Traceback" not in run.stderr
    assert len(_lines(run.stderr, SUMMARY_MARK)) == 1, "the summary must be printed once"
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"], row["rejected"]) == (1000, written, 0)
    assert f"{1000 - written} records were read but not written" in run.stderr
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    for option in ("rolling", "api_type: bulk", "500 credits per", "add-on credits", "saved STATE"):
        assert option in errors[0], option
    assert errors[0] == run.stderr.strip().splitlines()[-1], "the advice is the last word"
    _states_never_ahead(run, emulator)
    assert rejects_by_id(tmp_path) == {}
    data = json.loads(report.read_text())
    assert data["status"] == "stopped"
    assert "credits" in data["stopped_because"]
    assert data["records_unwritten"] == 1000 - written
    assert data["streams"][0]["inserted"] == written

    emulator.set_latency(0)
    start = run.states[-1]["position"] if run.states else 0
    rerun = run_messages(config, lead_input(range(start, 1000), start=start), tmp_path, "rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_each_once(emulator, range(1000))


def test_credits_left_are_reported_and_warned_about_as_they_fall(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Past half of the budget Zoho sends `X-API-CREDITS-REMAINING`: the target warns as it falls and
    the summary says what Zoho reports left."""
    config = fault_config(target_config, tmp_path)
    with credit_budget(emulator, 150):  # 1,000 leads cost about 102: the header comes at 75 used
        run = run_messages(config, lead_input(range(1000)), tmp_path)
        left = emulator.state.credits.remaining

    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "Zoho API credits:" in line]
    assert warnings and all("| WARNING" in w for w in warnings)
    assert "left in the rolling 24 hours" in warnings[0]
    assert f"Zoho reports {left:,} left for the rolling 24 hours" in run.stderr


# -- max_credits ----------------------------------------------------------------------------------------


def test_max_credits_is_never_passed_and_the_run_ends_non_zero_saying_so(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The meter knows each call's price before it is sent: with max_credits=35 the run spends at most
    35 credits (the emulator's own meter agrees), stops with exit 1 and says so, STATE behind what was
    written, nothing rejected; a rerun from the STATE loads the rest once."""
    config = fault_config(target_config, tmp_path, max_credits=35, max_concurrency=3)
    run = run_messages(config, lead_input(range(1000)), tmp_path)
    spent = emulator.state.credits.used
    written = len(stored_emails(emulator))

    assert run.returncode == 1, run.stderr[-3000:]
    assert spent <= 35
    assert 0 < written < 1000
    assert "max_credits=35 reached" in run.stderr
    assert "Traceback" not in run.stderr
    assert f"{1000 - written} records were read but not written" in run.stderr
    assert not [c for c in emulator.calls if c["status"] == 429]
    _states_never_ahead(run, emulator)
    assert rejects_by_id(tmp_path) == {}

    start = run.states[-1]["position"] if run.states else 0
    rest = {k: v for k, v in config.items() if k != "max_credits"}
    rerun = run_messages(rest, lead_input(range(start, 1000), start=start), tmp_path, "rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_each_once(emulator, range(1000))


# -- progress and the summary ---------------------------------------------------------------------------


def test_progress_lines_appear_while_a_slow_load_runs(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Each call takes 300 ms, one at a time: the 600-record load takes at least 1.8 s, and a progress
    line comes every 0.2 s, before the summary, with the counts a person watching wants."""
    emulator.set_latency(300)
    config = fault_config(target_config, tmp_path, max_concurrency=1, progress_interval=0.2)
    run = run_messages(config, lead_input(range(600)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    progress = _lines(run.stderr, "Progress leads → Leads:")
    assert len(progress) >= 2, run.stderr[-3000:]
    assert progress[0] < _lines(run.stderr, SUMMARY_MARK)[0]
    line = run.stderr.splitlines()[progress[-1]]
    for part in (
        "read ",
        "written ",
        "inserted ",
        "updated ",
        "unchanged ",
        "rejected ",
        "records/s",
        "credits ",
    ):
        assert part in line, (part, line)
    assert "METRIC" in run.stderr  # singer-sdk's lines stay for Meltano


def test_progress_interval_zero_turns_the_lines_off(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_latency(100)
    config = fault_config(target_config, tmp_path, max_concurrency=1, progress_interval=0)
    run = run_messages(config, lead_input(range(300)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Progress leads" not in run.stderr


def test_bulk_progress_shows_the_running_job_and_the_summary_counts_bulk_calls(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A Bulk Write job is processed by Zoho in its own time: progress lines name it with its status and
    processed counts while it runs. The summary counts the stream's job (it used to show `calls 0`) and
    its 500 credits; the report file has the wall time and the overall rate."""
    report = tmp_path / "report.json"
    config = fault_config(
        target_config,
        tmp_path,
        api_type="bulk",
        progress_interval=0.2,
        bulk_poll_max_interval=0.2,
        report_path=str(report),
    )
    with bulk_speed(emulator, 400):
        run = run_messages(config, lead_input(range(1000)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    jobs = [line for line in run.stderr.splitlines() if "Progress leads" in line and "Bulk job " in line]
    assert jobs, run.stderr[-3000:]
    assert any(re.search(r"Bulk job \S+: (ADDED|IN PROGRESS|QUEUED)", j) for j in jobs)
    assert any(re.search(r"[\d,]+ of 1,000 processed", j) for j in jobs)
    row = summary_row(run.stderr, "leads")
    assert (row["inserted"], row["calls"], row["credits"]) == (1000, 1, 500)
    data = json.loads(report.read_text())
    assert data["status"] == "finished" and data["stopped_because"] is None
    assert data["wall_time_seconds"] > 0 and data["records_per_second"] > 0
    assert data["records_read"] == 1000 and data["records_unwritten"] == 0
    assert data["streams"][0]["calls"] == 1
    assert re.search(r"1,000 records read in [\d.]+ s, [\d,]+ records/s", run.stderr)


def test_one_reject_is_one_record_and_sdc_properties_are_noted_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Grammar ("1 record was rejected"), and singer-sdk's `_sdc_*` metadata properties: expected, so
    no warning per property and stream, one INFO line per run."""
    # Columns of singer-sdk's family that taps send themselves (log-based replication, file taps).
    props = {**LEAD_PROPERTIES, "_sdc_lsn": {"type": ["integer", "null"]}}
    props["_sdc_source_file"] = {"type": ["string", "null"]}
    messages: list[Any] = [schema("leads", props, ["id"]), schema("contacts", props, ["id"])]
    messages += [record("leads", lead(i)) for i in range(3)]
    messages += [record("leads", lead(3, email="not an email")), record("contacts", lead(4))]
    messages.append(state({"position": 5}))
    config = fault_config(target_config, tmp_path, max_rejects=0)
    run = run_messages(config, messages, tmp_path)

    assert run.returncode == 3, run.stderr[-3000:]
    assert "1 record was rejected, more than max_rejects=0" in run.stderr
    assert "1 rejected record is in" in run.stderr
    assert not [line for line in run.stderr.splitlines() if "_sdc_" in line and "WARNING" in line]
    assert len(_lines(run.stderr, "Singer metadata properties (_sdc_*) are not loaded")) == 1
