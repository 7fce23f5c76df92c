"""The rejects file: every record Zoho (or the local check) refused, with Zoho's code, message and field.

A record is either in Zoho or in this file, never silently gone, so each row is flushed and fsynced
before the STATE that follows its record may be echoed (`sync()`).

The file is JSON Lines and is only ever appended to, by run after run. Two kinds of row, told apart by
`kind`:
- `"reject"`: one refused record — `run_id` and `rejected_at` (UTC), `stream`, `module`, Zoho's
  `code` / `message` / `field` / `details`, and the `record` as the tap sent it (only the properties the
  stream maps, and its key properties, unless `rejects_include_unmapped`). A line of the input that is
  not a Singer message has `stream: null` and the line as `record`.
- `"schema"`: written once per run and stream (again if the stream's SCHEMA changes), before the first
  reject of that stream: its JSON schema (cut to the properties its rejects carry) and key properties,
  named by `schema_id`, which every reject of that stream carries. It is what
  `target-zoho-crm-replay` turns back into a Singer SCHEMA message (report/replay.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.json import serialize_json

from target_zoho_crm.errors import RejectsFileError
from target_zoho_crm.model import ZohoError

DEFAULT_REJECTS_PATH = "target-zoho-crm.rejects.jsonl"
KIND_REJECT = "reject"
KIND_SCHEMA = "schema"


def new_run_id() -> str:
    """A run's id: sortable by start time (UTC), unique across machines."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


@dataclass
class RejectSource:
    """What a stream's rejects need to be replayed: its schema and key properties (one per SCHEMA), and
    which properties of a rejected record are copied (None: every one)."""

    stream: str
    schema: Mapping[str, Any]
    key_properties: list[str]
    kept: frozenset[str] | None = None
    schema_id: int = field(default=0, init=False)

    def cut(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record as the rejects file keeps it."""
        if self.kept is None:
            return dict(record)
        return {k: v for k, v in record.items() if k in self.kept}

    def cut_schema(self) -> dict[str, Any]:
        schema = dict(self.schema)
        if self.kept is None:
            return schema
        props = schema.get("properties")
        if isinstance(props, Mapping):
            schema["properties"] = {k: v for k, v in props.items() if k in self.kept}
        required = schema.get("required")
        if isinstance(required, list):
            schema["required"] = [k for k in required if k in self.kept]
        return schema


def kept_properties(mapped: Iterable[str], key_properties: Iterable[str]) -> frozenset[str]:
    return frozenset((*mapped, *key_properties))


class RejectsWriter:
    """Thread-safe JSON Lines writer; the file is created lazily on the first reject."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        scrub: Any = None,
        run_id: str | None = None,
    ) -> None:
        self.path = Path(path or DEFAULT_REJECTS_PATH)
        self.run_id = run_id or new_run_id()
        self._scrub = scrub or (lambda text: text)
        self._lock = threading.Lock()
        self._file: Any = None
        self._dirty = False
        self._schemas_written: set[int] = set()
        self._next_schema_id = 0
        self.counts: Counter[str] = Counter()
        self.failure: RejectsFileError | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def register(self, source: RejectSource) -> RejectSource:
        """Give a stream's SCHEMA its id in this run (its row is written with its first reject)."""
        with self._lock:
            self._next_schema_id += 1
            source.schema_id = self._next_schema_id
        return source

    def write(
        self,
        *,
        stream: str | None,
        module: str | None,
        record: Any,
        error: ZohoError,
        api: str | None = None,
        extra: dict[str, Any] | None = None,
        source: RejectSource | None = None,
    ) -> None:
        row: dict[str, Any] = {
            "kind": KIND_REJECT,
            "run_id": self.run_id,
            "rejected_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "stream": stream,
            "module": module,
            "code": error.code,
            "message": error.message,
            "field": error.field,
            "details": error.details,
            "record": source.cut(record) if source is not None and isinstance(record, Mapping) else record,
        }
        if source is not None:
            row["schema_id"] = source.schema_id
        if api:
            row["api"] = api
        if extra:
            row.update(extra)
        line = self._scrub(serialize_json(row)) + "\n"
        with self._lock:
            if source is not None and source.schema_id not in self._schemas_written:
                schema_row = {
                    "kind": KIND_SCHEMA,
                    "run_id": self.run_id,
                    "schema_id": source.schema_id,
                    "stream": source.stream,
                    "schema": source.cut_schema(),
                    "key_properties": list(source.key_properties),
                }
                line = self._scrub(serialize_json(schema_row)) + "\n" + line
                self._schemas_written.add(source.schema_id)
            self._guard(lambda: self._append(line))
            self._dirty = True
            self.counts[stream or "<input>"] += 1

    def _append(self, line: str) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line)

    def _guard(self, action: Any) -> None:
        """Run a file operation; a failure becomes one clear message (the run must stop: a reject that
        is not on disk would be a record lost)."""
        if self.failure is not None:
            raise self.failure  # the file is broken: nothing more is written to it
        try:
            action()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                why = "the disk is full (no space left on device)"
                fix = "free some space, or point rejects_path at a disk with room"
            else:
                why = exc.strerror or str(exc)
                fix = "check that rejects_path names a file the target may create and append to"
            self.failure = RejectsFileError(
                f"Cannot write the rejects file {self.path}: {why}. The run stopped so that no rejected "
                f"record is lost; STATE was not moved past the records not yet handled. To go on: {fix}, "
                "then run again (the tap resumes from the last STATE echoed)."
            )
            raise self.failure from exc

    def _flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def sync(self) -> None:
        """Make every row written so far durable (called before STATE moves past those records)."""
        with self._lock:
            if self._file is not None and self._dirty:
                self._guard(self._flush)
                self._dirty = False

    def close(self) -> None:
        if self.failure is None:  # already reported: the run is stopping because of it
            self.sync()
        with self._lock:
            if self._file is not None:
                file, self._file = self._file, None
                with contextlib.suppress(OSError):  # sync() above reported what could not be written
                    file.close()
