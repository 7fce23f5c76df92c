"""`target-zoho-crm-auth`, run as a user would, against the emulator's accounts server.

Zoho's flow: a Self Client grant code is exchanged at the data centre's `/oauth/v2/token` with
`grant_type=authorization_code`; the answer carries `refresh_token` and `api_domain`
(https://www.zoho.com/crm/developer/docs/api/v8/access-refresh.html). A grant code works once and lives a
few minutes (https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html); failures are a JSON
`error`: `invalid_code` (expired or used code), `invalid_client` (unknown client, usually the wrong data
centre: https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html).
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from target_zoho_crm.auth_cli import advice, config_updates
from target_zoho_crm.report.redact import Redactor
from target_zoho_crm.zoho.auth import TokenManager
from tests.conftest import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN
from tests.target.faults_support import lead_input
from tests.target.singer_io import run_target, write_lines

AUTH_CLI = str(Path(sys.executable).parent / "target-zoho-crm-auth")
_codes = itertools.count()


def _grant_code(zoho: Any) -> str:
    """A fresh single-use grant code, as the API console's Self Client would generate."""
    code = f"1000.grant.{os.getpid()}.{next(_codes)}"
    zoho.state.tokens.add_grant_code(code)
    return code


def _auth(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    full_env.update(env or {})
    return subprocess.run(
        [AUTH_CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _refresh_token_in(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("refresh_token: ")]
    return line.removeprefix("refresh_token: ")


def test_prints_a_refresh_token_that_works_and_the_api_domain(emulator: Any) -> None:
    code = _grant_code(emulator)
    run = _auth(
        "--client-id", EMULATOR_CLIENT_ID, "--client-secret", EMULATOR_CLIENT_SECRET,
        "--code", code, "--accounts-url", emulator.url,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    refresh_token = _refresh_token_in(run.stdout)
    assert refresh_token and refresh_token != EMULATOR_REFRESH_TOKEN
    assert f"api_domain: {emulator.url}" in run.stdout
    assert EMULATOR_CLIENT_SECRET not in run.stdout + run.stderr
    tokens = TokenManager(
        emulator.url,
        client_id=EMULATOR_CLIENT_ID,
        client_secret=EMULATOR_CLIENT_SECRET,
        refresh_token=refresh_token,
        redactor=Redactor(),
    )
    assert tokens.token()  # the emulator issues access tokens for the new refresh token


def test_write_config_merges_into_a_config_the_target_then_loads_with(emulator: Any, tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    kept = {"client_secret": EMULATOR_CLIENT_SECRET, "upload_url": emulator.url, "api_version": "v4"}
    config_path.write_text(json.dumps({**kept, "refresh_token": "1000.old.revoked"}))
    config_path.chmod(0o640)

    run = _auth(
        "--client-id", EMULATOR_CLIENT_ID, "--code", _grant_code(emulator),
        "--accounts-url", emulator.url, "--write-config", str(config_path),
        env={"TARGET_ZOHO_CRM_CLIENT_SECRET": EMULATOR_CLIENT_SECRET},
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    config = json.loads(config_path.read_text())
    assert {k: config[k] for k in kept} == kept
    assert config["refresh_token"] not in ("1000.old.revoked", EMULATOR_REFRESH_TOKEN)
    assert config["refresh_token"] not in run.stdout + run.stderr  # written, not shown
    assert config["client_id"] == EMULATOR_CLIENT_ID
    assert config["accounts_url"] == emulator.url and config["api_url"] == emulator.url
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left

    load = run_target(config, write_lines(tmp_path / "in.singer", lead_input(range(3))), tmp_path)
    assert load.returncode == 0, load.stderr[-3000:]
    assert len(emulator.records("Leads")) == 3


def test_write_config_creates_a_private_file(emulator: Any, tmp_path: Path) -> None:
    config_path = tmp_path / "new.json"
    run = _auth(
        "--client-id", EMULATOR_CLIENT_ID, "--client-secret", EMULATOR_CLIENT_SECRET,
        "--code", _grant_code(emulator), "--accounts-url", emulator.url, "--write-config", str(config_path),
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert "Add client_secret to" in run.stdout
    assert EMULATOR_CLIENT_SECRET not in config_path.read_text()


def test_a_named_region_is_written_as_the_region() -> None:
    """Zoho's real accounts servers are out of reach here, so the choice of settings is checked alone."""
    assert config_updates(
        "1000.X", "1000.r", "EU", "https://accounts.zoho.eu", "https://www.zohoapis.eu"
    ) == {
        "client_id": "1000.X",
        "refresh_token": "1000.r",
        "region": "EU",
    }
    assert config_updates("1000.X", "1000.r", None, "http://127.0.0.1:9", "http://127.0.0.1:9") == {
        "client_id": "1000.X",
        "refresh_token": "1000.r",
        "accounts_url": "http://127.0.0.1:9",
        "api_url": "http://127.0.0.1:9",
    }


def test_a_used_grant_code_is_plain_advice(emulator: Any) -> None:
    code = _grant_code(emulator)
    args = ("--client-id", EMULATOR_CLIENT_ID, "--client-secret", EMULATOR_CLIENT_SECRET, "--code", code)
    assert _auth(*args, "--accounts-url", emulator.url).returncode == 0

    again = _auth(*args, "--accounts-url", emulator.url)

    assert again.returncode == 1
    assert "invalid_code" in again.stderr and "expired" in again.stderr and "already used" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.splitlines()) == 1
    assert EMULATOR_CLIENT_SECRET not in again.stderr and code not in again.stderr


def test_a_wrong_client_is_advice_about_the_data_centre(emulator: Any) -> None:
    secret = "a-wrong-client-secret"
    run = _auth(
        "--client-id", EMULATOR_CLIENT_ID, "--client-secret", secret,
        "--code", _grant_code(emulator), "--accounts-url", emulator.url,
    )  # fmt: skip

    assert run.returncode == 1
    assert "invalid_client" in run.stderr and f"the accounts server {emulator.url}" in run.stderr
    assert "data centre" in run.stderr and "--region US, EU, IN, AU, CN, JP, CA, SA" in run.stderr
    assert "Traceback" not in run.stderr and secret not in run.stderr


def test_invalid_client_advice_names_the_region_used_and_suggests_the_others() -> None:
    text = advice("invalid_client", "region EU (https://accounts.zoho.eu)", ["US", "IN", "AU"])
    assert "at region EU (https://accounts.zoho.eu)" in text and "Try --region US, IN, AU" in text


def test_an_unknown_region_is_one_message(tmp_path: Path) -> None:
    run = _auth("--client-id", "1000.X", "--client-secret", "s" * 12, "--code", "1000.c", "--region", "mars")
    assert run.returncode == 1
    assert "Unknown `region` 'mars'" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("region", ["eu", "Eu", "EU"])
def test_a_region_in_any_case_goes_to_its_accounts_server(region: str) -> None:
    """The call goes through a proxy that is not there (a closed loopback port), so nothing leaves the
    machine: the failure names the data centre the code would have been sent to."""
    closed = {
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    run = _auth(
        "--client-id", "1000.X", "--client-secret", "s" * 12, "--code", "1000.c", "--region", region, env=closed
    )  # fmt: skip
    assert run.returncode == 1
    assert "region EU (https://accounts.zoho.eu)" in run.stderr and "Traceback" not in run.stderr


def test_a_config_file_that_is_not_json_is_refused_before_the_code_is_spent(
    emulator: Any, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text("{not json")
    code = _grant_code(emulator)
    args = ("--client-id", EMULATOR_CLIENT_ID, "--client-secret", EMULATOR_CLIENT_SECRET, "--code", code)

    bad = _auth(*args, "--accounts-url", emulator.url, "--write-config", str(config_path))
    assert bad.returncode == 1 and "not readable JSON" in bad.stderr and "was not used" in bad.stderr
    assert config_path.read_text() == "{not json"
    assert _auth(*args, "--accounts-url", emulator.url).returncode == 0  # the code still works


def test_missing_options_without_a_terminal_are_named() -> None:
    run = _auth("--client-id", "1000.X", "--client-secret", "s" * 12)
    assert run.returncode == 1 and "Grant code missing" in run.stderr


def test_meltano_command_runs_the_installed_script() -> None:
    """`meltano invoke target-zoho-crm:auth` runs the console script that pyproject.toml installs."""
    root = Path(__file__).resolve().parents[2]
    (loader,) = yaml.safe_load((root / "meltano.yml").read_text())["plugins"]["loaders"]
    command = loader["commands"]["auth"]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[command["executable"]] == "target_zoho_crm.auth_cli:main"
    assert Path(AUTH_CLI).name == command["executable"] and Path(AUTH_CLI).exists()
    assert _auth("--help").returncode == 0
