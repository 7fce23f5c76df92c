"""Introspection under `/__emulator__/` (the emulator's own API, kept apart from Zoho's paths):
never charged, never in the call log, no token needed. Metadata routes follow Zoho's
modules-api.html, field-meta.html, layouts-meta.html, get-org-data.html and get-users.html (v8)."""

from __future__ import annotations

import requests

T = 5


def test_records_seed_calls_and_credits(zoho, api):
    base = f"{zoho.url}/__emulator__"
    seeded = requests.post(
        f"{base}/seed/Accounts",
        json={"data": [{"Account_Name": "Zylker"}, {"Account_Name": "Acme"}]},
        timeout=T,
    )
    assert seeded.status_code == 201 and len(seeded.json()["ids"]) == 2
    api.post("Contacts", json={"data": [{"Last_Name": "A", "Account_Name": {"id": seeded.json()["ids"][0]}}]})
    recs = requests.get(f"{base}/records/Accounts", timeout=T).json()
    assert recs["count"] == 2 and recs["records"][0]["Account_Name"] == "Zylker"
    calls = requests.get(f"{base}/calls", timeout=T).json()["calls"]
    assert [(c["method"], c["path"], c["status"], c["records"], c["credits"]) for c in calls] == [
        ("POST", "/oauth/v2/token", 200, 0, 0),
        ("POST", f"/crm/{api.version}/Contacts", 201, 1, 1),
    ]
    credits = requests.get(f"{base}/credits", timeout=T).json()
    assert credits["used"] == 1 and credits["remaining"] == credits["budget"] - 1
    assert credits["concurrency_limit"] == 20 and credits["sub_concurrency_limit"] == 10


def test_reset_latency_and_expire_tokens(zoho, api):
    base = f"{zoho.url}/__emulator__"
    zoho.add_record("Leads", {"Last_Name": "A"})
    api.get("org")
    assert requests.post(f"{base}/latency", json={"latency_ms": 150}, timeout=T).json() == {"latency_ms": 150}
    resp = api.get("org")
    assert resp.elapsed.total_seconds() >= 0.14
    zoho.set_latency(0)
    requests.post(f"{base}/reset", timeout=T)
    assert zoho.records("Leads") == [] and zoho.calls == [] and zoho.credits_used == 0
    assert api.get("org").status_code == 200  # tokens survive a reset
    requests.post(f"{base}/expire-tokens", timeout=T)
    assert api.get("org").json()["code"] == "INVALID_TOKEN"
    assert requests.get(f"{base}/nothing", timeout=T).status_code == 404


def test_metadata_routes(api):
    """Modules, fields, layouts, org and users as Zoho shapes them; 1 credit each."""
    modules = api.get("settings/modules").json()["modules"]
    assert "Leads" in [m["api_name"] for m in modules]
    assert api.get("settings/modules/Leads").json()["modules"][0]["api_name"] == "Leads"
    fields = api.get("settings/fields", params={"module": "Leads"}).json()["fields"]
    assert "Last_Name" in [f["api_name"] for f in fields]
    assert api.get("settings/layouts", params={"module": "Leads"}).json()["layouts"]
    missing = api.get("settings/fields")
    assert missing.status_code == 400 and missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    assert api.get("settings/fields", params={"module": "Nope"}).json()["code"] == "INVALID_MODULE"
    org = api.get("org").json()["org"][0]
    assert {"id", "zgid", "domain_name", "time_zone"} <= set(org)
    assert api.get("users", params={"type": "ActiveUsers"}).json()["users"][0]["id"]
