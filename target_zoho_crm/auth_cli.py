"""`target-zoho-crm-auth`: a Zoho self-client grant code → a refresh token, at the right data centre.

Zoho's flow (https://www.zoho.com/crm/developer/docs/api/v8/auth-request.html and
.../v8/access-refresh.html): in the API console of the org's data centre, a Self Client generates a
grant code for chosen scopes; it is valid for a few minutes and works once. POST it to that data
centre's `<accounts server>/oauth/v2/token` with `grant_type=authorization_code` and the client's id and
secret: the answer carries the refresh token and the org's `api_domain`. Errors come back as a JSON
`error` (`invalid_code`, `invalid_client`), which this command turns into advice.

The client secret and the tokens never appear in an error message; the client secret may come from
TARGET_ZOHO_CRM_CLIENT_SECRET (Meltano sets it for `meltano invoke target-zoho-crm:auth`) or a prompt
instead of the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from target_zoho_crm.errors import AuthCommandError, ConfigError
from target_zoho_crm.report.redact import Redactor
from target_zoho_crm.zoho.client import REQUIRED_SCOPES
from target_zoho_crm.zoho.regions import REGIONS, normalize_region, resolve_urls

ENV_PREFIX = "TARGET_ZOHO_CRM_"  # the target's own setting variables, as Meltano passes them
TIMEOUT = 30.0


def _parser() -> argparse.ArgumentParser:
    verified = ", ".join(name for name, region in REGIONS.items() if region.verified)
    p = argparse.ArgumentParser(
        prog="target-zoho-crm-auth",
        description="Exchange a Zoho Self Client grant code for a refresh token at your org's data "
        "centre, and print it (or merge it into a target config file).",
        epilog="Generate the code in the API console of your data centre (api-console.zoho.com, "
        f".eu, .in, ...): Self Client → Generate Code, scopes {REQUIRED_SCOPES}. The code works once "
        "and only for a few minutes: run this command right away.",
    )
    p.add_argument("--client-id", default=os.environ.get(f"{ENV_PREFIX}CLIENT_ID"), help="Self Client ID")
    p.add_argument(
        "--client-secret",
        help=f"Self Client secret (default: ${ENV_PREFIX}CLIENT_SECRET, else asked for without echo)",
    )
    p.add_argument("--code", help="the grant code (default: asked for)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--region",
        help=f"data centre of the org: {verified} (any case; default: ${ENV_PREFIX}REGION, else US)",
    )
    where.add_argument("--accounts-url", help="accounts server URL instead of a region (proxy, emulator)")
    p.add_argument(
        "--write-config",
        metavar="FILE",
        help="merge refresh_token, client_id and region (or accounts_url and api_url) into this JSON "
        "config file, keeping its other keys",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    redactor = Redactor()
    try:
        return _run(args, redactor)
    except (AuthCommandError, ConfigError) as exc:
        print(f"target-zoho-crm-auth: {redactor.redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, redactor: Redactor) -> int:
    client_id = (args.client_id or "").strip()
    if not client_id:
        raise AuthCommandError("--client-id is required (the Self Client's ID from the API console).")
    secret = args.client_secret or os.environ.get(f"{ENV_PREFIX}CLIENT_SECRET") or _ask("Client secret: ")
    code = args.code or _ask("Grant code: ")
    redactor.add(secret)
    redactor.add(code)
    # An explicit option wins; then the target's own variables, where accounts_url overrides region.
    accounts_url: str | None = args.accounts_url
    if not accounts_url and not args.region:
        accounts_url = os.environ.get(f"{ENV_PREFIX}ACCOUNTS_URL") or None
    region = None if accounts_url else normalize_region(args.region or os.environ.get(f"{ENV_PREFIX}REGION"))
    accounts = resolve_urls({"region": region, "accounts_url": accounts_url}).accounts_url
    where = f"region {region} ({accounts})" if region else f"the accounts server {accounts}"

    target = Path(args.write_config).expanduser() if args.write_config else None
    config, mode = read_config(target) if target else ({}, 0o600)

    body = _exchange(accounts, client_id, secret, code, where, region)
    refresh_token = str(body["refresh_token"])
    redactor.add(refresh_token)
    api_domain = body.get("api_domain") if isinstance(body.get("api_domain"), str) else None

    if target:
        updates = config_updates(client_id, refresh_token, region, accounts, api_domain)
        write_config(target, {**config, **updates}, mode)
        print(f"Wrote {', '.join(updates)} to {target}.")
        overrides = [key for key in ("accounts_url", "api_url") if region and config.get(key)]
        if overrides:
            print(f"Note: {target} also sets {' and '.join(overrides)}, which win over `region`.")
        if not config.get("client_secret"):
            print(
                f"Add client_secret to {target} (or set {ENV_PREFIX}CLIENT_SECRET) before running the target."
            )
    else:
        print(f"refresh_token: {refresh_token}")
        print(
            "Keep it secret: store it as the target's `refresh_token` (meltano config target-zoho-crm "
            "set refresh_token ...)."
        )
    print(f"api_domain: {api_domain or '(not given by Zoho)'}")
    if body.get("scope"):
        print(f"scopes: {body['scope']}")
    return 0


def config_updates(
    client_id: str, refresh_token: str, region: str | None, accounts: str, api_domain: str | None
) -> dict[str, Any]:
    """The settings --write-config sets: the region when one was named, else the accounts server and
    the API domain Zoho answered with."""
    updates: dict[str, Any] = {"client_id": client_id, "refresh_token": refresh_token}
    if region:
        updates["region"] = region
    else:
        updates["accounts_url"] = accounts
        if api_domain:
            updates["api_url"] = api_domain
    return updates


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise AuthCommandError(f"{prompt.rstrip(': ')} missing: pass it as an option.")
    return getpass.getpass(prompt).strip()


def _exchange(
    accounts: str, client_id: str, secret: str, code: str, where: str, region: str | None
) -> dict[str, Any]:
    data = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": secret, "code": code}
    url = f"{accounts}/oauth/v2/token"
    try:
        # No redirects: a 3xx would resend the secret and the code to another host.
        response = requests.post(url, data=data, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise AuthCommandError(
            f"Could not reach {where}: {type(exc).__name__}. Check the network and --region/--accounts-url."
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AuthCommandError(
            f"{url} answered HTTP {response.status_code} without a JSON object: is {where} a Zoho "
            "accounts server?"
        )
    error = body.get("error")
    if error:
        others = [name for name, dc in REGIONS.items() if dc.verified and name != region]
        raise AuthCommandError(advice(str(error), where, others))
    if not body.get("refresh_token"):
        raise AuthCommandError(
            f"Zoho ({where}) issued no refresh token (HTTP {response.status_code}). A Self Client's "
            "grant code gives one; a code from a web client needs access_type=offline."
        )
    return body


def advice(error: str, where: str, others: Sequence[str]) -> str:
    """Zoho's token error → what to do about it (no secret is ever part of it)."""
    if error == "invalid_code":
        return (
            f"Zoho refused the grant code (invalid_code) at {where}: it has expired (a Self Client code "
            "lives only the few minutes chosen when it was generated) or was already used (each code "
            "works once). Generate a new code in the API console and run this command right away."
        )
    if error == "invalid_client":
        return (
            f"Zoho does not know this client (invalid_client) at {where}. Usually the data centre is "
            "wrong: a client exists only in the data centre whose API console created it (with Multi-DC, "
            "each data centre has its own secret). Try --region "
            + ", ".join(others)
            + "; otherwise check --client-id and --client-secret."
        )
    return f"Zoho refused the grant code at {where} ({error}). Check the client id and secret and the code."


def read_config(path: Path) -> tuple[dict[str, Any], int]:
    """The JSON object in `path` ({} when missing) and the mode to write it back with (0600 for a new
    file). Read before the grant code is spent: a code works once."""
    if not path.exists():
        return {}, 0o600
    try:
        config = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as exc:
        raise AuthCommandError(
            f"Cannot merge into {path}: it is not readable JSON ({type(exc).__name__}). Fix the file or "
            "name another one; the grant code was not used."
        ) from None
    if not isinstance(config, dict):
        raise AuthCommandError(
            f"Cannot merge into {path}: it holds no JSON object; the grant code was not used."
        )
    return config, path.stat().st_mode & 0o777


def write_config(path: Path, config: dict[str, Any], mode: int) -> None:
    """Replace `path` atomically: a reader sees the old or the new file, never half of one."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise AuthCommandError(
            f"Cannot write {path}: {exc.strerror or type(exc).__name__}. The refresh token was not "
            "saved: fix this and generate a new grant code."
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


if __name__ == "__main__":
    sys.exit(main())
