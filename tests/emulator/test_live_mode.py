"""The live conformance mode's selection, configuration and write guard — checked without reaching Zoho."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .live import LiveConfig, LiveConfigError, UnsafeWrite, WriteGuard

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {
    "ZOHO_LIVE_CLIENT_ID": "1000.LIVECLIENT",
    "ZOHO_LIVE_CLIENT_SECRET": "live-secret-value",
    "ZOHO_LIVE_REFRESH_TOKEN": "1000.live.refresh.value",
}


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_LIVE")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _collected(output: str) -> set[str]:
    return {line.split("::")[0] for line in output.splitlines() if "::" in line}


def test_the_marker_selects_the_conformance_tests_only() -> None:
    live = _pytest("--collect-only", "-q", "-m", "live", "tests/emulator")
    assert live.returncode == 0, live.stdout[-2000:]
    assert _collected(live.stdout) == {"tests/emulator/test_conformance.py"}
    rest = _pytest("--collect-only", "-q", "-m", "not live", "tests/emulator")
    assert "tests/emulator/test_conformance.py" not in _collected(rest.stdout)
    assert "tests/emulator/test_records.py" in _collected(rest.stdout)


def test_without_zoho_live_the_tests_use_the_emulator() -> None:
    assert LiveConfig.from_env({}) is None
    assert LiveConfig.from_env({**CREDENTIALS, "ZOHO_LIVE": "0"}) is None


def test_the_environment_gives_the_data_centre_and_org() -> None:
    config = LiveConfig.from_env(
        {**CREDENTIALS, "ZOHO_LIVE": "1", "ZOHO_LIVE_DC": "EU", "ZOHO_LIVE_ENVIRONMENT": "developer"}
    )
    assert config is not None
    assert (config.accounts_url, config.api_url, config.version) == (
        "https://accounts.zoho.eu",
        "https://developer.zohoapis.eu",
        "v8",
    )
    sandbox = LiveConfig.from_env(
        {
            **CREDENTIALS,
            "ZOHO_LIVE": "true",
            "ZOHO_LIVE_DC": "ca",
            "ZOHO_LIVE_ENVIRONMENT": "sandbox",
            "ZOHO_LIVE_VERSION": "v7",
        }
    )
    assert sandbox is not None
    assert (sandbox.accounts_url, sandbox.api_url, sandbox.version) == (
        "https://accounts.zohocloud.ca",
        "https://sandbox.zohoapis.ca",
        "v7",
    )
    assert "live-secret-value" not in repr(sandbox) and "live.refresh.value" not in repr(sandbox)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ZOHO_LIVE": "1", "ZOHO_LIVE_ENVIRONMENT": "developer"}, "ZOHO_LIVE_CLIENT_ID"),
        ({**CREDENTIALS, "ZOHO_LIVE": "1"}, "developer or sandbox"),
        ({**CREDENTIALS, "ZOHO_LIVE": "1", "ZOHO_LIVE_ENVIRONMENT": "production"}, "developer or sandbox"),
        (
            {**CREDENTIALS, "ZOHO_LIVE": "1", "ZOHO_LIVE_ENVIRONMENT": "developer", "ZOHO_LIVE_DC": "mars"},
            "ZOHO_LIVE_DC",
        ),
        (
            {
                **CREDENTIALS,
                "ZOHO_LIVE": "1",
                "ZOHO_LIVE_ENVIRONMENT": "developer",
                "ZOHO_LIVE_VERSION": "v9",
            },
            "ZOHO_LIVE_VERSION",
        ),
    ],
)
def test_an_incomplete_or_unsafe_environment_is_refused_by_name(env: dict[str, str], names: str) -> None:
    with pytest.raises(LiveConfigError, match=names):
        LiveConfig.from_env(env)


def test_a_live_run_without_credentials_stops_before_any_call() -> None:
    """`ZOHO_LIVE=1` alone: the live tests error out naming the missing variables (no network call)."""
    run = _pytest("-q", "-m", "live", "tests/emulator/test_conformance.py", env={"ZOHO_LIVE": "1"})
    assert run.returncode != 0
    assert "ZOHO_LIVE_CLIENT_ID" in run.stdout and "passed" not in run.stdout.splitlines()[-1]


def test_the_guard_lets_a_test_write_only_its_own_records() -> None:
    guard = WriteGuard("zemutag")
    url = "https://developer.zohoapis.eu/crm/v8/Leads"
    guard.check("POST", url, {"data": [{"Last_Name": "x", "Email": guard.email("a")}]}, None)
    with pytest.raises(UnsafeWrite):
        guard.check("POST", url, {"data": [{"Last_Name": "someone else"}]}, None)
    with pytest.raises(UnsafeWrite):
        guard.check("POST", url + "/upsert", {"data": [{"Email": "a@zylker.com"}]}, None)
    guard.remember("POST", url, {"data": [{"status": "success", "details": {"id": "111"}}]})
    guard.remember(
        "POST",
        url + "/upsert",
        {"data": [{"status": "success", "action": "update", "details": {"id": "999"}}]},
    )
    assert guard.created == {"Leads": ["111"]}  # an upsert that updated did not create it
    guard.check("PUT", url, {"data": [{"id": "111"}]}, None)
    guard.check("PUT", url + "/111", {"data": [{}]}, None)
    guard.check("DELETE", url, None, {"ids": "111"})
    for method, path, body, params in [
        ("PUT", url, {"data": [{"id": "999"}]}, None),
        ("PUT", url + "/999", {"data": [{}]}, None),
        ("DELETE", url, None, {"ids": "111,999"}),
        ("DELETE", url, None, None),
        ("DELETE", url + "/999", None, None),
    ]:
        with pytest.raises(UnsafeWrite):
            guard.check(method, path, body, params)
    guard.check("GET", url + "/999", None, None)  # reading is never refused
    guard.check("POST", "https://developer.zohoapis.eu/crm/v8/coql", {"select_query": "select id"}, None)
