"""StreamPlan: what a stream's load is decided by, from (catalog, settings, stream options, schema),
against the emulator's metadata (real HTTP, read-only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from target_zoho_crm.errors import FieldMapError, UnknownStreamError
from target_zoho_crm.load.plan import BULK_BATCH_SIZE, REST_BATCH_SIZE, StreamPlan, plan_stream
from target_zoho_crm.run import connect_client
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.metadata import ModuleCatalog

LEADS = {"id": {"type": "integer"}, "email": {"type": "string"}, "last_name": {"type": "string"}}


@pytest.fixture
def catalog(emulator: Any, target_config: dict[str, Any]) -> Iterator[ModuleCatalog]:
    client = connect_client(target_config)
    yield ModuleCatalog(client, "v4")
    client.close()


def plan(
    catalog: ModuleCatalog, config: dict[str, Any], stream: str, properties: dict[str, Any]
) -> StreamPlan:
    settings = TargetSettings.from_config(config)
    schema = {"type": "object", "properties": properties}
    return plan_stream(
        stream, schema, catalog=catalog, settings=settings, options=settings.stream_options(stream)
    )


def test_an_upsert_into_leads_is_matched_on_email_in_memory_batches_through_rest(
    catalog: ModuleCatalog, target_config: dict[str, Any]
) -> None:
    leads = plan(catalog, target_config, "leads", LEADS)
    assert (leads.module.api_name, leads.operation, leads.api_type) == ("Leads", "upsert", "rest")
    assert leads.key_field == "Email" and leads.reconcile_field == "Email"
    assert leads.batch_size == REST_BATCH_SIZE and not leads.spooled and leads.max_queued_batches == 3
    assert not leads.has_lookups and not leads.has_rows and leads.related_modules == frozenset()
    assert set(leads.mapper.mapping) == {"email", "last_name"} and "id" in leads.ignored


def test_stream_options_decide_operation_api_and_key(
    catalog: ModuleCatalog, target_config: dict[str, Any]
) -> None:
    config = {
        **target_config,
        "streams": {"people": {"module": "Leads", "operation": "insert", "api_type": "bulk"}},
    }
    people = plan(catalog, config, "people", LEADS)
    assert (people.module.api_name, people.operation, people.api_type) == ("Leads", "insert", "bulk")
    assert people.key_field is None  # an insert matches nothing: every record is new
    assert people.reconcile_field == "Email"  # a lost insert is still looked up by a unique field
    assert people.batch_size == BULK_BATCH_SIZE and people.spooled and people.max_queued_batches == 2
    by_rows = plan(catalog, {**config, "batch_size_rows": 500}, "people", LEADS)
    assert by_rows.batch_size == 500


def test_lookups_point_the_plan_at_their_parent_modules(
    catalog: ModuleCatalog, target_config: dict[str, Any]
) -> None:
    contacts = plan(
        catalog,
        target_config,
        "contacts",
        {"last_name": {"type": "string"}, "account_name": {"type": "string"}},
    )
    assert contacts.has_lookups and "Accounts" in contacts.related_modules


def test_a_plan_refuses_what_the_configuration_gets_wrong(
    catalog: ModuleCatalog, target_config: dict[str, Any]
) -> None:
    with pytest.raises(UnknownStreamError):
        plan(catalog, target_config, "no_such_things", LEADS)
    with pytest.raises(FieldMapError):
        plan(
            catalog, {**target_config, "streams": {"leads": {"field_map": {"email": "Nope"}}}}, "leads", LEADS
        )
