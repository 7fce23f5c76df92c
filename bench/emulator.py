"""The Zoho CRM emulator in its own process, with a call timeline for the benchmarks.

The benchmarks run the emulator as a separate process so its CPU never counts as the target's (this
machine has 2 cores). A thin WSGI wrapper records, for every Zoho call, when it started and ended and
(for Bulk Write calls) its JSON body, so the harness can tell the write phase from start-up and the
time Zoho spent on a Bulk job from the target's own time. The timeline is bench-only
(`/__bench__/timeline`); every `/__emulator__/` route passes through unchanged.

`python -m bench.emulator --latency-ms 200` prints the base URL, like `zoho-crm-emulator`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

_BODY_LIMIT = 64_000
_NOT_MODULES = {"settings", "coql", "upload", "org", "users", "bulk", "Notes", "__emulator__"}


@dataclass
class Call:
    """One Zoho call as the emulator saw it (wall-clock seconds, shared with the harness's clock)."""

    method: str
    path: str
    start: float
    end: float
    status: int
    body: Any = None  # parsed JSON body of a Bulk Write response

    @property
    def is_write(self) -> bool:
        """A REST insert/update/upsert: POST or PUT on /crm/{v}/{Module}[/upsert]."""
        parts = [p for p in self.path.split("/") if p]
        return (
            self.method in ("POST", "PUT")
            and len(parts) >= 3
            and parts[0] == "crm"
            and parts[2] not in _NOT_MODULES
            and (len(parts) == 3 or parts[3] == "upsert")
        )


class TimingMiddleware:
    """Records (start, end, status) of each non-introspection call; keeps Bulk JSON bodies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.timeline: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:  # ZohoEmulator reads app.records
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__bench__/"):
            return self._own(environ, start_response, path)
        if path.startswith("/__emulator__"):
            return self.app(environ, start_response)
        started = time.time()
        seen: dict[str, Any] = {}
        query = None
        if path.endswith("/coql"):  # keep the query: the benchmarks report what each COQL call was for
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw_in = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw_in)
            query = raw_in[:2000].decode("utf-8", "replace")

        def spy(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        result = self.app(environ, spy)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        entry: dict[str, Any] = {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": path,
            "start": started,
            "end": time.time(),
            "status": seen.get("status", 0),
        }
        if query is not None:
            entry["body"] = query
        if "/bulk/" in path:
            raw = b"".join(chunks)
            if len(raw) <= _BODY_LIMIT:
                with contextlib.suppress(ValueError):
                    entry["body"] = json.loads(raw or b"null")
        with self._lock:
            self.timeline.append(entry)
        return chunks

    def _own(self, environ: dict[str, Any], start_response: Any, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if path == "/__bench__/timeline" and method == "GET":
            with self._lock:
                body: Any = {"calls": list(self.timeline)}
        elif path == "/__bench__/timeline" and method == "DELETE":
            with self._lock:
                self.timeline.clear()
            body = {"cleared": True}
        elif path.startswith("/__bench__/count/") and method == "GET":
            module = path.rsplit("/", 1)[-1]
            body = {"module": module, "count": len(self.app.records.records(module))}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "no such bench route"}']
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def serve(argv: list[str] | None = None) -> int:
    """Run the emulator with the timing wrapper until SIGTERM; print the URL once it listens."""
    from zoho_crm_emulator import ZohoEmulator

    p = argparse.ArgumentParser(prog="python -m bench.emulator")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--edition", default="enterprise")
    p.add_argument("--credits", type=int, default=None)
    p.add_argument("--bulk-rows-per-second", type=int, default=50_000)
    args = p.parse_args(argv)
    emulator = ZohoEmulator(
        port=0,
        edition=args.edition,
        latency_ms=args.latency_ms,
        credits=args.credits,
        bulk_rows_per_second=args.bulk_rows_per_second,
    )
    emulator.app = TimingMiddleware(emulator.app)  # type: ignore[assignment]
    emulator.serve_until_terminated()
    return 0


class EmulatorProcess:
    """Starts `python -m bench.emulator` and talks to its introspection routes over HTTP."""

    def __init__(
        self,
        *,
        latency_ms: int = 0,
        edition: str = "enterprise",
        credits: int | None = 10_000_000,
        bulk_rows_per_second: int = 50_000,
    ) -> None:
        self.args = ["--latency-ms", str(latency_ms), "--edition", edition]
        self.args += ["--bulk-rows-per-second", str(bulk_rows_per_second)]
        if credits is not None:
            self.args += ["--credits", str(credits)]
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.http = requests.Session()

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.emulator", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.__exit__()
            raise RuntimeError("the emulator process did not start")
        self.url = line
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _get(self, route: str) -> Any:
        response = self.http.get(f"{self.url}{route}", timeout=60)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Records, calls, credits, faults and the timeline cleared; latency back to the start value."""
        self.http.post(f"{self.url}/__emulator__/reset", timeout=60).raise_for_status()
        self.http.delete(f"{self.url}/__bench__/timeline", timeout=10).raise_for_status()
        self.set_latency(self.latency_ms)

    def set_latency(self, ms: int) -> None:
        self.http.post(f"{self.url}/__emulator__/latency", json={"latency_ms": ms}, timeout=10)

    def credits(self) -> dict[str, Any]:
        return self._get("/__emulator__/credits")

    def calls(self) -> list[dict[str, Any]]:
        return self._get("/__emulator__/calls")["calls"]

    def timeline(self) -> list[Call]:
        return [Call(**c) for c in self._get("/__bench__/timeline")["calls"]]

    def cpu_s(self) -> float:
        """The emulator process's CPU time so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def count(self, module: str) -> int:
        return int(self._get(f"/__bench__/count/{module}")["count"])


if __name__ == "__main__":
    raise SystemExit(serve())
