"""Shared fixtures: one Zoho CRM emulator per pytest worker, reset between the tests that use it.

- `zoho` (session): the running `ZohoEmulator` (real HTTP on 127.0.0.1).
- `emulator` (function): the same emulator after `reset()` (records, calls, credits, faults cleared).
- `target_config` (function): a target config pointing every URL at the emulator, with its default
  OAuth client; tests add their own settings on a copy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

EMULATOR_CLIENT_ID = "1000.EMULATOR0CLIENT0ID"
EMULATOR_CLIENT_SECRET = "emulator-client-secret"
EMULATOR_REFRESH_TOKEN = "1000.emulator.refresh.token"


@pytest.fixture(scope="session")
def zoho() -> Iterator[Any]:
    from target_zoho_crm.emulator import ZohoEmulator

    with ZohoEmulator(latency_ms=0) as server:
        yield server


def _wait_until_quiet(zoho: Any, timeout: float = 15.0) -> None:
    """Calls a killed or timed-out target had already sent still finish inside the emulator (Zoho does
    not know its client is gone): let them land before the reset, not in the next test's store."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if zoho.state.gate.in_flight == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.1:
                return
        else:
            quiet_since = None
        time.sleep(0.01)


@pytest.fixture
def emulator(zoho: Any) -> Iterator[Any]:
    _wait_until_quiet(zoho)
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
