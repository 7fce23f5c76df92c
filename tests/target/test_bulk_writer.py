"""BulkWriter against the emulator over real HTTP, and `choose_api` for `api_type: auto`.

Zoho pages followed (https://www.zoho.com/crm/developer/docs/api/v4/...): bulk-write/upload-file.html,
bulk-write/create-job.html (find_by, field_mappings with find_by/format), bulk-write/job-details.html,
bulk-write/download-result.html (STATUS / RECORD_ID / ERRORS), bulk-write/limitations.html (25,000 rows,
25 MB), api-limits.html (1 credit per 10 records on REST, 500 per Bulk Write job).
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from target_zoho_crm.model import USERS, LookupRef, ModuleInfo, Outcome, PreparedRecord
from target_zoho_crm.run import connect_client
from target_zoho_crm.zoho.bulk import JOB_FAILED, NOT_SUPPORTED, BulkWriter, gather_outcomes
from target_zoho_crm.zoho.bulk_results import parse_errors
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import bulk_credits, choose_api, rest_credits
from target_zoho_crm.zoho.metadata import ModuleCatalog
from zoho_crm_emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    ZohoEmulator,
)

from .faults_support import run_messages
from .singer_io import LEAD_PROPERTIES, lead, read_rejects, record, schema, state

FAST = 1_000_000  # rows per second: a 30,000-row load stays within a few seconds


@pytest.fixture(scope="module")
def server() -> Iterator[ZohoEmulator]:
    with ZohoEmulator(bulk_rows_per_second=FAST) as zoho:
        yield zoho


@pytest.fixture
def zoho(server: ZohoEmulator) -> Iterator[ZohoEmulator]:
    server.reset()
    server.state.config.bulk_rows_per_second = FAST
    yield server
    server.clear_faults()
    server.state.config.bulk_rows_per_second = FAST


def make_client(zoho: ZohoEmulator) -> ZohoClient:
    config = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": DEFAULT_REFRESH_TOKEN,
        "accounts_url": zoho.url,
        "api_url": zoho.url,
        "upload_url": zoho.url,
        "api_version": "v4",
        "request_timeout": 10,
        "max_retries": 3,
    }
    return connect_client(config, backoff_factor=0.05, max_backoff=0.5)


@pytest.fixture
def client(zoho: ZohoEmulator) -> Iterator[ZohoClient]:
    made = make_client(zoho)
    yield made
    made.close()


def module_info(client: ZohoClient, name: str) -> ModuleInfo:
    return ModuleCatalog(client, "v4").module(name)


def writer_for(client: ZohoClient, module: str, operation: str = "upsert", **kw: Any) -> BulkWriter:
    kw.setdefault("poll_initial_interval", 0.02)
    kw.setdefault("poll_max_interval", 0.2)
    kw.setdefault("job_timeout", 60)
    return BulkWriter(client, module_info(client, module), operation=operation, **kw)


def leads(n: int, start: int = 0, **extra: Any) -> list[PreparedRecord]:
    return [
        PreparedRecord(
            index=start + i,
            source={"n": start + i},
            payload={
                "Last_Name": f"Lead {start + i}",
                "Email": f"lead{start + i}@example.com",
                "Company": "Zylker",
                "No_of_Employees": i % 500,
                "Annual_Revenue": 1000.5 + i,
                "Email_Opt_Out": i % 2 == 0,
                "Interests": ["Sports", "Travel"] if i % 3 else [],
                **extra,
            },
            key=f"lead{start + i}@example.com",
        )
        for i in range(n)
    ]


def comparable(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored records keyed by Email, without what differs between two loads (ids, times)."""
    volatile = {"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"}
    out = {}
    for rec in records:
        clean = {k: v for k, v in rec.items() if k not in volatile}
        for k, v in clean.items():
            if isinstance(v, dict) and "id" in v:
                clean[k] = v.get("name")  # lookups: compare what they point at, not the run's ids
        out[str(rec.get("Email"))] = clean
    return out


# -- choose_api ---------------------------------------------------------------------------------------------
def test_choose_api_break_even_at_5000_records() -> None:
    """api-limits.html: REST 1 credit per 10 records per call of ≤ 100; Bulk 500 per job of ≤ 25,000."""
    assert rest_credits(0) == 0 and rest_credits(1) == 1 and rest_credits(105) == 11
    assert rest_credits(5_000) == 500 and bulk_credits(5_000) == 500
    assert bulk_credits(25_000) == 500 and bulk_credits(25_001) == 1_000
    assert choose_api(1, "upsert") == "rest"
    assert choose_api(5_000, "upsert") == "rest"  # a tie: REST answers at once
    assert choose_api(5_001, "insert") == "bulk"
    assert choose_api(100_000, "update") == "bulk"
    assert choose_api(100_000, "delete") == "rest"


def test_parse_errors_reads_zohos_errors_column() -> None:
    """download-result.html: `<CODE>-<column>[,<column>]` joined by `:`."""
    error = parse_errors("MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email", "skipped")
    assert error.code == "MANDATORY_NOT_FOUND" and error.field == "Company"
    assert [e["code"] for e in error.details["errors"]] == ["MANDATORY_NOT_FOUND"] * 2 + ["DUPLICATE_DATA"]
    assert parse_errors("", "unprocessed").code == "CANNOT_PROCESS"


# -- loads ----------------------------------------------------------------------------------------------------
def test_tens_of_thousands_of_records_with_failed_rows(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """30,000 upserts → two jobs (25,000-row limit); failed rows come back with Zoho's error; a second
    pass updates what the first inserted."""
    records = leads(30_000)
    for i in range(0, 30_000, 1_000):
        del records[i].payload["Last_Name"]  # mandatory on insert: MANDATORY_NOT_FOUND-Last_Name
    writer = writer_for(client, "Leads")
    outcomes = writer.write(records)  # how fast: `make bench` (no timing in tests: the cores are shared)
    assert [o.index for o in outcomes] == [r.index for r in records]
    rejected = [o for o in outcomes if o.status == "rejected"]
    assert len(rejected) == 30
    assert {(o.error.code, o.error.field) for o in rejected if o.error} == {
        ("MANDATORY_NOT_FOUND", "Last_Name")
    }
    assert all(o.status == "inserted" and o.record_id for o in outcomes if o.index % 1_000)
    stored = {r["id"]: r for r in zoho.records("Leads")}
    assert len(stored) == 29_970
    assert stored[outcomes[1].record_id or ""]["Email"] == "lead1@example.com"
    assert stored[outcomes[2].record_id or ""]["Interests"] == ["Sports", "Travel"]
    assert writer.jobs_created == 2 and writer.credits_used == 1_000

    again = leads(200)
    for r in again:
        r.payload["Company"] = "Renamed"
    second = writer.write(again)
    assert {o.status for o in second if o.index % 1_000} == {"updated"}
    assert second[1].record_id == outcomes[1].record_id
    assert second[0].status == "inserted"  # lead0 was rejected the first time
    assert len(zoho.records("Leads")) == 29_971
    writer.close()


def test_same_final_records_as_rest(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """The same upserts through Bulk Write and through REST (`POST /Leads/upsert`, 100 per call) leave
    the same records in Zoho, including a failing row, an update and a null on a complete batch."""
    zoho.add_record("Leads", {"Last_Name": "Existing", "Email": "lead5@example.com", "Phone": "555"})
    records = leads(300)
    records[7].payload["No_of_Employees"] = "many"  # INVALID_DATA on both paths
    for r in records:
        r.payload["Phone"] = None  # every record carries every field: a null clears, as in REST

    writer = writer_for(client, "Leads", duplicate_check_fields=["Email"])
    bulk_outcomes = writer.write(records)
    writer.close()
    bulk_state = comparable(zoho.records("Leads"))

    zoho.reset()
    zoho.add_record("Leads", {"Last_Name": "Existing", "Email": "lead5@example.com", "Phone": "555"})
    rest_status: list[str] = []
    for i in range(0, len(records), 100):
        body = {"data": [r.payload for r in records[i : i + 100]], "duplicate_check_fields": ["Email"]}
        answer = client.request("POST", "/Leads/upsert", json=body, idempotent=False).json()
        rest_status += [
            d.get("action", "") if d["status"] == "success" else d["code"] for d in answer["data"]
        ]
    rest_state = comparable(zoho.records("Leads"))

    assert len(bulk_state) == 299
    differences = [
        (email, field, bulk_state[email].get(field), rest_state.get(email, {}).get(field))
        for email in bulk_state
        for field in set(bulk_state[email]) | set(rest_state.get(email, {}))
        if bulk_state[email].get(field) != rest_state.get(email, {}).get(field)
    ]
    assert not differences
    assert bulk_state == rest_state
    assert bulk_state["lead5@example.com"]["Phone"] is None
    translated = [
        {"inserted": "insert", "updated": "update"}.get(o.status, o.error.code if o.error else "")
        for o in bulk_outcomes
    ]
    assert translated == rest_status


def test_failing_job_is_retried_then_rejected(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """A job that ends FAILED is run again once; when that fails too, its records are rejected."""
    writer = writer_for(client, "Leads", operation="insert")
    zoho.set_faults({"bulk_fail_jobs": 1})
    outcomes = writer.write(leads(50))
    assert {o.status for o in outcomes} == {"inserted"}
    assert writer.jobs_created == 2 and writer.jobs_failed == 1
    assert len(zoho.records("Leads")) == 50

    zoho.set_faults({"bulk_fail_jobs": 2})
    failed = writer.write(leads(20, start=100))
    assert {o.status for o in failed} == {"rejected"}
    assert {o.error.code for o in failed if o.error} == {JOB_FAILED}
    assert "FAILED" in (failed[0].error.message if failed[0].error else "")
    assert len(zoho.records("Leads")) == 50
    writer.close()


def test_slow_job_polls_with_growing_intervals(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """job-details.html: a job takes time; the writer polls at growing intervals up to its ceiling."""
    zoho.state.config.bulk_rows_per_second = 400
    writer = writer_for(client, "Leads", poll_initial_interval=0.05, poll_max_interval=0.3)
    started = time.monotonic()
    outcomes = writer.write(leads(600))
    elapsed = time.monotonic() - started
    assert {o.status for o in outcomes} == {"inserted"}
    assert elapsed >= 1.4  # 600 rows at 400 rows/s
    polls = [c for c in zoho.calls if c["method"] == "GET" and "/crm/bulk/v4/write/" in c["path"]]
    polls = [c for c in polls if not c["path"].endswith("/result")]
    assert 4 <= len(polls) <= 14  # fixed 0.05 s polling would take ~30 calls
    writer.close()


def test_lookups_by_find_by_owner_by_email_and_dates(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """create-job.html: lookups mapped with a field-level find_by (the related module's name field),
    Owner by email, dates with `format: yyyy-MM-dd`; an unknown account is that row's INVALID_DATA."""
    zylker = zoho.add_record("Accounts", {"Account_Name": "Zylker"})
    other = zoho.add_record("Accounts", {"Account_Name": "Other Corp"})

    def contact(i: int, account: str) -> PreparedRecord:
        return PreparedRecord(
            index=i,
            source={},
            payload={
                "Last_Name": f"C{i}",
                "Email": f"c{i}@example.com",
                "Account_Name": LookupRef(
                    "Accounts", "Account_Name", account, "Account_Name", "$.Account_Name"
                ),
                "Owner": LookupRef(USERS, None, "ray.sales@zylker.example", "Owner", "$.Owner"),
                "Date_of_Birth": f"1990-01-{i + 1:02d}",
            },
        )

    records = [contact(0, "Zylker"), contact(1, "Other Corp"), contact(2, "Nobody Ltd")]
    writer = writer_for(client, "Contacts", operation="insert")
    outcomes = writer.write(records)
    assert [o.status for o in outcomes] == ["inserted", "inserted", "rejected"]
    assert outcomes[2].error is not None
    assert (outcomes[2].error.code, outcomes[2].error.field) == ("INVALID_DATA", "Account_Name")
    by_email = {r["Email"]: r for r in zoho.records("Contacts")}
    assert by_email["c0@example.com"]["Account_Name"]["id"] == zylker
    assert by_email["c1@example.com"]["Account_Name"]["id"] == other
    ray = next(u for u in zoho.state.catalog("v4").users if u["email"] == "ray.sales@zylker.example")
    assert by_email["c1@example.com"]["Owner"]["id"] == str(ray["id"])
    assert by_email["c1@example.com"]["Date_of_Birth"] == "1990-01-02"

    ids = PreparedRecord(index=9, source={}, payload={"Last_Name": "ById", "Account_Name": {"id": zylker}})
    assert writer.write([ids])[0].status == "inserted"
    line_items = PreparedRecord(index=10, source={}, payload={"Last_Name": "X", "Tags": [{"name": "a"}]})
    refused = writer.write([line_items])[0]
    assert refused.status == "rejected" and refused.error and refused.error.code == NOT_SUPPORTED
    writer.close()


def test_update_by_id_and_empty_cells(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """find_by id for updates; records with different fields: an absent field is never cleared."""
    first = zoho.add_record("Leads", {"Last_Name": "A", "Phone": "1", "Company": "Keep"})
    second = zoho.add_record("Leads", {"Last_Name": "B", "Phone": "2", "Company": "Keep"})
    writer = writer_for(client, "Leads", operation="update")
    assert writer.find_by([PreparedRecord(0, {}, {"id": first})]) == "id"
    outcomes = writer.write(
        [
            PreparedRecord(0, {}, {"id": first, "Last_Name": "A2"}),
            PreparedRecord(1, {}, {"id": second, "Company": "Changed"}),
            PreparedRecord(2, {}, {"id": "5725767999999999999", "Last_Name": "Ghost"}),
        ]
    )
    assert [o.status for o in outcomes] == ["updated", "updated", "rejected"]
    assert outcomes[0].record_id == first
    stored = {r["id"]: r for r in zoho.records("Leads")}
    assert stored[first]["Last_Name"] == "A2" and stored[first]["Company"] == "Keep"
    assert stored[second]["Last_Name"] == "B" and stored[second]["Company"] == "Changed"
    writer.close()


def test_split_by_rows_and_bytes_keeps_input_order(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """limitations.html: a file holds at most 25,000 rows and 25 MB; the writer splits a batch into
    jobs (limits lowered here) and still answers in input order."""
    writer = writer_for(client, "Leads", operation="insert", max_rows=100, max_jobs_in_flight=3)
    outcomes = writer.write(leads(250))
    assert writer.jobs_created == 3
    assert [o.index for o in outcomes] == list(range(250))
    by_bytes = writer_for(client, "Leads", operation="insert", max_bytes=1024)
    records = leads(40, start=1_000)
    assert {o.status for o in by_bytes.write(records)} == {"inserted"}
    assert by_bytes.jobs_created >= 3  # ~2.8 kB of CSV in files of at most 1 kB
    assert len(zoho.records("Leads")) == 290
    writer.close()
    by_bytes.close()


def test_submit_returns_at_once_and_bounds_jobs_in_flight(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """The sink keeps reading while a job runs; with one job in flight, the next submit waits."""
    zoho.state.config.bulk_rows_per_second = 100  # a 3 s job: submit returns long before it is done
    writer = writer_for(client, "Leads", operation="insert", max_jobs_in_flight=1)
    first = writer.submit(leads(300))
    assert not first.done()
    second_submitted = threading.Event()

    def submit_second() -> None:
        writer.submit(leads(10, start=500)).result()
        second_submitted.set()

    thread = threading.Thread(target=submit_second)
    thread.start()
    outcomes = first.result(timeout=30)
    thread.join(timeout=30)
    assert second_submitted.is_set()
    assert len(outcomes) == 300 and {o.status for o in outcomes} == {"inserted"}
    assert len(zoho.records("Leads")) == 310
    writer.close()


def test_throttling_and_token_expiry_mid_load(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """As on REST: 429 (api-limits.html) is retried with backoff, an expired token is refreshed."""
    writer = writer_for(client, "Leads", operation="insert")
    assert {o.status for o in writer.write(leads(5))} == {"inserted"}  # token and org id in hand
    zoho.expire_tokens()
    zoho.set_faults({"script": [{"status": 429}, {"status": 429}], "match": {"path_contains": "/upload"}})
    outcomes = writer.write(leads(30, start=100))
    assert {o.status for o in outcomes} == {"inserted"}
    assert client.retries >= 2
    assert len(zoho.records("Leads")) == 35
    writer.close()


def test_job_refused_as_a_whole_is_not_retried(zoho: ZohoEmulator, client: ZohoClient) -> None:
    """create-job.html: an insert that does not map a mandatory field is refused (400
    MANDATORY_FIELDS_NOT_MAPPED); running it again cannot help, so its records are rejected at once."""
    writer = writer_for(client, "Leads", operation="insert")
    records = [PreparedRecord(i, {}, {"Email": f"x{i}@example.com"}) for i in range(5)]
    outcomes = writer.write(records)
    assert {o.status for o in outcomes} == {"rejected"}
    assert {o.error.code for o in outcomes if o.error} == {"MANDATORY_FIELDS_NOT_MAPPED"}
    assert writer.jobs_created == 0 and zoho.records("Leads") == []
    writer.close()


def test_job_still_running_at_timeout_is_rejected_not_rerun() -> None:
    """A job that outlives `job_timeout` is given up on without being created again (it may still
    write its records), and its records are reported rejected, never as loaded."""
    with ZohoEmulator(bulk_rows_per_second=100) as slow:
        client = make_client(slow)
        writer = writer_for(client, "Leads", operation="insert", job_timeout=0.2)
        outcomes = writer.write(leads(150))
        assert {o.status for o in outcomes} == {"rejected"}
        assert {o.error.code for o in outcomes if o.error} == {JOB_FAILED}
        assert writer.jobs_created == 1
        writer.close()
        client.close()


# -- the whole target ----------------------------------------------------------------------------------------
def _load(
    target_config: dict[str, Any], tmp_path: Path, messages: list[Any], **settings: Any
) -> tuple[Any, list[dict[str, Any]]]:
    """The target CLI inserting `messages` with `settings`, and the rows of its rejects file."""
    rejects = tmp_path / "rejects.jsonl"
    # The conftest fixture, pointed at this module's emulator.
    config = {**target_config, "operation": "insert", "rejects_path": str(rejects), **settings}
    return run_messages(config, messages, tmp_path), read_rejects(rejects)


def test_cli_auto_picks_bulk_for_a_large_batch(
    zoho: ZohoEmulator, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """`api_type: auto` sends a 12,000-record batch through Bulk Write (cheaper past 5,000 records):
    Zoho's failed rows land in the rejects file, STATE comes out after the job, the summary names the
    API and its credits."""
    zoho.add_record("Leads", {"Last_Name": "Seed", "Email": "lead7@example.com"})
    messages: list[dict[str, Any]] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i)) for i in range(12_000)]
    messages.append(state({"bookmark": 12_000}))
    run, failed = _load(target_config, tmp_path, messages, api_type="auto", bulk_poll_max_interval=0.3)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"bookmark": 12_000}]
    assert len(zoho.records("Leads")) == 12_000  # the seed + 11,999 new
    assert [(r["code"], r["record"]["id"]) for r in failed] == [("DUPLICATE_DATA", 7)]
    jobs = [c for c in zoho.calls if c["method"] == "POST" and c["path"].endswith("/write")]
    assert len(jobs) == 1 and zoho.credits_used < 600
    summary = next(
        line for line in run.stderr.splitlines() if line.split("|")[-1].strip().startswith("leads")
    )
    assert "bulk" in summary and " 500" in summary


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_rejects_carry_the_tap_record_exactly_whichever_api(
    api_type: str, zoho: ZohoEmulator, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A Bulk batch's records wait on disk (a spool), not in memory: a record Zoho rejects, and one the
    schema rejects, must still reach the rejects file exactly as the tap sent it, as on the REST path."""
    zoho.add_record("Leads", {"Last_Name": "Seed", "Email": "lead3@example.com"})
    odd = {"first_name": "Zoë «東京»", "company": "Ünïcode & Co", "annual_revenue": 1234567.891}
    messages: list[dict[str, Any] | str] = [
        schema("leads", {**LEAD_PROPERTIES, "annual_revenue": {"type": ["number", "null"]}}, ["id"])
    ]
    messages += [record("leads", lead(i, **(odd if i == 3 else {}))) for i in range(6)]
    messages.append(record("leads", {**lead(6), "id": "not-an-integer"}))
    messages.append(state({"bookmark": 7}))
    run, rows = _load(target_config, tmp_path, messages, api_type=api_type, bulk_poll_max_interval=0.2)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"bookmark": 7}]
    failed = {r["code"]: r for r in rows}
    assert set(failed) == {"DUPLICATE_DATA", "INVALID_RECORD"}
    assert failed["DUPLICATE_DATA"]["api"] == api_type
    assert failed["DUPLICATE_DATA"]["record"] == lead(3, **odd)
    assert failed["INVALID_RECORD"]["record"] == {**lead(6), "id": "not-an-integer"}


def test_a_finished_batch_is_freed_without_the_cyclic_collector() -> None:
    """The CLI runs Python's cyclic collector rarely (it cost a fifth of the CPU): a finished Bulk batch
    must be freed by reference counting alone. A cycle through the gathering callbacks once kept every
    batch's records and outcomes until a full collection (a 250,000-record load peaked at 400 MiB, not
    270)."""
    gc.disable()
    try:
        part: Future[list[Outcome]] = Future()
        outcome = Outcome(7, "inserted", record_id="1")
        freed = weakref.ref(outcome)
        gathered = gather_outcomes([part], [], {7: 0})
        part.set_result([outcome])
        del outcome
        assert [o.index for o in gathered.result()] == [7]
        del gathered, part
        assert freed() is None
    finally:
        gc.enable()


def test_jobs_of_one_stream_overlap_when_they_share_no_key_and_keep_per_key_order(
    zoho: ZohoEmulator, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """`bulk_max_jobs_in_flight: 2`: the second batch's job is created while the first job still runs
    (Zoho takes 5 s for it here, against milliseconds to prepare the next batch); a third batch that
    updates a key of the first waits for the first job, so the newer value is the one kept."""
    zoho.state.config.bulk_rows_per_second = 200
    messages: list[dict[str, Any]] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i)) for i in range(2_000)]
    messages.append(record("leads", lead(5, company="Newer")))
    messages.append(state({"bookmark": 2_001}))
    run, failed = _load(
        target_config,
        tmp_path,
        messages,
        operation="upsert",
        api_type="bulk",
        batch_size_rows=1_000,
        bulk_max_jobs_in_flight=2,
        bulk_poll_max_interval=0.3,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert failed == []
    assert run.states == [{"bookmark": 2_001}]
    stored = {r["Email"]: r for r in zoho.records("Leads")}
    assert len(stored) == 2_000 and stored["lead5@example.com"]["Company"] == "Newer"
    bulk = [c for c in zoho.calls if "/bulk/" in c["path"] and "/write" in c["path"]]
    order = [
        ("create" if c["method"] == "POST" else "result")
        for c in bulk
        if c["method"] == "POST" or c["path"].endswith("/result")
    ]
    assert order[:3] == ["create", "create", "result"], order  # job 2 created before job 1's result
    assert order.count("create") == 3
