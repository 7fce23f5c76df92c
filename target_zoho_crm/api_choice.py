"""`api_type: auto`: per batch, the API that spends fewer of the org's daily credits.

Zoho's published costs (api-limits.html, https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html):
an insert/update/upsert call of up to 100 records costs 1 credit per 10 records (rounded up), and a
Bulk Write job of up to 25,000 records costs 500 credits. So REST costs about n/10 and Bulk
500 * ceil(n / 25,000): the break-even is 5,000 records. At equal cost REST wins: its results come
back at once, with no job to wait for.
"""

from __future__ import annotations

import math
from typing import Literal

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
