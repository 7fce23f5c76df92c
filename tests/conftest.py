"""Shared fixtures: one Zoho CRM emulator per pytest worker, reset between the tests that use it.

- `zoho` (session): the running `ZohoEmulator` (real HTTP on 127.0.0.1).
- `emulator` (function): the same emulator after `reset()` (records, calls, credits, faults cleared).
- `target_config` (function): a target config pointing every URL at the emulator, with its default
  OAuth client; tests add their own settings on a copy.
- Every test gets an empty cache directory of its own (XDG_CACHE_HOME), so the target's token cache
  never reads or writes the user's, nor carries a token from one test to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.target.faults_support import wait_quiet

EMULATOR_CLIENT_ID = "1000.EMULATOR0CLIENT0ID"
EMULATOR_CLIENT_SECRET = "emulator-client-secret"
EMULATOR_REFRESH_TOKEN = "1000.emulator.refresh.token"


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(scope="session")
def zoho() -> Iterator[Any]:
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(latency_ms=0) as server:
        yield server


@pytest.fixture
def emulator(zoho: Any) -> Iterator[Any]:
    # Calls a killed or timed-out target had already sent still finish inside the emulator (Zoho does
    # not know its client is gone): let them land before the reset, not in the next test's store.
    wait_quiet(zoho, timeout=15)
    zoho.reset()
    if hasattr(zoho, "set_latency"):
        zoho.set_latency(0)
    yield zoho
    zoho.clear_faults()


@pytest.fixture
def target_config(zoho: Any) -> dict[str, Any]:
    return {
        "client_id": EMULATOR_CLIENT_ID,
        "client_secret": EMULATOR_CLIENT_SECRET,
        "refresh_token": EMULATOR_REFRESH_TOKEN,
        "accounts_url": zoho.url,
        "api_url": zoho.url,
        "upload_url": zoho.url,
        "api_version": "v4",
        "request_timeout": 10,
        "max_retries": 4,
    }
