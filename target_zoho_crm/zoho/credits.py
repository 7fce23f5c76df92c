"""`api_type: auto`: per batch, the API that spends fewer of the org's daily credits.

Zoho's published costs (api-limits.html, https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html):
an insert/update/upsert call of up to 100 records costs 1 credit per 10 records (rounded up), and a
Bulk Write job of up to 25,000 records costs 500 credits. So REST costs about n/10 and Bulk
500 * ceil(n / 25,000): the break-even is 5,000 records. At equal cost REST wins: its results come
back at once, with no job to wait for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

REST_RECORDS_PER_CALL = 100
REST_RECORDS_PER_CREDIT = 10
BULK_RECORDS_PER_JOB = 25_000
BULK_CREDITS_PER_JOB = 500
BULK_OPERATIONS = frozenset({"insert", "update", "upsert"})

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


_WRITE_PATH_RE = re.compile(r"^/(?P<module>[A-Za-z0-9_]+)(?:/(?P<rest>upsert|[0-9]+))?/?$")


_COQL_LIMIT_RE = re.compile(r"\blimit\s+(\d+)(?:\s*,\s*(\d+))?", re.IGNORECASE)


def credit_cost(method: str, path: str, base: str, api_version: str, json: Any, params: Any) -> int:
    """Credits Zoho charges for one call, per its published table (reference §9.1)."""
    method = method.upper()
    clean = urlsplit(path).path
    if base == "upload" or "bulk-write" in clean or clean.rstrip("/").endswith("/result"):
        return 0  # file upload and result download are not API-credit calls
    if base == "bulk":
        return 500 if method == "POST" and clean.rstrip("/").endswith("/write") else 1
    if clean.rstrip("/").endswith("/coql") and method == "POST":
        if api_version in ("v2", "v2.1", "v3"):
            return 1
        query = (json or {}).get("select_query", "") if isinstance(json, Mapping) else ""
        match = _COQL_LIMIT_RE.search(str(query))
        limit = 200
        if match:
            limit = int(match.group(2) or match.group(1))
        return 1 if limit <= 200 else 2 if limit <= 1000 else 3
    match = _WRITE_PATH_RE.match(clean)
    if match and not clean.startswith("/settings") and method in ("POST", "PUT"):
        data = json.get("data") if isinstance(json, Mapping) else None
        count = len(data) if isinstance(data, list) else 1
        return max(1, math.ceil(count / 10))
    if match and method == "DELETE":
        ids = (params or {}).get("ids") if isinstance(params, Mapping) else None
        count = len(str(ids).split(",")) if ids else 1
        return max(1, math.ceil(count / 10))
    return 1
