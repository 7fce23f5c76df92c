"""Processes of the campaign: the emulator and the target CLI, both real subprocesses on 127.0.0.1.

Every process is started in its own session and ended by its own pid (process group), never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
TARGET = str(BIN / "target-zoho-crm")
EMULATOR = str(BIN / "zoho-crm-emulator")

CLIENT_ID = "1000.EMULATOR0CLIENT0ID"
CLIENT_SECRET = "emulator-client-secret"
REFRESH_TOKEN = "1000.emulator.refresh.token"

_LIVE: set[int] = set()  # pids (= process groups) started by the campaign and not yet reaped


def _end_group(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    _LIVE.discard(proc.pid)


def end_all() -> None:
    """End whatever the campaign started and is still alive (called on exit and on Ctrl-C)."""
    for pid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _LIVE.discard(pid)


class Emulator:
    """`zoho-crm-emulator --port 0` as a subprocess; introspection over HTTP."""

    def __init__(self, *args: str, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        err = open(self.workdir / "emulator.err", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [EMULATOR, "--host", "127.0.0.1", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        _LIVE.add(self.proc.pid)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line

    def stop(self) -> None:
        if self.proc is not None:
            _end_group(self.proc, signal.SIGTERM)
            self.proc = None

    # --- introspection -------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc
        return json.loads(raw) if raw else None

    def records(self, module: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/__emulator__/records/{module}")["records"])

    def calls(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/__emulator__/calls")["calls"])

    def credits(self) -> dict[str, Any]:
        return dict(self._call("GET", "/__emulator__/credits"))

    def seed(self, module: str, records: list[dict[str, Any]]) -> list[str]:
        return list(self._call("POST", f"/__emulator__/seed/{module}", {"data": records})["ids"])

    def set_faults(self, plan: dict[str, Any]) -> None:
        self._call("POST", "/__emulator__/faults", plan)

    def clear_faults(self) -> None:
        self._call("DELETE", "/__emulator__/faults")

    def expire_tokens(self) -> None:
        self._call("POST", "/__emulator__/expire-tokens", {})

    def reset(self) -> None:
        self._call("POST", "/__emulator__/reset", {})

    def set_latency(self, ms: int) -> None:
        self._call("POST", "/__emulator__/latency", {"latency_ms": ms})

    def access_token(self, client_secret: str = CLIENT_SECRET, refresh_token: str = REFRESH_TOKEN) -> str:
        form = (
            f"grant_type=refresh_token&client_id={CLIENT_ID}&client_secret={client_secret}"
            f"&refresh_token={refresh_token}"
        ).encode()
        with urllib.request.urlopen(self.url + "/oauth/v2/token", data=form, timeout=30) as resp:
            return str(json.loads(resp.read())["access_token"])


def base_config(url: str, rejects: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "accounts_url": url,
        "api_url": url,
        "upload_url": url,
        "rejects_path": str(rejects),
    }
    cfg.update(extra)
    return cfg


@dataclass
class Outcome:
    """What one target run did."""

    rc: int | None
    stdout: bytes
    stderr: bytes
    states: list[dict[str, Any]]
    killed: bool = False
    elapsed: float = 0.0
    kill_state: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def err_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def parse_states(out: bytes) -> list[dict[str, Any]]:
    states = []
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            states.append(msg)
    return states


class TargetRun:
    """One run of the real CLI, fed by a paced writer thread, stdout read line by line."""

    def __init__(
        self,
        config: Path | str,
        lines: Iterable[bytes],
        workdir: Path,
        *,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        pace: Callable[[int], float] | None = None,
        on_state: Callable[[dict[str, Any]], None] | None = None,
        close_stdin: bool = True,
        raw: bool = False,
    ) -> None:
        self.workdir = workdir
        self.raw = raw  # lines are written exactly as given (no newline added)
        args = [TARGET, "--config", str(config), *(extra_args or [])]
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("TARGET_ZOHO_CRM_") or k == "LOGLEVEL":
                del full_env[k]
        full_env.update(env or {})
        self.err_path = workdir / f"stderr.{time.monotonic_ns()}.log"
        self._err = open(self.err_path, "wb")  # noqa: SIM115
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            cwd=workdir,
            env=full_env,
            start_new_session=True,
        )
        _LIVE.add(self.proc.pid)
        self.out = bytearray()
        self.states: list[dict[str, Any]] = []
        self.state_event = threading.Event()
        self._on_state = on_state
        self._lock = threading.Lock()
        self.lines = list(lines)
        self.fed = 0
        self._pace = pace
        self._close_stdin = close_stdin
        self._writer = threading.Thread(target=self._feed, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer.start()
        self._reader.start()
        self.killed = False

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            for i, line in enumerate(self.lines):
                self.proc.stdin.write(line if self.raw or line.endswith(b"\n") else line + b"\n")
                self.fed = i + 1
                if self._pace is not None:
                    pause = self._pace(i)
                    if pause > 0:
                        self.proc.stdin.flush()
                        time.sleep(pause)
            if self._close_stdin:
                self.proc.stdin.close()
            else:
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.out += line
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                self.states.append(msg)
                self.state_event.set()
                if self._on_state is not None:
                    self._on_state(msg)

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()

    def kill(self) -> None:
        """SIGKILL now (a crash, an OOM kill)."""
        if self.proc.poll() is None:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 120.0) -> Outcome:
        try:
            self.proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        self._writer.join(timeout=1)
        _LIVE.discard(self.proc.pid)
        self._err.close()
        err = self.err_path.read_bytes()
        out = Outcome(
            rc=self.proc.returncode,
            stdout=bytes(self.out),
            stderr=err,
            states=list(self.states),
            killed=self.killed,
            elapsed=time.monotonic() - self.started,
        )
        if timed_out:
            out.notes.append(f"timed out after {timeout:.0f}s and was killed")
        return out


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(json.dumps(cfg))
    return path


def run_once(
    config: Path | str,
    lines: Iterable[bytes],
    workdir: Path,
    *,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 90.0,
) -> Outcome:
    return TargetRun(config, lines, workdir, extra_args=extra_args, env=env).wait(timeout)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
