"""Secrets: every path runs with known secret values, and none of them (nor any access token the accounts
server issued) appears in stdout, stderr, logs or the rejects file. TLS verification stays on; plain
http:// is accepted only for loopback URL overrides.

Zoho behaviours relied on: the refresh-token grant and its errors (`invalid_client`, `invalid_code`)
(https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html), the
`Zoho-oauthtoken` header (https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html), and
that every Zoho host is HTTPS (https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.target.faults_support import assert_each_once, expiring_tokens, lead_input, rejects_by_id
from tests.target.singer_io import CLI, LEAD_PROPERTIES, lead, record, run_target, schema, state, write_lines

CLIENT_ID = "1000.SECRETSUITE0CLIENT"
CLIENT_SECRET = "cs-9f8e7d6c5b4a-TOPSECRET"
REFRESH_TOKEN = "1000.rt.SECRET.0a1b2c3d4e5f6a7b"
WRONG_REFRESH = "1000.rt.WRONGSECRET.ffeeddccbbaa"
WRONG_CLIENT_SECRET = "cs-WRONG-0011223344556677"
STATIC_ACCESS = "1000.at.STATICSECRET.99887766"


@pytest.fixture(scope="module")
def vault() -> Iterator[Any]:
    """An emulator of its own, with these secrets and 2-second access tokens (refreshes mid-run)."""
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN, token_ttl=2
    ) as server:
        yield server


def _config(vault: Any, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "accounts_url": vault.url,
        "api_url": vault.url,
        "upload_url": vault.url,
        "request_timeout": 5,
        "max_retries": 5,
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "bulk_poll_max_interval": 0.2,
        **extra,
    }


def _issued_tokens(vault: Any) -> set[str]:
    return set(vault.state.tokens._access)


def _assert_nothing_leaks(vault: Any, tmp_path: Path, outputs: list[str]) -> None:
    secrets = {CLIENT_SECRET, REFRESH_TOKEN, WRONG_REFRESH, WRONG_CLIENT_SECRET, STATIC_ACCESS}
    secrets |= _issued_tokens(vault)
    assert len(secrets) > 6, "no access token was issued: the check would prove nothing"
    texts = dict(enumerate(outputs))
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.name.endswith((".config.json", "config.json")):
            texts[str(path.name)] = path.read_text(errors="replace")
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:8]}…) leaked into {where}"


def test_no_secret_in_any_output_of_any_path(vault: Any, tmp_path: Path) -> None:
    vault.reset()
    outputs: list[str] = []
    env = {"LOGLEVEL": "DEBUG"}  # the most verbose logs the target can produce

    def run(name: str, messages: list[Any], **extra: Any) -> Any:
        workdir = tmp_path / name
        workdir.mkdir()
        result = run_target(
            _config(vault, workdir, **extra), write_lines(workdir / "in.singer", messages), workdir, env=env
        )
        outputs.extend([result.stdout, result.stderr])
        return result

    # REST, with rejects, expiring tokens and faults that make the client log retries and reconcile.
    vault.set_faults(
        {
            "script": [{"status": 429}, {"status": 500, "after_write": True}, {"drop": True}],
            "match": {"path_contains": "/Leads", "method": "POST"},
        }
    )
    messages = lead_input(
        range(600), make=lambda i: lead(i, email="oops" if i == 7 else f"lead{i}@example.com")
    )
    with expiring_tokens(vault, every=0.3):
        rest = run("rest", messages)
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert set(rejects_by_id(tmp_path / "rest")) == {7}

    # Bulk Write (upload, job, polls, result download) after the accounts server was briefly down.
    vault.reset()
    vault.set_faults({"token_endpoint_down": 1})
    bulk = run("bulk", lead_input(range(300)), api_type="bulk")
    assert bulk.returncode == 0, bulk.stderr[-3000:]
    assert_each_once(vault, range(300))

    # Dry run, bad input lines, and a stream that maps to no module.
    dry = [*lead_input(range(5)), "not json", schema("nowhere_stream", {"id": {"type": "integer"}})]
    assert run("dry", dry, dry_run=True).returncode == 1

    # Credentials Zoho refuses: wrong refresh token, wrong client secret, a dead static access token.
    wrong_rt = run("wrong_rt", lead_input(range(3)), refresh_token=WRONG_REFRESH)
    assert wrong_rt.returncode == 1 and "invalid_code" in wrong_rt.stderr
    wrong_cs = run("wrong_cs", lead_input(range(3)), client_secret=WRONG_CLIENT_SECRET)
    assert wrong_cs.returncode == 1 and "invalid_client" in wrong_cs.stderr
    static = run(
        "static",
        lead_input(range(3)),
        client_id=None,
        client_secret=None,
        refresh_token=None,
        access_token=STATIC_ACCESS,
    )
    assert static.returncode == 1 and "access_token" in static.stderr

    # Settings from the environment (`--config ENV`), as Meltano passes them.
    workdir = tmp_path / "env"
    workdir.mkdir()
    settings = _config(vault, workdir)
    env_vars = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")},
        **{f"TARGET_ZOHO_CRM_{k.upper()}": v for k, v in settings.items() if isinstance(v, str)},
        "LOGLEVEL": "DEBUG",
    }
    proc = subprocess.run(
        [CLI, "--config", "ENV", "--input", str(write_lines(workdir / "in.singer", lead_input(range(20))))],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_vars,
        cwd=workdir,
    )
    outputs.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stderr[-3000:]

    _assert_nothing_leaks(vault, tmp_path, outputs)


def test_plain_http_is_refused_for_non_loopback_hosts(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages = [schema("leads", LEAD_PROPERTIES, ["id"]), record("leads", lead(1)), state({"p": 1})]
    for key, url in (
        ("api_url", "http://www.zohoapis.com"),
        ("accounts_url", "http://10.1.2.3:8080"),
        ("upload_url", "http://content.zohoapis.com"),
    ):
        run = run_target({**target_config, key: url}, write_lines(tmp_path / "in.singer", messages), tmp_path)
        assert run.returncode == 1, (key, run.stderr[-2000:])
        assert key in run.stderr and "http://" in run.stderr
        assert run.states == []
    assert emulator.calls == []
    assert emulator.records("Leads") == []


@pytest.fixture
def tls_emulator(zoho: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The emulator's app behind HTTPS with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = make_server("127.0.0.1", 0, zoho.app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}", cert
    finally:
        server.shutdown()
        thread.join()


def test_tls_certificates_are_verified(
    emulator: Any, target_config: dict[str, Any], tls_emulator: tuple[str, Path], tmp_path: Path
) -> None:
    """An HTTPS endpoint whose certificate is not trusted is never talked to; trusting its CA (the
    documented REQUESTS_CA_BUNDLE route for proxies) is the only way in."""
    url, cert = tls_emulator
    config = {
        **target_config,
        "accounts_url": url,
        "api_url": url,
        "upload_url": url,
        "rejects_path": str(tmp_path / "rejects.jsonl"),
    }
    messages = lead_input(range(20))
    untrusted = run_target(config, write_lines(tmp_path / "in.singer", messages), tmp_path, timeout=90)
    assert untrusted.returncode == 1
    assert "SSL" in untrusted.stderr or "certificate" in untrusted.stderr.lower()
    assert emulator.calls == []  # not even the token request got through
    assert untrusted.states == []

    trusted = run_target(config, tmp_path / "in.singer", tmp_path, env={"REQUESTS_CA_BUNDLE": str(cert)})
    assert trusted.returncode == 0, trusted.stderr[-3000:]
    assert_each_once(emulator, range(20))
    assert json.loads(trusted.stdout.splitlines()[-1]) == {"position": 20}
