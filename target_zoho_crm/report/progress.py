"""ProgressReporter: one human line per stream every `progress_interval` seconds while a run loads.

singer-sdk's METRIC lines stay for Meltano; they count records *received*, once a minute, as deltas.
These say what a person watching a long load wants to know: records read from the tap, written (inserted,
updated, unchanged), rejected, the rate over the last interval, credits used so far and, once Zoho reports
them, credits left; for a Bulk stream each running job's status and processed counts (Zoho processes a job
in its own time: minutes on a real org).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from target_zoho_crm.report.summary import RunSummary, StreamStats

LOGGER = logging.getLogger("target_zoho_crm.progress")


@dataclass(frozen=True)
class CreditView:
    """The credit figures a progress line shows (read from the client's meter by the caller)."""

    used: int
    by_stream: Mapping[str, int]
    zoho_left: int | None


@dataclass
class JobStatus:
    stream: str
    job_id: str
    status: str
    processed: int | None
    total: int | None


class ProgressReporter:
    """A daemon thread that logs progress lines; `stop()` ends it (no line is logged after it)."""

    def __init__(
        self,
        interval: float,
        summary: RunSummary,
        *,
        buffered: Callable[[], Mapping[str, int]],
        credits: Callable[[], CreditView | None],
        log: logging.Logger = LOGGER,
    ) -> None:
        self.interval = interval
        self.summary = summary
        self._buffered = buffered
        self._credits = credits
        self._log = log
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._jobs: dict[str, JobStatus] = {}
        self._last: dict[str, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="zoho-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.report()
            except Exception:  # a progress line must never stop a load
                self._log.debug("progress line failed", exc_info=True)

    # -- what the writers tell it --------------------------------------------------------------------------
    def job_status(self, stream: str, job_id: str, details: Mapping[str, Any]) -> None:
        """A Bulk Write job's latest details (job-details.html: `status`, `resource[0].file` counts)."""
        status = str(details.get("status") or "").upper() or "unknown"
        resources = details.get("resource")
        file: Mapping[str, Any] = {}
        if isinstance(resources, list) and resources and isinstance(resources[0], Mapping):
            file = resources[0].get("file") or {}
        counts = [file.get(k) for k in ("added_count", "updated_count", "skipped_count")]
        processed = (
            sum(int(c) for c in counts if isinstance(c, int))
            if any(isinstance(c, int) for c in counts)
            else None
        )
        total = file.get("total_count") if isinstance(file.get("total_count"), int) else None
        with self._lock:
            if status in ("COMPLETED", "FAILED"):
                self._jobs.pop(job_id, None)
            else:
                self._jobs[job_id] = JobStatus(stream, job_id, status, processed, total)

    # -- the lines -------------------------------------------------------------------------------------
    def report(self) -> list[str]:
        """Log (and return) one line per stream that has read anything."""
        now = time.monotonic()
        buffered = self._buffered()
        credits = self._credits()
        with self._lock:
            jobs = list(self._jobs.values())
        lines = []
        for stats in self.summary.snapshot():
            read = stats.read + buffered.get(stats.stream, 0)
            if not read:
                continue
            line = self._line(stats, read, now, credits, [j for j in jobs if j.stream == stats.stream])
            self._log.info("%s", line)
            lines.append(line)
        return lines

    def _line(
        self, s: StreamStats, read: int, now: float, credits: CreditView | None, jobs: list[JobStatus]
    ) -> str:
        done = s.inserted + s.updated + s.unchanged + s.rejected
        since, before = self._last.get(s.stream, (self.summary.started, 0))
        self._last[s.stream] = (now, done)
        rate = (done - before) / (now - since) if now > since else 0.0
        written = s.inserted + s.updated
        parts = [
            f"Progress {s.stream} → {s.module or '?'}: read {read:,}",
            f"written {written:,} (inserted {s.inserted:,}, updated {s.updated:,}, unchanged {s.unchanged:,})",
            f"rejected {s.rejected:,}",
            f"{rate:,.0f} records/s",
        ]
        if credits is not None:
            text = f"credits {credits.by_stream.get(s.stream, 0):,} (run {credits.used:,})"
            if credits.zoho_left is not None:
                text += f", {credits.zoho_left:,} left at Zoho"
            parts.append(text)
        for job in jobs:
            counts = ""
            if job.processed is not None:
                counts = f" {job.processed:,}" + (f" of {job.total:,}" if job.total is not None else "")
                counts += " processed"
            parts.append(f"Bulk job {job.job_id}: {job.status}{counts}")
        return " · ".join(parts)
