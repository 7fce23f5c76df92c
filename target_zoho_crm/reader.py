"""The tolerant Singer reader (msgspec): a line that is not a Singer message becomes a reject, not a crash."""

from __future__ import annotations

import decimal
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.json
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from typing_extensions import override

from target_zoho_crm.errors import RunStopped, TargetZohoCRMError


class _StopReading(TargetZohoCRMError):
    """Raised by the signal handler into a read that is blocked waiting for the tap."""


class TolerantReader(GenericSingerReader[str]):
    """Singer reader on msgspec; a line that is not a Singer message is reported and skipped, not fatal.

    The records around a malformed line are kept; the line goes to the rejects file and the run's
    summary counts it.
    """

    default_input = sys.stdin
    _decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)

    @override
    def __init__(self) -> None:
        super().__init__()
        self.on_bad_line: Callable[[int, str, str], None] | None = None
        self.stop_requested = False  # set by a termination signal: stop reading, finish what was read
        self.waiting_for_input = False  # True only while blocked reading the next line
        # Held while a message is handled, free while waiting for the tap: the housekeeper thread may
        # then flush buffers that a waiting STATE depends on, even when the tap has gone quiet.
        self.busy = threading.Lock()

    def stop(self) -> None:
        """Called from a signal handler: end the read loop at a line boundary, never mid-message."""
        self.stop_requested = True
        if self.waiting_for_input:
            raise _StopReading

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        return self._decoder.decode(line)  # type: ignore[no-any-return,unused-ignore]

    @override
    def process_lines(
        self, file_input: Any, callbacks: dict[str, Callable[[dict[str, Any]], None]]
    ) -> Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        lines = iter(file_input or self.default_input)
        number = 0
        while not self.stop_requested:
            self.waiting_for_input = True
            try:
                line = next(lines)
            except (StopIteration, _StopReading):
                break
            finally:
                self.waiting_for_input = False
            number += 1
            if not line.strip():
                continue
            try:
                message = self.deserialize_json(line)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                self._bad(number, line, f"not valid JSON ({exc})")
                continue
            if not isinstance(message, dict) or "type" not in message:
                self._bad(number, line, "not a Singer message (no 'type')")
                continue
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                self._bad(number, line, f"unknown Singer message type {kind!r}")
                continue
            with self.busy:
                callback(message)
            stats[kind] += 1
        return Counter(**stats)

    def _bad(self, number: int, line: str, reason: str) -> None:
        if self.on_bad_line is None:
            raise RunStopped(f"input line {number}: {reason}")
        self.on_bad_line(number, line, reason)
