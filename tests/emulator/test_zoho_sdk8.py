"""Zoho's own Python SDK for API v8 (`zohocrmsdk8-0`, module `zohocrmsdk`) driven against the emulator.

As for the v2.1 SDK (test_zoho_sdk.py), the SDK parses every answer against Zoho's own model of the
API, so each operation is a fidelity check of the emulator's v8 answers as Zoho's client reads them.
It is configured as its README says, changed only in its URLs: `DataCenter.Environment(api_url,
accounts_url, file_upload_url)` all pointing at the emulator (the SDK swaps its hard-coded
`https://content.zohoapis.com` upload host for the environment's file-upload URL), an `OAuthToken`
with the emulator's default client and refresh token, and a `FileStore` in a temporary directory.

Operations: OAuth, modules, fields, create, a mandatory error, upsert twice, update by id and by
External ID, get, search, COQL, and the full Bulk Write round trip (upload, job, status, result).
The SDK keeps one process-wide `Initializer`, so one emulator serves the whole module. Both SDKs
install side by side: their modules are `zcrmsdk` (2.1) and `zohocrmsdk` (8.0).
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from zoho_crm_emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, ZohoEmulator

pytest.importorskip("zohocrmsdk", reason="Zoho's v8 SDK (zohocrmsdk8-0, in the dev extra) is not installed")

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap, coql
from zohocrmsdk.src.com.zoho.crm.api import bulk_write as bw
from zohocrmsdk.src.com.zoho.crm.api import record as rec
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.fields import FieldsOperations, GetFieldsParam
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule, ModulesOperations
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util import Choice, StreamWrapper

LEADS = "Leads"


@pytest.fixture(scope="module")
def zoho(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZohoEmulator]:
    work = tmp_path_factory.mktemp("zoho-sdk8")
    with ZohoEmulator(bulk_rows_per_second=100_000) as emulator:
        environment = DataCenter.Environment(emulator.url, emulator.url + "/oauth/v2/token", emulator.url)
        token = OAuthToken(
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            refresh_token=DEFAULT_REFRESH_TOKEN,
            find_user=False,
        )
        Initializer.initialize(
            environment=environment,
            token=token,
            store=FileStore(str(work / "tokens.csv")),
            sdk_config=SDKConfig(
                auto_refresh_fields=False,
                pick_list_validation=False,
                connect_timeout=5,
                read_timeout=10,
                update_api_domain=False,
            ),
            resource_path=str(work),
            logger=Logger.get_instance(level=Logger.Levels.INFO, file_path=str(work / "sdk.log")),
        )
        yield emulator


@pytest.fixture(autouse=True)
def clean(zoho: ZohoEmulator) -> None:
    zoho.reset()


def _record(**values: Any) -> Any:
    record = rec.Record()
    for key, value in values.items():
        record.add_key_value(key, value)
    return record


def _body(*records: Any, duplicate_check_fields: list[str] | None = None) -> Any:
    body = rec.BodyWrapper()
    body.set_data(list(records))
    if duplicate_check_fields is not None:
        body.set_duplicate_check_fields(duplicate_check_fields)
    return body


def _items(response: Any) -> list[Any]:
    wrapper = response.get_object()
    assert isinstance(wrapper, rec.ActionWrapper), (response.get_status_code(), type(wrapper))
    items: list[Any] = wrapper.get_data()
    return items


def _create(module: str = LEADS, **values: Any) -> str:
    response = rec.RecordOperations(module).create_records(_body(_record(**values)))
    assert response.get_status_code() == 201
    (item,) = _items(response)
    assert isinstance(item, rec.SuccessResponse), item
    return str(item.get_details()["id"])


def test_oauth_and_modules(zoho: ZohoEmulator) -> None:
    """The SDK's refresh_token grant, then GET /crm/v8/settings/modules (v8 `modules-api.html`)."""
    response = ModulesOperations().get_modules()
    assert response.get_status_code() == 200
    modules = {m.get_api_name(): m for m in response.get_object().get_modules()}
    assert {"Leads", "Contacts", "Accounts", "Deals"} <= set(modules)
    assert modules["Leads"].get_creatable() is True
    assert sum(zoho.state.tokens.snapshot()["active"].values()) == 1  # one token, from the refresh grant


def test_fields(zoho: ZohoEmulator) -> None:
    """GET /crm/v8/settings/fields?module=Contacts (v8 `field-meta.html`): lookups name their module as
    an object in v8."""
    params = ParameterMap()
    params.add(GetFieldsParam.module, "Contacts")
    response = FieldsOperations().get_fields(params)
    assert response.get_status_code() == 200
    fields = {f.get_api_name(): f for f in response.get_object().get_fields()}
    assert fields["Last_Name"].get_system_mandatory() is True
    assert fields["Email"].get_data_type() == "email"
    assert fields["Account_Name"].get_lookup().get_module().get_api_name() == "Accounts"


def test_create_and_mandatory_error(zoho: ZohoEmulator) -> None:
    """Insert → 201 with the new id; without Last_Name → MANDATORY_NOT_FOUND (v8 `insert-records.html`)."""
    record_id = _create(Last_Name="Daly", Email="p.daly@zylker.com", Company="Zylker")
    assert [r["id"] for r in zoho.records(LEADS)] == [record_id]
    response = rec.RecordOperations(LEADS).create_records(_body(_record(Company="Zylker")))
    assert response.get_status_code() == 400
    (item,) = _items(response)
    assert isinstance(item, rec.APIException)
    assert item.get_code().get_value() == "MANDATORY_NOT_FOUND"
    assert item.get_details()["api_name"] == "Last_Name"


def test_upsert_twice(zoho: ZohoEmulator) -> None:
    """Upsert on Email: insert the first time, update the second (v8 `upsert-records.html`)."""
    actions = []
    for company in ("Zylker", "Zylker Inc"):
        body = _body(
            _record(Last_Name="Daly", Email="p.daly@zylker.com", Company=company),
            duplicate_check_fields=["Email"],
        )
        response = rec.RecordOperations(LEADS).upsert_records(body)
        (item,) = _items(response)
        assert isinstance(item, rec.SuccessResponse)
        actions.append((response.get_status_code(), item.get_action().get_value()))
    assert actions == [(200, "insert"), (200, "update")]  # upsert answers 200 either way
    assert [r["Company"] for r in zoho.records(LEADS)] == ["Zylker Inc"]


def test_update_by_id_and_by_external_id(zoho: ZohoEmulator) -> None:
    """PUT /Contacts/{id} (v8 `update-records.html`) and PUT /Contacts/{external value} with
    `X-EXTERNAL: Contacts.External_Contact_ID` (v8 `update-records-ext.html`)."""
    record_id = _create("Contacts", Last_Name="Daly", External_Contact_ID="ext-1")
    ops = rec.RecordOperations("Contacts")
    by_id = ops.update_record(int(record_id), _body(_record(Title="CEO")))
    assert by_id.get_status_code() == 200 and isinstance(_items(by_id)[0], rec.SuccessResponse)
    headers = HeaderMap()
    headers.add(rec.UpdateRecordUsingExternalIDHeader.x_external, "Contacts.External_Contact_ID")
    by_ext = ops.update_record_using_external_id("ext-1", _body(_record(Department="Sales")), headers)
    assert by_ext.get_status_code() == 200 and isinstance(_items(by_ext)[0], rec.SuccessResponse)
    (stored,) = zoho.records("Contacts")
    assert (stored["Title"], stored["Department"]) == ("CEO", "Sales")


def test_get_search_and_coql(zoho: ZohoEmulator) -> None:
    """GET /Leads/{id} (v8 `get-records.html`), search by email (`search-records.html`), COQL
    (`Get-Records-through-COQL-Query.html`) with its WHERE clause, and 204 when nothing matches."""
    record_id = _create(Last_Name="Daly", Email="p.daly@zylker.com", Company="Zylker")
    _create(Last_Name="Boyle", Email="p.boyle@zylker.com", Company="Zylker")
    ops = rec.RecordOperations(LEADS)
    (got,) = ops.get_record(int(record_id)).get_object().get_data()
    assert got.get_key_value("Last_Name") == "Daly"

    params = ParameterMap()
    params.add(rec.SearchRecordsParam.email, "p.boyle@zylker.com")
    found = ops.search_records(params)
    assert [r.get_key_value("Last_Name") for r in found.get_object().get_data()] == ["Boyle"]

    body = coql.BodyWrapper()
    body.set_select_query("select Last_Name, Email, Owner from Leads where Email = 'p.daly@zylker.com'")
    answer = coql.CoqlOperations().get_records(body)
    assert answer.get_status_code() == 200
    (row,) = answer.get_object().get_data()
    assert str(row.get_id()) == record_id and row.get_key_value("Email") == "p.daly@zylker.com"
    body.set_select_query("select Last_Name from Leads where Email = 'nobody@zylker.com'")
    assert coql.CoqlOperations().get_records(body).get_status_code() == 204


def test_bulk_write_round_trip(zoho: ZohoEmulator, tmp_path: Path) -> None:
    """v8 `bulk-write/upload-file.html`, `create-job.html`, `get-job-details.html` (ADDED →
    `IN PROGRESS` → COMPLETED) and `download-result.html`."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["Last_Name", "Email"])
    writer.writerows([["Daly", "p.daly@zylker.com"], ["Boyle", "p.boyle@zylker.com"], ["", "x@zylker.com"]])
    archive = tmp_path / "leads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leads.csv", text.getvalue())

    upload = bw.FileBodyWrapper()
    upload.set_file(StreamWrapper(file_path=str(archive)))
    headers = HeaderMap()
    headers.add(bw.UploadFileHeader.feature, "bulk-write")
    headers.add(bw.UploadFileHeader.x_crm_org, _org_id(zoho))
    uploaded = bw.BulkWriteOperations().upload_file(upload, headers)
    assert uploaded.get_status_code() == 200, uploaded.get_object()
    file_id = str(uploaded.get_object().get_details()["file_id"])

    resource = bw.Resource()
    resource.set_type(Choice("data"))
    module = MinifiedModule()
    module.set_api_name(LEADS)
    resource.set_module(module)
    resource.set_file_id(file_id)
    mappings = []
    for index, api_name in enumerate(["Last_Name", "Email"]):
        mapping = bw.FieldMapping()
        mapping.set_api_name(api_name)
        mapping.set_index(index)
        mappings.append(mapping)
    resource.set_field_mappings(mappings)
    request = bw.RequestWrapper()
    request.set_operation(Choice("insert"))
    request.set_resource([resource])
    created = bw.BulkWriteOperations().create_bulk_write_job(request)
    assert created.get_status_code() == 201, created.get_object()
    job_id = str(created.get_object().get_details()["id"])

    deadline = time.monotonic() + 20
    job: Any = None
    while time.monotonic() < deadline:
        job = bw.BulkWriteOperations().get_bulk_write_job_details(job_id).get_object()
        assert isinstance(job, bw.BulkWriteResponse), job
        assert job.get_status() in ("ADDED", "IN PROGRESS", "COMPLETED"), job.get_status()
        if job.get_status() == "COMPLETED":
            break
        time.sleep(0.05)
    assert job is not None and job.get_status() == "COMPLETED"
    file = job.get_resource()[0].get_file()
    assert (file.get_total_count(), file.get_added_count(), file.get_skipped_count()) == (3, 2, 1)

    result = bw.BulkWriteOperations().download_bulk_write_result(job.get_result().get_download_url())
    assert result.get_status_code() == 200
    stream = result.get_object().get_file().get_stream()  # the SDK hands over the HTTP response
    with zipfile.ZipFile(io.BytesIO(stream.content)) as zf:
        (name,) = zf.namelist()
        rows = list(csv.DictReader(io.StringIO(zf.read(name).decode())))
    assert [r["STATUS"] for r in rows] == ["added", "added", "skipped"]
    assert sorted(r["Last_Name"] for r in zoho.records(LEADS)) == ["Boyle", "Daly"]


def _org_id(zoho: ZohoEmulator) -> str:
    """The org id for `X-CRM-ORG`, as an SDK user reads it from GET /org."""
    resp = requests.get(
        f"{zoho.url}/crm/v8/org",
        headers={"Authorization": f"Zoho-oauthtoken {zoho.access_token()}"},
        timeout=5,
    )
    org_id: str = resp.json()["org"][0]["id"]
    return org_id
