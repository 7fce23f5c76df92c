"""Helpers to write Singer input files and run the target's CLI as a user would (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).parent / "target-zoho-crm")


def schema(
    stream: str, properties: dict[str, Any], key_properties: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": key_properties or [],
    }


def record(stream: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": rec}


def state(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "STATE", "value": value}


LEAD_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "first_name": {"type": ["string", "null"]},
    "last_name": {"type": ["string", "null"]},
    "email": {"type": ["string", "null"]},
    "company": {"type": ["string", "null"]},
}


def lead(i: int, **overrides: Any) -> dict[str, Any]:
    rec = {
        "id": i,
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"lead{i}@example.com",
        "company": f"Company {i % 17}",
    }
    rec.update(overrides)
    return rec


def write_lines(path: Path, messages: Iterable[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for message in messages:
            fh.write(message if isinstance(message, str) else json.dumps(message))
            fh.write("\n")
    return path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_target(
    config: dict[str, Any],
    input_path: Path,
    tmp_path: Path,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Run:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [CLI, "--config", str(config_path), "--input", str(input_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=tmp_path,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def read_rejects(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    """The reject rows of a rejects file (its schema rows, for replays, left out)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row for row in rows if row.get("kind") != "schema"]
