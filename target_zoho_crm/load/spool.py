"""Record spools: a Bulk batch's tap records kept in a temporary file instead of memory.

A Bulk Write batch is 25,000 records (Zoho's rows per job), and a stream has up to three of them at once:
one filling, one being prepared, one in a job that can run for minutes. Held as objects they cost
about a kilobyte each, most of a Bulk load's memory; yet after conversion only the rejects file ever
reads a tap record again. So each batch is appended, packed, to an anonymous temporary file (unlinked
at creation, in `TMPDIR`, gone when closed or when the process ends) and read back by position: once
to convert it, and once per rejected record. The file is opened by the first record, so a sink that is
given none holds no file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from array import array
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import msgspec

from target_zoho_crm.model import SpooledRecord
from target_zoho_crm.zoho.codec import encode_json

# Packed as the request bodies are (`encode_json`); numbers read back as Decimal, as the reader gives them.
_DECODER = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


class RecordSpool:
    """Packed records appended by one thread, then (once `seal`ed) read back by any thread."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._ends = array("Q")  # the end offset of each record: 8 bytes per record in memory
        self._sealed = False
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        if self._sealed:
            raise RuntimeError("this spool is sealed: its batch has been handed on")
        data = encode_json(record)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="target-zoho-crm-", buffering=1 << 18)  # noqa: SIM115 (closed with the spool)
        self._file.write(data)
        self._ends.append((self._ends[-1] if self._ends else 0) + len(data))

    def seal(self) -> None:
        """No more records: flush them to the file so that other threads can read them."""
        with self._lock:
            if not self._sealed:
                if self._file is not None:
                    self._file.flush()
                self._sealed = True

    def __len__(self) -> int:
        return len(self._ends)

    def __iter__(self) -> Iterator[SpooledRecord]:
        for position in range(len(self._ends)):
            yield SpooledRecord(self, position)

    def read(self, position: int) -> dict[str, Any]:
        """The record at `position` (thread-safe: a positioned read, no shared file offset)."""
        if not self._sealed:
            self.seal()
        start = self._ends[position - 1] if position else 0
        end = self._ends[position]
        with self._lock:  # never a positioned read on a descriptor that close() has given back
            if self._file is None or self._file.closed:
                raise ValueError(f"record spool: read of record {position} after the spool was closed")
            data = os.pread(self._file.fileno(), end - start, start)
        if len(data) != end - start:
            raise OSError(f"record spool: short read at {start} ({len(data)} of {end - start} bytes)")
        return _DECODER.decode(data)

    @property
    def closed(self) -> bool:
        return self._file is not None and self._file.closed

    def close(self) -> None:
        """Free the file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
