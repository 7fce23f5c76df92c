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


def test_the_budget_refuses_a_call_that_would_pass_it_counting_calls_in_flight() -> None:
    meter = CreditMeter(budget=25)
    assert meter.reserve(10) is None  # in flight
    assert meter.reserve(10) is None  # in flight too: 20 committed
    assert meter.reserve(10) == 20  # would make 30: refused, nothing held
    meter.charge(10, "POST /Leads", "leads", reserved=True)
    meter.release(10)  # the other call was not charged by Zoho (refused before any work)
    assert (meter.total, meter.reserved) == (10, 0)
    assert meter.reserve(10) is None and meter.reserve(5) is None
    assert meter.reserve(1) == 25
    assert meter.reserve(0) is None  # a free call (upload, result download) always fits
    assert CreditMeter().reserve(10**9) is None  # no budget: no limit


def test_credits_left_warn_once_per_level_and_keep_the_lowest_count() -> None:
    """Zoho sends the count once half of the day's credits are used: the first value is taken as half
    of the budget, and each level is announced once as the count falls."""
    meter = CreditMeter()
    assert meter.observe_remaining(1000) == 0.50
    assert meter.observe_remaining(900) is None
    assert meter.observe_remaining(1200) is None  # an older answer arriving late
    assert meter.zoho_remaining == 900
    assert meter.observe_remaining(480) == 0.25
    assert meter.observe_remaining(90) == 0.05  # 10% and 5% crossed at once: the lower one is said
    assert meter.observe_remaining(0) is None
    assert meter.daily_estimate == 2000
