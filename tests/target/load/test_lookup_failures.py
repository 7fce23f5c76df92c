"""A Zoho or network failure while a lookup is resolved stops the run (after the client's retries);
it is never reported as a missing module or a missing record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from target_zoho_crm.errors import ZohoAPIError
from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.model import LookupRef
from target_zoho_crm.run import connect_client
from target_zoho_crm.zoho.metadata import ModuleCatalog
from tests.target.faults_support import fault_config, run_messages
from tests.target.singer_io import read_rejects, record, schema, state

ACCOUNTS_FIELDS_DOWN = {"rates": {"500": 1.0}, "match": {"path_contains": "/settings/fields"}}


def test_the_related_modules_metadata_failing_raises_instead_of_a_missing_record(
    emulator: Any, target_config: dict[str, Any]
) -> None:
    client = connect_client({**target_config, "max_retries": 2}, backoff_factor=0.01)
    resolver = LookupResolver(client, ModuleCatalog(client, "v4"))
    emulator.set_faults(ACCOUNTS_FIELDS_DOWN)
    payload = {
        "Account_Name": LookupRef("Accounts", None, "Zylker", "Account_Name", "$.data[0].Account_Name")
    }
    with pytest.raises(ZohoAPIError) as failure:
        resolver.resolve_payloads([payload])
    assert failure.value.status == 500
    assert isinstance(payload["Account_Name"], LookupRef)  # nothing was decided about the value
    client.close()


def test_an_unknown_related_module_is_still_a_value_not_found(
    emulator: Any, target_config: dict[str, Any]
) -> None:
    client = connect_client(target_config)
    resolver = LookupResolver(client, ModuleCatalog(client, "v4"))
    ref = LookupRef("No_Such_Module", None, "Zylker", "Account_Name", "$.data[0].Account_Name")
    (errors,) = resolver.resolve_payloads([{"Account_Name": ref}])
    assert [e.code for e in errors] == ["INVALID_DATA"]
    client.close()


def test_a_lookup_that_cannot_be_resolved_for_a_zoho_failure_stops_the_run_with_no_reject(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    # The SCHEMA's own metadata call (Contacts) goes through; every later fields call fails.
    emulator.set_faults(
        {"script": [{"delay_ms": 1}], "rates": {"500": 1.0}, "match": {"path_contains": "/settings/fields"}}
    )
    messages = [
        schema(
            "contacts",
            {"id": {"type": "integer"}, "last_name": {"type": "string"}, "account_name": {"type": "string"}},
            ["id"],
        ),
        record("contacts", {"id": 1, "last_name": "Doe", "account_name": "Zylker"}),
        state({"position": 1}),
    ]
    config = fault_config(target_config, tmp_path, operation="insert", max_retries=2)
    run = run_messages(config, messages, tmp_path)

    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == []
    assert read_rejects(tmp_path / "rejects.jsonl") == []  # not "no Accounts record has ..."
    assert emulator.records("Contacts") == []
