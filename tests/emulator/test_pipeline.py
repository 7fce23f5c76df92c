"""The order of the checks every CRM call goes through (pipeline.py), seen over HTTP: when a call is
wrong in several ways, the first check in Zoho's order answers, and a refused call is not charged."""

from __future__ import annotations

import requests

from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.pipeline import CHECKS

T = 5


def _call(zoho: ZohoEmulator, method: str, path: str, token: str | None, **kw: object) -> requests.Response:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"} if token else {}
    return requests.request(method, f"{zoho.url}{path}", headers=headers, timeout=T, **kw)  # type: ignore[arg-type]


def test_the_checks_are_in_zoho_order() -> None:
    assert [c.__name__ for c in CHECKS] == [
        "early_fault",
        "authenticate",
        "find_route",
        "find_module",
        "check_scope",
        "read_body",
        "check_record_limit",
        "take_credits",
        "enter_gate",
    ]


def test_the_first_failing_check_answers(zoho: ZohoEmulator) -> None:
    token = zoho.access_token()
    leads_only = zoho.access_token(scopes="ZohoCRM.modules.leads.ALL")
    too_many = {"data": [{"Last_Name": str(i)} for i in range(101)]}
    cases = [
        # no token beats an unknown URL
        (("GET", "/crm/v8/nowhere/at/all", None), 401, "AUTHENTICATION_FAILURE"),
        # an unknown URL beats a wrong method
        (("PATCH", "/crm/v9/Leads", token), 404, "INVALID_URL_PATTERN"),
        # an unknown module beats a missing scope and a body that is not JSON
        (("POST", "/crm/v8/Nope", leads_only, {"data": b"{not json"}), 400, "INVALID_MODULE"),
        # a missing scope beats a body that is not JSON
        (("POST", "/crm/v8/Contacts", leads_only, {"data": b"{not json"}), 401, "OAUTH_SCOPE_MISMATCH"),
        # a body that is not JSON, then too many records
        (("POST", "/crm/v8/Leads", token, {"data": b"{not json"}), 400, "INVALID_DATA"),
        (("POST", "/crm/v8/Leads", token, {"json": too_many}), 400, "LIMIT_EXCEEDED"),
    ]
    for (method, path, tok, *extra), status, code in cases:
        resp = _call(zoho, method, path, tok, **(extra[0] if extra else {}))
        body = resp.json()
        got = body["data"][0]["code"] if "data" in body else body["code"]
        assert (resp.status_code, got) == (status, code), (method, path)
    assert zoho.credits_used == 0 and zoho.records("Leads") == []
    assert [c["credits"] for c in zoho.calls] == [0] * len(cases)
