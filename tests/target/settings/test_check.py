"""Unknown settings and `streams` keys (pure logic): each named, with a did-you-mean only when a real
setting is close."""

from __future__ import annotations

from pathlib import Path

import pytest

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.settings.check import check_rejects_path, unknown_settings, unused_stream_keys
from target_zoho_crm.settings.schema import CONFIG_SCHEMA


def test_unknown_settings_and_stream_keys_are_named() -> None:
    config = {
        "client_id": "x",
        "refesh_token": "secret-value",
        "zzz": 1,
        "streams": {"leads": {"modul": "Leads", "module": "Leads"}, "*": {"operation": "insert"}},
    }
    assert unknown_settings(config, CONFIG_SCHEMA["properties"]) == [
        "Unknown setting 'refesh_token' is ignored (did you mean refresh_token?).",
        "Unknown setting 'zzz' is ignored.",
        "Unknown key streams.leads.modul is ignored (did you mean module?).",
    ]


def test_unused_stream_keys_are_named_with_the_streams_seen() -> None:
    warnings = unused_stream_keys(["leads", "contcts", "*"], used=["leads"], seen=["leads", "contacts"])
    assert warnings == [
        "streams.contcts matched no stream of this run (did you mean contacts?): its options were not used."
    ]


def test_rejects_path_is_checked_at_start(tmp_path: Path) -> None:
    check_rejects_path(str(tmp_path / "rejects.jsonl"))
    check_rejects_path(None)
    with pytest.raises(ConfigError, match="is a directory"):
        check_rejects_path(str(tmp_path))
    with pytest.raises(ConfigError, match="does not exist"):
        check_rejects_path(str(tmp_path / "no" / "rejects.jsonl"))
