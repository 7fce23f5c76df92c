"""Faults on the REST and Bulk paths: after each, Zoho holds every accepted record exactly once, the
rejects file holds the rest with a reason, STATE never ran ahead, and the exit code tells the truth.

Zoho behaviours relied on:
- 429 for too many concurrent calls and for spent credits, 500/503 answers, and that a 5xx/timeout on a
  write leaves its effect unknown: https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html,
  https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html;
- per-record results with 207 when some records of a call fail:
  https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html;
- upsert matches Leads on Email, so a resent upsert updates instead of duplicating:
  https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html;
- access tokens expire after an hour and are refreshed at the accounts server:
  https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html;
- Bulk Write jobs go ADDED → `IN PROGRESS` (with a space) → COMPLETED or FAILED:
  https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/job-details.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.target.faults_support import (
    LEADS_WRITE,
    assert_each_once,
    bulk_speed,
    credit_budget,
    email,
    expiring_tokens,
    fault_config,
    faulted_calls,
    lead_input,
    rejects_by_id,
    run_messages,
    stored_emails,
    summary_row,
    token_calls,
    tokens_expired_after_calls,
    wait_quiet,
)
from tests.target.singer_io import lead, record, schema, state


def _states_never_ahead(run: Any, emulator: Any) -> None:
    """Every echoed position p: the first p records of the input are in Zoho or in the rejects file."""
    held = set(stored_emails(emulator))
    for st in run.states:
        for i in range(int(st["position"])):
            assert email(i) in held, f"STATE {st} echoed before record {i} was handled"


# -- REST ------------------------------------------------------------------------------------------------


def test_rest_429_burst_is_retried_and_nothing_is_lost(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """429 (too many concurrent calls) means the call was not processed: it is simply retried."""
    emulator.set_faults({"script": [{"status": 429}] * 3, "match": LEADS_WRITE})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(300)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, range(300))
    assert rejects_by_id(tmp_path) == {}
    assert len(faulted_calls(emulator)) == 3
    assert run.states[-1] == {"position": 300}
    assert summary_row(run.stderr, "leads") | {"calls": 0, "credits": 0} == {
        "read": 300,
        "inserted": 300,
        "updated": 0,
        "rejected": 0,
        "calls": 0,
        "credits": 0,
    }


def test_rest_spent_credits_stop_the_run_behind_what_was_written(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Once the daily credits are spent Zoho answers 429 to every call for hours: no record can get in,
    so the run must stop (exit 1) with STATE behind the unwritten records, not reject them all and
    report success. A rerun from the last STATE, once credits are back, completes the load once."""
    config = fault_config(target_config, tmp_path, max_retries=2, max_concurrency=2)
    with credit_budget(emulator, 40):
        run = run_messages(config, lead_input(range(1000)), tmp_path)
    written = stored_emails(emulator)

    assert run.returncode == 1, run.stderr[-3000:]
    assert 0 < len(written) < 1000
    assert "429" in run.stderr or "TOO_MANY_REQUESTS" in run.stderr or "credit" in run.stderr.lower()
    _states_never_ahead(run, emulator)
    assert rejects_by_id(tmp_path) == {}, "records were rejected for a run-level failure"

    start = run.states[-1]["position"] if run.states else 0
    rerun = run_messages(config, lead_input(range(start, 1000), start=start), tmp_path, "rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_each_once(emulator, range(1000))


def test_rest_500_burst_on_writes_is_reconciled_not_duplicated(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A 500 on a write may come after Zoho stored the records: half of these did (after_write). The
    target re-reads by key before resending, so no record is written twice and none is lost."""
    # Three faults, not four: on a busy machine the reader is slow, STATEs flush small batches and one
    # chunk may be alone in flight and meet every fault in turn; four in a row on one chunk would be
    # Zoho failing for good (MAX_RESENDS), which is another test's case.
    script = [
        {"status": 500},
        {"status": 500, "after_write": True},
        {"status": 502, "after_write": True},
    ]
    emulator.set_faults({"script": script, "match": LEADS_WRITE})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(600)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, range(600))
    assert rejects_by_id(tmp_path) == {}
    assert len(faulted_calls(emulator)) == 3
    assert run.states[-1] == {"position": 600}
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"] + row["updated"], row["rejected"]) == (600, 600, 0)
    # The lost-answer warning names the call once (it said `POST POST /Leads/upsert`).
    assert "was lost (POST /Leads/upsert: no reliable answer" in run.stderr and "POST POST" not in run.stderr


def test_rest_503_burst_is_retried(emulator: Any, target_config: dict[str, Any], tmp_path: Path) -> None:
    emulator.set_faults({"script": [{"status": 503}] * 4, "match": LEADS_WRITE})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(300)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, range(300))
    assert rejects_by_id(tmp_path) == {}
    assert run.states[-1] == {"position": 300}


def test_rest_dropped_connections_before_and_after_the_write(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    script = [{"drop": True}, {"drop": True, "after_write": True}, {"drop": True, "after_write": True}]
    emulator.set_faults({"script": script, "match": LEADS_WRITE})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(500)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, range(500))
    assert rejects_by_id(tmp_path) == {}
    assert len(faulted_calls(emulator)) == 3


def test_rest_timeout_then_late_write_lands_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The call times out on the client but Zoho still performs it later; the resend and the late write
    both upsert on Email, so the record is there once with its values."""
    emulator.set_faults({"script": [{"delay_ms": 2500}], "match": LEADS_WRITE})
    config = fault_config(target_config, tmp_path, request_timeout=1)
    run = run_messages(config, lead_input(range(200)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    wait_quiet(emulator)  # let the timed-out call finish inside the emulator
    assert_each_once(emulator, range(200))
    by_email = {r["Email"]: r for r in emulator.records("Leads")}
    assert by_email[email(42)]["Last_Name"] == "Last42"
    assert rejects_by_id(tmp_path) == {}


def test_slow_reads_time_out_and_are_retried(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Metadata reads that hang past request_timeout are idempotent: retried, the load goes on."""
    emulator.set_faults({"script": [{"delay_ms": 2000}, {"delay_ms": 2000}], "match": {"method": "GET"}})
    run = run_messages(
        fault_config(target_config, tmp_path, request_timeout=1), lead_input(range(100)), tmp_path
    )

    assert run.returncode == 0, run.stderr[-3000:]
    wait_quiet(emulator)  # a timed-out call is logged by the emulator when it ends, after the target gave up
    assert len(faulted_calls(emulator)) == 2
    assert_each_once(emulator, range(100))
    assert rejects_by_id(tmp_path) == {}
    assert run.states == [{"position": 100}]


def test_rest_insert_with_answer_lost_after_write_is_not_duplicated(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """`insert` has no key to upsert on, but Leads have Email to check by: a call whose answer was lost
    after Zoho stored it must not be resent blindly (a duplicate), and the records must not be
    reported lost either."""
    script = [{"drop": True, "after_write": True}, {"status": 500, "after_write": True}]
    emulator.set_faults({"script": script, "match": LEADS_WRITE})
    config = fault_config(target_config, tmp_path, operation="insert")
    run = run_messages(config, lead_input(range(300)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    counts = stored_emails(emulator)
    assert max(counts.values()) == 1, "a lost answer made the target insert records twice"
    in_zoho = set(counts)
    rejected = rejects_by_id(tmp_path)
    assert all(r["code"] == "MAYBE_WRITTEN" for r in rejected.values())
    assert {email(i) for i in range(300)} == in_zoho | {email(i) for i in rejected}


def test_rest_token_expiring_mid_run_is_refreshed(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_latency(100)
    # Expired twice while writes are in flight: after the 4th and the 15th of 30 write calls answered
    # (ten at a time: calls 15-20 and 26-30 have not been sent yet).
    with tokens_expired_after_calls(emulator, [4, 15]) as expired:
        run = run_messages(
            fault_config(target_config, tmp_path), lead_input(range(3000), state_every=300), tmp_path
        )

    assert run.returncode == 0, run.stderr[-3000:]
    assert expired == [1, 2], "the load ended before the tokens expired"
    assert len(token_calls(emulator)) >= 3
    assert any(c["status"] == 401 for c in emulator.calls)
    assert_each_once(emulator, range(3000))
    assert rejects_by_id(tmp_path) == {}
    assert run.states[-1] == {"position": 3000}


def test_accounts_server_briefly_down_is_retried(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_faults({"token_endpoint_down": 2})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(150)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert [c["status"] for c in token_calls(emulator)] == [503, 503, 200]
    assert_each_once(emulator, range(150))


def test_accounts_server_down_for_good_stops_before_any_write(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_faults({"token_endpoint_down": 50})
    run = run_messages(fault_config(target_config, tmp_path), lead_input(range(50)), tmp_path)

    assert run.returncode == 1
    assert "accounts server" in run.stderr and "unavailable" in run.stderr
    assert run.states == []
    assert emulator.records("Leads") == []
    assert rejects_by_id(tmp_path) == {}


def test_rest_partially_failed_call_207_rejects_only_the_failed_records(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Products.Product_Code is unique: Zoho answers 207 with DUPLICATE_DATA for the records that
    reuse an existing code and stores the others (insert-records.html, status-codes.html)."""
    emulator.add_record("Products", {"Product_Name": "Existing", "Product_Code": "DUP-1"})
    props = {
        "id": {"type": "integer"},
        "product_name": {"type": "string"},
        "product_code": {"type": "string"},
    }
    messages: list[Any] = [schema("products", props, ["id"])]
    for i in range(40):
        code = "DUP-1" if i % 10 == 3 else f"P-{i}"
        messages.append(record("products", {"id": i, "product_name": f"Product {i}", "product_code": code}))
    messages.append(state({"position": 40}))
    config = fault_config(target_config, tmp_path, operation="insert")
    run = run_messages(config, messages, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    writes = [c for c in emulator.calls if c["path"].endswith("/Products") and c["method"] == "POST"]
    assert [c["status"] for c in writes] == [207]
    names = sorted(r["Product_Name"] for r in emulator.records("Products"))
    assert names == sorted(["Existing", *(f"Product {i}" for i in range(40) if i % 10 != 3)])
    rejected = rejects_by_id(tmp_path)
    assert set(rejected) == {3, 13, 23, 33}
    assert {r["code"] for r in rejected.values()} == {"DUPLICATE_DATA"}
    assert {r["field"] for r in rejected.values()} == {"Product_Code"}
    assert run.states == [{"position": 40}]
    row = summary_row(run.stderr, "products")
    assert (row["read"], row["inserted"], row["rejected"]) == (40, 36, 4)


def test_a_failing_batch_still_reports_the_rejects_of_its_other_chunks(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Under `auto` a small batch goes through REST, its tap records spooled to disk. One chunk failing
    for good fails the batch at once, while the other chunk is still in flight: the records Zoho then
    rejects from that chunk must still reach the rejects file (their spool must not be closed under
    them), and STATE stays behind the batch."""
    emulator.add_record("Leads", {"Last_Name": "Seed", "Email": email(10)})
    emulator.add_record("Leads", {"Last_Name": "Seed", "Email": email(150)})
    # The first write call to arrive fails for good (one attempt) after 4 s, which leaves the other
    # chunk's call ample time to be sent even on a busy machine; that one is answered 4 s later still
    # (timeouts well above both delays), so the batch has failed while it is in flight.
    script = [{"status": 503, "delay_ms": 4000}, {"delay_ms": 8000}]
    emulator.set_faults({"script": script, "match": LEADS_WRITE})
    config = fault_config(
        target_config, tmp_path, api_type="auto", operation="insert", max_retries=1, request_timeout=60
    )
    run = run_messages(config, lead_input(range(200)), tmp_path)

    assert run.returncode == 1
    assert run.states == []
    rejected = rejects_by_id(tmp_path)
    assert len(rejected) == 1, rejected  # the duplicate in the chunk Zoho answered
    (row,) = rejected.values()
    assert row["code"] == "DUPLICATE_DATA" and row["record"]["id"] in (10, 150)
    assert "I/O operation on closed file" not in run.stderr


def test_rest_random_fault_mix_loses_nothing(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A seeded mix of 429, 500 (some after the write), 503 and drops on a 2000-record load."""
    emulator.set_faults(
        {
            "rates": {"429": 0.08, "500": 0.05, "503": 0.05, "drop": 0.05},
            "seed": 11,
            "after_write": True,
            "match": LEADS_WRITE,
        }
    )
    config = fault_config(target_config, tmp_path, max_retries=8)
    run = run_messages(config, lead_input(range(2000), state_every=250), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert faulted_calls(emulator), "the fault plan did not fire"
    assert_each_once(emulator, range(2000))
    assert rejects_by_id(tmp_path) == {}
    assert run.states[-1] == {"position": 2000}
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"] + row["updated"], row["rejected"]) == (2000, 2000, 0)


# -- Bulk Write ------------------------------------------------------------------------------------------


def _bulk_config(target_config: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return fault_config(target_config, tmp_path, api_type="bulk", bulk_poll_max_interval=0.2, **extra)


def _jobs(emulator: Any) -> list[dict[str, Any]]:
    return [c for c in emulator.calls if c["method"] == "POST" and c["path"].rstrip("/").endswith("/write")]


def test_bulk_failed_job_is_retried_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_faults({"bulk_fail_jobs": 1})
    run = run_messages(
        _bulk_config(target_config, tmp_path), lead_input(range(1500), state_every=500), tmp_path
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert len([c for c in _jobs(emulator) if c["status"] == 201]) == 2
    assert_each_once(emulator, range(1500))
    assert rejects_by_id(tmp_path) == {}
    assert run.states[-1] == {"position": 1500}


def test_bulk_job_failing_again_rejects_its_records_with_the_reason(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.set_faults({"bulk_fail_jobs": 2})
    run = run_messages(_bulk_config(target_config, tmp_path), lead_input(range(400)), tmp_path)

    assert emulator.records("Leads") == []
    rejected = rejects_by_id(tmp_path)
    assert set(rejected) == set(range(400))
    assert {r["code"] for r in rejected.values()} == {"BULK_JOB_FAILED"}
    assert all(r["api"] == "bulk" and "FAILED" in r["message"] for r in rejected.values())
    assert run.returncode == 0, run.stderr[-3000:]
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"], row["rejected"]) == (400, 0, 400)


def test_bulk_spent_credits_stop_the_run_instead_of_rejecting(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A Bulk Write job costs 500 credits (api-limits.html); with fewer left Zoho answers 429 for hours.
    No record of the batch got in, so the run must stop (exit 1) with STATE behind them."""
    config = _bulk_config(target_config, tmp_path, max_retries=2)
    with credit_budget(emulator, 300):
        run = run_messages(config, lead_input(range(200)), tmp_path)

    assert emulator.records("Leads") == []
    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == []
    assert rejects_by_id(tmp_path) == {}


def test_bulk_job_in_progress_for_long_is_waited_for(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A job that stays `IN PROGRESS` for seconds: STATE waits for it, and nothing is written twice."""
    with bulk_speed(emulator, 800):
        run = run_messages(
            _bulk_config(target_config, tmp_path), lead_input(range(2000), state_every=500), tmp_path
        )

    assert run.returncode == 0, run.stderr[-3000:]
    polls = [c for c in emulator.calls if c["method"] == "GET" and "/write/" in c["path"]]
    assert len(polls) >= 5
    assert len([c for c in _jobs(emulator) if c["status"] == 201]) == 1
    assert_each_once(emulator, range(2000))
    assert run.states == [{"position": 2000}]


def test_bulk_job_past_bulk_job_timeout_is_rejected_and_never_rerun(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """`bulk_job_timeout`: a job still in progress after it is given up on. Its records are rejected
    with the job's status (Zoho may still finish it, so it is never created a second time) and counted
    as rejected in the summary: none is reported loaded without Zoho's word for it."""
    with bulk_speed(emulator, 100):
        run = run_messages(
            _bulk_config(target_config, tmp_path, bulk_job_timeout=0.5), lead_input(range(300)), tmp_path
        )

    assert len([c for c in _jobs(emulator) if c["status"] == 201]) == 1
    rejected = rejects_by_id(tmp_path)
    assert set(rejected) == set(range(300))
    assert {r["code"] for r in rejected.values()} == {"BULK_JOB_FAILED"}
    assert all("TIMED_OUT" in r["message"] for r in rejected.values())
    assert run.returncode == 0, run.stderr[-3000:]
    row = summary_row(run.stderr, "leads")
    assert (row["read"], row["inserted"], row["rejected"]) == (300, 0, 300)


def test_bulk_faults_on_upload_and_poll_are_retried(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """429 and 500 on the file upload (nothing created yet), 503 on job polls (reads): all retried."""
    emulator.set_faults(
        {
            "script": [{"status": 429}, {"status": 500}],
            "match": {"path_contains": "/upload", "method": "POST"},
        }
    )
    config = _bulk_config(target_config, tmp_path)
    first = run_messages(config, lead_input(range(1000)), tmp_path, "first")
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(faulted_calls(emulator)) == 2
    assert_each_once(emulator, range(1000))

    emulator.set_faults(
        {"script": [{"status": 503}] * 3, "match": {"path_contains": "/bulk/", "method": "GET"}}
    )
    second = run_messages(config, lead_input(range(1000, 1500), start=1000), tmp_path, "second")
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(faulted_calls(emulator)) == 5
    assert_each_once(emulator, range(1500))
    assert rejects_by_id(tmp_path) == {}
    assert [c["status"] for c in _jobs(emulator)] == [201, 201]


def test_bulk_create_job_answer_lost_then_job_rerun_writes_each_record_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The create-job call reached Zoho (the job runs) but its answer was lost; the target runs the
    upsert job again, which must match the records the first job wrote (create-job.html: `find_by`)."""
    emulator.set_faults(
        {
            "script": [{"drop": True, "after_write": True}],
            "match": {"path_contains": "/bulk/", "method": "POST"},
        }
    )
    run = run_messages(_bulk_config(target_config, tmp_path), lead_input(range(500)), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_once(emulator, range(500))
    assert rejects_by_id(tmp_path) == {}
    assert run.states == [{"position": 500}]


def test_bulk_replay_of_an_already_loaded_batch_updates_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Delivery is at least once: a replay (after a crash, from an older STATE) must update, not fail.
    Bulk Write upserts match on `find_by` (create-job.html), which must be the stream's key."""
    config = _bulk_config(target_config, tmp_path)
    first = run_messages(config, lead_input(range(300)), tmp_path, "first")
    assert first.returncode == 0, first.stderr[-3000:]
    replay = run_messages(
        config, lead_input(range(300), make=lambda i: lead(i, company="Replayed")), tmp_path, "again"
    )

    assert replay.returncode == 0, replay.stderr[-3000:]
    assert_each_once(emulator, range(300))
    assert {r["Company"] for r in emulator.records("Leads")} == {"Replayed"}
    assert rejects_by_id(tmp_path) == {}


def test_bulk_token_expiring_while_the_job_runs(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    with bulk_speed(emulator, 1500), expiring_tokens(emulator, every=0.4) as expired:
        run = run_messages(
            _bulk_config(target_config, tmp_path), lead_input(range(2000), state_every=500), tmp_path
        )

    assert run.returncode == 0, run.stderr[-3000:]
    assert expired
    assert len(token_calls(emulator)) >= 2
    assert_each_once(emulator, range(2000))
    assert rejects_by_id(tmp_path) == {}
