"""OAuth access tokens: one token shared by every sink and thread, refreshed ahead of expiry.

Zoho allows only ~10 access tokens per refresh token per 10 minutes (Zoho Accounts, "access token
expiry"), so the token manager refreshes once for all threads, and a burst of 401 INVALID_TOKEN answers
for the same stale token causes exactly one refresh. Token endpoint: reference §1.3/§1.4,
https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html

With a `TokenCache` (zoho/token_cache.py) the token is also shared across runs and processes: a cached token
is adopted while it is valid, a refresh happens under the cache's lock and is written back, and Zoho's
"Access Denied" answer to too many refreshes (HTTP 200, `{"error": "Access Denied"}`;
https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html) is met with a still-valid token, or a
bounded wait.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import backoff
import requests

from target_zoho_crm.errors import AuthError, TargetZohoCRMError
from target_zoho_crm.report.redact import REDACTOR, Redactor
from target_zoho_crm.zoho.token_cache import CachedToken, CacheView, TokenCache, cache_key

logger = logging.getLogger("target_zoho_crm.auth")

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is replaced
_DEFAULT_TTL = 3600.0
DENIED_WAIT = 300.0  # seconds to wait, in all, for Zoho to issue tokens again after "Access Denied"
DENIED_POLL = 30.0  # seconds between two token requests while waiting
_LAST_USE_MARGIN = 5.0  # after "Access Denied", a token is still used until this close to its expiry


class _TransientTokenError(TargetZohoCRMError):
    """Accounts server briefly unavailable (5xx, 429, connection error): worth retrying."""


def _fix_message(error: str, accounts_url: str) -> str:
    where = f"the accounts server {accounts_url}"
    if error == "invalid_client":
        return (
            f"Zoho rejected the OAuth client (invalid_client) at {where}. Check client_id and "
            "client_secret, and that `region` (or `accounts_url`) is the data centre where the client "
            "and the CRM org live — e.g. an org on zoho.eu needs region EU (https://accounts.zoho.eu); "
            "with Multi-DC enabled each DC has its own client secret."
        )
    if error in ("invalid_code", "invalid_refresh_token", "invalid_token"):
        return (
            f"Zoho rejected the refresh token ({error}) at {where}: it is wrong, revoked, or was issued "
            "by another data centre. Generate a new one (API console → self client → grant code, "
            "exchanged at <accounts server>/oauth/v2/token with access_type=offline) and check `region`."
        )
    return (
        f"Zoho's accounts server {accounts_url} refused to issue an access token ({error}). Check "
        "client_id, client_secret, refresh_token and `region`."
    )


def is_access_denied(error: str) -> bool:
    """Zoho's throttle answer is `"Access Denied"` (token-validity.html); OAuth spells it access_denied."""
    return error.strip().lower().replace(" ", "_") == "access_denied"


class TokenManager:
    """Thread-safe access-token source for all Zoho calls of the run."""

    def __init__(
        self,
        accounts_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        access_token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        max_tries: int = 5,
        backoff_factor: float = 0.5,
        refresh_margin: float = REFRESH_MARGIN,
        redactor: Redactor | None = None,
        cache: TokenCache | None = None,
        denied_wait: float = DENIED_WAIT,
        denied_poll: float = DENIED_POLL,
    ) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._session = session or requests.Session()
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._redactor = redactor or REDACTOR
        for secret in (client_secret, refresh_token, access_token):
            self._redactor.add(secret)
        self.can_refresh = bool(client_id and client_secret and refresh_token)
        if not self.can_refresh and not access_token:
            raise AuthError(
                "No Zoho credentials: set client_id, client_secret and refresh_token (or access_token "
                "for a short run)."
            )
        self._lock = threading.Lock()
        self._token: str | None = access_token
        self._expires_at = float("inf") if access_token else 0.0
        self._valid_until = self._expires_at  # the real expiry, without the refresh margin
        self._dead_static_token = False
        self.api_domain: str | None = None
        self.scopes: str | None = None
        self.refresh_count = 0
        self.cache = cache if self.can_refresh else None
        self._cache_key = cache_key(
            self.accounts_url, client_id or "", refresh_token or "", client_secret or ""
        )
        self._refused: set[str] = set()  # tokens Zoho answered 401 for: never adopted from the cache again
        self._denied_wait = denied_wait
        self._denied_poll = denied_poll
        self._post = backoff.on_exception(
            backoff.expo,
            _TransientTokenError,
            max_tries=max(1, max_tries),
            jitter=backoff.full_jitter,
            factor=backoff_factor,
            max_value=30,
            logger=None,
        )(self._post_once)

    @property
    def token_url(self) -> str:
        return f"{self.accounts_url}/oauth/v2/token"

    def token(self) -> str:
        """A valid access token; refreshes (once, for all threads) when missing or about to expire."""
        with self._lock:
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            if not self.can_refresh:
                raise AuthError(
                    "Zoho rejected the configured access_token (expired or revoked) and it cannot be "
                    "refreshed: set client_id, client_secret and refresh_token instead of access_token.",
                    code="INVALID_TOKEN",
                )
            self._obtain_locked()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` after Zoho answered 401 INVALID_TOKEN for it (no-op if already replaced)."""
        with self._lock:
            if token:
                self._refused.add(token)
            if token == self._token:
                self._token = None
                self._expires_at = self._valid_until = 0.0

    def _obtain_locked(self) -> None:
        """A cached token another run left, else a refresh: read, refresh and write back under the cache's
        lock, so parallel processes make one token call. On "Access Denied", a token still valid (ours or
        the cache's) serves; without one, wait (bounded) and ask again."""
        deadline: float | None = None
        while True:
            with self._cache_view() as view:
                if view is not None and self._adopt(view.get(self._cache_key), self._refresh_margin):
                    return
                body = self._request_token()
                if body is not None:
                    fresh = self._accept(body)
                    if view is not None:
                        view.put(self._cache_key, fresh)
                    return
                if view is not None and self._adopt(view.get(self._cache_key), _LAST_USE_MARGIN):
                    return
            if self._token and time.monotonic() < self._valid_until - _LAST_USE_MARGIN:
                self._expires_at = self._valid_until - _LAST_USE_MARGIN
                logger.warning(
                    "Zoho answered Access Denied to a token refresh (too many access tokens requested "
                    "with this refresh token: Zoho allows 10 in 10 minutes); the current token serves "
                    "until it expires in %d s.",
                    int(self._valid_until - time.monotonic()),
                )
                return
            now = time.monotonic()
            deadline = now + self._denied_wait if deadline is None else deadline
            if now >= deadline:
                raise AuthError(self._denied_message(), code="ACCESS_DENIED")
            pause = min(self._denied_poll, deadline - now)
            logger.warning(
                "Zoho answered Access Denied to a token refresh: too many access tokens were requested "
                "with this refresh token (Zoho allows 10 in 10 minutes) and no valid token is cached. "
                "Asking again in %.1f s (giving up %.1f s from now).",
                pause,
                deadline - now,
            )
            time.sleep(pause)

    def _denied_message(self) -> str:
        """Why the run stops after "Access Denied": the cause, how long it waited, and the token cache."""
        waited = f"for {self._denied_wait:g} s" if self._denied_wait > 0 else "(token_wait_seconds: 0)"
        if self.cache is not None:
            cache = (
                f"Runs that share the token cache {self.cache.path} share one token; one with "
                "`token_cache_path: off`, another cache file, or another machine makes its own token "
                "calls."
            )
        else:
            cache = (
                "The token cache is off (`token_cache_path: off`), so every run makes its own token "
                "call: unset token_cache_path to let runs share one token."
            )
        return (
            f"Zoho's accounts server {self.accounts_url} answered Access Denied {waited}: too many "
            "access tokens were requested with this refresh token (Zoho issues at most 10 in 10 "
            f"minutes, counted over every run and process using it). {cache} Wait 10 minutes before "
            "the next run, or run fewer pipelines at once with this refresh token."
        )

    def _cache_view(self) -> contextlib.AbstractContextManager[CacheView | None]:
        return self.cache.locked() if self.cache is not None else contextlib.nullcontext()

    def _adopt(self, cached: CachedToken | None, margin: float) -> bool:
        """Use a token from the cache when it was not refused and outlives `margin` (capped at a tenth
        of its lifetime, as for a token of our own)."""
        if cached is None or cached.access_token in self._refused:
            return False
        remaining = cached.remaining()
        margin = min(margin, cached.ttl / 10)
        if remaining <= margin:
            return False
        self._redactor.add(cached.access_token)
        now = time.monotonic()
        self._token = cached.access_token
        self._valid_until = now + remaining
        self._expires_at = now + remaining - margin
        self.api_domain = cached.api_domain or self.api_domain
        logger.info("Reusing a cached Zoho access token (valid %d s more).", int(remaining))
        return True

    def _request_token(self) -> dict[str, Any] | None:
        """One token request (transient faults retried): Zoho's answer carrying an access token, or None
        for "Access Denied"; any other refusal raises AuthError."""
        data = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        try:
            body = self._post(data)
        except _TransientTokenError as exc:
            raise AuthError(
                f"Zoho's accounts server {self.accounts_url} is unavailable ({exc}); retried and gave up. "
                "Check `region`/`accounts_url` and the network, then run again.",
                code="ACCOUNTS_UNAVAILABLE",
            ) from None
        token = body.get("access_token")
        if not token and not body.get("error"):
            raise AuthError(
                f"{self.token_url} did not answer like a Zoho accounts server (no access_token, no error): "
                "check `region` and `accounts_url`.",
                code="NOT_AN_ACCOUNTS_SERVER",
            )
        if not token:
            error = str(body.get("error"))
            if is_access_denied(error):
                return None
            raise AuthError(self._redactor.redact(_fix_message(error, self.accounts_url)), code=error)
        return body

    def _accept(self, body: dict[str, Any]) -> CachedToken:
        """Make a fresh token the current one; returns it as the cache stores it."""
        token = str(body["access_token"])
        self._redactor.add(token)
        ttl = expires_in_seconds(body)
        margin = min(self._refresh_margin, ttl / 10)
        now = time.monotonic()
        self._token = token
        self._valid_until = now + ttl
        self._expires_at = now + ttl - margin
        self.api_domain = body.get("api_domain") or self.api_domain
        self.scopes = body.get("scope") or self.scopes  # when Zoho lists them (Create & Test reads it)
        self.refresh_count += 1
        logger.info("Obtained a Zoho access token from %s (valid %ss).", self.accounts_url, int(ttl))
        return CachedToken(token, time.time() + ttl, ttl, self.api_domain)

    def _post_once(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            # No redirects: a 3xx would resend the client secret and refresh token to another host.
            response = self._session.post(
                self.token_url, data=data, timeout=self._timeout, allow_redirects=False
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            logger.warning("Zoho accounts server unreachable (%s); retrying.", type(exc).__name__)
            raise _TransientTokenError(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            logger.warning("Zoho accounts server answered HTTP %s; retrying.", response.status_code)
            raise _TransientTokenError(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise AuthError(
                f"The accounts server {self.accounts_url} answered HTTP {response.status_code} without "
                "JSON: is `accounts_url`/`region` pointing at a Zoho accounts server?",
                code="NOT_JSON",
            ) from None
        if not isinstance(body, dict):
            raise AuthError(f"Unexpected token response from {self.accounts_url}.", code="NOT_JSON")
        return body


def expires_in_seconds(body: dict[str, Any]) -> float:
    """Zoho's SDK: `expires_in` is milliseconds iff the legacy `expires_in_sec` is present."""
    try:
        if body.get("expires_in_sec") is not None:
            return float(body["expires_in_sec"])
        if body.get("expires_in") is not None:
            return float(body["expires_in"])
    except (TypeError, ValueError):
        pass
    return _DEFAULT_TTL
