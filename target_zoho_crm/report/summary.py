"""Per-stream counters and the end-of-run summary (records read, inserted, updated, unchanged, rejected,
calls, credits; wall time and rate; why the run stopped and what it left unwritten), as log lines and
as the JSON of `report_path`."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 record`, `2 records` (with thousands separators)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def were(count: int, one: str, many: str | None = None) -> str:
    """`1 record was`, `2 records were`."""
    return f"{plural(count, one, many)} {'was' if count == 1 else 'were'}"


@dataclass
class StreamStats:
    stream: str
    module: str = ""
    operation: str = ""
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    merged: int = 0
    unchanged: int = 0  # equal to what Zoho holds: not sent (skip_unchanged)
    deleted: int = 0
    delete_missing: int = 0  # deletes whose key matched no Zoho record
    would_write: int = 0
    would_delete: int = 0
    read_credits: int = 0  # credits the reads of what Zoho holds cost
    api_calls: int = 0
    apis: set[str] = field(default_factory=set)

    @property
    def handled(self) -> int:
        """Records that are in Zoho (written, or already as sent), in the rejects file, or merged into a
        later record of the same key."""
        return self.inserted + self.updated + self.unchanged + self.rejected + self.merged + self.would_write

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["apis"] = sorted(self.apis)
        return data


@dataclass(frozen=True)
class RunTotals:
    """What the end of the run knows besides the per-stream counts (from the client's meter and the
    target)."""

    credits_used: int | None = None
    stream_credits: Mapping[str, int] = field(default_factory=dict)
    stream_calls: Mapping[str, int] = field(default_factory=dict)
    credits_left: int | None = None  # Zoho's last `X-API-CREDITS-REMAINING`, when it sent one
    stopped: str | None = None  # why the run stopped early (None: it finished)
    dry_run: bool = False


class RunSummary:
    """Thread-safe tally shared by every sink and writer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.streams: dict[str, StreamStats] = {}
        self.input_errors = 0
        self.started = time.monotonic()

    def stream(self, name: str) -> StreamStats:
        with self._lock:
            stats = self.streams.get(name)
            if stats is None:
                stats = self.streams[name] = StreamStats(stream=name)
            return stats

    def add(self, name: str, **counts: int) -> None:
        stats = self.stream(name)
        with self._lock:
            for key, value in counts.items():
                setattr(stats, key, getattr(stats, key) + value)

    def used_api(self, name: str, api: str) -> None:
        stats = self.stream(name)
        with self._lock:
            stats.apis.add(api)

    def snapshot(self) -> list[StreamStats]:
        """A consistent copy of every stream's counts (for progress lines, from another thread)."""
        with self._lock:
            return [StreamStats(**{**asdict(s), "apis": set(s.apis)}) for s in self.streams.values()]

    @property
    def total_rejected(self) -> int:
        return sum(s.rejected for s in self.streams.values()) + self.input_errors

    @property
    def unwritten(self) -> int:
        """Records read from the tap that are neither in Zoho nor in the rejects file (a stopped run)."""
        return sum(max(0, s.read - s.handled) for s in self.streams.values())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def as_dict(self, totals: RunTotals | None = None) -> dict[str, Any]:
        totals = totals or RunTotals()
        elapsed = self.elapsed()
        streams = []
        for s in self.streams.values():
            data = s.as_dict()
            data["credits"] = totals.stream_credits.get(s.stream, 0)
            data["calls"] = totals.stream_calls.get(s.stream, s.api_calls)
            data["unwritten"] = max(0, s.read - s.handled)
            streams.append(data)
        read = sum(s.read for s in self.streams.values())
        return {
            "status": "stopped" if totals.stopped else "finished",
            "stopped_because": totals.stopped,
            "dry_run": totals.dry_run,
            "wall_time_seconds": round(elapsed, 3),
            "records_read": read,
            "records_per_second": round(read / elapsed, 1) if elapsed > 0 else None,
            "records_unwritten": self.unwritten,
            "records_rejected": self.total_rejected,
            "streams": streams,
            "input_errors": self.input_errors,
            "credits_used": totals.credits_used,
            "zoho_credits_left": totals.credits_left,
        }

    def write_report(self, path: str, totals: RunTotals) -> None:
        """The summary as JSON at `path`, replaced atomically (an orchestrator never reads half of it)."""
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.as_dict(totals), handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)

    def lines(self, totals: RunTotals | None = None) -> list[str]:
        """A small fixed-width table for the log (stderr), then the run's totals. Credits come from the
        client's one meter: in total, and per stream (its write calls and Bulk jobs; reads, job polls and
        metadata count in the total only). `calls` counts each stream's write calls: REST calls, and
        Bulk Write jobs created."""
        totals = totals or RunTotals()
        head = "would write" if totals.dry_run else "inserted  updated"
        out = [
            f"{'stream':<28} {'module':<22} {'api':<9} {'read':>8} {head:>17} {'rejected':>9} {'calls':>7}"
            f" {'credits':>8}"
        ]
        for s in self.streams.values():
            written = f"{s.would_write:>17}" if totals.dry_run else f"{s.inserted:>8} {s.updated:>8}"
            calls = totals.stream_calls.get(s.stream, s.api_calls)
            out.append(
                f"{s.stream[:28]:<28} {s.module[:22]:<22} {','.join(sorted(s.apis)) or '-':<9} {s.read:>8}"
                f" {written} {s.rejected:>9} {calls:>7} {totals.stream_credits.get(s.stream, 0):>8}"
            )
        for s in self.streams.values():
            if s.unchanged or s.deleted or s.delete_missing or s.would_delete or s.read_credits:
                deleted = f"would delete {s.would_delete}" if totals.dry_run else f"deleted {s.deleted}"
                out.append(  # unchanged: already in Zoho as sent, so not written
                    f"{s.stream[:28]}: unchanged {s.unchanged}, {deleted}, delete keys not found "
                    f"{s.delete_missing}, credits spent reading what Zoho holds {s.read_credits}"
                )
        for s in self.streams.values():
            if s.merged:
                out.append(
                    f"{s.stream}: {plural(s.merged, 'record')} superseded by a later version of their key in the same"
                    " batch, which landed (read = inserted + updated + unchanged + rejected + superseded)"
                )
        if self.input_errors:
            out.append(f"input lines rejected (not valid Singer messages): {self.input_errors}")
        elapsed = self.elapsed()
        read = sum(s.read for s in self.streams.values())
        rate = f", {read / elapsed:,.0f} records/s" if elapsed > 0 and read else ""
        out.append(f"{plural(read, 'record')} read in {_duration(elapsed)}{rate}")
        if totals.credits_used is not None:
            left = (
                f"; Zoho reports {totals.credits_left:,} left for the rolling 24 hours"
                if totals.credits_left is not None
                else ""
            )
            out.append(f"API credits used by this run (Zoho's published costs): {totals.credits_used}{left}")
        if totals.stopped:
            unwritten = self.unwritten
            out.append(f"The run stopped early: {totals.stopped}")
            if unwritten:
                out.append(
                    f"{were(unwritten, 'record')} read but not written: nothing is wrong with them, so they"
                    " are not in the rejects file; the last STATE echoed is behind them, and a run resumed"
                    " from it loads them."
                )
        return out


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
