"""OAuth access tokens: one token shared by every sink and thread, refreshed ahead of expiry.

Zoho allows only ~10 access tokens per refresh token per 10 minutes (Zoho Accounts, "access token
expiry"), so the token manager refreshes once for all threads, and a burst of 401 INVALID_TOKEN answers
for the same stale token causes exactly one refresh. Token endpoint: reference §1.3/§1.4,
https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import backoff
import requests

from target_zoho_crm.errors import AuthError, TargetZohoCRMError
from target_zoho_crm.report.redact import REDACTOR, Redactor

logger = logging.getLogger("target_zoho_crm.auth")

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is replaced
_DEFAULT_TTL = 3600.0


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
    if error == "access_denied":
        return (
            f"Zoho denied the token request (access_denied) at {where}: too many access tokens were "
            "requested with this refresh token (Zoho allows about 10 per 10 minutes), or the user "
            "denied access. Wait a few minutes or issue a new refresh token."
        )
    return (
        f"Zoho's accounts server {accounts_url} refused to issue an access token ({error}). Check "
        "client_id, client_secret, refresh_token and `region`."
    )


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
        self._dead_static_token = False
        self.api_domain: str | None = None
        self.scopes: str | None = None
        self.refresh_count = 0
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
            self._refresh_locked()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` after Zoho answered 401 INVALID_TOKEN for it (no-op if already replaced)."""
        with self._lock:
            if token == self._token:
                self._token = None
                self._expires_at = 0.0

    def _refresh_locked(self) -> None:
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
            raise AuthError(self._redactor.redact(_fix_message(error, self.accounts_url)), code=error)
        self._redactor.add(token)
        ttl = expires_in_seconds(body)
        margin = min(self._refresh_margin, ttl / 10)
        self._token = str(token)
        self._expires_at = time.monotonic() + ttl - margin
        self.api_domain = body.get("api_domain") or self.api_domain
        self.scopes = body.get("scope") or self.scopes  # when Zoho lists them (Create & Test reads it)
        self.refresh_count += 1
        logger.info("Obtained a Zoho access token from %s (valid %ss).", self.accounts_url, int(ttl))

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
