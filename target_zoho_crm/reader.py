"""The tolerant Singer reader (msgspec): a line that is not a Singer message becomes a reject, not a crash."""

from __future__ import annotations

import decimal
import re
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

BOM = "\ufeff"
MAX_DEPTH_HINT = "about 1,000"  # msgspec's and Python's recursion limit
_MISSING = object()


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
        self.line_number = 0  # the line being handled (messages name it)

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
        source = file_input or self.default_input
        # Read bytes where there are any: a line that is not UTF-8 is then one bad line (its bytes kept
        # as surrogate escapes), not a decoding error that ends the whole input.
        lines = iter(getattr(source, "buffer", source))
        while not self.stop_requested:
            self.waiting_for_input = True
            try:
                line = next(lines)
            except (StopIteration, _StopReading):
                break
            finally:
                self.waiting_for_input = False
            self.line_number += 1
            number = self.line_number
            if isinstance(line, bytes):
                line = line.decode("utf-8", "surrogateescape")
            if number == 1 and line.startswith(BOM):
                line = line[1:]  # a UTF-8 byte order mark some tools write first
            if not line.strip():
                continue
            message, reason = self._parse(line)
            if reason is not None:
                self._bad(number, line, reason)
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

    def _parse(self, line: str) -> tuple[dict[str, Any], str | None]:
        """The line's message, or why it is not one a person can act on."""
        try:
            message = self.deserialize_json(line)
        except UnicodeError:
            return {}, utf8_problem(line)
        except RecursionError:
            return {}, f"not readable: JSON nested more than {MAX_DEPTH_HINT} levels deep"
        except msgspec.DecodeError as exc:
            return {}, json_problem(line, exc)
        if not isinstance(message, dict) or "type" not in message:
            return {}, "not a Singer message (no 'type')"
        return message, message_problem(message)

    def _bad(self, number: int, line: str, reason: str) -> None:
        if self.on_bad_line is None:
            raise RunStopped(f"input line {number}: {reason}")
        self.on_bad_line(number, printable(line), reason)


def printable(line: str) -> str:
    """`line` as text that can be written anywhere: bytes that were not UTF-8 become \\xNN."""
    try:
        line.encode("utf-8")
        return line
    except UnicodeEncodeError:
        pass
    try:
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return line.encode("utf-8", "backslashreplace").decode("utf-8")


def utf8_problem(line: str) -> str:
    """Where a line stops being UTF-8 (its undecodable bytes arrive as surrogate escapes)."""
    for position, char in enumerate(line):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            return (
                f"not valid UTF-8: byte 0x{code - 0xDC00:02x} at character {position + 1} "
                "(a Singer tap must write UTF-8)"
            )
        if 0xD800 <= code <= 0xDFFF:
            return f"not valid UTF-8: a lone surrogate U+{code:04X} at character {position + 1}"
    return "not valid UTF-8"


def json_problem(line: str, exc: msgspec.DecodeError) -> str:
    """msgspec's reason, naming NaN / Infinity when that is what stopped it (JSON has neither)."""
    found = re.search(r"\(byte (\d+)\)", str(exc))
    if found:
        at = line.encode("utf-8", "surrogateescape")[int(found.group(1)) :]
        for word in (b"NaN", b"Infinity", b"-Infinity"):
            if at.startswith(word) or at.startswith(b"-" + word):
                return (
                    f"not valid JSON: {word.decode()} at byte {found.group(1)} is not a JSON number "
                    "(the tap must write null, or the value as a string)"
                )
    return f"not valid JSON ({exc})"


def message_problem(message: dict[str, Any]) -> str | None:
    """What a RECORD or STATE lacks that Singer requires (a bad SCHEMA stops the run: see
    `schema_problem`)."""
    kind = message["type"]
    if kind == "RECORD":
        stream = message.get("stream")
        if not isinstance(stream, str) or not stream:
            return "RECORD without a 'stream' name"
        record = message.get("record", _MISSING)
        if record is _MISSING:
            return f"RECORD of stream {stream!r} without its 'record' field"
        if not isinstance(record, dict):
            return f"RECORD of stream {stream!r}: 'record' must be an object, not {_kind(record)}"
    elif kind == "STATE" and "value" not in message:
        return "STATE without its 'value' field"
    return None


def schema_problem(message: dict[str, Any]) -> str | None:
    """Why a SCHEMA message cannot be used (its stream's records could not be loaded), or None."""
    stream = message.get("stream")
    if not isinstance(stream, str) or not stream:
        return "SCHEMA without a 'stream' name"
    schema = message.get("schema", _MISSING)
    if not isinstance(schema, dict):
        what = "no 'schema' field" if schema is _MISSING else f"a 'schema' that is {_kind(schema)}"
        return f"SCHEMA of stream {stream!r} has {what}; it must be a JSON Schema object"
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return (
            f"SCHEMA of stream {stream!r}: 'properties' must be an object mapping each property to its "
            f"schema, not {_kind(properties)}"
        )
    keys = message.get("key_properties", [])
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
        return f"SCHEMA of stream {stream!r}: 'key_properties' must be a list of property names"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), f"a {type(value).__name__}"
    )
