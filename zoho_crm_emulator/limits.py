"""API credits and concurrency as Zoho enforces them (reference §9).

Credits are a rolling 24-hour budget per org; every Zoho call costs credits by type (1 per 10 records
written, 1 per GET/metadata call, COQL by LIMIT band from v4, 500 per bulk-write job). Concurrency is
a count of calls in flight per edition, plus a shared sub-limit of 10 for "complex" calls (writes
carrying more than 10 records). Zoho does not queue: a call over either limit gets 429 at once.
Sources: https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html and Kaizen #35
(https://help.zoho.com/portal/en/community/topic/kaizen-35-api-concurrency).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

DAY_SECONDS = 24 * 3600
SUB_CONCURRENCY = 10
HEAVY_WRITE_THRESHOLD = 10
MAX_RECORDS_PER_WRITE = 100
BULK_JOB_CREDITS = 500
DEFAULT_LICENSES = 10


@dataclass(frozen=True)
class Edition:
    """Concurrency and credit formula of one Zoho CRM edition (reference §9.1 and §9.2)."""

    name: str
    concurrency: int
    base_credits: int
    per_license: int
    max_credits: int | None

    def daily_credits(self, licenses: int = DEFAULT_LICENSES) -> int:
        total = self.base_credits + self.per_license * licenses
        return min(total, self.max_credits) if self.max_credits else total


EDITIONS: dict[str, Edition] = {
    "free": Edition("free", 5, 5_000, 0, 5_000),
    "standard": Edition("standard", 10, 50_000, 250, 100_000),
    "professional": Edition("professional", 15, 50_000, 500, 3_000_000),
    "enterprise": Edition("enterprise", 20, 50_000, 1_000, 5_000_000),
    "ultimate": Edition("ultimate", 25, 50_000, 2_000, None),
}


def write_credits(record_count: int) -> int:
    """Insert/update/upsert/delete: 1 credit per 10 records, at least 1."""
    return max(1, math.ceil(record_count / 10))


_LIMIT_RE = re.compile(r"\blimit\s+(\d+)(?:\s*,\s*(\d+))?", re.IGNORECASE)


def coql_credits(version: str, query: str) -> int:
    """COQL from v4 costs by LIMIT band (1-200 → 1, 201-1000 → 2, 1001-2000 → 3); older versions 1."""
    if version in ("v2", "v2.1", "v3"):
        return 1
    match = _LIMIT_RE.search(query or "")
    limit = 200
    if match:
        limit = int(match.group(2) or match.group(1))
    if limit <= 200:
        return 1
    return 2 if limit <= 1000 else 3


@dataclass
class Charge:
    """Credits taken from the budget by one call; refunded if the call turns out not to be charged."""

    at: float
    credits: int


class CreditMeter:
    """Rolling 24-hour credit budget; thread-safe.

    A call's credits are checked and taken in one step (`try_charge`) before it runs, so calls racing
    each other can never spend past the budget together; a call Zoho does not charge after all (a 5xx,
    a bulk job refused) gets them back (`refund`).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._events: deque[Charge] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._events and self._events[0].at <= now - DAY_SECONDS:
            self._used -= self._events.popleft().credits

    @property
    def used(self) -> int:
        with self._lock:
            self._expire(time.time())
            return self._used

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.used)

    def try_charge(self, credits: int) -> Charge | None:
        """Take `credits` if they fit in what is left of the budget; None (nothing taken) if not."""
        with self._lock:
            now = time.time()
            self._expire(now)
            if self._used + credits > self.budget:
                return None
            charge = Charge(now, max(0, credits))
            if charge.credits:
                self._events.append(charge)
                self._used += charge.credits
            return charge

    def refund(self, charge: Charge) -> None:
        with self._lock:
            if charge.credits and charge.at > time.time() - DAY_SECONDS:
                self._used -= charge.credits
            charge.credits = 0

    def past_half(self) -> bool:
        """Zoho adds `X-API-CREDITS-REMAINING` once half of the daily credits are used."""
        return self.used * 2 >= self.budget

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._used = 0


class ConcurrencyGate:
    """Calls in flight; `try_enter` refuses (never waits) past the edition or sub-concurrency limit."""

    def __init__(self, limit: int, sub_limit: int = SUB_CONCURRENCY) -> None:
        self.limit = limit
        self.sub_limit = sub_limit
        self._in_flight = 0
        self._heavy = 0
        self.peak = 0
        self._lock = threading.Lock()

    def try_enter(self, heavy: bool) -> bool:
        with self._lock:
            if self._in_flight >= self.limit or (heavy and self._heavy >= self.sub_limit):
                return False
            self._in_flight += 1
            if heavy:
                self._heavy += 1
            self.peak = max(self.peak, self._in_flight)
            return True

    def leave(self, heavy: bool) -> None:
        with self._lock:
            self._in_flight -= 1
            if heavy:
                self._heavy -= 1

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight
