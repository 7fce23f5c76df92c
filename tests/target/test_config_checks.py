"""A configuration that cannot fail silently (issue 14): every mistake is caught before the first write
credit with one message naming the fix (no traceback), unknown settings are named, streams match
modules strictly, and no secret is printed whatever its type (issue 13 break 5). The real CLI as a
process, against the emulator over HTTP.

Zoho: `duplicate_check_fields` takes system duplicate-check, unique and External ID fields
(https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html, "How does the duplicate check
work?"); an External ID field is a unique custom field marked external (v8 `field-meta.html`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.target.singer_io import (
    CLI,
    LEAD_PROPERTIES,
    Run,
    lead,
    record,
    run_target,
    schema,
    state,
    write_lines,
)

WRITE_MARKERS = ("/upsert", "/bulk", "/upload", "/write")


def writes(emulator: Any) -> list[dict[str, Any]]:
    """Every write the emulator saw: record writes (POST/PUT on a module) and Bulk uploads and jobs."""
    return [
        c
        for c in emulator.calls
        if any(m in c["path"] for m in WRITE_MARKERS)
        or (c["method"] in ("POST", "PUT") and "/crm/" in c["path"] and "/coql" not in c["path"])
    ]


def _leads_input(tmp_path: Path, n: int = 20, stream: str = "leads") -> Path:
    messages: list[Any] = [schema(stream, LEAD_PROPERTIES, ["id"])]
    messages += [record(stream, lead(i)) for i in range(n)]
    messages.append(state({"done": True}))
    return write_lines(tmp_path / "in.singer", messages)


def _run(config: dict[str, Any], tmp_path: Path, *args: str, stdin: str = "") -> Run:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    proc = subprocess.run(
        [CLI, "--config", str(path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_stopped_before_writing(run: Run, emulator: Any, *fragments: str) -> None:
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr[-3000:]
    assert writes(emulator) == []
    assert sum(c["credits"] for c in writes(emulator)) == 0
    assert emulator.records("Leads") == []
    assert run.states == []


# -- key fields and field_map, before any write (REST, Bulk, dry run) ------------------------------------


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (
            {"duplicate_check_fields": ["Emial"]},
            ["duplicate_check_fields names 'Emial', which is not a field of Leads", "did you mean Email"],
        ),
        (
            {"duplicate_check_fields": ["Last_Name"]},
            ["Last_Name is a field of Leads but not a duplicate-check", "use one of: Email"],
        ),
        (
            {"external_id_field": "No_Such_Ext"},
            ["external_id_field 'No_Such_Ext' is not an External ID field of Leads"],
        ),
        (
            {"field_map": {"email": "Emale"}},
            ["field_map maps 'email' to 'Emale', which is not a field of Leads", "did you mean Email"],
        ),
        (
            {"field_map": {"company": "Created_Time"}},
            ["maps 'company' to Created_Time, a read-only field of Leads"],
        ),
        (
            {"operation": "update", "field_map": {"id": ""}},  # the schema keeps no record id
            ["updates Leads but no property of its schema is mapped to 'id'"],
        ),
    ],
)
def test_a_key_or_mapping_mistake_stops_the_run_before_any_write(
    emulator: Any,
    target_config: dict[str, Any],
    tmp_path: Path,
    api_type: str,
    options: dict[str, Any],
    fragments: list[str],
) -> None:
    config = {**target_config, "api_type": api_type, "streams": {"leads": options}}
    run = run_target(config, _leads_input(tmp_path), tmp_path)
    assert_stopped_before_writing(run, emulator, *fragments)


def test_a_dry_run_checks_the_same_before_saying_what_it_would_write(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**target_config, "dry_run": True, "streams": {"leads": {"duplicate_check_fields": ["Emial"]}}}
    run = run_target(config, _leads_input(tmp_path), tmp_path)
    assert_stopped_before_writing(run, emulator, "did you mean Email")
    assert "would write" not in run.stderr


def test_key_names_are_forgiving_and_reach_zoho_as_api_names(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**target_config, "streams": {"leads": {"duplicate_check_fields": ["email"]}}}
    run = run_target(config, _leads_input(tmp_path, 5), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(emulator.records("Leads")) == 5


def test_an_external_id_keeps_the_system_duplicate_check_field_beside_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """The issue's DUPLICATE_DATA case: a record Zoho holds under its name but without an External ID
    yet is updated (matched on the system duplicate-check field), not inserted a second time."""
    emulator.add_record("Vehicles", {"Name": "Truck 1"})
    emulator.add_record("Vehicles", {"Name": "Truck 2"})
    props = {"name": {"type": "string"}, "external_vehicle_id": {"type": "string"}}
    messages: list[Any] = [schema("vehicles", props, ["external_vehicle_id"])]
    messages += [
        record("vehicles", {"name": f"Truck {i}", "external_vehicle_id": f"V-{i}"}) for i in (1, 2, 3)
    ]
    config = {**target_config, "streams": {"vehicles": {"external_id_field": "External_Vehicle_ID"}}}
    run = run_target(config, write_lines(tmp_path / "in.singer", messages), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    stored = emulator.records("Vehicles")
    assert sorted(r["Name"] for r in stored) == ["Truck 1", "Truck 2", "Truck 3"]
    assert {r.get("External_Vehicle_ID") for r in stored} == {"V-1", "V-2", "V-3"}
    bodies = [c for c in emulator.calls if c["path"].endswith("/Vehicles/upsert")]
    assert bodies  # one upsert call, matched on External_Vehicle_ID then Name


# -- unknown and out-of-range settings ---------------------------------------------------------------------


def test_unknown_settings_and_stream_keys_are_named_with_a_did_you_mean(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **target_config,
        "refesh_token": "x",
        "max_concurency": 5,
        "streams": {"leads": {"modul": "Leads"}, "contcts": {"module": "Contacts"}},
    }
    run = run_target(config, _leads_input(tmp_path, 3), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Unknown setting 'refesh_token' is ignored (did you mean refresh_token?)" in run.stderr
    assert "Unknown setting 'max_concurency' is ignored (did you mean max_concurrency?)" in run.stderr
    assert "Unknown key streams.leads.modul is ignored (did you mean module?)" in run.stderr
    assert "streams.contcts matched no stream of this run" in run.stderr
    assert "'x'" not in run.stderr  # an unknown setting's value is never printed


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"max_concurrency": 50}, "`max_concurrency` 50 is out of range: use 1 to 25"),
        ({"max_concurrency": 0}, "`max_concurrency` 0 is out of range"),
        ({"timezone": "Mars/Olympus"}, "`timezone` 'Mars/Olympus' is not a known time zone"),
        ({"request_timeout": -5}, "`request_timeout` must be more than 0 seconds"),
        ({"rejects_path": "/"}, "`rejects_path` '/' is a directory"),
        ({"rejects_path": "/proc/atk-no/such"}, "the directory '/proc/atk-no' does not exist"),
        ({"client_id": None, "client_secret": None, "refresh_token": None}, "No Zoho credentials"),
        ({"refresh_token": "1000.wrong"}, "Zoho rejected the refresh token (invalid_code)"),
    ],
)
def test_a_plain_config_or_credential_error_is_one_message_without_traceback_or_summary(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, extra: dict[str, Any], fragment: str
) -> None:
    config = {k: v for k, v in {**target_config, **extra}.items() if v is not None}
    run = run_target(config, _leads_input(tmp_path, 3), tmp_path)
    assert_stopped_before_writing(run, emulator, fragment)
    assert "Summary" not in run.stderr and "inserted" not in run.stderr


def test_a_config_file_that_is_missing_or_not_json_is_one_message(tmp_path: Path) -> None:
    missing = subprocess.run([CLI, "--config", str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "nope.json" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{client_id: 1")
    run = subprocess.run([CLI, "--config", str(bad)], capture_output=True, text=True, input="")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "not valid JSON" in run.stderr


@pytest.mark.parametrize("key", ["client_secret", "refresh_token", "access_token"])
@pytest.mark.parametrize(
    "shape",
    [
        lambda s: 987654321987,
        lambda s: {"value": s},
        lambda s: [s, "x"],
        lambda s: {"a": True, "s": s},
    ],
    ids=["number", "object", "list", "bool+str"],
)
def test_a_secret_of_the_wrong_type_is_never_printed(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, key: str, shape: Any
) -> None:
    """Issue 13 break 5: singer-sdk's validation quoted the value."""
    secret = "S3CRET-do-not-print-42"
    config = {**target_config, key: shape(secret)}
    run = run_target(config, _leads_input(tmp_path, 3), tmp_path)
    assert run.returncode == 1
    assert secret not in run.stderr + run.stdout and "987654321987" not in run.stderr + run.stdout
    assert f"`{key}` must be text" in run.stderr and "the value is not shown" in run.stderr


# -- stream → module matching ------------------------------------------------------------------------------


def _multi_stream_input(tmp_path: Path, streams: list[str]) -> Path:
    messages: list[Any] = []
    for n, stream in enumerate(streams):
        messages.append(schema(stream, LEAD_PROPERTIES, ["id"]))
        messages += [record(stream, lead(100 * n + i)) for i in range(3)]
        messages.append(state({"after": stream}))
    return write_lines(tmp_path / "in.singer", messages)


def test_unmatched_streams_fail_names_every_one_at_once_and_writes_nothing_after_the_first(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    streams = ["public-user_accounts", "public-customer_leads", "public-leads", "public-support_cases"]
    run = run_target(target_config, _multi_stream_input(tmp_path, streams), tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "3 stream(s) match no Zoho CRM module" in run.stderr
    for name in ("public-user_accounts", "public-customer_leads", "public-support_cases"):
        assert f"Stream '{name}' matches no Zoho CRM module" in run.stderr
    assert writes(emulator) == [] and emulator.records("Accounts") == [] and run.states == []


def test_unmatched_streams_skip_logs_each_once_and_loads_the_rest(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    streams = ["public-user_accounts", "public-leads", "public-customers"]
    config = {**target_config, "unmatched_streams": "skip"}
    run = run_target(config, _multi_stream_input(tmp_path, streams), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("Stream 'public-user_accounts' matches no Zoho CRM module") == 1
    assert "Stream 'public-customers' matches no Zoho CRM module" in run.stderr
    assert len(emulator.records("Leads")) == 3 and emulator.records("Accounts") == []
    assert run.states[-1] == {"after": "public-customers"}


def test_a_null_stream_map_drops_a_stream_before_matching(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**target_config, "stream_maps": {"customers": "__NULL__"}}
    run = run_target(config, _multi_stream_input(tmp_path, ["customers", "leads"]), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "matches no Zoho CRM module" not in run.stderr
    assert "Stream 'customers' is dropped by stream_maps (__NULL__)" in run.stderr
    assert len(emulator.records("Leads")) == 3


# -- Create & Test ----------------------------------------------------------------------------------------


def test_create_and_test_reports_a_good_config_and_writes_nothing(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **target_config,
        "api_type": "auto",
        "streams": {
            "people": {"module": "Contacts", "field_map": {"mail": "Email"}},
            "cars": {"module": "Vehicles", "external_id_field": "external_vehicle_id"},
        },
    }
    tap = _leads_input(tmp_path, 2)
    run = _run(config, tmp_path, "--test", "--input", str(tap))
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    out = run.stdout
    assert "Authentication: OK" in out and "data centre US" in out
    assert "edition enterprise" in out and "time zone America/Los_Angeles" in out
    assert "Stream 'people' → module Contacts: upsert via auto" in out and "mail → Email" in out
    assert "Stream 'cars' → module Vehicles" in out and "External_Vehicle_ID, Name" in out
    assert "Stream 'leads' → module Leads" in out and "matched on: Email" in out  # from --input
    assert "ZohoCRM.modules.contacts.CREATE" in out and "ZohoCRM.bulk.CREATE" in out and "OK" in out
    assert "Create & Test: OK" in out
    assert writes(emulator) == []


def test_create_and_test_lists_every_problem_at_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **target_config,
        "streams": {
            "leads": {"duplicate_check_fields": ["Emial"]},
            "people": {"module": "Kontakts"},
            "cars": {"module": "Vehicles", "field_map": {"vin": "VINN"}},
        },
    }
    run = _run(config, tmp_path, "--test")
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    assert "Create & Test: 3 problem(s)" in run.stdout
    assert (
        "did you mean Email" in run.stdout and "'Kontakts'" in run.stdout and "did you mean VIN" in run.stdout
    )
    assert writes(emulator) == []


def test_create_and_test_names_missing_scopes_and_bad_credentials(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    from zoho_crm_emulator import ZohoEmulator

    narrow = "ZohoCRM.settings.ALL,ZohoCRM.org.READ,ZohoCRM.modules.ALL,ZohoCRM.users.READ"
    with ZohoEmulator(latency_ms=0, scopes=narrow) as zoho:
        urls = {"accounts_url": zoho.url, "api_url": zoho.url, "upload_url": zoho.url}
        run = _run({**target_config, **urls, "api_type": "bulk"}, tmp_path, "--test")
        assert run.returncode == 1, run.stdout + run.stderr[-3000:]
        assert "the token lacks ZohoCRM.coql.READ, ZohoCRM.bulk.CREATE, ZohoFiles.files.ALL" in run.stdout
        assert not [c for c in zoho.calls if any(m in c["path"] for m in WRITE_MARKERS)]
    bad = _run({**target_config, "refresh_token": "1000.wrong"}, tmp_path, "--test")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "Authentication: FAILED" in bad.stdout and "invalid_code" in bad.stdout
    assert "1000.wrong" not in bad.stdout + bad.stderr


def test_create_and_test_runs_as_meltanos_test_command_reads_it(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """meltano.yml's `test` command: `--config ENV --test`, settings exported as TARGET_ZOHO_CRM_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    env.update({f"TARGET_ZOHO_CRM_{k.upper()}": str(v) for k, v in target_config.items()})
    env["TARGET_ZOHO_CRM_STREAMS"] = json.dumps({"people": {"module": "Contacts"}})
    proc = subprocess.run(
        [CLI, "--config", "ENV", "--test"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "Stream 'people' → module Contacts" in proc.stdout and "Create & Test: OK" in proc.stdout
    assert writes(emulator) == []


def test_the_traceback_of_a_config_error_is_shown_at_debug_level_only(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**target_config, "max_concurrency": 50}
    quiet = run_target(config, _leads_input(tmp_path, 1), tmp_path)
    debug = run_target(config, _leads_input(tmp_path, 1), tmp_path, env={"TARGET_ZOHO_CRM_LOGLEVEL": "DEBUG"})
    assert quiet.returncode == debug.returncode == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in debug.stderr and "out of range" in debug.stderr
    errors = [line for line in debug.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "`max_concurrency` 50 is out of range" in errors[0]
