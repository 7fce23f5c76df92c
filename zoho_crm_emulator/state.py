"""The emulator's shared state: config, tokens, records, call log, credits, concurrency, faults.

One `EmulatorState` is shared by every request thread, the Python helpers of `ZohoEmulator` and the
bulk-write service; each part guards itself with its own lock.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .faults import FaultPlan
from .limits import DEFAULT_LICENSES, EDITIONS, ConcurrencyGate, CreditMeter
from .scopes import DEFAULT_SCOPES, parse_scopes
from .store import RecordStore

DEFAULT_CLIENT_ID = "1000.EMULATOR0CLIENT0ID"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"
DEFAULT_REFRESH_TOKEN = "1000.emulator.refresh.token"
DEFAULT_GRANT_CODE = "1000.emulator.grant.code"
DEFAULT_TOKEN_TTL = 3600.0
# Zoho's token limits (v8 token-validity.html; Kaizen #43 "Tokens and Limitations"): at most 10 access
# tokens from one refresh token in 10 minutes, and at most 15 active per refresh token (the 16th
# invalidates the oldest).
TOKEN_ISSUE_LIMIT = 10
TOKEN_ISSUE_WINDOW_S = 600.0
MAX_ACTIVE_TOKENS = 15
VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")


class Catalog(Protocol):
    """What the emulator reads from `emulator.metadata.Catalog` (see docs/ARCHITECTURE.md)."""

    version: str
    org: dict[str, Any]
    users: list[dict[str, Any]]

    def modules(self) -> list[dict[str, Any]]: ...
    def module(self, api_name: str) -> dict[str, Any] | None: ...
    def fields(self, api_name: str) -> list[dict[str, Any]]: ...
    def layouts(self, api_name: str) -> list[dict[str, Any]]: ...
    def system_duplicate_fields(self, api_name: str) -> list[str]: ...


CatalogLoader = Callable[[str], Catalog]


def default_catalog_loader(modules_json: str | None = None, fields_dir: str | None = None) -> CatalogLoader:
    """`load_catalog` from the metadata package, with the user's exported JSON files if given."""

    def load(version: str) -> Catalog:
        from .metadata import load_catalog

        return load_catalog(version, modules_json=modules_json, fields_dir=fields_dir)

    return load


@dataclass
class EmulatorConfig:
    """Everything settable at start (CLI flags / `ZohoEmulator(...)` keywords)."""

    edition: str = "enterprise"
    credits: int | None = None  # daily budget override; None → the edition's formula
    licenses: int = DEFAULT_LICENSES
    latency_ms: int = 0
    token_ttl: float = DEFAULT_TOKEN_TTL
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str = DEFAULT_REFRESH_TOKEN
    grant_code: str = DEFAULT_GRANT_CODE
    scopes: str = ",".join(DEFAULT_SCOPES)  # granted to the configured refresh token and grant code
    db_path: str | None = None
    modules_json: str | None = None
    fields_dir: str | None = None
    bulk_rows_per_second: int = 50_000
    faults: dict[str, Any] | None = None
    # Token limits: None turns one off (a test suite that runs many token-refreshing clients against one
    # emulator); Zoho's values by default.
    token_issue_limit: int | None = TOKEN_ISSUE_LIMIT
    token_issue_window: float = TOKEN_ISSUE_WINDOW_S
    max_active_tokens: int | None = MAX_ACTIVE_TOKENS

    def __post_init__(self) -> None:
        if self.edition not in EDITIONS:
            raise ValueError(f"edition must be one of {sorted(EDITIONS)}, got {self.edition!r}")

    @property
    def daily_credits(self) -> int:
        if self.credits is not None:
            return self.credits
        return EDITIONS[self.edition].daily_credits(self.licenses)


class TokenRefused(Exception):
    """Zoho Accounts' "Access Denied": too many access tokens from one refresh token in the window."""


class TokenStore:
    """Refresh tokens, single-use grant codes and access tokens with expiry and scopes; thread-safe.

    Access tokens are issued per grant (a refresh token, or a client for client_credentials) within
    Zoho's limits: `issue_limit` tokens per `issue_window` seconds (beyond: TokenRefused), and at most
    `max_active` valid at once, the oldest invalidated when one more is issued.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self.ttl = config.token_ttl
        self.issue_limit = config.token_issue_limit
        self.issue_window = config.token_issue_window
        self.max_active = config.max_active_tokens
        self.default_scopes = parse_scopes(config.scopes)
        self._refresh: dict[str, frozenset[str]] = {config.refresh_token: self.default_scopes}
        self._grant_codes: dict[str, frozenset[str]] = {config.grant_code: self.default_scopes}
        self._access: dict[str, tuple[float, frozenset[str]]] = {}
        self._issued: dict[str, deque[float]] = {}  # grant → when its recent tokens were issued
        self._active: dict[str, deque[str]] = {}  # grant → its access tokens, oldest first
        self.refused = 0  # token calls answered "Access Denied"

    def issue_access(self, scopes: frozenset[str] | None = None, grant: str | None = None) -> str:
        """A new access token; with `grant` (the refresh token or client it comes from) within Zoho's
        limits, raising TokenRefused past the issuing limit. Without: no limit (the Python helper)."""
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        now = time.monotonic()
        with self._lock:
            if grant is not None:
                self._within_limits(grant, now)
                self._active.setdefault(grant, deque()).append(token)
            self._access[token] = (now + self.ttl, scopes or self.default_scopes)
        return token

    def _within_limits(self, grant: str, now: float) -> None:
        """Count one more token for `grant`, or refuse it; evict its oldest active token past the max."""
        issued = self._issued.setdefault(grant, deque())
        while issued and issued[0] <= now - self.issue_window:
            issued.popleft()
        if self.issue_limit is not None and len(issued) >= self.issue_limit:
            self.refused += 1
            raise TokenRefused(grant)
        issued.append(now)
        active = self._active.setdefault(grant, deque())
        while active and not self._valid(active[0], now):
            active.popleft()  # expired ones no longer count as active
        while self.max_active is not None and len(active) >= self.max_active:
            self._access.pop(active.popleft(), None)

    def _valid(self, token: str, now: float) -> bool:
        entry = self._access.get(token)
        return entry is not None and entry[0] > now

    def issue_refresh(self, scopes: frozenset[str]) -> str:
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._lock:
            self._refresh[token] = scopes
        return token

    def use_grant_code(self, code: str) -> frozenset[str] | None:
        """The code's scopes, once: grant codes are single use."""
        with self._lock:
            return self._grant_codes.pop(code, None)

    def add_grant_code(self, code: str, scopes: frozenset[str] | None = None) -> None:
        with self._lock:
            self._grant_codes[code] = scopes or self.default_scopes

    def refresh_scopes(self, token: str) -> frozenset[str] | None:
        """The refresh token's scopes, or None when it is unknown or revoked."""
        with self._lock:
            return self._refresh.get(token)

    def revoke_refresh(self, token: str) -> bool:
        """Revoke a refresh token and every access token issued from it (token-validity.html)."""
        with self._lock:
            for access in self._active.pop(token, ()):
                self._access.pop(access, None)
            return self._refresh.pop(token, None) is not None

    def access_scopes(self, token: str) -> frozenset[str] | None:
        """The token's scopes while it is valid; None when unknown, expired or evicted."""
        with self._lock:
            entry = self._access.get(token)
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1]

    def access_valid(self, token: str) -> bool:
        return self.access_scopes(token) is not None

    def expire_all(self) -> None:
        with self._lock:
            for token, (_, scopes) in self._access.items():
                self._access[token] = (0.0, scopes)

    def forget_issued(self) -> None:
        """Start the issuing windows afresh (tokens already issued stay valid)."""
        with self._lock:
            self._issued.clear()
            self.refused = 0

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            return {
                "issue_limit": self.issue_limit,
                "issue_window_s": self.issue_window,
                "max_active": self.max_active,
                "issued_in_window": {
                    _grant_label(g): sum(1 for t in q if t > now - self.issue_window)
                    for g, q in self._issued.items()
                },
                "active": {
                    _grant_label(g): sum(1 for t in q if self._valid(t, now)) for g, q in self._active.items()
                },
                "refused": self.refused,
            }


def _grant_label(grant: str) -> str:
    """A refresh token is a secret: introspection names it by its last four characters only."""
    return f"…{grant[-4:]}" if len(grant) > 8 else grant


class CallLog:
    """Every Zoho call (never introspection): method, path, status, records, credits, fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self.last_at = 0.0  # time.monotonic() of the latest call (0: none yet)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(entry)
            self.last_at = time.monotonic()

    def count(self) -> int:
        with self._lock:
            return len(self._calls)

    def latest(self, n: int) -> list[dict[str, Any]]:
        """The last `n` calls, newest first (copies)."""
        with self._lock:
            return [dict(c) for c in reversed(self._calls[-n:])]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._calls]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass
class EmulatorState:
    """Shared by the WSGI app, RecordService, BulkService and the Python/HTTP introspection APIs."""

    config: EmulatorConfig = field(default_factory=EmulatorConfig)
    catalog_loader: CatalogLoader | None = None
    url: str = ""  # base URL, set once the server is bound

    def __post_init__(self) -> None:
        if self.catalog_loader is None:
            self.catalog_loader = default_catalog_loader(self.config.modules_json, self.config.fields_dir)
        self.tokens = TokenStore(self.config)
        self.store = RecordStore(self.config.db_path)
        self.calls = CallLog()
        self.credits = CreditMeter(self.config.daily_credits)
        self.gate = ConcurrencyGate(EDITIONS[self.config.edition].concurrency)
        self.faults = FaultPlan()
        if self.config.faults:
            self.faults.set(self.config.faults)
        self.latency_ms = self.config.latency_ms
        self._catalogs: dict[str, Catalog] = {}
        self._catalog_lock = threading.Lock()
        self._ids = itertools.count(self._first_id_counter())
        self._id_lock = threading.Lock()
        self.extras: dict[str, Any] = {}  # scratch space for other services (e.g. bulk jobs)

    # --- metadata -------------------------------------------------------------------------------------
    def catalog(self, version: str) -> Catalog:
        with self._catalog_lock:
            cat = self._catalogs.get(version)
            if cat is None:
                assert self.catalog_loader is not None
                cat = self._catalogs[version] = self.catalog_loader(version)
            return cat

    def primary_user(self, version: str = "v8") -> dict[str, Any]:
        users = self.catalog(version).users
        if users:
            return users[0]
        return {"id": "5725767000000411001", "full_name": "Emulator Admin", "email": "admin@example.com"}

    # --- ids and clock ----------------------------------------------------------------------------------
    ID_PREFIX = 5725767

    def _first_id_counter(self) -> int:
        highest = 1_000_000
        for rid in self.store.all_ids():
            if rid.isdigit() and len(rid) == 19 and rid.startswith(str(self.ID_PREFIX)):
                highest = max(highest, int(rid[7:]) + 1)
        return highest

    def new_id(self) -> str:
        """A Zoho-like 19-digit record id (org prefix + 12-digit counter), unique for this store."""
        with self._id_lock:
            n = next(self._ids)
        # Plain addition instead of zero-padded formatting: same digits while n < 10**12.
        return str(self.ID_PREFIX * 10**12 + n) if n < 10**12 else f"{self.ID_PREFIX}{n:012d}"

    def now(self, version: str = "v8") -> str:
        """Current time in the org's time zone, Zoho's `yyyy-MM-ddTHH:mm:ss±HH:mm` format."""
        tz_name = self.catalog(version).org.get("time_zone") or "UTC"
        try:
            tz: Any = ZoneInfo(tz_name)
        except Exception:
            tz = timezone.utc
        return datetime.now(tz).replace(microsecond=0).isoformat()

    # --- run-time controls ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Records, calls, credits, faults and the token-issuing windows back to empty, as on a new day
        in a new org (tokens already issued stay valid)."""
        self.tokens.forget_issued()
        self.store.clear()
        self.calls.clear()
        self.credits.reset()
        self.faults.clear()
        self.extras.clear()
