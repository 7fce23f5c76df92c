"""Faults on demand: scripted and random 429/5xx/drops, delays, after-write faults, token outages.

These are the emulator's own controls (README "Faults"); the error bodies they produce follow
https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from zoho_crm_emulator import ZohoEmulator


def leads(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"Last_Name": f"L{i}", "Email": f"l{i}@example.com"} for i in range(start, start + n)]


def test_script_applies_in_order_to_matching_calls_only(api, zoho):
    """A scripted sequence hits the next matching calls; others pass untouched."""
    zoho.set_faults(
        {
            "script": [{"status": 429}, {"status": 500}, {"status": 503}],
            "match": {"path_contains": "/Leads", "method": "POST"},
        }
    )
    assert api.get("org").status_code == 200  # not matching
    statuses = [api.post("Leads", json={"data": leads(1, i)}).status_code for i in range(4)]
    assert statuses == [429, 500, 503, 201]
    r500 = zoho.calls[-3]
    assert (r500["status"], r500["fault"], r500["credits"]) == (500, "500", 0)
    assert len(zoho.records("Leads")) == 1


def test_fault_bodies_are_zoho_shaped(api, zoho):
    """429 TOO_MANY_REQUESTS (body is the emulator's documented choice), 500 INTERNAL_ERROR."""
    zoho.set_faults({"script": [{"status": 429}, {"status": 500}]})
    assert api.get("org").json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {},
        "message": "Too many requests",
        "status": "error",
    }
    assert api.get("org").json()["code"] == "INTERNAL_ERROR"


def test_drop_closes_the_connection_without_a_response(api, zoho):
    """A dropped connection: the client sees a connection error, the call log says `drop`."""
    zoho.set_faults({"script": [{"drop": True}]})
    with pytest.raises(requests.ConnectionError):
        api.post("Leads", json={"data": leads(1)})
    assert zoho.calls[-1]["fault"] == "drop" and zoho.records("Leads") == []
    assert api.post("Leads", json={"data": leads(1)}).status_code == 201  # the pool recovers


def test_after_write_fault_stores_records_then_fails(api, zoho):
    """`after_write`: the write is performed (and charged), the client gets a 500 or a dropped
    connection — a timeout after commit, as a client sees it."""
    zoho.set_faults({"script": [{"status": 500, "after_write": True}, {"drop": True, "after_write": True}]})
    assert api.post("Leads", json={"data": leads(2)}).status_code == 500
    with pytest.raises(requests.ConnectionError):
        api.post("Leads", json={"data": leads(2, 2)})
    assert len(zoho.records("Leads")) == 4
    assert [c["fault"] for c in zoho.calls[-2:]] == ["500 after write", "drop after write"]
    assert zoho.credits_used == 2


def test_delay_step_adds_latency(api, zoho):
    """`delay_ms` slows one call down (a client timeout shorter than it fires)."""
    zoho.set_faults({"script": [{"delay_ms": 600}]})
    with pytest.raises(requests.Timeout):
        api.get("org", timeout=0.2)
    started = time.monotonic()
    assert api.get("org").status_code == 200
    assert time.monotonic() - started < 0.5


def test_random_rates_are_reproducible_with_a_seed(api_for):
    """`rates` with `seed`: the same plan gives the same sequence of faults."""
    plan = {"rates": {"429": 0.3, "500": 0.2}, "seed": 7}
    runs = []
    for _ in range(2):
        with ZohoEmulator(faults=plan) as zoho:
            api = api_for(zoho)
            runs.append([api.get("org").status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 429, 500} == set(runs[0])


def test_token_endpoint_down_and_expire_tokens(zoho, refresh, api):
    """`token_endpoint_down: N`: the next N token calls get 503; `expire_tokens()` invalidates tokens."""
    zoho.set_faults({"token_endpoint_down": 2})
    for _ in range(2):
        resp = requests.post(f"{zoho.url}/oauth/v2/token", data={"grant_type": "refresh_token"}, timeout=5)
        assert resp.status_code == 503
    assert "access_token" in refresh(zoho)
    zoho.expire_tokens()
    assert api.get("org").json()["code"] == "INVALID_TOKEN"


def test_script_without_oauth_match_leaves_token_calls_alone(zoho, refresh):
    """A plan aimed at CRM calls is not used up by token refreshes."""
    zoho.set_faults({"script": [{"status": 500}]})
    assert "access_token" in refresh(zoho)
    assert zoho.faults()["remaining"]["script"] == [{"status": 500}]


def test_bulk_fail_jobs_counts_down(zoho):
    """`bulk_fail_jobs: N` is read by the bulk service through the shared state."""
    zoho.set_faults({"bulk_fail_jobs": 1})
    assert zoho.state.faults.take_bulk_failure() is True
    assert zoho.state.faults.take_bulk_failure() is False


def test_faults_over_http_and_at_start(zoho, api):
    """`POST/GET/DELETE /__emulator__/faults`; a bad plan is refused and leaves the old one."""
    base = f"{zoho.url}/__emulator__/faults"
    assert requests.post(base, json={"script": [{"status": 502}]}, timeout=5).status_code == 200
    assert requests.post(base, json={"script": [{"status": 200}]}, timeout=5).status_code == 400
    assert requests.post(base, json={"nonsense": 1}, timeout=5).status_code == 400
    assert requests.get(base, timeout=5).json()["remaining"]["script"] == [{"status": 502}]
    assert api.get("org").status_code == 502
    requests.post(base, json={"script": [{"status": 500}]}, timeout=5)
    requests.delete(base, timeout=5)
    assert api.get("org").status_code == 200


def test_faults_given_at_start(api_for):
    """`ZohoEmulator(faults=...)` / `--faults JSON` set the plan before the first call."""
    with ZohoEmulator(faults={"script": [{"status": 429}], "match": {"path_contains": "/org"}}) as zoho:
        api = api_for(zoho)
        assert [api.get("org").status_code, api.get("org").status_code] == [429, 200]
