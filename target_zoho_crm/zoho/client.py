"""ZohoClient: the one HTTP client of the run (pooled keep-alive session, concurrency gate, retries).

- One `requests.Session` whose connection pool holds `max_concurrency` keep-alive connections, and a
  first-come-first-served `FairGate(max_concurrency)` (zoho/gate.py) so no more calls are in flight
  than Zoho's concurrency limit allows (Zoho answers 429 immediately instead of queueing; reference
  §9.2). Each request is prepared before it waits for a slot.
- Retries 429, 5xx, timeouts and dropped connections with `backoff.expo` and full jitter.
- 401 INVALID_TOKEN → the shared token is invalidated, refreshed once, and the call is repeated.
- A write (`idempotent=False`) is never resent once it may have reached Zoho; `MaybeWrittenError` lets
  the writer re-read by key instead of creating duplicates.
- Every call is charged on the run's credit meter at Zoho's published price (zoho/credits.py).
- The token goes only to Zoho's hosts or the configured ones; TLS verification is never turned off.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import backoff
import requests
from requests.adapters import HTTPAdapter

from target_zoho_crm.errors import AuthError, MaybeWrittenError, TargetZohoCRMError, ZohoAPIError
from target_zoho_crm.report.redact import REDACTOR, Redactor
from target_zoho_crm.zoho import versions
from target_zoho_crm.zoho.auth import TokenManager
from target_zoho_crm.zoho.codec import encode_json
from target_zoho_crm.zoho.credits import CreditMeter, credit_cost
from target_zoho_crm.zoho.gate import FairGate
from target_zoho_crm.zoho.regions import ZohoUrls, is_loopback_host

logger = logging.getLogger("target_zoho_crm.http")

Base = Literal["api", "upload", "bulk"]
# Zoho's own hosts in every data centre (API, upload, download-accl, files): the only places besides the
# configured URLs that may receive the token.
# A token can expire between its refresh and its use; a fresh token refused this many times in a row
# means the credentials belong to another data centre or environment.
TOKEN_REFRESHES_PER_CALL = 2


_ZOHO_HOST_RE = re.compile(
    r"(^|\.)((zohoapis|zoho)\.(com|eu|in|com\.au|com\.cn|jp|ca|sa|uk|ae)|zohocloud\.ca)$"
)
_RETRY_STATUSES_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
# A write answered with one of these was not processed (throttled / service unavailable); any other
# 5xx could have been answered after Zoho stored the records, so it is not resent blindly.
_RETRY_STATUSES_WRITE = frozenset({429, 503})
# Refused before any work is done: Zoho (and the emulator) charge no credits for these.
_UNCHARGED_CODES = frozenset(
    {
        "AUTHENTICATION_FAILURE",
        "INVALID_TOKEN",
        "OAUTH_SCOPE_MISMATCH",
        "TOO_MANY_REQUESTS",
        "INVALID_MODULE",
        "INVALID_URL_PATTERN",
        "INVALID_REQUEST_METHOD",
        "LIMIT_EXCEEDED",
        "HTTP_ERROR",
    }
)


# What a loader needs (reference §1.6, https://www.zoho.com/crm/developer/docs/api/v4/scopes.html).
REQUIRED_SCOPES = (
    "ZohoCRM.modules.ALL,ZohoCRM.settings.fields.READ,ZohoCRM.settings.modules.READ,ZohoCRM.org.READ,"
    "ZohoCRM.users.READ,ZohoCRM.coql.READ,ZohoCRM.bulk.ALL,ZohoFiles.files.ALL"
)


class _Retry(TargetZohoCRMError):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, response: requests.Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response


def _sent_nothing(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the server (connect phase failed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args[0] if exc.args else exc)
        return any(
            marker in text
            for marker in (
                "NewConnectionError",
                "NameResolutionError",
                "Connection refused",
                "ConnectTimeout",
            )
        )
    return False


class ZohoClient:
    """Shared by every sink and thread of a run; see the module docstring."""

    def __init__(
        self,
        urls: ZohoUrls,
        api_version: str,
        tokens: TokenManager,
        *,
        max_concurrency: int = 10,
        timeout: float = 60,
        max_retries: int = 8,
        backoff_factor: float = 1.0,
        max_backoff: float = 60.0,
        session: requests.Session | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.urls = urls
        self.version = versions.api_version(api_version)  # its paths and limits (zoho/versions.py)
        self.api_version = self.version.name
        self.tokens = tokens
        self.max_concurrency = max(1, int(max_concurrency))
        self.timeout = timeout
        self.max_retries = max(1, int(max_retries))
        self.redactor = redactor or REDACTOR
        self.session = session or requests.Session()
        # One keep-alive connection per allowed call in flight, plus one for a token refresh when the
        # accounts server shares the host (emulator, proxies).
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.max_concurrency + 1, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # requests re-reads proxy and CA-bundle variables from the environment on every call (~4% of a
        # load's CPU): read them once here, then stop looking. TLS verification is never turned off.
        settings = self.session.merge_environment_settings(urls.api_url, {}, None, None, None)
        self.session.proxies.update(settings.get("proxies") or {})
        self.session.verify = settings.get("verify") or True
        self.session.trust_env = False
        self._gate = FairGate(self.max_concurrency)
        self._meter_lock = threading.Lock()
        self.meter = CreditMeter()  # the run's one credit count (per stream: `account=` on a call)
        self.retries = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self._domain_checked = False
        self._allowed_hosts = {urlsplit(u).netloc.lower() for u in (urls.api_url, urls.upload_url)}
        self._send = backoff.on_exception(
            backoff.expo,
            _Retry,
            max_tries=self.max_retries,
            jitter=backoff.full_jitter,
            factor=backoff_factor,
            max_value=max_backoff,
            on_backoff=self._on_backoff,
            logger=None,
        )(self._attempt)

    # ----------------------------------------------------------------------------------------------

    def url_for(self, path: str, base: Base = "api") -> str:
        if path.startswith(("http://", "https://")):
            self._check_absolute(path)
            return path
        if not path.startswith("/"):
            path = "/" + path
        if base == "api":
            return f"{self.urls.api_url}{self.version.api_base}{path}"
        if base == "bulk":
            return f"{self.urls.api_url}{self.version.bulk_base}{path}"
        if base == "upload":
            return f"{self.urls.upload_url}{self.version.upload_base}{path}"
        raise ValueError(f"unknown base {base!r}")

    def _check_absolute(self, url: str) -> None:
        """The token is only ever sent to Zoho's hosts or to the configured (override) hosts."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        allowed = parts.netloc.lower() in self._allowed_hosts or bool(_ZOHO_HOST_RE.search(host))
        if parts.scheme == "http" and not is_loopback_host(host):
            allowed = False
        if not allowed:
            raise ZohoAPIError(
                0, "UNTRUSTED_URL", f"refusing to send the Zoho token to {parts.scheme}://{host}"
            )

    # ----------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        base: Base = "api",
        json: Any = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        data: Any = None,
        idempotent: bool = True,
        account: str | None = None,
    ) -> requests.Response:
        """Send one Zoho call with retries; returns the response (2xx, or 4xx carrying per-record
        `data` results), raises ZohoAPIError / MaybeWrittenError / AuthError otherwise."""
        method = method.upper()
        url = self.url_for(path, base)
        cost = credit_cost(method, path, base, self.api_version, json, params)
        label = f"{method} {urlsplit(path).path}"
        payload = encode_json(json) if json is not None else None
        call = _Call(method, url, label, payload, params, dict(headers or {}), files, data, idempotent, cost)
        call.account = account
        refreshes = 0
        while True:
            try:
                response = self._send(call)
            except _Retry as exc:
                raise self._give_up(call, exc) from None
            if (
                response.status_code == 401
                and _zoho_code(response) == "INVALID_TOKEN"
                and refreshes < TOKEN_REFRESHES_PER_CALL
            ):
                refreshes += 1
                self.tokens.invalidate(call.token_used or "")
                continue
            return self._finish(call, response)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET (or `method=`) and decode JSON; 204 No Content → None."""
        method = kwargs.pop("method", "GET")
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # ----------------------------------------------------------------------------------------------

    def _attempt(self, call: _Call) -> requests.Response:
        headers = dict(call.headers)
        body: Any = call.data
        if call.payload is not None:
            headers.setdefault("Content-Type", "application/json")
            body = call.payload
        files = _rewind(call.files)
        # Prepared before waiting for a slot (URL, headers, body, multipart): a freed slot is used at
        # once instead of after the next call's preparation (measured: +0.5 calls in flight of 10).
        prepared = self.session.prepare_request(
            requests.Request(
                call.method, call.url, params=call.params, data=body, files=files, headers=headers
            )
        )
        with self._gate:
            # Taken once a slot is free, so calls queued behind a refresh use the new token.
            token = self.tokens.token()
            call.token_used = token
            if not self._domain_checked:
                self._check_api_domain()
            prepared.headers["Authorization"] = f"Zoho-oauthtoken {token}"
            self._track(+1)
            started = time.monotonic()
            try:
                response = self.session.send(
                    prepared,
                    timeout=self.timeout,
                    verify=self.session.verify or True,  # never off; a CA bundle path from the env
                    allow_redirects=True,
                )
            except requests.exceptions.SSLError:
                host = urlsplit(call.url).hostname
                raise ZohoAPIError(
                    0,
                    "TLS_VERIFICATION_FAILED",
                    f"{call.label}: the TLS certificate of {host} could not be verified. Verification is "
                    "never turned off: fix the URL, or trust the proxy's CA with REQUESTS_CA_BUNDLE.",
                ) from None
            except requests.RequestException as exc:
                reason = type(exc).__name__
                logger.debug("%s failed after %.2fs: %s", call.label, time.monotonic() - started, reason)
                if call.idempotent or _sent_nothing(exc):
                    raise _Retry(reason) from None
                self._meter(call)  # most likely processed (and charged) by Zoho
                raise MaybeWrittenError(call.method, call.label, reason) from None
            finally:
                self._track(-1)
        elapsed = time.monotonic() - started
        logger.debug("%s → %s in %.3fs", call.label, response.status_code, elapsed)
        retry_on = _RETRY_STATUSES_IDEMPOTENT if call.idempotent else _RETRY_STATUSES_WRITE
        if response.status_code in retry_on:
            _drain(response)
            raise _Retry(f"HTTP {response.status_code}", response)
        if response.status_code >= 500 and not call.idempotent:
            _drain(response)
            raise MaybeWrittenError(
                call.method, call.label, f"HTTP {response.status_code}", response.status_code
            )
        return response

    def _finish(self, call: _Call, response: requests.Response) -> requests.Response:
        status = response.status_code
        if status < 400:
            self._meter(call)
            return response
        body = _json_or_none(response)
        if status == 401 and _zoho_code(response) == "INVALID_TOKEN":
            if not self.tokens.can_refresh:
                raise AuthError(
                    "Zoho rejected the configured access_token (expired or revoked) and it cannot be "
                    "refreshed: set client_id, client_secret and refresh_token instead of access_token.",
                    code="INVALID_TOKEN",
                )
            domain = self.tokens.api_domain
            raise ZohoAPIError(
                401,
                "INVALID_TOKEN",
                f"a freshly refreshed token from {self.tokens.accounts_url} was rejected by "
                f"{self.urls.api_url}: `region`/`environment` (or `api_url`) do not match the org the "
                "refresh token belongs to (production tokens do not work on sandbox/developer)"
                + (f"; the accounts server names {domain} as this token's API domain." if domain else "."),
                body=body,
            )
        if status == 401 and _zoho_code(response) == "OAUTH_SCOPE_MISMATCH":
            raise ZohoAPIError(
                401,
                "OAUTH_SCOPE_MISMATCH",
                f"{call.label}: the refresh token lacks a scope this call needs. Generate it with "
                f"{REQUIRED_SCOPES}.",
                body=body,
            )
        if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
            first = body["data"][0] if isinstance(body["data"][0], dict) else {}
            if "resource_path_index" not in (first.get("details") or {}):
                self._meter(call)
                return response  # per-record results (e.g. 400 when every record failed)
            body = first
        code, message = "HTTP_ERROR", f"HTTP {status}"
        details: dict[str, Any] = {}
        if isinstance(body, dict):
            code = str(body.get("code") or body.get("error") or code)
            message = str(body.get("message") or message)
            raw_details = body.get("details")
            details = raw_details if isinstance(raw_details, dict) else {}
        if status < 500 and code not in _UNCHARGED_CODES:
            self._meter(call)
        raise ZohoAPIError(status, code, self.redactor.redact(message), details, body)

    def _give_up(self, call: _Call, exc: _Retry) -> Exception:
        response = exc.response
        if response is not None:
            body = _json_or_none(response)
            code = str(body.get("code")) if isinstance(body, dict) and body.get("code") else "HTTP_ERROR"
            message = body.get("message") if isinstance(body, dict) else None
            return ZohoAPIError(
                response.status_code,
                code,
                self.redactor.redact(
                    f"{call.label}: gave up after {self.max_retries} attempts ({message or exc.reason})"
                ),
                body=body,
            )
        return ZohoAPIError(
            0, "CONNECTION_ERROR", f"{call.label}: gave up after {self.max_retries} attempts ({exc.reason})"
        )

    def _on_backoff(self, details: Any) -> None:
        with self._meter_lock:
            self.retries += 1
        call = details["args"][0]
        exc = details.get("exception")
        logger.info(
            "Retrying %s in %.2fs (attempt %s): %s",
            call.label,
            details.get("wait") or 0.0,
            details.get("tries"),
            getattr(exc, "reason", type(exc).__name__),
        )

    def _check_api_domain(self) -> None:
        """Warn once when the token's data centre (its `api_domain`) differs from the configured API."""
        self._domain_checked = True
        issued = urlsplit(self.tokens.api_domain or "").hostname or ""
        configured = urlsplit(self.urls.api_url).hostname or ""
        tld = re.compile(r"zohoapis\.(.+)$")
        a, b = tld.search(issued), tld.search(configured)
        if a and b and a.group(1) != b.group(1):
            logger.warning(
                "The accounts server issued a token for %s but api_url is %s: check `region`.",
                self.tokens.api_domain,
                self.urls.api_url,
            )

    def _meter(self, call: _Call) -> None:
        self.meter.charge(call.cost, call.label, call.account)

    @property
    def credits_used(self) -> int:
        """Credits this client's calls cost so far (Zoho's published prices; zoho/credits.py)."""
        return self.meter.total

    @property
    def calls(self) -> Counter[str]:
        return self.meter.calls

    def _track(self, delta: int) -> None:
        with self._meter_lock:
            self._in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def close(self) -> None:
        self.session.close()


class _Call:
    """One logical call (the same across its retries)."""

    __slots__ = (
        "account",
        "cost",
        "data",
        "files",
        "headers",
        "idempotent",
        "label",
        "method",
        "params",
        "payload",
        "token_used",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: str,
        label: str,
        payload: bytes | None,
        params: Any,
        headers: dict[str, str],
        files: Any,
        data: Any,
        idempotent: bool,
        cost: int,
    ) -> None:
        self.method = method
        self.url = url
        self.label = label
        self.payload = payload
        self.params = params
        self.headers = headers
        self.files = files
        self.data = data
        self.idempotent = idempotent
        self.cost = cost
        self.token_used: str | None = None
        self.account: str | None = None


def _rewind(files: Any) -> Any:
    """File objects are read by each attempt; seek them back so a retry sends the whole file."""
    if isinstance(files, Mapping):
        items = list(files.values())
    elif isinstance(files, list | tuple):
        items = [f[1] if isinstance(f, tuple) else f for f in files]
    else:
        return files
    for item in items:
        obj = item[1] if isinstance(item, tuple) and len(item) > 1 else item
        if hasattr(obj, "seek"):
            obj.seek(0)
    return files


def _drain(response: requests.Response) -> None:
    with contextlib.suppress(requests.RequestException):
        _ = response.content


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _zoho_code(response: requests.Response) -> str | None:
    body = _json_or_none(response)
    if isinstance(body, dict):
        return body.get("code")
    return None
