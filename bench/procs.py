"""Run one Singer program as a child process and measure it: wall time, CPU time, peak RSS.

`os.wait4` returns the child's own resource usage (user + system CPU, `ru_maxrss` = its peak resident
set, in KiB on Linux), so nothing else running on the machine — the emulator, the harness — is counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

EMULATOR_CLIENT = {
    "client_id": "1000.EMULATOR0CLIENT0ID",
    "client_secret": "emulator-client-secret",
    "refresh_token": "1000.emulator.refresh.token",
}
TARGET_CMD = [sys.executable, "-c", "from target_zoho_crm.target import TargetZohoCRM; TargetZohoCRM.cli()"]
BASELINE_CMD = [sys.executable, "-m", "bench.baseline"]
GENERATOR_CMD = [sys.executable, "-m", "bench.data"]


class RunFailed(RuntimeError):
    """A measured program exited non-zero; the message carries the end of its stderr."""


@dataclass
class Measured:
    """What one child process cost."""

    label: str
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int
    returncode: int
    started_at: float  # wall clock, to line up with the emulator's timeline
    stderr_path: Path
    stdout_path: Path

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss_kib / 1024

    def stdout_lines(self) -> list[str]:
        return self.stdout_path.read_text(encoding="utf-8").splitlines()

    def stderr_tail(self, lines: int = 15) -> str:
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def run_measured(
    label: str,
    cmd: Sequence[str],
    *,
    workdir: Path,
    stdin_path: Path | None = None,
    generate: int | None = None,
    timeout: float = 1800,
    check: bool = True,
) -> Measured:
    """Run `cmd` with stdin from a file, or piped from the record generator (`generate=N`)."""
    out_path = workdir / f"{label}.stdout"
    err_path = workdir / f"{label}.stderr"
    generator: subprocess.Popen[bytes] | None = None
    stdin: IO[Any] | int
    with out_path.open("wb") as out, err_path.open("wb") as err:
        if generate is not None:
            generator = subprocess.Popen([*GENERATOR_CMD, str(generate)], stdout=subprocess.PIPE)
            stdin = generator.stdout  # type: ignore[assignment]
        elif stdin_path is not None:
            stdin = stdin_path.open("rb")
        else:
            stdin = subprocess.DEVNULL
        started_at = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdin=stdin, stdout=out, stderr=err, cwd=Path.cwd())
        if not isinstance(stdin, int):
            stdin.close()  # the child holds its own copy; the generator sees EOF/EPIPE correctly
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if generator is not None:
            generator.wait(timeout=60)
    measured = Measured(
        label=label,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
        returncode=proc.returncode,
        started_at=started_at,
        stderr_path=err_path,
        stdout_path=out_path,
    )
    if check and measured.returncode != 0:
        raise RunFailed(f"{label} exited {measured.returncode}:\n{measured.stderr_tail()}")
    return measured


def target_config(workdir: Path, name: str, url: str, **settings: Any) -> Path:
    """A target config file pointing every URL at the emulator (its documented demo client)."""
    config: dict[str, Any] = {
        **EMULATOR_CLIENT,
        "accounts_url": url,
        "api_url": url,
        "upload_url": url,
        "api_version": "v4",
        "rejects_path": str(workdir / f"{name}.rejects.jsonl"),
        "request_timeout": 60,
        "max_retries": 4,
        **settings,
    }
    path = workdir / f"{name}.config.json"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path


def run_target(
    label: str,
    workdir: Path,
    url: str,
    *,
    stdin_path: Path | None = None,
    generate: int | None = None,
    **settings: Any,
) -> Measured:
    """The target CLI on one input, with a config built from `settings`."""
    config = target_config(workdir, label, url, **settings)
    return run_measured(
        label,
        [*TARGET_CMD, "--config", str(config)],
        workdir=workdir,
        stdin_path=stdin_path,
        generate=generate,
    )


def run_baseline(label: str, workdir: Path, stdin_path: Path) -> Measured:
    """singer-sdk's do-nothing BatchSink target on the same input."""
    return run_measured(label, BASELINE_CMD, workdir=workdir, stdin_path=stdin_path)
