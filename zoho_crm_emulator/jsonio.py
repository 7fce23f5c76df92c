"""JSON in and out of the emulator's HTTP calls, with msgspec.

The standard library's `json` took about a quarter of the emulator's CPU on 100-record writes (py-spy,
GIL samples); the emulator runs beside the target on the same machine in tests and benchmarks, so its
cost is charged to everyone's measurements.
"""

from __future__ import annotations

from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()


def dumps(body: Any) -> bytes:
    return _ENCODER.encode(body)


def loads(data: bytes) -> Any:
    """A request body as JSON (an empty body is `null`); ValueError when it is not JSON, as Zoho
    answers INVALID_DATA then (NaN and Infinity are not JSON either)."""
    try:
        return msgspec.json.decode(data or b"null")
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
