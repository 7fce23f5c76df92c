"""The token cache: access tokens shared across runs and processes, against the emulator over real HTTP.

Zoho issues at most 10 access tokens per refresh token in 10 minutes and keeps 15 active; beyond that
the accounts server answers "Access Denied" (HTTP 200, `{"error": "Access Denied", "status":
"failure"}`): https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html. Zoho's SDKs keep a
token store for that reason (zcrmsdk `FileStore`). An expired or revoked token on a CRM call is 401
`INVALID_TOKEN` (https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html).

Every test runs with its own XDG_CACHE_HOME (tests/conftest.py), so the default cache path is a fresh
directory here and never the user's.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from target_zoho_crm.errors import AuthError
from target_zoho_crm.report.redact import Redactor
from target_zoho_crm.zoho.auth import TokenManager, is_access_denied
from target_zoho_crm.zoho.token_cache import (
    CachedToken,
    TokenCache,
    cache_key,
    cache_path_from_setting,
    default_cache_path,
)
from tests.conftest import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN
from tests.target.faults_support import lead_input, token_calls
from tests.target.singer_io import Run, run_target, write_lines


def _cache_file() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "target-zoho-crm" / "tokens.json"


def _run(config: dict[str, Any], tmp_path: Path, name: str, n: int = 3) -> Run:
    workdir = tmp_path / name
    workdir.mkdir()
    source = write_lines(workdir / "in.singer", lead_input(range(n)))
    return run_target(config, source, workdir)


def _entries(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert data["version"] == 1
    return data["tokens"]


def _manager(url: str, cache: TokenCache | None, **kw: Any) -> TokenManager:
    return TokenManager(
        url,
        client_id=EMULATOR_CLIENT_ID,
        client_secret=EMULATOR_CLIENT_SECRET,
        refresh_token=EMULATOR_REFRESH_TOKEN,
        backoff_factor=0.01,
        timeout=5,
        redactor=Redactor(),
        cache=cache,
        **kw,
    )


# -- through the CLI ---------------------------------------------------------------------------------------


def test_two_runs_in_a_row_make_one_token_call(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    first = _run(target_config, tmp_path, "first")
    second = _run(target_config, tmp_path, "second")

    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(token_calls(emulator)) == 1
    assert "Reusing a cached Zoho access token" in second.stderr
    assert len(emulator.records("Leads")) == 3


def test_cache_file_is_private_and_holds_no_refresh_token_or_secret(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    run = _run(target_config, tmp_path, "run")
    assert run.returncode == 0, run.stderr[-3000:]

    path = _cache_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for written in (path, path.with_name("tokens.json.lock")):
        text = written.read_text()
        assert EMULATOR_REFRESH_TOKEN not in text and EMULATOR_CLIENT_SECRET not in text
    (key,) = _entries(path)
    assert key == cache_key(emulator.url, EMULATOR_CLIENT_ID, EMULATOR_REFRESH_TOKEN, EMULATOR_CLIENT_SECRET)
    assert key.startswith(f"{emulator.url} {EMULATOR_CLIENT_ID} sha256:")
    # No temporary file is left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokens.json", "tokens.json.lock"]


def test_corrupt_cache_file_is_ignored_with_a_warning_and_replaced(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    path = _cache_file()
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "tokens": [oops')

    run = _run(target_config, tmp_path, "corrupt")
    again = _run(target_config, tmp_path, "again")

    assert run.returncode == 0, run.stderr[-3000:]
    assert f"the token cache {path} is not a token cache file; ignoring it" in run.stderr
    assert again.returncode == 0 and "ignoring it" not in again.stderr
    assert len(token_calls(emulator)) == 1  # the second run used the token the first one wrote back
    assert len(_entries(path)) == 1


def test_unusable_cache_path_is_a_warning_never_fatal(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A directory where the file should be: cannot be read nor replaced (even as root)."""
    path = _cache_file()
    path.mkdir(parents=True)

    run = _run(target_config, tmp_path, "unreadable")

    assert run.returncode == 0, run.stderr[-3000:]
    assert f"cannot read the token cache {path}" in run.stderr
    assert f"cannot write the token cache {path}" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(emulator.records("Leads")) == 3


def test_two_processes_at_once_share_one_token_and_leave_a_consistent_file(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    runs: dict[str, Run] = {}
    barrier = threading.Barrier(2)

    def one(name: str) -> None:
        barrier.wait()
        runs[name] = _run({**target_config, "max_concurrency": 2}, tmp_path, name, n=50)

    threads = [threading.Thread(target=one, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert sorted(runs) == ["a", "b"]
    for run in runs.values():
        assert run.returncode == 0, run.stderr[-3000:]
    # Whichever process took the cache's lock first refreshed; the other waited and adopted its token.
    assert len(token_calls(emulator)) == 1
    assert sum("Reusing a cached Zoho access token" in r.stderr for r in runs.values()) == 1
    (entry,) = _entries(_cache_file()).values()
    assert CachedToken.from_json(entry).remaining() > 3000


def test_a_revoked_cached_token_is_refreshed_once_and_written_back(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    first = _run(target_config, tmp_path, "first")
    assert first.returncode == 0, first.stderr[-3000:]
    (old,) = _entries(_cache_file()).values()
    emulator.expire_tokens()  # the cached token is now refused with 401 INVALID_TOKEN
    emulator.reset()

    second = _run(target_config, tmp_path, "second")

    assert second.returncode == 0, second.stderr[-3000:]
    assert len(token_calls(emulator)) == 1
    assert [c["status"] for c in emulator.calls if c["status"] == 401] == [401]
    (new,) = _entries(_cache_file()).values()
    assert new["access_token"] != old["access_token"]
    third = _run(target_config, tmp_path, "third")
    assert third.returncode == 0 and len(token_calls(emulator)) == 1  # the fresh token was reused


def test_off_turns_the_cache_off(emulator: Any, target_config: dict[str, Any], tmp_path: Path) -> None:
    config = {**target_config, "token_cache_path": "off"}
    assert _run(config, tmp_path, "one").returncode == 0
    assert _run(config, tmp_path, "two").returncode == 0
    assert len(token_calls(emulator)) == 2
    assert not _cache_file().parent.exists()


def test_a_configured_path_is_used(emulator: Any, target_config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "zoho.json"
    config = {**target_config, "token_cache_path": str(path)}
    assert _run(config, tmp_path, "one").returncode == 0
    assert _run(config, tmp_path, "two").returncode == 0
    assert len(token_calls(emulator)) == 1
    assert len(_entries(path)) == 1 and not _cache_file().exists()


# -- the token manager with a cache ---------------------------------------------------------------------------


def test_a_cached_token_close_to_expiry_is_replaced(emulator: Any, tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.json")
    key = cache_key(emulator.url, EMULATOR_CLIENT_ID, EMULATOR_REFRESH_TOKEN, EMULATOR_CLIENT_SECRET)
    with cache.locked() as view:
        assert view is not None
        view.put(key, CachedToken(emulator.access_token(), time.time() + 30, 3600, emulator.url))
    tokens = _manager(emulator.url, cache)

    fresh = tokens.token()  # 30 s left is inside the 60 s refresh margin

    assert tokens.refresh_count == 1 and len(token_calls(emulator)) == 1
    with cache.locked() as view:
        assert view is not None
        stored = view.get(key)
    assert stored is not None and stored.access_token == fresh and stored.remaining() > 3000


def test_a_wrong_client_secret_does_not_find_the_cached_token(emulator: Any, tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.json")
    _manager(emulator.url, cache).token()
    wrong = TokenManager(
        emulator.url,
        client_id=EMULATOR_CLIENT_ID,
        client_secret="not-the-client-secret",
        refresh_token=EMULATOR_REFRESH_TOKEN,
        timeout=5,
        redactor=Redactor(),
        cache=cache,
    )
    with pytest.raises(AuthError) as info:
        wrong.token()
    assert info.value.code == "invalid_client"


# -- "Access Denied" ------------------------------------------------------------------------------------------


def _use_up_tokens(server: Any) -> None:
    """Ask for tokens until Zoho's 10 in 10 minutes are spent and the 11th is refused."""
    form = {
        "grant_type": "refresh_token",
        "client_id": EMULATOR_CLIENT_ID,
        "client_secret": EMULATOR_CLIENT_SECRET,
        "refresh_token": EMULATOR_REFRESH_TOKEN,
    }
    for _ in range(11):
        body = requests.post(f"{server.url}/oauth/v2/token", data=form, timeout=10).json()
        if "access_token" not in body:
            break
    else:
        pytest.fail("the emulator issued 11 tokens in 10 minutes: Zoho issues at most 10")
    assert body.get("error") == "Access Denied", body


@pytest.fixture
def throttled_zoho() -> Iterator[Any]:
    """An emulator of its own whose refresh token has used up Zoho's 10 tokens in 10 minutes."""
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(latency_ms=0) as server:
        _use_up_tokens(server)
        yield server


def _config_for(server: Any, target_config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    urls = {"accounts_url": server.url, "api_url": server.url, "upload_url": server.url}
    return {**target_config, **urls, **extra}


def test_access_denied_stops_the_run_with_one_plain_message(
    throttled_zoho: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = _config_for(throttled_zoho, target_config, token_wait_seconds=0)

    run = _run(config, tmp_path, "denied")

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("target-zoho-crm: ")]
    assert "answered Access Denied (token_wait_seconds: 0)" in line
    assert "at most 10 in 10 minutes" in line and f"the token cache {_cache_file()}" in line
    assert EMULATOR_REFRESH_TOKEN not in run.stderr and EMULATOR_CLIENT_SECRET not in run.stderr
    assert throttled_zoho.records("Leads") == []


def test_access_denied_with_the_cache_off_says_so(
    throttled_zoho: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = _config_for(throttled_zoho, target_config, token_wait_seconds=0, token_cache_path="off")

    run = _run(config, tmp_path, "denied")

    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "The token cache is off (`token_cache_path: off`)" in run.stderr


def test_access_denied_is_no_harm_when_the_cache_holds_a_valid_token(
    throttled_zoho: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Another run left its token in the cache: this run loads without asking Zoho for one."""
    key = cache_key(throttled_zoho.url, EMULATOR_CLIENT_ID, EMULATOR_REFRESH_TOKEN, EMULATOR_CLIENT_SECRET)
    with TokenCache(_cache_file()).locked() as view:
        assert view is not None
        view.put(
            key, CachedToken(throttled_zoho.access_token(), time.time() + 3000, 3600, throttled_zoho.url)
        )
    calls_before = len(token_calls(throttled_zoho))

    run = _run(_config_for(throttled_zoho, target_config, token_wait_seconds=0), tmp_path, "cached")

    assert run.returncode == 0, run.stderr[-3000:]
    assert len(token_calls(throttled_zoho)) == calls_before
    assert len(throttled_zoho.records("Leads")) == 3


def test_access_denied_waits_until_zoho_issues_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A short issuing window stands in for Zoho's 10 minutes: the wait ends with a token."""
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(latency_ms=0, token_issue_window=2.0) as server:
        _use_up_tokens(server)
        tokens = _manager(server.url, TokenCache(tmp_path / "tokens.json"), denied_wait=60, denied_poll=0.5)
        with caplog.at_level(logging.WARNING, logger="target_zoho_crm.auth"):
            assert tokens.token()
    assert "Asking again in" in caplog.text and tokens.refresh_count == 1


def test_access_denied_uses_a_cached_token_that_is_still_valid(throttled_zoho: Any, tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.json")
    key = cache_key(throttled_zoho.url, EMULATOR_CLIENT_ID, EMULATOR_REFRESH_TOKEN, EMULATOR_CLIENT_SECRET)
    cached = throttled_zoho.access_token()
    with cache.locked() as view:
        assert view is not None
        view.put(key, CachedToken(cached, time.time() + 30, 3600, throttled_zoho.url))

    assert _manager(throttled_zoho.url, cache, denied_wait=0).token() == cached


def test_access_denied_without_a_valid_token_waits_then_says_why(
    throttled_zoho: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = _manager(
        throttled_zoho.url, TokenCache(tmp_path / "tokens.json"), denied_wait=0.6, denied_poll=0.2
    )
    calls_before = len(token_calls(throttled_zoho))

    with caplog.at_level(logging.WARNING, logger="target_zoho_crm.auth"), pytest.raises(AuthError) as info:
        tokens.token()

    assert info.value.code == "ACCESS_DENIED"
    message = str(info.value)
    assert "at most 10 in 10" in message and "Access Denied for 0.6 s" in message
    assert f"the token cache {tmp_path / 'tokens.json'}" in message
    assert EMULATOR_REFRESH_TOKEN not in str(info.value) and EMULATOR_CLIENT_SECRET not in str(info.value)
    assert "Asking again in" in caplog.text
    assert len(token_calls(throttled_zoho)) - calls_before >= 2  # asked, waited, asked again


# -- settings --------------------------------------------------------------------------------------------------


def test_default_path_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "target-zoho-crm" / "tokens.json"
    assert cache_path_from_setting(None) == default_cache_path()
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG rules: a relative path is ignored
    assert default_cache_path() == Path.home() / ".cache" / "target-zoho-crm" / "tokens.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_path() == Path.home() / ".cache" / "target-zoho-crm" / "tokens.json"


def test_off_and_empty_turn_the_cache_off() -> None:
    assert cache_path_from_setting("off") is None
    assert cache_path_from_setting("OFF") is None
    assert cache_path_from_setting("") is None
    assert cache_path_from_setting("~/t.json") == Path.home() / "t.json"


def test_access_denied_is_recognised_as_zoho_spells_it() -> None:
    """token-validity.html shows `"error": "Access Denied"`; OAuth's own spelling is access_denied."""
    assert is_access_denied("Access Denied") and is_access_denied("access_denied")
    assert not is_access_denied("invalid_code") and not is_access_denied("invalid_client")
