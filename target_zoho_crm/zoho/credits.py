"""Zoho's API credits and limits, stated once: what each call costs, how much one call or job may carry,
and the run's one credit meter.

Published costs (api-limits.html, https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html;
reference §9.1): an insert/update/upsert/delete call of up to 100 records costs 1 credit per 10 records
(rounded up); a Bulk Write job of up to 25,000 rows (one file of at most 25 MB) costs 500 credits; a
COQL query costs 1, 2 or 3 credits by its LIMIT (≤ 200, ≤ 1,000, more; v2/v2.1/v3: always 1); file
uploads and result downloads are free; any other call costs 1.

`api_type: auto` follows from the same table: REST costs about n/10 and Bulk 500 * ceil(n / 25,000),
so the break-even is 5,000 records. At equal cost REST wins: its results come back at once, with no
job to wait for.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from target_zoho_crm.zoho import versions

# -- limits ----------------------------------------------------------------------------------------------
REST_RECORDS_PER_CALL = 100
REST_CALLS_PER_WAVE = 10  # write calls in flight at Zoho's default concurrency limit
BULK_RECORDS_PER_JOB = 25_000
BULK_FILE_BYTES = 25 * 1024 * 1024
COQL_IN_MAX = 50  # values in one COQL `in (...)` in every version (v7+: 100; zoho/versions.py)
COQL_PAGE = 200  # rows per COQL call that every version accepts, and 1 credit (v2/v3: 200; v4+: 2000)
SEARCH_CRITERIA_MAX = 10  # criteria in one Search API call (search-records.html)
RECORDS_PER_PAGE = 200  # rows per page of a Search or Users read

# -- prices ----------------------------------------------------------------------------------------------
REST_RECORDS_PER_CREDIT = 10
BULK_CREDITS_PER_JOB = 500
COQL_DEFAULT_LIMIT = 200  # a query without LIMIT returns (and costs) up to 200 rows
COQL_BANDS = ((200, 1), (1000, 2), (2000, 3))  # (rows up to, credits)
BULK_OPERATIONS = frozenset({"insert", "update", "upsert"})


_WRITE_PATH_RE = re.compile(r"^/(?P<module>[A-Za-z0-9_]+)(?:/(?P<rest>upsert|[0-9]+))?/?$")


_COQL_LIMIT_RE = re.compile(r"\blimit\s+(\d+)(?:\s*,\s*(\d+))?", re.IGNORECASE)


def credit_cost(method: str, path: str, base: str, api_version: str, json: Any, params: Any) -> int:
    """Credits Zoho charges for one call, per its published table (reference §9.1)."""
    method = method.upper()
    clean = urlsplit(path).path
    if base == "upload" or "bulk-write" in clean or clean.rstrip("/").endswith("/result"):
        return 0  # file upload and result download are not API-credit calls
    if base == "bulk":
        return BULK_CREDITS_PER_JOB if method == "POST" and clean.rstrip("/").endswith("/write") else 1
    if clean.rstrip("/").endswith("/coql") and method == "POST":
        if not versions.api_version(api_version).coql_credit_bands:
            return 1
        query = (json or {}).get("select_query", "") if isinstance(json, Mapping) else ""
        match = _COQL_LIMIT_RE.search(str(query))
        limit = int(match.group(2) or match.group(1)) if match else COQL_DEFAULT_LIMIT
        return next((cost for rows, cost in COQL_BANDS if limit <= rows), COQL_BANDS[-1][1])
    match = _WRITE_PATH_RE.match(clean)
    if match and not clean.startswith("/settings") and method in ("POST", "PUT"):
        data = json.get("data") if isinstance(json, Mapping) else None
        count = len(data) if isinstance(data, list) else 1
        return max(1, math.ceil(count / REST_RECORDS_PER_CREDIT))
    if match and method == "DELETE":
        ids = (params or {}).get("ids") if isinstance(params, Mapping) else None
        count = len(str(ids).split(",")) if ids else 1
        return max(1, math.ceil(count / REST_RECORDS_PER_CREDIT))
    return 1


Api = Literal["rest", "bulk"]


def rest_credits(n_records: int) -> int:
    """Credits for writing `n_records` in calls of 100: each call costs ceil(records / 10)."""
    if n_records <= 0:
        return 0
    full, rest = divmod(n_records, REST_RECORDS_PER_CALL)
    per_full = math.ceil(REST_RECORDS_PER_CALL / REST_RECORDS_PER_CREDIT)
    return full * per_full + math.ceil(rest / REST_RECORDS_PER_CREDIT)


def bulk_credits(n_records: int) -> int:
    """Credits for writing `n_records` through Bulk Write jobs of at most 25,000 records."""
    if n_records <= 0:
        return 0
    return BULK_CREDITS_PER_JOB * math.ceil(n_records / BULK_RECORDS_PER_JOB)


def choose_api(n_records: int, operation: str) -> Api:
    """ "bulk" when Bulk Write costs strictly fewer credits for this batch (and supports the
    operation), else "rest"."""
    if operation not in BULK_OPERATIONS:
        return "rest"
    return "bulk" if bulk_credits(n_records) < rest_credits(n_records) else "rest"


class CreditMeter:
    """The run's one count of credits spent, at the prices above: in total, per call label, and per
    account (whoever a call is charged to, e.g. a stream; None for the run's shared calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.calls: Counter[str] = Counter()
        self.by_account: Counter[str] = Counter()

    def charge(self, cost: int, label: str, account: str | None = None) -> None:
        with self._lock:
            self.total += cost
            self.calls[label] += 1
            if account is not None:
                self.by_account[account] += cost

    def of(self, account: str) -> int:
        """Credits charged to `account` so far."""
        with self._lock:
            return self.by_account[account]
