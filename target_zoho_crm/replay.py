"""`target-zoho-crm-replay`: turn a rejects file back into a Singer stream, to load its rows again once
the cause of their rejection is fixed:

    target-zoho-crm-replay rejects.jsonl [--stream S] [--code C] [--run RUN_ID] | target-zoho-crm --config c.json

It writes, on stdout, a SCHEMA message per stream (from the file's schema rows, see report/rejects.py)
and one RECORD per rejected row; no STATE (a replay moves no tap's bookmark). A record rejected by
several runs is sent once, in its latest form (same stream and key properties), so a replay never
multiplies records. Rows with no schema — lines of the input that were not Singer messages, or rows
written before rejects files carried schemas — are skipped with a note on stderr. Only the part of the
file that existed when the replay started is read: the target the stream is piped into may append
to the same file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from singer_sdk.singerlib.json import deserialize_json, serialize_json

from target_zoho_crm.report.rejects import DEFAULT_REJECTS_PATH, KIND_SCHEMA

PATH_VARIABLE = "TARGET_ZOHO_CRM_REJECTS_PATH"  # Meltano passes the loader's rejects_path this way


@dataclass
class Replay:
    """The Singer messages to write, and what was left out (for the note on stderr)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def _rows(lines: Iterable[str], skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            row = deserialize_json(line)
        except ValueError:
            skipped["unreadable lines of the rejects file"] += 1
            continue
        if isinstance(row, dict):
            yield row
        else:
            skipped["unreadable lines of the rejects file"] += 1


def build_replay(
    lines: Iterable[str],
    *,
    streams: Sequence[str] = (),
    codes: Sequence[str] = (),
    runs: Sequence[str] = (),
) -> Replay:
    """The replay of a rejects file's `lines`, keeping only the given streams, codes and runs (all when
    empty)."""
    replay = Replay()
    schemas: dict[tuple[Any, Any], dict[str, Any]] = {}
    chosen: dict[Any, tuple[dict[str, Any], dict[str, Any]]] = {}  # identity → (schema row, record)
    for row in _rows(lines, replay.skipped):
        if row.get("kind") == KIND_SCHEMA:
            schemas[(row.get("run_id"), row.get("schema_id"))] = row
            continue
        stream, record = row.get("stream"), row.get("record")
        if stream is None:
            replay.skipped["input lines that were not Singer messages (no schema)"] += 1
            continue
        if (streams and stream not in streams) or (codes and row.get("code") not in codes):
            continue
        if runs and row.get("run_id") not in runs:
            continue
        schema_row = schemas.get((row.get("run_id"), row.get("schema_id")))
        if schema_row is None or not isinstance(record, dict):
            replay.skipped["rows without a schema (written by an older target-zoho-crm)"] += 1
            continue
        keys = list(schema_row.get("key_properties") or [])
        identity: Any = (stream, tuple(repr(record.get(k)) for k in keys)) if keys else object()
        chosen.pop(identity, None)  # the latest version of a record goes last, in its own place
        chosen[identity] = (schema_row, record)
    last_schema: dict[str, tuple[Any, Any]] = {}
    for schema_row, record in chosen.values():
        stream = str(schema_row["stream"])
        shape = (schema_row.get("schema"), schema_row.get("key_properties"))
        if last_schema.get(stream) != shape:
            replay.messages.append(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": schema_row.get("schema") or {"type": "object", "properties": {}},
                    "key_properties": list(schema_row.get("key_properties") or []),
                }
            )
            last_schema[stream] = shape
        replay.messages.append({"type": "RECORD", "stream": stream, "record": record})
        replay.records[stream] += 1
    return replay


def _read_existing(path: Path) -> list[str]:
    """The lines the file holds now (not those a target appends while the replay is read)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(size)
    return data.decode("utf-8", errors="replace").splitlines()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-zoho-crm-replay",
        description="Write the rows of a target-zoho-crm rejects file as a Singer stream (SCHEMA and "
        "RECORD messages, no STATE) on stdout, to pipe into target-zoho-crm once their cause is fixed.",
    )
    parser.add_argument(
        "rejects_file",
        nargs="?",
        help=f"the rejects file (default: ${PATH_VARIABLE}, else {DEFAULT_REJECTS_PATH})",
    )
    parser.add_argument("--stream", action="append", default=[], help="only this stream (repeatable)")
    parser.add_argument(
        "--code", action="append", default=[], help="only rows rejected with this code (repeatable)"
    )
    parser.add_argument("--run", action="append", default=[], help="only rows of this run id (repeatable)")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    path = Path(args.rejects_file or os.environ.get(PATH_VARIABLE) or DEFAULT_REJECTS_PATH)
    try:
        lines = _read_existing(path)
    except OSError as exc:
        err.write(f"target-zoho-crm-replay: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    replay = build_replay(lines, streams=args.stream, codes=args.code, runs=args.run)
    for message in replay.messages:
        out.write(serialize_json(message) + "\n")
    out.flush()
    total = sum(replay.records.values())
    per_stream = ", ".join(f"{n} of {s}" for s, n in sorted(replay.records.items()))
    err.write(f"target-zoho-crm-replay: {total} records to load again from {path}")
    err.write(f" ({per_stream})\n" if per_stream else "\n")
    for reason, n in replay.skipped.items():
        err.write(f"target-zoho-crm-replay: skipped {n} {reason}\n")
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
