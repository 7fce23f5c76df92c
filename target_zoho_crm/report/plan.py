"""The dry run's plan: one JSON Lines row per input record, saying what a real run would do with it.

`action` is insert / update / unchanged / delete / reject; an update lists the fields that would change,
old → new (mapped fields only: the payload holds nothing else). Every row goes through the run's
secret scrubber, as the rejects file does.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.json import serialize_json

ACTIONS = ("insert", "update", "unchanged", "delete", "reject")


class PlanWriter:
    """Thread-safe JSON Lines writer of the dry run's plan (created at the first row)."""

    def __init__(self, path: str | os.PathLike[str], *, scrub: Any = None) -> None:
        self.path = Path(path)
        self._scrub = scrub or (lambda text: text)
        self._lock = threading.Lock()
        self._file: Any = None
        self.counts: Counter[str] = Counter()

    def write(
        self,
        *,
        stream: str,
        module: str,
        key: Any,
        action: str,
        changes: Sequence[dict[str, Any]] | None = None,
        reason: str | None = None,
    ) -> None:
        row: dict[str, Any] = {"stream": stream, "module": module, "key": key, "action": action}
        if changes is not None:
            row["changes"] = list(changes)
        if reason:
            row["reason"] = reason
        line = self._scrub(serialize_json(row)) + "\n"
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("w", encoding="utf-8")
            self._file.write(line)
            self.counts[action] += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
