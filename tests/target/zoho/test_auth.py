"""OAuth token manager and secret redaction, against the emulator's accounts server over real HTTP.

Token refresh: POST {accounts}/oauth/v2/token with grant_type=refresh_token; failures are a JSON body
with `error` (`invalid_client`, `invalid_code`) — Zoho Accounts,
https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html and
https://www.zoho.com/crm/developer/docs/api/v4/refresh.html. Expired token on a CRM call: 401
`INVALID_TOKEN` (https://www.zoho.com/crm/developer/docs/api/v4/status-codes.html).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from target_zoho_crm.errors import AuthError
from target_zoho_crm.report.redact import MASK, Redactor, redact_config
from target_zoho_crm.run import connect_client
from target_zoho_crm.zoho.auth import TokenManager, expires_in_seconds
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.regions import resolve_urls
from tests.conftest import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN


def _tokens(url: str, **kw: Any) -> TokenManager:
    args: dict[str, Any] = {
        "client_id": EMULATOR_CLIENT_ID,
        "client_secret": EMULATOR_CLIENT_SECRET,
        "refresh_token": EMULATOR_REFRESH_TOKEN,
        "backoff_factor": 0.01,
        "timeout": 5,
        "redactor": Redactor(),
    }
    args.update(kw)
    return TokenManager(url, **args)


def _client(url: str, tokens: TokenManager, **kw: Any) -> ZohoClient:
    urls = resolve_urls({"accounts_url": url, "api_url": url, "upload_url": url})
    return ZohoClient(urls, "v4", tokens, backoff_factor=0.01, timeout=5, max_retries=4, **kw)


def _token_calls(zoho: Any) -> int:
    return sum(1 for c in zoho.calls if "/oauth/v2/token" in c["path"])


@pytest.fixture
def short_ttl_zoho() -> Iterator[Any]:
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(token_ttl=2) as server:
        yield server


def test_refresh_obtains_one_token_and_reuses_it(emulator: Any) -> None:
    tokens = _tokens(emulator.url)
    first = tokens.token()
    assert first and first == tokens.token() == tokens.token()
    assert tokens.refresh_count == 1
    assert tokens.api_domain == emulator.url


def test_token_is_refreshed_ahead_of_expiry(short_ttl_zoho: Any) -> None:
    tokens = _tokens(short_ttl_zoho.url)
    client = _client(short_ttl_zoho.url, tokens)
    first = tokens.token()
    assert client.get_json("/settings/modules")["modules"]
    time.sleep(1.85)  # ttl 2 s, margin min(60, ttl/10) = 0.2 s
    second = tokens.token()
    assert second != first and tokens.refresh_count == 2
    assert client.get_json("/settings/modules")["modules"]
    assert not [c for c in short_ttl_zoho.calls if c["status"] == 401]  # never sent an expired token


def test_invalid_token_causes_one_refresh_for_all_threads(emulator: Any) -> None:
    tokens = _tokens(emulator.url)
    client = _client(emulator.url, tokens, max_concurrency=8)
    client.get_json("/org")
    emulator.expire_tokens()
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def work() -> None:
        try:
            barrier.wait()
            client.get_json("/org")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tokens.refresh_count == 2  # the first token, then exactly one refresh for 16 threads
    assert _token_calls(emulator) == 2
    assert 1 <= sum(1 for c in emulator.calls if c["status"] == 401) <= 8  # only calls in flight saw it


def test_invalidate_ignores_a_token_already_replaced(emulator: Any) -> None:
    tokens = _tokens(emulator.url)
    old = tokens.token()
    tokens.invalidate(old)
    new = tokens.token()
    tokens.invalidate(old)  # a late thread reporting the old token
    assert tokens.token() == new and tokens.refresh_count == 2


@pytest.mark.parametrize(
    ("kwargs", "code", "fix"),
    [
        ({"client_secret": "wrong-secret-value-123"}, "invalid_client", "client_secret, and that `region`"),
        ({"client_id": "1000.SOMEONE0ELSE"}, "invalid_client", "data centre"),
        ({"refresh_token": "1000.revoked.refresh.token"}, "invalid_code", "Generate a new one"),
    ],
)
def test_bad_credentials_fail_fast_with_the_fix(
    emulator: Any, caplog: pytest.LogCaptureFixture, kwargs: dict[str, str], code: str, fix: str
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = _tokens(emulator.url, **kwargs)
    started = time.monotonic()
    with pytest.raises(AuthError) as info:
        tokens.token()
    assert time.monotonic() - started < 2  # not retried
    assert info.value.code == code and fix in str(info.value)
    assert _token_calls(emulator) == 1
    for secret in (*kwargs.values(), EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN):
        if secret.startswith("1000.SOMEONE"):
            continue  # a client id is not a secret
        assert secret not in str(info.value) and secret not in caplog.text


def test_accounts_server_briefly_down_is_retried(emulator: Any) -> None:
    emulator.set_faults({"token_endpoint_down": 2})
    tokens = _tokens(emulator.url, max_tries=5)
    assert tokens.token()
    assert tokens.refresh_count == 1 and _token_calls(emulator) == 3


def test_accounts_server_down_for_good_gives_up_with_a_clear_error(emulator: Any) -> None:
    emulator.set_faults({"token_endpoint_down": 10})
    with pytest.raises(AuthError, match="unavailable") as info:
        _tokens(emulator.url, max_tries=3).token()
    assert info.value.code == "ACCOUNTS_UNAVAILABLE" and _token_calls(emulator) == 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_or_wrong_accounts_server(emulator: Any) -> None:
    with pytest.raises(AuthError, match="unavailable"):
        _tokens(f"http://127.0.0.1:{_closed_port()}", max_tries=2).token()
    # A host that is not a Zoho accounts server (the API root answers 404 without a token body).
    with pytest.raises(AuthError, match="accounts_url"):
        _tokens(emulator.url + "/crm/v4/nowhere").token()


def test_access_token_only_mode_works_then_fails_clearly(emulator: Any) -> None:
    issued = _tokens(emulator.url).token()
    tokens = TokenManager(emulator.url, access_token=issued, redactor=Redactor())
    client = _client(emulator.url, tokens)
    assert client.get_json("/org")
    assert tokens.refresh_count == 0 and not tokens.can_refresh
    emulator.expire_tokens()
    with pytest.raises(AuthError, match="set client_id, client_secret and refresh_token") as info:
        client.get_json("/org")
    assert issued not in str(info.value)
    with pytest.raises(AuthError, match="No Zoho credentials"):
        TokenManager(emulator.url, client_id="x")


def test_legacy_expires_in_parsing() -> None:
    assert expires_in_seconds({"expires_in": 3600}) == 3600
    assert expires_in_seconds({"expires_in": 3600000, "expires_in_sec": 3600}) == 3600
    assert expires_in_seconds({}) == 3600


def test_redactor_scrubs_known_secrets_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    red = Redactor(["super-secret-value", None, "abc"])  # short values are not treated as secrets
    red.add("1000.token.issued.at.run.time")
    assert red.redact("x super-secret-value y") == f"x {MASK} y"
    assert red.redact("abc") == "abc"
    nested = red.redact_obj({"a": ["1000.token.issued.at.run.time"], "b": 3})
    assert nested == {"a": [MASK], "b": 3}
    red.install(["tests.redaction"])
    log = logging.getLogger("tests.redaction.child")  # a child logger: covered by the record factory
    caplog.set_level(logging.INFO)
    log.info("token=%s", "1000.token.issued.at.run.time")
    try:
        raise ValueError("boom super-secret-value")
    except ValueError:
        log.exception("failed with %s", "super-secret-value")
    assert "1000.token.issued" not in caplog.text and "super-secret-value" not in caplog.text
    assert caplog.text.count(MASK) >= 3
    assert redact_config(
        {
            "client_id": "id",
            "client_secret": "s3cr3t!",
            "streams": {"x": {"access_token": "t"}},
            "api_url": "u",
        }
    ) == {"client_id": "id", "client_secret": MASK, "streams": {"x": {"access_token": MASK}}, "api_url": "u"}


def test_no_secret_reaches_logs_through_a_full_client_session(
    emulator: Any, target_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3/requests debug logging on, faults on: neither secrets nor issued tokens are logged."""
    red = Redactor()
    red.install()
    caplog.set_level(logging.DEBUG)
    client = connect_client(target_config, redactor=red, backoff_factor=0.01)
    emulator.set_faults({"script": [{"status": 500}, {"status": 429}]})
    assert client.get_json("/settings/modules")
    emulator.expire_tokens()
    assert client.get_json("/org")
    issued = [client.tokens.token()]
    text = caplog.text
    for secret in (EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, *issued):
        assert secret not in text
    assert "Retrying GET /settings/modules" in text
    requests.get(emulator.url + "/__emulator__/calls", timeout=5)  # plain call still fine
