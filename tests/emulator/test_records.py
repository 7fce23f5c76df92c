"""Records: insert, update (by id and by external value), upsert, delete, get — over real HTTP.

Zoho pages followed (v8; same rules back to v2): insert-records.html, update-records.html,
upsert-records.html, delete-records.html, get-records.html, update-records-ext.html,
upsert-records-ext.html under https://www.zoho.com/crm/developer/docs/api/v8/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from zoho_crm_emulator import ZohoEmulator


def lead(i: int, **extra: Any) -> dict[str, Any]:
    return {"Last_Name": f"Lead {i}", "Email": f"lead{i}@example.com", **extra}


def test_insert_all_ok_is_201_with_zoho_details(api, zoho):
    """insert-records.html: one result per record, in order; `details` carries id/times/users."""
    resp = api.post("Leads", json={"data": [lead(1), lead(2)], "trigger": []})
    assert resp.status_code == 201
    results = resp.json()["data"]
    assert [r["status"] for r in results] == ["success", "success"]
    assert results[0]["code"] == "SUCCESS" and results[0]["message"] == "record added"
    details = results[0]["details"]
    assert set(details) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"}
    assert re.fullmatch(r"\d{19}", details["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", details["Created_Time"])
    stored = zoho.records("Leads")
    assert [r["id"] for r in stored] == [r["details"]["id"] for r in results]
    assert stored[0]["Email"] == "lead1@example.com"
    assert stored[0]["Owner"]["id"] == details["Created_By"]["id"]  # default owner: the org's primary user


def test_mixed_results_are_207_and_all_failed_is_400(api, zoho):
    """status-codes.html: partial success → 207; nothing written → 400 with per-record errors."""
    mixed = api.post("Leads", json={"data": [lead(1), {"Email": "x@example.com"}]})
    assert mixed.status_code == 207
    assert [r["status"] for r in mixed.json()["data"]] == ["success", "error"]
    failed = api.post("Leads", json={"data": [{"First_Name": "no last name"}]})
    assert failed.status_code == 400
    assert failed.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert len(zoho.records("Leads")) == 1


def test_insert_duplicate_on_system_duplicate_field(api):
    """insert-records.html: unique fields are checked on insert → DUPLICATE_DATA with duplicate_record."""
    first = api.post("Leads", json={"data": [lead(1)]}).json()["data"][0]["details"]["id"]
    resp = api.post("Leads", json={"data": [lead(2, Email="LEAD1@example.com")]})
    err = resp.json()["data"][0]
    assert resp.status_code == 400 and err["code"] == "DUPLICATE_DATA" and err["message"] == "duplicate data"
    assert err["details"]["api_name"] == "Email" and err["details"]["json_path"] == "$.data[0].Email"
    assert err["details"]["duplicate_record"]["id"] == first
    assert err["details"]["duplicate_record"]["module"]["api_name"] == "Leads"
    assert err["details"]["more_records"] is False


@pytest.mark.parametrize("version", ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"])
def test_duplicate_data_carries_the_existing_records_id(zoho, api_for, version):
    """Kaizen #177 (duplicate check preferences) shows DUPLICATE_DATA details as `{api_name, json_path,
    duplicate_record: {id, module, Owner: {name, id, zuid}}, more_records}`, the id being "the record
    that already exists". The same on update, in every version."""
    api = api_for(zoho, version)
    first = api.post("Leads", json={"data": [lead(1)]}).json()["data"][0]["details"]["id"]
    other = api.post("Leads", json={"data": [lead(2)]}).json()["data"][0]["details"]["id"]
    for resp in (
        api.post("Leads", json={"data": [lead(3, Email="lead1@example.com")]}),
        api.put("Leads", json={"data": [{"id": other, "Email": "lead1@example.com"}]}),
    ):
        details = resp.json()["data"][0]["details"]
        assert details["duplicate_record"]["id"] == first
        owner = details["duplicate_record"]["Owner"]
        assert owner["id"] == zoho.records("Leads")[0]["Owner"]["id"] and owner["name"] and owner["zuid"]


def test_update_by_id_many_and_one(api, zoho):
    """update-records.html: PUT /{module} with ids (partial update), PUT /{module}/{id}; 200."""
    ids = [r["details"]["id"] for r in api.post("Leads", json={"data": [lead(1), lead(2)]}).json()["data"]]
    resp = api.put("Leads", json={"data": [{"id": ids[0], "City": "Pune"}, {"id": ids[1], "City": "Oslo"}]})
    assert resp.status_code == 200
    assert resp.json()["data"][0]["message"] == "record updated"
    one = api.put(f"Leads/{ids[1]}", json={"data": [{"Company": "Zylker"}]})
    assert one.status_code == 200 and one.json()["data"][0]["details"]["id"] == ids[1]
    stored = {r["id"]: r for r in zoho.records("Leads")}
    assert stored[ids[0]]["City"] == "Pune" and stored[ids[0]]["Last_Name"] == "Lead 1"
    assert stored[ids[1]]["City"] == "Oslo" and stored[ids[1]]["Company"] == "Zylker"


def test_update_errors_missing_and_unknown_id(api):
    """update-records.html: no id → MANDATORY_NOT_FOUND (api_name id); unknown id → INVALID_DATA
    "the id given seems to be invalid"."""
    resp = api.put("Leads", json={"data": [{"City": "x"}, {"id": "5725767999999999999", "City": "y"}]})
    assert resp.status_code == 400
    missing, unknown = resp.json()["data"]
    assert missing["code"] == "MANDATORY_NOT_FOUND" and missing["details"]["api_name"] == "id"
    assert unknown["code"] == "INVALID_DATA" and unknown["message"] == "the id given seems to be invalid"
    assert unknown["details"] == {"api_name": "id", "json_path": "$.data[1].id"}


def test_update_by_external_value(api, zoho):
    """update-records-ext.html: `X-EXTERNAL: Contacts.External_Contact_ID`, in the URL and in the body."""
    api.post("Contacts", json={"data": [{"Last_Name": "Boyle", "External_Contact_ID": "ext-1"}]})
    hdr = {"X-EXTERNAL": "Contacts.External_Contact_ID"}
    one = api.put("Contacts/ext-1", json={"data": [{"Title": "CEO"}]}, headers=hdr)
    assert one.status_code == 200, one.text
    assert one.json()["data"][0]["details"]["External_Contact_ID"] == "ext-1"
    many = api.put(
        "Contacts", json={"data": [{"External_Contact_ID": "ext-1", "Department": "Sales"}]}, headers=hdr
    )
    assert many.status_code == 200
    unknown = api.put("Contacts", json={"data": [{"External_Contact_ID": "nope", "Title": "x"}]}, headers=hdr)
    assert unknown.json()["data"][0]["code"] == "INVALID_DATA"
    rec = zoho.records("Contacts")[0]
    assert rec["Title"] == "CEO" and rec["Department"] == "Sales"


def test_upsert_insert_then_update_reports_action_and_duplicate_field(api, zoho):
    """upsert-records.html: `action` insert/update and `duplicate_field`; 200 either way."""
    ins = api.post("Leads/upsert", json={"data": [lead(1)]})
    assert ins.status_code == 200
    r = ins.json()["data"][0]
    assert (r["action"], r["duplicate_field"], r["message"]) == ("insert", None, "record added")
    upd = api.post(
        "Leads/upsert", json={"data": [lead(1, Last_Name="Renamed")], "duplicate_check_fields": ["Email"]}
    )
    r = upd.json()["data"][0]
    assert (r["action"], r["duplicate_field"], r["message"]) == ("update", "Email", "record updated")
    assert [x["Last_Name"] for x in zoho.records("Leads")] == ["Renamed"]


def test_upsert_matching_order_follows_duplicate_check_fields(api, zoho):
    """upsert-records.html "How does the duplicate check work?": listed fields first, in order, then
    user-defined unique fields; a system field not listed is ignored. Vehicles: system Name, unique VIN."""
    a = zoho.add_record("Vehicles", {"Name": "Alpha", "VIN": "VIN-A"})
    b = zoho.add_record("Vehicles", {"Name": "Beta", "VIN": "VIN-B"})
    by_vin = api.post(
        "Vehicles/upsert",
        json={"data": [{"Name": "Gamma", "VIN": "VIN-B"}], "duplicate_check_fields": ["VIN"]},
    )
    r = by_vin.json()["data"][0]
    assert r["duplicate_field"] == "VIN" and r["details"]["id"] == b
    # A listed field that does not match falls through to the unique fields (External_Vehicle_ID, VIN).
    zoho.add_record("Vehicles", {"Name": "Delta", "External_Vehicle_ID": "ev-1"})
    fall = api.post(
        "Vehicles/upsert",
        json={
            "data": [{"Name": "Epsilon", "VIN": "VIN-A"}],
            "duplicate_check_fields": ["External_Vehicle_ID"],
        },
    )
    r = fall.json()["data"][0]
    assert r["duplicate_field"] == "VIN" and r["details"]["id"] == a
    # Default order: the system duplicate field (Name) first.
    by_name = api.post("Vehicles/upsert", json={"data": [{"Name": "Epsilon", "Color": "red"}]})
    r = by_name.json()["data"][0]
    assert r["duplicate_field"] == "Name" and r["details"]["id"] == a
    assert [v["Name"] for v in zoho.records("Vehicles")] == ["Epsilon", "Gamma", "Delta"]


def test_upsert_later_unique_collision_is_duplicate_data(api, zoho):
    """upsert-records.html: the first matching field decides; a later unique field that collides with
    a different record fails with DUPLICATE_DATA."""
    zoho.add_record("Vehicles", {"Name": "Alpha", "VIN": "VIN-A"})
    zoho.add_record("Vehicles", {"Name": "Beta", "VIN": "VIN-B"})
    resp = api.post("Vehicles/upsert", json={"data": [{"Name": "Alpha", "VIN": "VIN-B"}]})
    err = resp.json()["data"][0]
    assert resp.status_code == 400 and err["code"] == "DUPLICATE_DATA" and err["details"]["api_name"] == "VIN"


def test_upsert_external_field_takes_part_without_header(api, zoho):
    """upsert-records-ext.html: the external field is unique and used for matching even without
    `X-EXTERNAL`; `duplicate_field` names it."""
    rid = zoho.add_record("Contacts", {"Last_Name": "Old", "External_Contact_ID": "c-9"})
    resp = api.post("Contacts/upsert", json={"data": [{"Last_Name": "New", "External_Contact_ID": "c-9"}]})
    r = resp.json()["data"][0]
    assert (r["action"], r["duplicate_field"], r["details"]["id"]) == ("update", "External_Contact_ID", rid)
    assert r["details"]["External_Contact_ID"] == "c-9"


def test_upsert_with_key_matching_several_records_updates_the_oldest(api, zoho):
    """Not established in Zoho's docs (README): a key held by several records updates the oldest."""
    old = zoho.add_record("Leads", {"Last_Name": "A", "Email": "same@example.com"})
    zoho.add_record("Leads", {"Last_Name": "B", "Email": "same@example.com"})
    resp = api.post("Leads/upsert", json={"data": [{"Last_Name": "C", "Email": "same@example.com"}]})
    assert resp.json()["data"][0]["details"]["id"] == old


def test_upsert_rejects_non_unique_duplicate_check_fields(api):
    """upsert-records.html: only system duplicate fields and unique fields may be listed."""
    resp = api.post("Leads/upsert", json={"data": [lead(1)], "duplicate_check_fields": ["City"]})
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_DATA" and resp.json()["details"]["api_name"] == "City"


def test_delete_many_one_and_errors(api, zoho):
    """delete-records.html: `?ids=`, `/{id}`; unknown → INVALID_DATA "record not deleted"; no ids →
    REQUIRED_PARAM_MISSING."""
    ids = [zoho.add_record("Leads", lead(i)) for i in range(3)]
    resp = api.delete("Leads", params={"ids": f"{ids[0]},{ids[1]}", "wf_trigger": "false"})
    assert resp.status_code == 200
    assert resp.json()["data"][0] == {
        "code": "SUCCESS",
        "details": {"id": ids[0]},
        "message": "record deleted",
        "status": "success",
    }
    one = api.delete(f"Leads/{ids[2]}")
    assert one.status_code == 200 and zoho.records("Leads") == []
    gone = api.delete(f"Leads/{ids[2]}")
    assert gone.status_code == 400 and gone.json()["data"][0]["message"] == "record not deleted"
    assert api.delete("Leads").json()["code"] == "REQUIRED_PARAM_MISSING"


def test_get_one_and_list(api, zoho):
    """get-records.html: GET /{module}/{id} and GET /{module} with page/per_page and info; 204 empty."""
    assert api.get("Leads").status_code == 204
    ids = [zoho.add_record("Leads", lead(i)) for i in range(5)]
    one = api.get(f"Leads/{ids[1]}")
    assert one.status_code == 200 and one.json()["data"][0]["Email"] == "lead1@example.com"
    assert api.get("Leads/5725767999999999999").status_code == 204
    page = api.get("Leads", params={"per_page": 2, "page": 2, "fields": "Email"}).json()
    assert [r["id"] for r in page["data"]] == ids[2:4]
    assert set(page["data"][0]) == {"id", "Email"}
    assert page["info"] == {"per_page": 2, "count": 2, "page": 2, "more_records": True}


def test_unknown_module_is_invalid_module(api):
    """Unknown (case-sensitive) module → data[0] INVALID_MODULE with resource_path_index 0, HTTP 400;
    so is a write to a module whose metadata says it is not `creatable` (subform modules such as
    Quoted_Items, modules-api.html)."""
    for path in ("Leeds", "leads", "Quoted_Items"):
        resp = api.post(path, json={"data": [lead(1)]})
        assert resp.status_code == 400
        err = resp.json()["data"][0]
        assert err["code"] == "INVALID_MODULE" and err["details"] == {"resource_path_index": 0}


def test_lookup_must_exist_and_is_stored_with_name(api, zoho):
    """insert-records.html: a lookup to an unknown id → INVALID_DATA; a known one stores id and name."""
    acc = zoho.add_record("Accounts", {"Account_Name": "Zylker"})
    resp = api.post(
        "Contacts",
        json={
            "data": [
                {"Last_Name": "A", "Account_Name": {"id": acc}},
                {"Last_Name": "B", "Account_Name": {"id": "5725767999999999999"}},
            ]
        },
    )
    assert resp.status_code == 207
    err = resp.json()["data"][1]
    assert err["code"] == "INVALID_DATA" and err["details"] == {
        "api_name": "Account_Name",
        "json_path": "$.data[1].Account_Name",
    }
    assert zoho.records("Contacts")[0]["Account_Name"] == {"name": "Zylker", "id": acc}


def test_lookup_by_external_value_with_header(api, zoho):
    """insert-records-ext.html: `X-EXTERNAL: Contacts.Account_Name.External_Account_ID` resolves the
    lookup by the account's external value; unknown value → INVALID_DATA."""
    acc = zoho.add_record("Accounts", {"Account_Name": "Zylker", "External_Account_ID": "acc-1"})
    hdr = {"X-EXTERNAL": "Contacts.Account_Name.External_Account_ID"}
    body = {
        "data": [
            {"Last_Name": "A", "Account_Name": {"External_Account_ID": "acc-1"}},
            {"Last_Name": "B", "Account_Name": {"External_Account_ID": "nope"}},
        ]
    }
    resp = api.post("Contacts", json=body, headers=hdr)
    assert resp.status_code == 207
    assert zoho.records("Contacts")[0]["Account_Name"]["id"] == acc
    assert resp.json()["data"][1]["details"]["api_name"] == "Account_Name"


def test_owner_must_be_an_org_user(api, zoho):
    """Owner takes a user id from the Users API; another id → INVALID_DATA."""
    users = api.get("users").json()["users"]
    resp = api.post(
        "Leads", json={"data": [lead(1, Owner={"id": users[1]["id"]}), lead(2, Owner={"id": "1"})]}
    )
    assert resp.status_code == 207
    assert zoho.records("Leads")[0]["Owner"]["id"] == users[1]["id"]
    assert resp.json()["data"][1]["details"]["api_name"] == "Owner"


def test_record_service_contract_for_bulk(zoho):
    """RecordService.write (shared with Bulk Write): one result per input, in order, never raises;
    `find_by` keys bulk update/upsert."""
    svc = zoho.record_service
    results = svc.write("v8", "Leads", "insert", [lead(1), {"Email": "no-name@example.com"}, "not a dict"])  # type: ignore[list-item]
    assert [r["status"] for r in results] == ["success", "error", "error"]
    upd = svc.write(
        "v8", "Leads", "update", [{"Email": "lead1@example.com", "City": "Rome"}], find_by="Email"
    )
    assert upd[0]["status"] == "success"
    ups = svc.write("v8", "Leads", "upsert", [lead(1, City="Paris"), lead(7)], find_by="Email")
    assert [(r["action"], r["duplicate_field"]) for r in ups] == [("update", "Email"), ("insert", None)]
    assert [r["City"] for r in svc.records("Leads") if "City" in r] == ["Paris"]


def test_records_survive_a_restart_with_sqlite(tmp_path, api_for):
    """`db_path`: records persist across restarts and new ids never collide with stored ones."""
    db = str(tmp_path / "zoho.sqlite")
    with ZohoEmulator(db_path=db) as first:
        api = api_for(first)
        api.post("Leads", json={"data": [lead(1)]})
        api.put("Leads", json={"data": [{"id": first.records("Leads")[0]["id"], "City": "Lima"}]})
    with ZohoEmulator(db_path=db) as second:
        stored = second.records("Leads")
        assert [(r["Email"], r["City"]) for r in stored] == [("lead1@example.com", "Lima")]
        new = api_for(second).post("Leads", json={"data": [lead(2)]}).json()["data"][0]["details"]["id"]
        assert new != stored[0]["id"]
        dup = api_for(second).post("Leads", json={"data": [lead(1)]})
        assert dup.json()["data"][0]["code"] == "DUPLICATE_DATA"


@pytest.mark.parametrize("version", ["v2", "v4", "v8"])
def test_versions_share_the_record_store(zoho, api_for, version):
    """Record paths are the same from v2 to v8 (reference §2.1); records are stored per module."""
    api = api_for(zoho, version)
    assert api.post("Leads", json={"data": [lead(1)]}).status_code == 201
    assert api_for(zoho, "v8").get("Leads").json()["info"]["count"] == 1


def test_invalid_url_and_method(api, zoho):
    """status-codes.html: unknown path → 404 INVALID_URL_PATTERN; wrong method → INVALID_REQUEST_METHOD."""
    assert api.get("settings/nothing").json()["code"] == "INVALID_URL_PATTERN"
    resp = api.request("PATCH", "Leads")
    assert resp.status_code == 400 and resp.json()["code"] == "INVALID_REQUEST_METHOD"


def test_get_and_delete_by_external_value(api, zoho):
    """get-records-ext.html / delete-records-ext.html: address records by their external value."""
    rid = zoho.add_record("Contacts", {"Last_Name": "Ext", "External_Contact_ID": "c-1"})
    hdr = {"X-EXTERNAL": "Contacts.External_Contact_ID"}
    got = api.get("Contacts/c-1", headers=hdr)
    assert got.status_code == 200 and got.json()["data"][0]["id"] == rid
    gone = api.delete("Contacts", params={"ids": "c-1,c-2"}, headers=hdr)
    assert gone.status_code == 207
    assert [r["status"] for r in gone.json()["data"]] == ["success", "error"]
    assert zoho.records("Contacts") == []


def test_connections_are_kept_alive(zoho):
    """HTTP/1.1 keep-alive: one connection serves several calls, including refused ones with a body."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", zoho.port, timeout=5)
    auth = {"Authorization": f"Zoho-oauthtoken {zoho.access_token()}", "Content-Type": "application/json"}
    body = json.dumps({"data": [lead(1)]})
    seen, ports = [], set()
    for method, path, headers in [
        ("POST", "/crm/v8/Leads", {}),  # 401, body unread by the handler
        ("POST", "/crm/v8/Leads", auth),
        ("GET", "/crm/v8/Leads", auth),
        ("GET", "/crm/v8/Leads/5725767999999999999", auth),  # 204
        ("GET", "/crm/v8/org", auth),
    ]:
        conn.request(method, path, body=body if method == "POST" else None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        seen.append((resp.status, resp.getheader("Connection")))
        assert conn.sock is not None
        ports.add(conn.sock.getsockname()[1])
    assert seen == [(401, None), (201, None), (200, None), (204, None), (200, None)]
    assert len(ports) == 1  # the same TCP connection throughout
    conn.close()
