"""Limits as Zoho enforces them: 100 records per call, credits per call type and per day, concurrency.

Sources: https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html (credits, editions),
Kaizen #35 https://help.zoho.com/portal/en/community/topic/kaizen-35-api-concurrency and
https://help.zoho.com/portal/en/community/topic/sub-concurrency-for-complex-apis (concurrency),
insert-records.html (100 records per call).
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.limits import coql_credits, write_credits


def leads(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"Last_Name": f"L{i}", "Email": f"l{i}@example.com"} for i in range(start, start + n)]


def test_more_than_100_records_is_limit_exceeded(api, zoho):
    """insert-records.html: at most 100 records per call → 400 LIMIT_EXCEEDED, nothing written or charged."""
    resp = api.post("Leads", json={"data": leads(101)})
    assert resp.status_code == 400
    assert resp.json()["code"] == "LIMIT_EXCEEDED" and resp.json()["details"] == {"limit": 100}
    assert zoho.records("Leads") == [] and zoho.credits_used == 0
    assert zoho.calls[-1]["records"] == 101
    assert api.post("Leads", json={"data": leads(100)}).status_code == 201


def test_credits_per_call_type(api, zoho):
    """api-limits.html: writes cost 1 per 10 records; metadata and GET calls cost 1."""
    api.post("Leads", json={"data": leads(100)})
    api.post("Leads/upsert", json={"data": leads(11, 100)})
    api.get("settings/modules")
    ids = ",".join(r["id"] for r in zoho.records("Leads")[:5])
    api.delete("Leads", params={"ids": ids})
    assert [c["credits"] for c in zoho.calls[1:]] == [10, 2, 1, 1]
    assert zoho.credits_used == 14


def test_credit_helpers():
    """COQL from v4 costs by LIMIT band (1-200 → 1, 201-1000 → 2, 1001-2000 → 3); v2/v3 cost 1."""
    assert [write_credits(n) for n in (1, 10, 11, 100)] == [1, 1, 2, 10]
    assert coql_credits("v2", "select id from Leads limit 2000") == 1
    assert coql_credits("v4", "select id from Leads where Email is not null") == 1
    assert coql_credits("v8", "select id from Leads limit 1000") == 2
    assert coql_credits("v8", "select id from Leads limit 400, 2000") == 3


@pytest.mark.skipif(
    importlib.util.find_spec("zoho_crm_emulator.coql") is None, reason="coql.py not built yet"
)
def test_coql_call_is_charged_by_limit_band(api, zoho):
    """COQL credits by LIMIT band from v4 (COQL-Overview.html v4: 1001-2000 → 3), charged on the call;
    1 credit in v2/v3, whose calls take at most 200 rows."""
    zoho.add_record("Leads", {"Last_Name": "A", "Email": "a@example.com"})
    old = api.version in ("v2", "v2.1", "v3")
    query = f"select id, Email from Leads where Email = 'a@example.com' limit {200 if old else 1500}"
    resp = api.post("coql", json={"select_query": query})
    assert resp.status_code == 200, resp.text
    assert zoho.calls[-1]["credits"] == (1 if old else 3)


def test_daily_budget_header_and_429(api_for):
    """`X-API-CREDITS-REMAINING` once half the budget is used; 429 once it is spent."""
    with ZohoEmulator(credits=30) as zoho:
        api = api_for(zoho)
        first = api.post("Leads", json={"data": leads(100)})
        assert "X-API-CREDITS-REMAINING" not in first.headers
        second = api.post("Leads", json={"data": leads(100, 100)})
        assert second.headers["X-API-CREDITS-REMAINING"] == "10"
        assert api.post("Leads", json={"data": leads(100, 200)}).status_code == 201
        refused = api.get("org")
        assert refused.status_code == 429 and refused.headers["X-API-CREDITS-REMAINING"] == "0"
        assert refused.json() == {
            "code": "TOO_MANY_REQUESTS",
            "details": {},
            "message": "API credits exhausted for the rolling 24 hours",
            "status": "error",
        }
        assert zoho.credits_used == 30


@pytest.mark.parametrize(
    ("edition", "budget"), [("free", 5_000), ("standard", 52_500), ("enterprise", 60_000)]
)
def test_edition_budgets(edition, budget):
    """Daily credits per edition (api-limits.html) with 10 user licences by default."""
    with ZohoEmulator(edition=edition) as zoho:
        info = requests.get(f"{zoho.url}/__emulator__/credits", timeout=5).json()
        assert info["budget"] == budget and info["edition"] == edition


def _parallel(calls: list[Any]) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def test_concurrency_limit_per_edition_refuses_without_queueing(api_for):
    """Kaizen #35: Free allows 5 calls in flight; the next ones get 429 at once (latency 500 ms)."""
    with ZohoEmulator(edition="free", latency_ms=500) as zoho:
        token = api_for(zoho).token
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}

        def call() -> int:
            return requests.get(f"{zoho.url}/crm/v8/org", headers=headers, timeout=5).status_code

        statuses = _parallel([call] * 8)
        assert statuses.count(200) <= 5 and statuses.count(429) >= 1
        assert statuses.count(200) + statuses.count(429) == 8
        assert zoho.peak_in_flight <= 5
        assert zoho.calls[-1]["status"] in (200, 429)


def test_sub_concurrency_for_writes_of_more_than_10_records(api_for):
    """Sub-concurrency of 10 for insert/update/upsert carrying more than 10 records; writes of 10 or
    fewer records only count against the edition limit (Enterprise: 20)."""
    with ZohoEmulator(latency_ms=600) as zoho:
        api = api_for(zoho)
        headers = api.headers()

        def write(n: int, start: int) -> Any:
            def run() -> int:
                body = {"data": leads(n, start)}
                return requests.post(
                    f"{zoho.url}/crm/v8/Leads", json=body, headers=headers, timeout=5
                ).status_code

            return run

        heavy = _parallel([write(11, 1000 + 11 * i) for i in range(14)])
        assert heavy.count(201) <= 10 and heavy.count(429) >= 1
        light = _parallel([write(10, 5000 + 10 * i) for i in range(14)])
        assert light == [201] * 14


def test_racing_writes_never_overspend_the_budget(api_for):
    """api-limits.html: a call is refused once the day's credits are spent. Ten writes of 100 records
    (10 credits each) racing for the last 10 credits of a 300 budget: exactly one gets through, the
    others get 429, and 300 are spent, never 310 (the check and the charge are one step)."""
    with ZohoEmulator(credits=300, latency_ms=400) as zoho:
        api = api_for(zoho)
        headers = api.headers()
        assert zoho.state.credits.try_charge(290) is not None  # 29 writes' worth spent earlier today

        def write(start: int) -> Any:
            def run() -> int:
                body = {"data": leads(100, start)}
                return requests.post(
                    f"{zoho.url}/crm/v8/Leads", json=body, headers=headers, timeout=10
                ).status_code

            return run

        statuses = _parallel([write(1000 * i) for i in range(10)])
        assert sorted(statuses) == [201] + [429] * 9
        assert zoho.credits_used == 300
        assert len(zoho.records("Leads")) == 100
