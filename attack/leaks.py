"""Secrets under every failure path: grep stdout, stderr, the rejects file and every written file.

Each scenario uses secret values of its own (drawn from the seed), so a hit is a leak of that run.
Emulator access tokens (1000.<32 hex>.<32 hex>) count as secrets wherever they show up.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attack.procs import CLIENT_ID, Emulator, TargetRun

TOKEN_RE = re.compile(rb"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")


@dataclass
class Leak:
    scenario: str
    channel: str  # stdout | stderr | rejects | file:<name>
    secret: str  # which secret (its role, never its value)
    sample: str  # the leaking line, with the value masked


@dataclass
class LeakFigures:
    scenarios: int = 0
    leaks: list[Leak] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "last_name": {"type": "string"},
            "company": {"type": "string"},
        },
    },
    "key_properties": ["email"],
}


def lines(n: int = 30, bad_every: int = 5) -> list[bytes]:
    out = [json.dumps(SCHEMA).encode()]
    for i in range(n):
        email = f"s{i}@@atk.example" if i % bad_every == 0 else f"s{i}@atk.example"
        out.append(
            json.dumps(
                {
                    "type": "RECORD",
                    "stream": "leads",
                    "record": {"email": email, "last_name": f"S{i}", "company": "Co"},
                }
            ).encode()
        )
        if i % 10 == 9:
            out.append(json.dumps({"type": "STATE", "value": {"i": i}}).encode())
    return out


def scan(
    name: str, work: Path, stdout: bytes, stderr: bytes, secrets: dict[str, str], skip: set[str]
) -> list[Leak]:
    found: list[Leak] = []
    channels: list[tuple[str, bytes]] = [("stdout", stdout), ("stderr", stderr)]
    for p in sorted(work.rglob("*")):
        if p.is_file() and p.name not in skip and not p.name.startswith("stderr."):
            ch = "rejects" if p.name.endswith(".jsonl") else f"file:{p.relative_to(work)}"
            channels.append((ch, p.read_bytes()))
    for ch, data in channels:
        for role, value in secrets.items():
            raw = value.encode()
            if len(raw) >= 6 and raw in data:
                line = next(ln for ln in data.splitlines() if raw in ln)
                found.append(
                    Leak(
                        name,
                        ch,
                        role,
                        line.replace(raw, b"<" + role.encode() + b">").decode("utf-8", "replace")[-200:],
                    )
                )
        m = TOKEN_RE.search(data)
        if m:
            line = next(ln for ln in data.splitlines() if TOKEN_RE.search(ln))
            found.append(
                Leak(
                    name,
                    ch,
                    "access_token(issued)",
                    TOKEN_RE.sub(b"<token>", line).decode("utf-8", "replace")[-200:],
                )
            )
    return found


def campaign(root: Path, seed: int, only: str | None = None) -> LeakFigures:
    rng = random.Random(seed * 7919 + 13)
    figs = LeakFigures()

    def secret(tag: str) -> str:
        return f"{tag}-{rng.getrandbits(64):016x}"

    csec = secret("csec")
    rtok = "1000." + secret("rtok")
    with (
        Emulator(
            "--client-secret",
            csec,
            "--refresh-token",
            rtok,
            "--credits",
            "10000000",
            workdir=root / "leaks-emu",
        ) as emu,
        Emulator(
            "--client-secret",
            csec,
            "--refresh-token",
            rtok,
            "--scopes",
            "ZohoCRM.settings.ALL",
            workdir=root / "leaks-emu2",
        ) as emu_noscope,
    ):

        def cfg(url: str = emu.url, **kw: Any) -> dict[str, Any]:
            base: dict[str, Any] = {
                "client_id": CLIENT_ID,
                "client_secret": csec,
                "refresh_token": rtok,
                "accounts_url": url,
                "api_url": url,
                "upload_url": url,
                "rejects_path": "rejects.jsonl",
                "request_timeout": 2,
                "max_retries": 3,
            }
            base.update(kw)
            return base

        def run(
            name: str,
            config: dict[str, Any] | None,
            extra_secrets: dict[str, str] | None = None,
            *,
            args: list[str] | None = None,
            env: dict[str, str] | None = None,
            faults: dict[str, Any] | None = None,
            inp: list[bytes] | None = None,
            during: Any = None,
            no_config: bool = False,
        ) -> None:
            if only and only != name:
                return
            figs.scenarios += 1
            figs.names.append(name)
            work = root / "leaks" / name
            shutil.rmtree(work, ignore_errors=True)
            (work / "tmp").mkdir(parents=True)
            emu.reset()
            emu_noscope.reset()
            if faults:
                emu.set_faults(faults)
            skip = {"c.json"}
            if no_config:
                cargs = list(args or [])
            else:
                (work / "c.json").write_text(json.dumps(config))
                cargs = ["--config", "c.json", *(args or [])]
            full_env = {"TMPDIR": str(work / "tmp"), **(env or {})}
            r = TargetRun(
                cargs[1] if cargs[:1] == ["--config"] else "",
                inp if inp is not None else lines(),
                work,
                extra_args=cargs[2:] if cargs[:1] == ["--config"] else cargs,
                env=full_env,
            )
            if during is not None:
                during(r)
            out = r.wait(timeout=120)
            secrets = {"client_secret": csec, "refresh_token": rtok, **(extra_secrets or {})}
            figs.leaks.extend(scan(name, work, out.stdout, out.stderr, secrets, skip))

        # --- the secrets are right; something else fails ----------------------------------------
        run("rejects", cfg())
        run(
            "faults-5xx-429-drop",
            cfg(),
            faults={
                "rates": {"500": 0.2, "429": 0.2, "drop": 0.1},
                "seed": 3,
                "script": [{"status": 500, "after_write": True}, {"drop": True, "after_write": True}],
            },
        )
        run("faults-retries-exhausted", cfg(max_retries=2), faults={"rates": {"503": 1.0}})
        run("token-endpoint-down", cfg(), faults={"token_endpoint_down": 50})
        run(
            "token-endpoint-500s",
            cfg(),
            faults={"script": [{"status": 500}] * 3, "match": {"path_contains": "oauth"}},
        )

        def expire_soon(r: TargetRun) -> None:
            t = threading.Timer(0.4, emu.expire_tokens)
            t.daemon = True
            t.start()

        slow = [ln for ln in lines(200)]
        run("expired-token-401", cfg(), inp=slow, during=expire_soon, faults={"script": [{"delay_ms": 600}]})
        run(
            "fault-401", cfg(), faults={"script": [{"status": 401}] * 3, "match": {"path_contains": "/Leads"}}
        )
        run(
            "debug-logging",
            cfg(),
            env={"LOGLEVEL": "DEBUG", "TARGET_ZOHO_CRM_LOGLEVEL": "DEBUG"},
            faults={"rates": {"500": 0.2, "drop": 0.1}, "seed": 5},
        )
        run(
            "debug-logging-bad-secret",
            cfg(client_secret=csec + "x"),
            {"client_secret(wrong)": csec + "x"},
            env={"LOGLEVEL": "DEBUG", "TARGET_ZOHO_CRM_LOGLEVEL": "DEBUG"},
        )
        run("about-with-config", cfg(), args=["--about"], inp=[])
        run("about-json-with-config", cfg(), args=["--about", "--format", "json"], inp=[])
        run("validation-error-other-setting", cfg(max_concurrency="ten"))
        run("config-typo", cfg(refresh_tokn=rtok), {"refresh_token(typo key)": rtok})
        run("bad-region", cfg(region="XX"))
        run("unreachable-host", cfg(url="http://127.0.0.1:9", max_retries=2))
        run("unreachable-api-only", {**cfg(), "api_url": "http://127.0.0.1:9", "max_retries": 2})
        run("scope-mismatch", cfg(url=emu_noscope.url))
        run("bulk-job-failed", cfg(api_type="bulk", bulk_poll_max_interval=1), faults={"bulk_fail_jobs": 1})
        run("dry-run", cfg(dry_run=True))
        run("max-rejects-exit-3", cfg(max_rejects=1))

        def term_soon(r: TargetRun) -> None:
            t = threading.Timer(0.8, lambda: r.signal(signal.SIGTERM))
            t.daemon = True
            t.start()

        run("sigterm", cfg(), inp=lines(400), during=term_soon, faults={"script": [{"delay_ms": 500}] * 5})
        env_cfg = {
            "TARGET_ZOHO_CRM_CLIENT_ID": CLIENT_ID,
            "TARGET_ZOHO_CRM_CLIENT_SECRET": csec,
            "TARGET_ZOHO_CRM_REFRESH_TOKEN": rtok,
            "TARGET_ZOHO_CRM_ACCOUNTS_URL": emu.url,
            "TARGET_ZOHO_CRM_API_URL": emu.url,
            "TARGET_ZOHO_CRM_UPLOAD_URL": emu.url,
            "TARGET_ZOHO_CRM_REJECTS_PATH": "rejects.jsonl",
        }
        run("config-env", None, args=["--config", "ENV"], env=env_cfg, no_config=True)
        run(
            "config-env-bad-region",
            None,
            args=["--config", "ENV"],
            env={**env_cfg, "TARGET_ZOHO_CRM_REGION": "XX"},
            no_config=True,
        )
        run(
            "config-env-bad-streams-json",
            None,
            args=["--config", "ENV"],
            env={**env_cfg, "TARGET_ZOHO_CRM_STREAMS": "{not json"},
            no_config=True,
        )
        tok = emu.access_token(csec, rtok)
        run(
            "access-token-faults-debug",
            {**cfg(), "access_token": tok, "client_secret": None, "refresh_token": None},
            {"access_token": tok},
            env={"LOGLEVEL": "DEBUG"},
            faults={"rates": {"500": 0.3}, "seed": 9},
        )
        tok2 = emu.access_token(csec, rtok)
        run(
            "access-token-expired",
            {**cfg(), "access_token": tok2},
            {"access_token": tok2},
            during=lambda r: emu.expire_tokens(),
        )

        # --- the secrets themselves are wrong ------------------------------------------------------
        wrong_s, wrong_r = secret("wrongsec"), "1000." + secret("wrongtok")
        run("wrong-client-secret", cfg(client_secret=wrong_s), {"client_secret(wrong)": wrong_s})
        run("wrong-refresh-token", cfg(refresh_token=wrong_r), {"refresh_token(wrong)": wrong_r})
        for role in ("client_secret", "refresh_token", "access_token"):
            num = rng.randrange(10**17, 10**18)
            inner = secret("inner")
            for shape, value, needle in (
                ("number", num, str(num)),
                ("object", {"value": inner}, inner),
                ("list", [inner, "x"], inner),
                ("bool+str", {"a": True, "s": inner}, inner),
            ):
                run(f"{role}-as-{shape}", {**cfg(), role: value}, {f"{role}({shape})": needle})
        run("client-secret-empty-string", cfg(client_secret=""))
        run("refresh-token-with-newline", cfg(refresh_token=rtok + "\n"))
    return figs
