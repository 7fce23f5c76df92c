"""The emulator's Bulk Write API over real HTTP: upload checks, job validation, the job state machine,
the result file (failed rows included), a failing job, and Zoho's file limits.

Zoho pages followed (https://www.zoho.com/crm/developer/docs/api/v4/bulk-write/...):
upload-file.html, create-job.html, job-details.html, download-result.html, limitations.html.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from zoho_crm_emulator import ZohoEmulator

from .conftest import VERSIONS, refresh

TIMEOUT = 10
ORG = "808232144"  # the emulated org's zgid (GET /org)


class Bulk:
    """A tiny Bulk Write client: enough HTTP to drive the emulator as Zoho's SDK does."""

    def __init__(self, zoho: ZohoEmulator, version: str = "v4") -> None:
        self.zoho, self.version = zoho, version
        self.session = requests.Session()
        self.token = refresh(zoho)["access_token"]

    def auth(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token}", **(extra or {})}

    def upload(
        self, data: bytes, *, feature: str | None = "bulk-write", org: str | None = ORG
    ) -> requests.Response:
        headers = {}
        if feature is not None:
            headers["feature"] = feature
        if org is not None:
            headers["X-CRM-ORG"] = org
        return self.session.post(
            f"{self.zoho.url}/crm/{self.version}/upload",
            headers=self.auth(headers),
            files={"file": ("Leads.zip", data, "application/zip")},
            timeout=TIMEOUT,
        )

    def file_id(self, rows: list[list[str]], name: str = "Leads.csv") -> str:
        resp = self.upload(zip_csv(rows, name))
        assert resp.status_code == 200, resp.text
        return str(resp.json()["details"]["file_id"])

    def create(self, body: dict[str, Any]) -> requests.Response:
        return self.session.post(
            f"{self.zoho.url}/crm/bulk/{self.version}/write", headers=self.auth(), json=body, timeout=TIMEOUT
        )

    def status(self, job_id: str) -> requests.Response:
        return self.session.get(
            f"{self.zoho.url}/crm/bulk/{self.version}/write/{job_id}", headers=self.auth(), timeout=TIMEOUT
        )

    def wait(self, job_id: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body: dict[str, Any] = self.status(job_id).json()
            if body["status"] in ("COMPLETED", "FAILED"):
                return body
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish")

    def result(self, url: str) -> list[dict[str, str]]:
        resp = self.session.get(url, headers=self.auth(), timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
            (name,) = archive.namelist()
            assert name.startswith("Leads-") or "-" in name
            text = archive.read(name).decode("utf-8")
        return list(csv.DictReader(io.StringIO(text)))


def zip_csv(rows: list[list[str]], name: str = "Leads.csv", delimiter: str = ",") -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.getvalue())
    return buffer.getvalue()


def job_body(
    file_id: str, operation: str = "insert", module: str = "Leads", **resource: Any
) -> dict[str, Any]:
    return {
        "operation": operation,
        "resource": [{"type": "data", "module": {"api_name": module}, "file_id": file_id, **resource}],
    }


@pytest.fixture
def zoho() -> Iterator[ZohoEmulator]:
    with ZohoEmulator(bulk_rows_per_second=100_000) as emulator:
        yield emulator


@pytest.fixture(params=VERSIONS)
def bulk(zoho: ZohoEmulator, request: pytest.FixtureRequest) -> Iterator[Bulk]:
    """A Bulk Write client per API version: `{upload}/crm/{v}/upload` and `/crm/bulk/{v}/write` are the
    same in every version's bulk-write pages."""
    client = Bulk(zoho, request.param)
    yield client
    client.session.close()


def test_upload_needs_headers_a_zip_of_one_csv(bulk: Bulk) -> None:
    """upload-file.html: `feature: bulk-write` and `X-CRM-ORG` headers, a zip of one CSV."""
    good = zip_csv([["Last_Name"], ["Doe"]])
    assert bulk.upload(good, feature=None).status_code == 400
    wrong_org = bulk.upload(good, org="1")
    assert wrong_org.status_code == 400 and wrong_org.json()["code"] == "INVALID_DATA"
    assert bulk.upload(good, org=None).json()["code"] == "MANDATORY_NOT_FOUND"
    not_zip = bulk.upload(b"Last_Name\nDoe\n")
    assert not_zip.status_code == 400 and not_zip.json()["code"] == "INVALID_FILE_FORMAT"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "Last_Name\nA\n")
        archive.writestr("b.csv", "Last_Name\nB\n")
    two = bulk.upload(buffer.getvalue())
    assert two.status_code == 400 and two.json()["code"] == "INVALID_FILE_FORMAT"
    ok = bulk.upload(good)
    assert ok.status_code == 200
    assert ok.json()["code"] == "FILE_UPLOAD_SUCCESS" and ok.json()["details"]["file_id"].isdigit()


def test_upload_limits_25mb_and_25000_rows(bulk: Bulk) -> None:
    """limitations.html: 25 MB per file (413 FILE_TOO_LARGE), 25,000 records per CSV."""
    too_big = bulk.upload(b"PK" + b"\0" * (25 * 1024 * 1024 + 10))
    assert too_big.status_code == 413 and too_big.json()["code"] == "FILE_TOO_LARGE"
    rows = [["Last_Name"]] + [[f"n{i}"] for i in range(25_001)]
    over = bulk.upload(zip_csv(rows))
    assert over.status_code == 400 and over.json()["code"] == "LIMIT_EXCEEDED"
    assert bulk.upload(zip_csv(rows[:25_001])).status_code == 200


def test_create_job_validation_and_credits(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """create-job.html: find_by mandatory for update/upsert, valid file id, module, mappings."""
    file_id = bulk.file_id([["Last_Name", "Email"], ["Doe", "doe@example.com"]])
    before = zoho.credits_used
    cases = [
        (job_body(file_id, "upsert"), "MANDATORY_NOT_FOUND"),
        (job_body(file_id, "merge"), "INVALID_DATA"),
        (job_body("123"), "INVALID_FILE_ID"),
        (job_body(file_id, module="Nope"), "MODULE_NOT_AVAILABLE"),
        (job_body(file_id, "upsert", find_by="First_Name"), "INVALID_DATA"),
        (
            job_body(file_id, field_mappings=[{"api_name": "Email", "index": 1}]),
            "MANDATORY_FIELDS_NOT_MAPPED",
        ),
        (job_body(file_id, field_mappings=[{"api_name": "Last_Name", "index": 7}]), "COLUMN_INDEX_NOT_FOUND"),
        (job_body(file_id, field_mappings=[{"api_name": "Bogus", "index": 0}]), "INVALID_FIELD"),
        (
            job_body(file_id, field_mappings=[{"api_name": "Last_Name", "index": 0, "format": "yyyy"}]),
            "INVALID_FORMAT",
        ),
    ]
    for body, code in cases:
        resp = bulk.create(body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["code"] == code, (body, resp.text)
    assert zoho.credits_used == before  # refused jobs are not charged
    created = bulk.create(job_body(file_id))
    assert created.status_code == 201
    assert created.json()["details"]["id"].isdigit()
    assert zoho.credits_used == before + 500


def test_job_lifecycle_counts_and_result_file(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """job-details.html (ADDED → IN PROGRESS → COMPLETED, file counts) and download-result.html
    (first three mapped columns + STATUS, RECORD_ID, ERRORS as <CODE>-<column>)."""
    zoho.state.config.bulk_rows_per_second = 1_000
    rows = [["Last_Name", "Email", "Company", "Interests", "No_of_Employees"]]
    for i in range(400):
        rows.append([f"Doe{i}", f"doe{i}@example.com", "Zylker", "Sports;Travel", str(i)])
    rows[11][0] = ""  # no Last_Name: MANDATORY_NOT_FOUND
    rows[21][4] = "many"  # not an integer: INVALID_DATA
    rows[31][1] = "doe0@example.com"  # Leads' duplicate-check field: DUPLICATE_DATA
    file_id = bulk.file_id(rows)
    job_id = bulk.create(job_body(file_id)).json()["details"]["id"]
    seen = {bulk.status(job_id).json()["status"]}
    body = bulk.wait(job_id)
    seen.add(body["status"])
    assert seen <= {"ADDED", "IN PROGRESS", "COMPLETED"} and "COMPLETED" in seen
    file = body["resource"][0]["file"]
    assert (file["total_count"], file["added_count"], file["skipped_count"], file["updated_count"]) == (
        400,
        397,
        3,
        0,
    )
    assert body["result"]["download_url"].endswith(f"/crm/bulk/{bulk.version}/write/{job_id}/result")
    result = bulk.result(body["result"]["download_url"])
    assert list(result[0]) == ["Last_Name", "Email", "Company", "STATUS", "RECORD_ID", "ERRORS"]
    assert len(result) == 400
    stored = {r["id"]: r for r in zoho.records("Leads")}
    assert len(stored) == 397
    first = result[0]
    assert first["STATUS"] == "added" and stored[first["RECORD_ID"]]["Email"] == "doe0@example.com"
    assert stored[first["RECORD_ID"]]["Interests"] == ["Sports", "Travel"]
    assert stored[first["RECORD_ID"]]["No_of_Employees"] == 0
    assert result[10]["STATUS"] == "skipped" and result[10]["ERRORS"] == "MANDATORY_NOT_FOUND-Last_Name"
    assert result[20]["ERRORS"] == "INVALID_DATA-No_of_Employees" and not result[20]["RECORD_ID"]
    assert result[30]["ERRORS"] == "DUPLICATE_DATA-Email"


def test_jobs_queue_while_one_runs(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """Zoho queues an org's jobs: a second job stays ADDED while the first is `IN PROGRESS`, with a space,
    at job and resource level (bulk-write/job-details.html, v3/v5/v7; v8 OAS `Resource.status` enum
    `COMPLETED, ADDED, FAILED, IN PROGRESS, SKIPPED`)."""
    zoho.state.config.bulk_rows_per_second = 400
    rows = [["Last_Name"]] + [[f"n{i}"] for i in range(200)]
    first = bulk.create(job_body(bulk.file_id(rows))).json()["details"]["id"]
    second = bulk.create(job_body(bulk.file_id(rows))).json()["details"]["id"]
    time.sleep(0.1)
    running = bulk.status(first).json()
    assert running["status"] == "IN PROGRESS" and running["resource"][0]["status"] == "IN PROGRESS"
    assert bulk.status(second).json()["status"] == "ADDED"
    assert "result" not in bulk.status(second).json()
    assert bulk.wait(second)["status"] == "COMPLETED"
    assert len(zoho.records("Leads")) == 400


def test_upsert_find_by_lookups_dates_and_owner(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """create-job.html: resource `find_by`, field-level `find_by` for lookups (the related module's name
    field) and Owner (`email`), `format` for dates (default MM/dd/yyyy), `ignore_empty`."""
    account = zoho.add_record("Accounts", {"Account_Name": "Zylker"})
    existing = zoho.add_record("Contacts", {"Last_Name": "Old", "Email": "a@example.com", "Phone": "1"})
    rows = [
        ["Email", "Last_Name", "Account", "Owner", "Born", "Phone"],
        ["a@example.com", "Alpha", "Zylker", "ray.sales@zylker.example", "1990-02-03", ""],
        ["b@example.com", "Beta", "Zylker", "admin@zylker.example", "1991-12-31", "555"],
        ["c@example.com", "Gamma", "Nobody Inc", "admin@zylker.example", "1992-01-01", ""],
    ]
    mappings = [
        {"api_name": "Email", "index": 0},
        {"api_name": "Last_Name", "index": 1},
        {"api_name": "Account_Name", "index": 2, "find_by": "Account_Name"},
        {"api_name": "Owner", "index": 3, "find_by": "email"},
        {"api_name": "Date_of_Birth", "index": 4, "format": "yyyy-MM-dd"},
        {"api_name": "Phone", "index": 5},
    ]
    body = job_body(
        bulk.file_id(rows, "Contacts.csv"), "upsert", "Contacts", find_by="Email", field_mappings=mappings
    )
    body["ignore_empty"] = True
    created = bulk.create(body)
    assert created.status_code == 201, created.text
    done = bulk.wait(created.json()["details"]["id"])
    result = bulk.result(done["result"]["download_url"])
    assert [r["STATUS"] for r in result] == ["updated", "added", "skipped"]
    assert result[0]["RECORD_ID"] == existing
    assert result[2]["ERRORS"] == "INVALID_DATA-Account"
    by_email = {r["Email"]: r for r in zoho.records("Contacts")}
    alpha = by_email["a@example.com"]
    assert alpha["Last_Name"] == "Alpha" and alpha["Phone"] == "1"  # empty cell ignored
    assert alpha["Account_Name"]["id"] == account
    ray = next(u for u in zoho.state.catalog("v4").users if u["email"] == "ray.sales@zylker.example")
    assert alpha["Owner"]["id"] == str(ray["id"])
    assert alpha["Date_of_Birth"] == "1990-02-03"
    assert by_email["b@example.com"]["Phone"] == "555"

    # Without `format`, dates are MM/dd/yyyy; header auto-mapping takes `Field.id` for lookups.
    rows2 = [["Last_Name", "Date_of_Birth", "Account_Name.id"], ["Delta", "07/04/1996", account]]
    job = bulk.create(job_body(bulk.file_id(rows2, "Contacts.csv"), module="Contacts")).json()["details"][
        "id"
    ]
    assert bulk.wait(job)["resource"][0]["file"]["added_count"] == 1
    delta = next(r for r in zoho.records("Contacts") if r["Last_Name"] == "Delta")
    assert delta["Date_of_Birth"] == "1996-07-04" and delta["Account_Name"]["id"] == account


def test_update_by_id_and_unknown_job(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """create-job.html `find_by: id` for update; job-details.html: unknown job → 404."""
    rid = zoho.add_record("Leads", {"Last_Name": "Before"})
    rows = [["id", "Last_Name"], [rid, "After"], ["5725767999999999999", "Ghost"]]
    job = bulk.create(job_body(bulk.file_id(rows), "update", find_by="id")).json()["details"]["id"]
    result = bulk.result(bulk.wait(job)["result"]["download_url"])
    assert [r["STATUS"] for r in result] == ["updated", "skipped"]
    assert zoho.records("Leads")[0]["Last_Name"] == "After"
    missing = bulk.status("12345")
    assert missing.status_code == 404 and missing.json()["code"] == "RESOURCE_NOT_FOUND"


def test_failing_job_fault(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """The `bulk_fail_jobs` fault: the next job ends FAILED, writes nothing and has no result."""
    zoho.set_faults({"bulk_fail_jobs": 1})
    rows = [["Last_Name"], ["A"], ["B"]]
    failed = bulk.create(job_body(bulk.file_id(rows))).json()["details"]["id"]
    body = bulk.wait(failed)
    assert body["status"] == "FAILED" and "result" not in body
    assert zoho.records("Leads") == []
    url = f"{zoho.url}/crm/bulk/{bulk.version}/write/{failed}/result"
    assert bulk.session.get(url, headers=bulk.auth(), timeout=TIMEOUT).status_code == 404
    ok = bulk.create(job_body(bulk.file_id(rows))).json()["details"]["id"]
    assert bulk.wait(ok)["status"] == "COMPLETED"
    assert len(zoho.records("Leads")) == 2


def test_semicolon_delimited_csv(bulk: Bulk, zoho: ZohoEmulator) -> None:
    """limitations.html: the delimiter (`,` `;` `:` `|`) is detected from the header."""
    resp = bulk.upload(zip_csv([["Last_Name", "Company"], ["Doe", "A, B and C"]], delimiter="|"))
    job = bulk.create(job_body(resp.json()["details"]["file_id"])).json()["details"]["id"]
    assert bulk.wait(job)["status"] == "COMPLETED"
    assert zoho.records("Leads")[0]["Company"] == "A, B and C"


def test_callback_posts_job_details_on_completion(bulk: Bulk) -> None:
    """create-job.html `callback`: the job details are POSTed to the URL when the job completes."""
    received: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    try:
        body = job_body(bulk.file_id([["Last_Name"], ["A"]]))
        body["callback"] = {"url": f"http://127.0.0.1:{hook.server_port}/cb", "method": "post"}
        job_id = bulk.create(body).json()["details"]["id"]
        assert bulk.wait(job_id)["status"] == "COMPLETED"
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received and received[0]["id"] == job_id and received[0]["status"] == "COMPLETED"
        assert received[0]["result"]["download_url"].endswith(f"/write/{job_id}/result")
        bad = job_body(bulk.file_id([["Last_Name"], ["A"]]))
        bad["callback"] = {"url": "http://127.0.0.1:1/cb", "method": "get"}
        assert bulk.create(bad).json()["code"] == "INVALID_CALLBACK_METHOD"
    finally:
        hook.shutdown()
        hook.server_close()
