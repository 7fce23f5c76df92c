"""The demo's report of the rejects file counts rejected records only, not the file's schema rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo import run as demo


def test_the_demo_lists_rejected_records_and_not_the_schema_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rejects = demo.ROOT / "demo" / "output" / "test-rejects.jsonl"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"kind": "schema", "stream": "Leads", "schema_id": "s1", "schema": {"type": "object"}},
        {
            "kind": "reject",
            "stream": "Leads",
            "code": "INVALID_DATA",
            "field": "Email",
            "message": "invalid data",
            "record": {"Email": "not-an-email"},
        },
    ]
    rejects.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(demo, "REJECTS", rejects)
    try:
        assert demo.show_rejects() == 1
    finally:
        rejects.unlink()
    out = capsys.readouterr().out
    assert "Rejected (1 row in demo/output/test-rejects.jsonl):" in out
    assert "not-an-email" in out and " - " not in out.splitlines()[-1][:12]
