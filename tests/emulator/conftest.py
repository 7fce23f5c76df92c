"""Fixtures for the emulator's own tests: a running emulator per test and an authorised HTTP session.

Every test talks to the emulator over real HTTP on 127.0.0.1, as a Zoho client would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from zoho_crm_emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    ZohoEmulator,
)

from .live import Crm, LiveConfig, fetch_token

TIMEOUT = 5


class Api:
    """A requests session bound to one emulator, with a token from its token endpoint."""

    def __init__(self, zoho: ZohoEmulator, version: str = "v8") -> None:
        self.zoho = zoho
        self.version = version
        self.session = requests.Session()
        self.token = refresh(zoho)["access_token"]

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token}", **(extra or {})}

    def url(self, path: str) -> str:
        return f"{self.zoho.url}/crm/{self.version}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        kw.setdefault("timeout", TIMEOUT)
        return self.session.request(method, self.url(path), headers=self.headers(headers), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)


def refresh(zoho: ZohoEmulator, **overrides: str) -> dict[str, Any]:
    """The refresh_token grant with the emulator's default client (form fields, as Zoho's SDK sends)."""
    data = {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": DEFAULT_REFRESH_TOKEN,
        **overrides,
    }
    resp = requests.post(f"{zoho.url}/oauth/v2/token", data=data, timeout=TIMEOUT)
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture
def zoho() -> Iterator[ZohoEmulator]:
    with ZohoEmulator() as emulator:
        yield emulator


VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")


@pytest.fixture(params=VERSIONS)
def api(zoho: ZohoEmulator, request: pytest.FixtureRequest) -> Iterator[Api]:
    """An authorised client of a fresh emulator, once per API version: the emulator's HTTP tests run
    in every version it serves."""
    client = Api(zoho, request.param)
    yield client
    client.session.close()


@pytest.fixture
def api_for() -> Iterator[Callable[..., Api]]:
    """Factory: an Api for another emulator (or another API version)."""
    made: list[Api] = []

    def make(zoho: ZohoEmulator, version: str = "v8") -> Api:
        made.append(Api(zoho, version))
        return made[-1]

    yield make
    for client in made:
        client.session.close()


@pytest.fixture(name="refresh")
def refresh_fixture() -> Callable[..., dict[str, Any]]:
    """The refresh_token grant against an emulator: `refresh(zoho, client_secret="wrong")`."""
    return refresh


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live: HTTP-only conformance tests (no introspection, no faults) that also run against a real "
        "Zoho developer/sandbox org with ZOHO_LIVE=1 (tests/emulator/live.py)",
    )


@pytest.fixture(scope="session")
def live_config() -> LiveConfig | None:
    """The real org to run the `live` tests against, or None (a local emulator)."""
    return LiveConfig.from_env()


@pytest.fixture(scope="session")
def live_token(live_config: LiveConfig | None) -> dict[str, Any] | None:
    """In live mode, one access token for the whole run (Zoho issues 10 per refresh token in 10 minutes)."""
    if live_config is None:
        return None
    return fetch_token(
        live_config.accounts_url, live_config.client_id, live_config.client_secret, live_config.refresh_token
    )


@pytest.fixture
def crm(live_config: LiveConfig | None, live_token: dict[str, Any] | None) -> Iterator[Crm]:
    """A guarded client of the real org (live mode) or of a fresh emulator; the records it created
    are deleted afterwards, and the test fails if Zoho did not confirm every deletion."""
    with contextlib.ExitStack() as stack:
        if live_config is not None and live_token is not None:
            client = Crm(
                api_url=live_config.api_url, token_answer=live_token, version=live_config.version, live=True
            )
        else:
            emulator = stack.enter_context(ZohoEmulator())
            answer = fetch_token(
                emulator.url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN
            )
            client = Crm(api_url=emulator.url, token_answer=answer, version="v8", live=False, timeout=TIMEOUT)
        yield client
        assert client.close() == [], "records created by the test were not all deleted"
