"""In-process floors: what merely decoding (and validating) the input lines costs, per line.

These are the lower bounds the target is compared with, and the measurements behind the target's
choice of libraries: `json.loads` of every line (the issue's floor), singer-sdk's default reader
(`json.loads` with Decimal floats), msgspec's decoder (what the target's reader uses), decode + a
compiled fastjsonschema validator (the target's validation), and decode + jsonschema Draft 2020-12
(singer-sdk's validator). CPU time via `time.process_time`.
"""

from __future__ import annotations

import decimal
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import msgspec

from bench.data import LEADS_SCHEMA


@dataclass
class Floor:
    name: str
    cpu_s: float
    lines: int


def _time(name: str, path: Path, per_line: Callable[[bytes], Any], limit: int | None = None) -> Floor:
    count = 0
    with path.open("rb") as fh:
        start = time.process_time()
        for line in fh:
            per_line(line)
            count += 1
            if limit is not None and count >= limit:
                break
        return Floor(name, time.process_time() - start, count)


def _schema_without_formats() -> dict[str, Any]:
    schema = dict(LEADS_SCHEMA)
    schema["properties"] = {
        name: {k: v for k, v in prop.items() if k != "format"}
        for name, prop in LEADS_SCHEMA["properties"].items()
    }
    return schema


def _sdk_loads(line: bytes) -> Any:
    return json.loads(line, parse_float=decimal.Decimal)


def json_loads(path: Path) -> Floor:
    """Plain `json.loads` of each line."""
    return _time("json.loads", path, json.loads)


def sdk_json_loads(path: Path) -> Floor:
    """`json.loads(parse_float=Decimal)`: singer-sdk's default reader."""
    return _time("json.loads, Decimal floats (singer-sdk's default reader)", path, _sdk_loads)


def msgspec_decode(path: Path) -> Floor:
    """msgspec's JSON decoder with Decimal floats, as singer-sdk's MsgSpecReader and the target use."""
    decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)
    return _time("msgspec decode, Decimal floats (the target's reader)", path, decoder.decode)


def decode_and_validate(path: Path) -> Floor:
    """msgspec decode + fastjsonschema validation of each RECORD (formats not checked)."""
    decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)
    validate = fastjsonschema.compile(_schema_without_formats())

    def step(line: bytes) -> None:
        message = decoder.decode(line)
        if message.get("type") == "RECORD":
            validate(message["record"])

    return _time("msgspec decode + fastjsonschema validate (the target's validation)", path, step)


def decode_and_jsonschema(path: Path, limit: int = 20_000) -> Floor:
    """json.loads + jsonschema Draft 2020-12 (singer-sdk's validator), on the first `limit` lines."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(LEADS_SCHEMA)

    def step(line: bytes) -> None:
        message = _sdk_loads(line)
        if message.get("type") == "RECORD":
            validator.validate(message["record"])

    name = "json.loads + jsonschema Draft 2020-12 validate (singer-sdk's validator)"
    return _time(name, path, step, limit)


def all_floors(path: Path) -> list[Floor]:
    return [
        json_loads(path),
        sdk_json_loads(path),
        msgspec_decode(path),
        decode_and_validate(path),
        decode_and_jsonschema(path),
    ]
