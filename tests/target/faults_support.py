"""Helpers for the fault, crash, bad-input and secrets suites: inputs whose STATE carries its position,
exact checks of what Zoho (the emulator) and the rejects file hold, and a target process watched live.

Every input made here follows one convention: a STATE `{"position": p}` means "the first p records of
this input were sent before me", so a rerun after a crash resumes from record p, as Meltano would with
the last STATE the target echoed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.target.singer_io import (
    CLI,
    LEAD_PROPERTIES,
    lead,
    read_rejects,
    record,
    run_target,
    schema,
    state,
    write_lines,
)

LEADS_WRITE = {"path_contains": "/Leads", "method": "POST"}  # a fault `match` for the Leads writes


def run_messages(
    config: dict[str, Any], messages: list[Any], tmp_path: Path, name: str = "in", timeout: float = 90
) -> Any:
    """The target's CLI on `messages`, written to `tmp_path/<name>.singer`."""
    return run_target(config, write_lines(tmp_path / f"{name}.singer", messages), tmp_path, timeout=timeout)


def fault_config(target_config: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """The emulator config with a rejects file in `tmp_path` and short timeouts (fast tests)."""
    return {
        **target_config,
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "request_timeout": 5,
        "max_retries": 5,
        **extra,
    }


def email(i: int) -> str:
    return f"lead{i}@example.com"


def lead_input(
    ids: Iterable[int],
    *,
    state_every: int = 100,
    start: int = 0,
    stream: str = "leads",
    make: Callable[[int], dict[str, Any]] = lead,
) -> list[Any]:
    """SCHEMA, then one RECORD per id with a STATE `{"position": n}` after every `state_every` records
    and at the end; `start` is the position of the first id (for a rerun from a STATE)."""
    messages: list[Any] = [schema(stream, LEAD_PROPERTIES, ["id"])]
    position = start
    for i in ids:
        messages.append(record(stream, make(i)))
        position += 1
        if position % state_every == 0:
            messages.append(state({"position": position}))
    if not messages or messages[-1].get("type") != "STATE":
        messages.append(state({"position": position}))
    return messages


def stored_emails(emulator: Any, module: str = "Leads") -> Counter[str]:
    """Email → how many stored records carry it (a snapshot, without copying every record)."""
    return Counter(str(r.get("Email")) for r in emulator.state.store.iter_records(module))


def stored_count(emulator: Any, module: str = "Leads") -> int:
    """How many records Zoho holds; cheap enough to poll while a load runs."""
    return len(emulator.state.store.iter_records(module))


def assert_each_once(emulator: Any, ids: Iterable[int], module: str = "Leads") -> None:
    """Zoho holds exactly one record per id, and nothing else."""
    counts = stored_emails(emulator, module)
    expected = {email(i) for i in ids}
    twice = sorted(e for e, n in counts.items() if n > 1)
    missing = sorted(expected - set(counts))
    extra = sorted(set(counts) - expected)
    assert not twice, f"{len(twice)} records are in Zoho more than once, e.g. {twice[:5]}"
    assert not missing, f"{len(missing)} records never reached Zoho, e.g. {missing[:5]}"
    assert not extra, f"unexpected records in Zoho: {extra[:5]}"


def rejects_by_id(tmp_path: Path) -> dict[int, dict[str, Any]]:
    rows = read_rejects(tmp_path / "rejects.jsonl")
    by_id = {int(r["record"]["id"]): r for r in rows if isinstance(r.get("record"), dict)}
    assert len(by_id) == len(rows), f"a record was rejected twice, or a row has no record: {rows}"
    return by_id


def token_calls(emulator: Any) -> list[dict[str, Any]]:
    return [c for c in emulator.calls if c["path"].startswith("/oauth/v2/token")]


def faulted_calls(emulator: Any) -> list[dict[str, Any]]:
    return [c for c in emulator.calls if c.get("fault")]


def _bulk_jobs_running(emulator: Any) -> bool:
    """Whether a Bulk Write job is still queued or running: one a target gave up on (bulk_job_timeout)
    goes on writing rows in the emulator, as Zoho would, and must not write them into the next test."""
    jobs = (emulator.state.extras.get("bulk") or {}).get("jobs") or {}
    return any(
        getattr(job, "status", "COMPLETED") not in ("COMPLETED", "FAILED") for job in list(jobs.values())
    )


def wait_quiet(emulator: Any, timeout: float = 10) -> None:
    """Wait until no call is in flight in the emulator and no Bulk job runs: calls a killed target had
    sent still finish (Zoho does not know the client died), and their records count."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if emulator.state.gate.in_flight == 0 and not _bulk_jobs_running(emulator):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.2:
                return
        else:
            quiet_since = None
        time.sleep(0.01)
    raise AssertionError("the emulator still had calls in flight")


@contextmanager
def bulk_speed(emulator: Any, rows_per_second: int) -> Iterator[None]:
    """Slow (or speed up) the emulator's Bulk Write jobs for one test."""
    emulator.state.bulk_rows_per_second = rows_per_second  # read by the emulator's bulk worker
    try:
        yield
    finally:
        del emulator.state.bulk_rows_per_second


@contextmanager
def credit_budget(emulator: Any, budget: int) -> Iterator[None]:
    """Give the org a daily credit budget for one test (Zoho answers 429 once it is spent)."""
    meter = emulator.state.credits
    before = meter.budget
    meter.budget = budget
    try:
        yield
    finally:
        meter.budget = before


@contextmanager
def _expiring(emulator: Any, due: Callable[[], bool], poll: float) -> Iterator[list[int]]:
    """Expire every access token the emulator issued whenever `due()` says so (checked every `poll`
    seconds on a background thread) while the block runs; yields the expiries so far."""
    stop = threading.Event()
    fired: list[int] = []

    def loop() -> None:
        while not stop.wait(poll):
            if due():
                emulator.expire_tokens()
                fired.append(len(fired) + 1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        stop.set()
        thread.join()


def expiring_tokens(emulator: Any, every: float) -> contextlib.AbstractContextManager[list[int]]:
    """Expire every access token the emulator issued, every `every` seconds, while the block runs."""
    return _expiring(emulator, lambda: True, every)


def tokens_expired_after_calls(
    emulator: Any, counts: Sequence[int], path_suffix: str = "/Leads/upsert"
) -> contextlib.AbstractContextManager[list[int]]:
    """Expire every access token once the emulator has answered each of `counts` calls ending in
    `path_suffix`: mid-load whatever the machine's speed (a clock may fire before the first call or
    after the last). Yields how many expiries have happened."""
    pending = sorted(counts)

    def due() -> bool:
        done = sum(1 for c in emulator.calls if c["path"].endswith(path_suffix))
        if pending and done >= pending[0]:
            pending.pop(0)
            return True
        return False

    return _expiring(emulator, due, 0.005)


RUNNING: list[LiveRun] = []  # every LiveRun started, so a failed test can kill what it left behind


def kill_leftovers() -> None:
    """Kill target processes a failed test left running (only those this module started)."""
    while RUNNING:
        run = RUNNING.pop()
        if run.proc.poll() is None:
            run.kill()


@dataclass
class LiveRun:
    """The target as a real process, its STATE lines read as they come (with when they came)."""

    proc: subprocess.Popen[str]
    states: list[dict[str, Any]] = field(default_factory=list)
    state_times: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    stderr_path: Path | None = None
    _reader: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, config: dict[str, Any], messages: list[Any], workdir: Path, name: str) -> LiveRun:
        config_path = workdir / f"{name}.config.json"
        config_path.write_text(json.dumps(config))
        input_path = write_lines(workdir / f"{name}.singer", messages)
        stderr_path = workdir / f"{name}.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
        with stderr_path.open("w") as err:
            proc = subprocess.Popen(
                [CLI, "--config", str(config_path), "--input", str(input_path)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=workdir,
                env=env,
            )
        run = cls(proc=proc, stderr_path=stderr_path)
        RUNNING.append(run)
        run._reader = threading.Thread(target=run._read, daemon=True)
        run._reader.start()
        return run

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                with self._lock:
                    self.states.append(json.loads(line))
                    self.state_times.append(time.monotonic())

    @property
    def last_position(self) -> int:
        with self._lock:
            return int(self.states[-1]["position"]) if self.states else 0

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60) -> bool:
        """Poll `condition` until it holds (True) or the process ended / time ran out (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.proc.poll() is not None:
                return condition()
            time.sleep(0.01)
        return False

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a lost container would: no cleanup runs in the target."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return code

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path else ""


def summary_row(stderr: str, stream: str) -> dict[str, int]:
    """The end-of-run summary line of `stream` (summary.py's table), as numbers."""
    for line in reversed(stderr.splitlines()):
        cells = line.rsplit(" | ", 1)[-1].split()
        if len(cells) == 9 and cells[0] == stream and cells[3].isdigit():
            keys = ("read", "inserted", "updated", "rejected", "calls", "credits")
            return dict(zip(keys, (int(c) for c in cells[3:]), strict=True))
    raise AssertionError(f"no summary line for stream {stream!r} in the log")
