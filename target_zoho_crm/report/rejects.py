"""The rejects file: every record Zoho (or the local check) refused, with Zoho's code, message and field.

A record is either in Zoho or in this file, never silently gone, so each row is flushed and fsynced
before the STATE that follows its record may be echoed (`sync()`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.json import serialize_json

from target_zoho_crm.model import ZohoError

DEFAULT_REJECTS_PATH = "target-zoho-crm.rejects.jsonl"


class RejectsWriter:
    """Thread-safe JSON Lines writer; the file is created lazily on the first reject."""

    def __init__(self, path: str | os.PathLike[str] | None, *, scrub: Any = None) -> None:
        self.path = Path(path or DEFAULT_REJECTS_PATH)
        self._scrub = scrub or (lambda text: text)
        self._lock = threading.Lock()
        self._file: Any = None
        self._dirty = False
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def write(
        self,
        *,
        stream: str | None,
        module: str | None,
        record: Any,
        error: ZohoError,
        api: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        row: dict[str, Any] = {
            "stream": stream,
            "module": module,
            "code": error.code,
            "message": error.message,
            "field": error.field,
            "details": error.details,
            "record": record,
        }
        if api:
            row["api"] = api
        if extra:
            row.update(extra)
        line = self._scrub(serialize_json(row)) + "\n"
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line)
            self._dirty = True
            self.counts[stream or "<input>"] += 1

    def sync(self) -> None:
        """Make every row written so far durable (called before STATE moves past those records)."""
        with self._lock:
            if self._file is not None and self._dirty:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._dirty = False

    def close(self) -> None:
        self.sync()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
