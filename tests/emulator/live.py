"""Live conformance mode: the emulator's `live` tests run unchanged against a real Zoho CRM org.

Set the environment and select the tests with the marker (one command; see the emulator README):

    ZOHO_LIVE=1 ZOHO_LIVE_DC=eu ZOHO_LIVE_ENVIRONMENT=developer \\
    ZOHO_LIVE_CLIENT_ID=… ZOHO_LIVE_CLIENT_SECRET=… ZOHO_LIVE_REFRESH_TOKEN=… \\
    .venv/bin/pytest -p no:xdist -m live tests/emulator

Without `ZOHO_LIVE` the same tests run against a local emulator. Only developer and sandbox orgs are
accepted. What the tests write is guarded (`WriteGuard`): they create records carrying this run's tag,
change and delete only records they created, and delete every record they created at the end.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_FLAG = "ZOHO_LIVE"
REQUIRED = ("ZOHO_LIVE_CLIENT_ID", "ZOHO_LIVE_CLIENT_SECRET", "ZOHO_LIVE_REFRESH_TOKEN")
ENVIRONMENTS = ("developer", "sandbox")
DEFAULT_VERSION = "v8"
# Data centre → (accounts server, API domain suffix): reference §1.1 (v8 multi-dc.html, SDK v8 dc/*).
DATA_CENTRES = {
    "us": ("https://accounts.zoho.com", "zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "zohoapis.com.au"),
    "cn": ("https://accounts.zoho.com.cn", "zohoapis.com.cn"),
    "jp": ("https://accounts.zoho.jp", "zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "zohoapis.sa"),
}


class LiveConfigError(ValueError):
    """The live-mode environment is incomplete or unsafe; the message names the variable to fix."""


@dataclass(frozen=True)
class LiveConfig:
    """Where and as whom the live tests run."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    data_centre: str
    environment: str
    version: str

    @property
    def accounts_url(self) -> str:
        return DATA_CENTRES[self.data_centre][0]

    @property
    def api_url(self) -> str:
        return f"https://{self.environment}.{DATA_CENTRES[self.data_centre][1]}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LiveConfig | None:
        """The live configuration, or None when `ZOHO_LIVE` is not set (the tests use the emulator)."""
        env = os.environ if env is None else env
        if env.get(ENV_FLAG, "").strip().lower() not in ("1", "true", "yes"):
            return None
        missing = [name for name in REQUIRED if not env.get(name, "").strip()]
        if missing:
            raise LiveConfigError(
                f"{ENV_FLAG} is set but {', '.join(missing)} is not: set the OAuth client of your org"
            )
        dc = env.get("ZOHO_LIVE_DC", "us").strip().lower()
        if dc not in DATA_CENTRES:
            raise LiveConfigError(f"ZOHO_LIVE_DC={dc!r}: use one of {', '.join(DATA_CENTRES)}")
        environment = env.get("ZOHO_LIVE_ENVIRONMENT", "").strip().lower()
        if environment not in ENVIRONMENTS:
            raise LiveConfigError(
                f"ZOHO_LIVE_ENVIRONMENT={environment!r}: the live tests run only against a developer or "
                "sandbox org; set ZOHO_LIVE_ENVIRONMENT=developer or sandbox"
            )
        version = env.get("ZOHO_LIVE_VERSION", DEFAULT_VERSION).strip()
        if not re.fullmatch(r"v2\.1|v[2-8]", version):
            raise LiveConfigError(f"ZOHO_LIVE_VERSION={version!r}: use v2, v2.1, v3 … v8")
        return cls(
            client_id=env["ZOHO_LIVE_CLIENT_ID"].strip(),
            client_secret=env["ZOHO_LIVE_CLIENT_SECRET"].strip(),
            refresh_token=env["ZOHO_LIVE_REFRESH_TOKEN"].strip(),
            data_centre=dc,
            environment=environment,
            version=version,
        )


class UnsafeWrite(AssertionError):
    """A live test tried to write to a record it did not create, or without this run's tag."""


_RECORD_PATH = re.compile(r"/crm/v[\d.]+/(?P<module>[A-Za-z_]+)(?:/(?P<rest>[^/?]+))?/?$")


class WriteGuard:
    """Lets a test write only what it owns: inserts and upserts whose records carry the run's tag,
    updates and deletes of the ids it created; it remembers those ids so they can be deleted."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or f"zemu{uuid.uuid4().hex[:12]}"
        self.created: dict[str, list[str]] = {}

    def email(self, name: str) -> str:
        """An address that is this run's and nobody else's (`.invalid` never delivers)."""
        return f"{name}.{self.tag}@example.invalid"

    def check(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None) -> None:
        match = _RECORD_PATH.search(path)
        if method == "GET" or path.endswith("/coql") or match is None:
            return
        module, rest = match.group("module"), match.group("rest")
        if method == "POST" and rest in (None, "upsert"):
            records = body.get("data") if isinstance(body, dict) else None
            for rec in records or []:
                if self.tag not in repr(rec):
                    raise UnsafeWrite(f"a live test wrote a {module} record without the run tag {self.tag}")
            return
        ids = [rest] if rest and rest not in ("upsert", "search") else []
        if method == "PUT" and not ids:
            ids = [str(r.get("id")) for r in (body or {}).get("data", [])]
        if method == "DELETE" and not ids:
            ids = [i for i in str((params or {}).get("ids", "")).split(",") if i]
        owned = set(self.created.get(module, []))
        foreign = [i for i in ids if i not in owned]
        if not ids or foreign:
            raise UnsafeWrite(
                f"a live test tried {method} on {module} records it did not create: {foreign or 'all'}"
            )

    def remember(self, method: str, path: str, answer: Any) -> None:
        """Record the ids an insert or upsert created (action `insert`)."""
        match = _RECORD_PATH.search(path)
        if method != "POST" or match is None or match.group("rest") not in (None, "upsert"):
            return
        for item in (answer or {}).get("data", []) if isinstance(answer, dict) else []:
            rid = (item.get("details") or {}).get("id")
            if item.get("status") == "success" and rid and item.get("action", "insert") == "insert":
                self.created.setdefault(match.group("module"), []).append(str(rid))


def fetch_token(
    accounts_url: str, client_id: str, client_secret: str, refresh_token: str, timeout: float = 30
) -> dict[str, Any]:
    """One refresh_token grant; the answer (`access_token`, `api_domain`, …). A live run makes one for the
    whole session: Zoho allows 10 per refresh token in 10 minutes."""
    import requests

    answer: dict[str, Any] = requests.post(
        f"{accounts_url.rstrip('/')}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
        timeout=timeout,
    ).json()
    if not answer.get("access_token"):
        raise LiveConfigError(f"the token call failed: {answer.get('error', 'no access_token')}")
    return answer


class Crm:
    """A Zoho CRM client for the `live` tests, on a real org or a local emulator, with an access token
    from `fetch_token`; every write checked by a WriteGuard, created records deleted on close."""

    def __init__(
        self, *, api_url: str, token_answer: dict[str, Any], version: str, live: bool, timeout: float = 30
    ) -> None:
        import requests

        self.live = live
        self.version = version
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.guard = WriteGuard()
        self.session = requests.Session()
        self.token_answer = token_answer
        self.token = str(token_answer["access_token"])

    def url(self, path: str) -> str:
        return f"{self.api_url}/crm/{self.version}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        url = self.url(path)
        self.guard.check(method, url, kw.get("json"), kw.get("params"))
        kw.setdefault("timeout", self.timeout)
        auth = {"Authorization": f"Zoho-oauthtoken {self.token}", **(headers or {})}
        resp = self.session.request(method, url, headers=auth, **kw)
        if resp.content and resp.headers.get("Content-Type", "").startswith("application/json"):
            self.guard.remember(method, url, resp.json())
        return resp

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def close(self) -> list[str]:
        """Delete every record this client created; the ids Zoho did not confirm deleted."""
        left: list[str] = []
        for module, ids in self.guard.created.items():
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                resp = self.delete(module, params={"ids": ",".join(chunk)})
                done = {
                    str((item.get("details") or {}).get("id"))
                    for item in (resp.json().get("data", []) if resp.content else [])
                    if item.get("status") == "success"
                }
                left += [i for i in chunk if i not in done]
        self.guard.created.clear()
        self.session.close()
        return left
