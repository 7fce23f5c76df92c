"""`zoho-crm-emulator`: run the Zoho CRM emulator from a shell.

Prints one line, the base URL, once it accepts connections; stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .limits import EDITIONS
from .scopes import DEFAULT_SCOPES
from .server import ZohoEmulator
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_GRANT_CODE,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN_TTL,
    MAX_ACTIVE_TOKENS,
    TOKEN_ISSUE_LIMIT,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zoho-crm-emulator",
        description="A local Zoho CRM (OAuth, metadata, records, COQL, search, Bulk Write) for tests.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    p.add_argument("--db", default=None, help="SQLite file so records survive restarts (default: in memory)")
    p.add_argument(
        "--edition", choices=sorted(EDITIONS), default="enterprise", help="concurrency and credits"
    )
    p.add_argument("--credits", type=int, default=None, help="daily credit budget (default: the edition's)")
    p.add_argument("--licenses", type=int, default=10, help="user licences in the credit formula (10)")
    p.add_argument("--latency-ms", type=int, default=0, help="added to every Zoho call (default 0)")
    p.add_argument("--token-ttl", type=float, default=DEFAULT_TOKEN_TTL, help="access token life, seconds")
    p.add_argument(
        "--token-issue-limit",
        type=int,
        default=TOKEN_ISSUE_LIMIT,
        help="access tokens one refresh token may get per 10 minutes (Zoho: 10; 0 = no limit)",
    )
    p.add_argument(
        "--max-active-tokens",
        type=int,
        default=MAX_ACTIVE_TOKENS,
        help="access tokens valid at once per refresh token, the oldest evicted (Zoho: 15; 0 = no limit)",
    )
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    p.add_argument("--refresh-token", default=DEFAULT_REFRESH_TOKEN)
    p.add_argument("--grant-code", default=DEFAULT_GRANT_CODE, help="authorization code accepted once")
    p.add_argument(
        "--scopes",
        default=",".join(DEFAULT_SCOPES),
        help="scopes granted to the refresh token and grant code (comma-separated; default: all)",
    )
    p.add_argument("--bulk-rows-per-second", type=int, default=50_000, help="bulk job processing speed")
    p.add_argument("--modules-json", default=None, help="your org's exported /settings/modules JSON")
    p.add_argument("--fields-dir", default=None, help="folder of your org's exported /settings/fields JSON")
    p.add_argument("--faults", default=None, help="fault plan as JSON, or @path to a JSON file")
    return p


def _faults(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    spec = json.loads(text)
    if not isinstance(spec, dict):
        raise ValueError("--faults must be a JSON object")
    return spec


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        emulator = ZohoEmulator(
            host=args.host,
            port=args.port,
            edition=args.edition,
            latency_ms=args.latency_ms,
            token_ttl=args.token_ttl,
            db_path=args.db,
            client_id=args.client_id,
            client_secret=args.client_secret,
            refresh_token=args.refresh_token,
            grant_code=args.grant_code,
            scopes=args.scopes,
            bulk_rows_per_second=args.bulk_rows_per_second,
            credits=args.credits,
            licenses=args.licenses,
            faults=_faults(args.faults),
            modules_json=args.modules_json,
            fields_dir=args.fields_dir,
            token_issue_limit=args.token_issue_limit or None,
            max_active_tokens=args.max_active_tokens or None,
        )
    except (ValueError, OSError) as exc:
        print(f"zoho-crm-emulator: {exc}", file=sys.stderr)
        return 2

    emulator.serve_until_terminated()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
