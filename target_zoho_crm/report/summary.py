"""Per-stream counters and the end-of-run summary (records read, inserted, updated, rejected, calls, credits)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


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
    would_write: int = 0
    api_calls: int = 0
    apis: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["apis"] = sorted(self.apis)
        return data


class RunSummary:
    """Thread-safe tally shared by every sink and writer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.streams: dict[str, StreamStats] = {}
        self.input_errors = 0

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

    @property
    def total_rejected(self) -> int:
        return sum(s.rejected for s in self.streams.values()) + self.input_errors

    def as_dict(self, *, credits_used: int | None = None, dry_run: bool = False) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "streams": [s.as_dict() for s in self.streams.values()],
            "input_errors": self.input_errors,
            "credits_used": credits_used,
        }

    def lines(
        self,
        *,
        credits_used: int | None = None,
        stream_credits: Mapping[str, int] | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """A small fixed-width table for the log (stderr). Credits come from the client's one meter:
        in total, and per stream (`stream_credits`: its write calls and Bulk jobs; reads, job polls and
        metadata count in the total only)."""
        stream_credits = stream_credits or {}
        head = "would write" if dry_run else "inserted  updated"
        out = [
            f"{'stream':<28} {'module':<22} {'api':<9} {'read':>8} {head:>17} {'rejected':>9} {'calls':>7}"
            f" {'credits':>8}"
        ]
        for s in self.streams.values():
            written = f"{s.would_write:>17}" if dry_run else f"{s.inserted:>8} {s.updated:>8}"
            out.append(
                f"{s.stream[:28]:<28} {s.module[:22]:<22} {','.join(sorted(s.apis)) or '-':<9} {s.read:>8}"
                f" {written} {s.rejected:>9} {s.api_calls:>7} {stream_credits.get(s.stream, 0):>8}"
            )
        for s in self.streams.values():
            if s.merged:
                out.append(
                    f"{s.stream}: {s.merged} records superseded by a later version of their key in the same"
                    " batch, which landed (read = inserted + updated + rejected + superseded)"
                )
        if self.input_errors:
            out.append(f"input lines rejected (not valid Singer messages): {self.input_errors}")
        if credits_used is not None:
            out.append(f"API credits used by this run (Zoho's published costs): {credits_used}")
        return out
