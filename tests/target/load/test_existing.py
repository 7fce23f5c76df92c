"""The arithmetic of the read of what Zoho holds (load/existing.py), pure: a scan's page size and cost,
COQL's `in` sizes per version, and how one read answers the key questions of a batch.

Prices from api-limits.html (COQL: 1 credit up to LIMIT 200, 2 up to 1,000, 3 up to 2,000; v2/v3 always
1 with 200 rows a call) and COQL-Limitations.html (`in`: 50 values through v6, 100 from v7).
"""

from __future__ import annotations

import pytest

from target_zoho_crm.load.existing import Existing, Held, scan_credits, scan_page
from target_zoho_crm.zoho.credits import coql_in_max, coql_rows_max


@pytest.mark.parametrize(
    ("size", "version", "page", "credits"),
    [
        (0, "v4", 200, 1),
        (150, "v4", 200, 1),
        (900, "v4", 1000, 2),
        (10_000, "v4", 2000, 15),
        (100_000, "v4", 2000, 150),
        (100_001, "v8", 2000, 153),
        (10_000, "v2.1", 200, 50),
    ],
)
def test_a_scan_costs_its_pages_at_coql_prices(size: int, version: str, page: int, credits: int) -> None:
    assert scan_page(size, version) == page
    assert scan_credits(size, version) == credits


@pytest.mark.parametrize(
    ("version", "in_max", "rows"),
    [("v2", 50, 200), ("v4", 50, 2000), ("v6", 50, 2000), ("v7", 100, 2000), ("v8", 100, 2000)],
)
def test_coql_limits_per_version(version: str, in_max: int, rows: int) -> None:
    assert coql_in_max(version) == in_max
    assert coql_rows_max(version) == rows


def test_the_first_key_field_that_matches_decides_and_keys_fold_case() -> None:
    one, two, three = Held("1"), Held("2"), Held("3")
    existing = Existing({"Email": {"a@x.com": [one]}, "Phone": {"123": [two, three]}})
    assert existing.match({"Email": "A@X.com ", "Phone": "123"}, ["Email", "Phone"]) == [one]
    assert existing.match({"Email": "b@x.com", "Phone": "123"}, ["Email", "Phone"]) == [two, three]
    assert existing.match({"Email": None}, ["Email", "Phone"]) == []
    assert existing.ids("Phone", ["123", "999"]) == {"123": ("2", "3"), "999": ()}
