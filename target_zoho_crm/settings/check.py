"""Settings nobody reads: an unknown setting or per-stream key is named with a did-you-mean, because a
misspelt `refesh_token` or `max_concurency` would otherwise be ignored without a word."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.names import did_you_mean
from target_zoho_crm.settings.schema import CONFIG_SCHEMA

STREAM_OPTION_NAMES: tuple[str, ...] = tuple(
    CONFIG_SCHEMA["properties"]["streams"]["additionalProperties"]["properties"]
)


def unknown_settings(config: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """One warning per setting of `config` that is not in `known` (the target's settings, singer-sdk's
    built-ins included), and per unknown key of a `streams` entry."""
    names = list(known)
    warnings = [
        f"Unknown setting {key!r} is ignored{did_you_mean(key, names)}." for key in config if key not in names
    ]
    streams = config.get("streams")
    if isinstance(streams, Mapping):
        for stream, options in streams.items():
            if not isinstance(options, Mapping):
                continue
            warnings += [
                f"Unknown key streams.{stream}.{key} is ignored{did_you_mean(key, STREAM_OPTION_NAMES)}."
                for key in options
                if key not in STREAM_OPTION_NAMES
            ]
    return warnings


def unused_stream_keys(streams: Iterable[str], used: Iterable[str], seen: Iterable[str]) -> list[str]:
    """One warning per `streams` key that configured no stream of the run (the catch-all "*" aside),
    with the stream names seen that it may have meant."""
    taken = set(used)
    names = list(seen)
    return [
        f"streams.{key} matched no stream of this run{did_you_mean(key, names)}: its options were not used."
        for key in streams
        if key != "*" and key not in taken
    ]


def check_rejects_path(path: str | None) -> None:
    """`rejects_path` must name a file the target can create or append to: found at start, not at the
    first reject in the middle of a load."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"`rejects_path` {path!r} is a directory: name a file, e.g. {path.rstrip('/')}/rejects.jsonl."
        )
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(
            f"`rejects_path` {path!r}: the directory {str(parent)!r} does not exist; create it first."
        )
    if not os.access(target if target.exists() else parent, os.W_OK):
        raise ConfigError(f"`rejects_path` {path!r} is not writable by this user: choose another file.")
