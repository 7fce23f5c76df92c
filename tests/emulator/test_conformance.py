"""Conformance: what a loader relies on, asked over HTTP only, so it runs against the emulator here and
unchanged against a real Zoho developer or sandbox org (`ZOHO_LIVE=1 … pytest -m live`, see live.py).

No introspection, no faults: each test sees Zoho only through its answers. Each creates records tagged
with its run's tag (emails under `example.invalid`), changes and deletes only those, and the `crm`
fixture deletes them all at the end. Pages are v8's unless noted
(https://www.zoho.com/crm/developer/docs/api/v8/).
"""

from __future__ import annotations

from typing import Any

import pytest

from .live import Crm

pytestmark = pytest.mark.live


def _lead(crm: Crm, name: str, **extra: Any) -> dict[str, Any]:
    return {"Last_Name": f"{name} {crm.guard.tag}", "Email": crm.guard.email(name), **extra}


def _coql(crm: Crm, query: str) -> Any:
    return crm.post("coql", json={"select_query": query})


def test_token_answer_shape(crm: Crm) -> None:
    """access-token-expiry.html (Zoho Accounts): refresh gives `access_token`, `api_domain`,
    `token_type: Bearer`, `expires_in` in seconds, and no new refresh token."""
    answer = crm.token_answer
    assert answer["token_type"] == "Bearer" and answer["api_domain"].startswith("http")
    assert 0 < answer["expires_in"] <= 3600 and "refresh_token" not in answer


def test_calls_without_a_valid_token(crm: Crm) -> None:
    """status-codes.html: no token → 401 AUTHENTICATION_FAILURE; a wrong one → 401 INVALID_TOKEN."""
    url = crm.url("Leads")
    bare = crm.session.get(url, timeout=crm.timeout)
    assert bare.status_code == 401 and bare.json()["code"] == "AUTHENTICATION_FAILURE"
    wrong = crm.session.get(
        url, headers={"Authorization": "Zoho-oauthtoken 1000.not.valid"}, timeout=crm.timeout
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_TOKEN"


def test_metadata_a_loader_reads(crm: Crm) -> None:
    """modules-api.html and field-meta.html: Leads is an API module; Last_Name is system mandatory,
    Email an email field, Description a multi-line (textarea) field."""
    modules = {m["api_name"]: m for m in crm.get("settings/modules").json()["modules"]}
    assert {"Leads", "Contacts", "Accounts"} <= set(modules) and modules["Leads"]["api_supported"] is True
    fields = {
        f["api_name"]: f for f in crm.get("settings/fields", params={"module": "Leads"}).json()["fields"]
    }
    assert fields["Last_Name"]["system_mandatory"] is True
    assert fields["Email"]["data_type"] == "email" and fields["Description"]["data_type"] == "textarea"


def test_unknown_module(crm: Crm) -> None:
    """status-codes.html: a module that does not exist → 400 INVALID_MODULE inside `data`."""
    resp = crm.get("No_Such_Module_Zemu")
    assert resp.status_code == 400 and resp.json()["data"][0]["code"] == "INVALID_MODULE"


def test_insert_mandatory_and_more_than_100(crm: Crm) -> None:
    """insert-records.html: 201 with the new id; no Last_Name → MANDATORY_NOT_FOUND; 101 records →
    LIMIT_EXCEEDED and nothing written (the guard deletes what was created)."""
    ok = crm.post("Leads", json={"data": [_lead(crm, "insert")]})
    assert ok.status_code == 201 and ok.json()["data"][0]["code"] == "SUCCESS"
    bad = crm.post("Leads", json={"data": [{"Email": crm.guard.email("nameless"), "Company": crm.guard.tag}]})
    item = bad.json()["data"][0]
    assert bad.status_code == 400 and (item["code"], item["details"]["api_name"]) == (
        "MANDATORY_NOT_FOUND",
        "Last_Name",
    )
    many = crm.post("Leads", json={"data": [_lead(crm, f"many{i}") for i in range(101)]})
    assert many.status_code == 400 and many.json()["code"] == "LIMIT_EXCEEDED"


def test_duplicate_and_upsert(crm: Crm) -> None:
    """Leads' duplicate-check field Email: a second insert → DUPLICATE_DATA naming the existing record's
    id; upsert on Email updates it (`action: update`, `duplicate_field: Email`) (upsert-records.html)."""
    first = crm.post("Leads", json={"data": [_lead(crm, "dup")]}).json()["data"][0]["details"]["id"]
    again = crm.post("Leads", json={"data": [_lead(crm, "dup")]})
    item = again.json()["data"][0]
    assert again.status_code == 400 and item["code"] == "DUPLICATE_DATA"
    assert item["details"]["duplicate_record"]["id"] == first
    upsert = crm.post(
        "Leads/upsert",
        json={"data": [_lead(crm, "dup", Company="Upserted")], "duplicate_check_fields": ["Email"]},
    )
    answer = upsert.json()["data"][0]
    assert upsert.status_code == 200 and (answer["action"], answer["duplicate_field"]) == ("update", "Email")
    assert answer["details"]["id"] == first


def test_coql_finds_by_key_and_answers_204(crm: Crm) -> None:
    """Get-Records-through-COQL-Query.html: a key lookup finds the record; no match → 204."""
    made = crm.post("Leads", json={"data": [_lead(crm, "coql")]}).json()["data"][0]["details"]["id"]
    found = _coql(crm, f"select Last_Name, Email from Leads where Email = '{crm.guard.email('coql')}'")
    assert found.status_code == 200 and [r["id"] for r in found.json()["data"]] == [made]
    none = _coql(crm, f"select id from Leads where Email = '{crm.guard.email('nobody')}'")
    assert none.status_code == 204


def test_coql_rules(crm: Crm) -> None:
    """COQL-Limitations.html and the audit corrections: no WHERE → SYNTAX_ERROR; LIMIT 0 →
    INVALID_DATA; a multi-line field in criteria is refused; `in` over its version's maximum →
    LIMIT_EXCEEDED (100 from v7, 50 before)."""
    assert _coql(crm, "select id from Leads limit 1").json()["code"] == "SYNTAX_ERROR"
    assert _coql(crm, "select id from Leads where id is not null limit 0").json()["code"] == "INVALID_DATA"
    multi = _coql(crm, "select id from Leads where Description = 'x'")
    assert multi.status_code == 400
    most = 100 if crm.version in ("v7", "v8") else 50
    values = ", ".join(f"'{crm.guard.email(str(i))}'" for i in range(most + 1))
    over = _coql(crm, f"select id from Leads where Email in ({values})")
    assert over.status_code == 400 and over.json()["code"] == "LIMIT_EXCEEDED"
    within = ", ".join(f"'{crm.guard.email(str(i))}'" for i in range(most))
    assert _coql(crm, f"select id from Leads where Email in ({within})").status_code == 204


def test_update_get_and_delete(crm: Crm) -> None:
    """update-records.html, get-records.html and delete-records.html on the test's own record."""
    made = crm.post("Leads", json={"data": [_lead(crm, "upd")]}).json()["data"][0]["details"]["id"]
    changed = crm.put("Leads", json={"data": [{"id": made, "Company": f"Changed {crm.guard.tag}"}]})
    assert changed.status_code == 200 and changed.json()["data"][0]["code"] == "SUCCESS"
    got = crm.get(f"Leads/{made}").json()["data"][0]
    assert got["Company"] == f"Changed {crm.guard.tag}"
    gone = crm.delete("Leads", params={"ids": made})
    assert gone.status_code == 200 and gone.json()["data"][0]["details"]["id"] == made
    crm.guard.created["Leads"].remove(made)  # already deleted
