"""Zoho's price list and the run's one credit meter (pure logic)."""

from __future__ import annotations

from target_zoho_crm.zoho.credits import CreditMeter, credit_cost


def coql(limit: str) -> int:
    return credit_cost("POST", "/coql", "api", "v4", {"select_query": f"select id from Leads {limit}"}, None)


def test_coql_costs_by_its_limit_band_and_writes_by_tens_of_records() -> None:
    assert [coql(""), coql("limit 200"), coql("limit 201"), coql("limit 1000"), coql("limit 2000")] == [
        1,
        1,
        2,
        2,
        3,
    ]
    assert coql("limit 0, 1500") == 3  # `limit offset, count`: the count decides
    assert (
        credit_cost("POST", "/coql", "api", "v2.1", {"select_query": "select id from Leads limit 2000"}, None)
        == 1
    )
    assert credit_cost("POST", "/Leads", "api", "v4", {"data": [{}] * 100}, None) == 10
    assert credit_cost("POST", "/Leads/upsert", "api", "v4", {"data": [{}] * 11}, None) == 2
    assert credit_cost("POST", "/write", "bulk", "v4", {}, None) == 500
    assert credit_cost("POST", "/upload", "upload", "v4", None, None) == 0


def test_the_meter_counts_the_total_and_what_each_account_was_charged() -> None:
    meter = CreditMeter()
    meter.charge(10, "POST /Leads", "leads")
    meter.charge(500, "POST /write", "contacts")
    meter.charge(1, "GET /settings/fields")  # the run's own calls: in the total only
    assert meter.total == 511
    assert (meter.of("leads"), meter.of("contacts"), meter.of("deals")) == (10, 500, 0)
    assert meter.calls["POST /Leads"] == 1
