"""`zoho-crm-emulator`: prints its base URL when ready, serves Zoho's paths, keeps records in `--db`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from zoho_crm_emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from zoho_crm_emulator.cli import build_parser

T = 5


@contextmanager
def running(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoho_crm_emulator.cli", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), (
            line,
            proc.stderr.read() if proc.poll() is not None else "",
        )
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def _token_answer(url: str) -> dict[str, Any]:
    data = {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": "1000.emulator.refresh.token",
    }
    answer: dict[str, Any] = requests.post(f"{url}/oauth/v2/token", data=data, timeout=T).json()
    return answer


def _token(
    url: str,
    client_id: str = DEFAULT_CLIENT_ID,
    secret: str = DEFAULT_CLIENT_SECRET,
    rt: str = "1000.emulator.refresh.token",
) -> str:
    data = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": rt,
    }
    token: str = requests.post(f"{url}/oauth/v2/token", data=data, timeout=T).json()["access_token"]
    return token


def test_cli_serves_and_persists_with_db(tmp_path):
    """`--db PATH`: records written in one run are there in the next."""
    db = str(tmp_path / "crm.sqlite")
    with running("--db", db) as url:
        headers = {"Authorization": f"Zoho-oauthtoken {_token(url)}"}
        resp = requests.post(
            f"{url}/crm/v8/Leads", json={"data": [{"Last_Name": "Kept"}]}, headers=headers, timeout=T
        )
        assert resp.status_code == 201
    with running("--db", db) as url:
        recs = requests.get(f"{url}/__emulator__/records/Leads", timeout=T).json()["records"]
        assert [r["Last_Name"] for r in recs] == ["Kept"]


def test_cli_options(tmp_path):
    """`--edition`, `--credits`, the OAuth client options and `--faults` (JSON or @file)."""
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"script": [{"status": 503}], "match": {"path_contains": "/org"}}))
    args = [
        "--edition",
        "free",
        "--credits",
        "77",
        "--client-id",
        "1000.X",
        "--client-secret",
        "sx",
        "--refresh-token",
        "1000.rt",
        "--faults",
        f"@{plan}",
        "--latency-ms",
        "1",
    ]
    with running(*args) as url:
        credits = requests.get(f"{url}/__emulator__/credits", timeout=T).json()
        assert (credits["edition"], credits["budget"], credits["concurrency_limit"]) == ("free", 77, 5)
        headers = {"Authorization": f"Zoho-oauthtoken {_token(url, '1000.X', 'sx', '1000.rt')}"}
        assert requests.get(f"{url}/crm/v8/org", headers=headers, timeout=T).status_code == 503
        assert requests.get(f"{url}/crm/v8/org", headers=headers, timeout=T).status_code == 200


def test_cli_defaults():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.edition, args.db, args.latency_ms, args.token_ttl) == (
        "127.0.0.1",
        8765,
        "enterprise",
        None,
        0,
        3600.0,
    )
    assert args.client_id == DEFAULT_CLIENT_ID and args.client_secret == DEFAULT_CLIENT_SECRET
    assert (args.token_issue_limit, args.max_active_tokens) == (10, 15)  # Zoho's token limits


def test_cli_token_limits():
    """`--token-issue-limit N` / `--max-active-tokens N` (0: no limit), read back over HTTP."""
    with running("--token-issue-limit", "3", "--max-active-tokens", "0") as url:
        tokens = requests.get(f"{url}/__emulator__/tokens", timeout=T).json()
        assert (tokens["issue_limit"], tokens["max_active"]) == (3, None)
        answers = [_token_answer(url) for _ in range(4)]
        assert [("access_token" in a) for a in answers] == [True, True, True, False]
        assert answers[-1]["error"] == "Access Denied"
