"""API versions v2 … v8: each one's documented differences (zoho/versions.py), and loads through each.

Zoho pages followed: COQL limits per version (https://www.zoho.com/crm/developer/docs/api/v7/COQL-Limitations.html,
.../v8/COQL-Limitations.html: `in` takes up to 100 values from v7, 50 before; 2,000 rows a call from
v4, 200 before; 100,000 rows reachable from v7, 10,000 before); Bulk Write paths
(https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/upload-file.html, create-job.html); line
items (reference §2.9: v2 `Product_Details`, later per-module subforms).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.run import connect_client
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import credit_cost
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.versions import API_VERSIONS, SUPPORTED_VERSIONS, api_version
from tests.target.singer_io import LEAD_PROPERTIES, lead, record, run_target, schema, state, write_lines

ALL = ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"]


# -- the table -----------------------------------------------------------------------------------------------


def test_every_documented_version_is_supported_and_v4_stays_the_default() -> None:
    assert list(SUPPORTED_VERSIONS) == ALL
    settings = TargetSettings.from_config({"access_token": "1000.x"})
    assert settings.api_version == "v4"


@pytest.mark.parametrize(
    ("name", "in_values", "rows", "reachable", "bands"),
    [
        ("v2", 50, 200, 10_000, False),
        ("v2.1", 50, 200, 10_000, False),
        ("v3", 50, 200, 10_000, False),
        ("v4", 50, 2000, 10_000, True),
        ("v5", 50, 2000, 10_000, True),
        ("v6", 50, 2000, 10_000, True),
        ("v7", 100, 2000, 100_000, True),
        ("v8", 100, 2000, 100_000, True),
    ],
)
def test_coql_limits_per_version(name: str, in_values: int, rows: int, reachable: int, bands: bool) -> None:
    version = API_VERSIONS[name]
    assert (version.coql_in_values, version.coql_rows_per_call) == (in_values, rows)
    assert version.coql_rows_reachable == reachable and version.coql_credit_bands is bands
    query = {"select_query": "select id from Leads where id > 0 limit 2000"}
    assert credit_cost("POST", "/coql", "api", name, query, None) == (3 if bands else 1)


def test_metadata_shapes_bulk_paths_and_line_items_per_version() -> None:
    v2, v21, v3, v4, v5, v8 = (API_VERSIONS[n] for n in ("v2", "v2.1", "v3", "v4", "v5", "v8"))
    assert not v2.lookup_module_as_object and not v21.lookup_module_as_object and v3.lookup_module_as_object
    assert (v4.module_flag, v5.module_flag) == ("visible", "status")
    assert (v8.bulk_base, v8.upload_base, v8.api_base) == ("/crm/bulk/v8", "/crm/v8", "/crm/v8")
    assert v2.line_items_field("Quotes") == "Product_Details" and v2.line_item_keys["product"] == "product"
    assert (
        v21.line_items_field("Quotes") == "Quoted_Items"
        and v8.line_items_field("Invoices") == "Invoiced_Items"
    )
    assert v8.line_item_keys["product"] == "Product_Name" and v8.line_items_field("Leads") is None


@pytest.mark.parametrize("bad", ["v9", "v1", "v2.2", "latest"])
def test_an_unsupported_version_names_the_supported_ones(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        TargetSettings.from_config({"access_token": "1000.x", "api_version": bad})
    message = str(info.value)
    assert repr(bad) in message and "v2, v2.1, v3, v4, v5, v6, v7, v8" in message and "default v4" in message


def test_a_version_is_named_the_way_zoho_writes_it() -> None:
    assert api_version("v8").name == "v8" and api_version("V7").name == "v7" and api_version("8").name == "v8"


# -- over HTTP -------------------------------------------------------------------------------------------------


@pytest.fixture(params=["v6", "v7", "v8"])
def versioned_client(request: Any, emulator: Any, target_config: dict[str, Any]) -> Iterator[ZohoClient]:
    client = connect_client({**target_config, "api_version": request.param})
    yield client
    client.close()


def test_coql_in_batches_follow_the_version(emulator: Any, versioned_client: ZohoClient) -> None:
    """120 values: 50 + 50 + 20 through v6, 100 + 20 from v7 (the emulator refuses more with LIMIT_EXCEEDED)."""
    version = versioned_client.api_version
    ids = {
        f"Vendor {i:03d}": emulator.add_record("Accounts", {"Account_Name": f"Vendor {i:03d}"})
        for i in range(120)
    }
    catalog = ModuleCatalog(versioned_client, version)

    answer = LookupResolver(versioned_client, catalog).resolve("Accounts", "Account_Name", sorted(ids))

    assert answer == ids
    coql = [c for c in emulator.calls if c["path"].endswith("/coql")]
    assert {c["path"] for c in coql} == {f"/crm/{version}/coql"}
    assert len(coql) == (3 if version == "v6" else 2)
    assert all(c["status"] == 200 for c in coql)


# -- through the CLI ----------------------------------------------------------------------------------------------


def _lead_load(n: int) -> list[dict[str, Any]]:
    return [
        schema("leads", LEAD_PROPERTIES, ["id"]),
        *(record("leads", lead(i)) for i in range(n)),
        state({"position": n}),
    ]


@pytest.mark.parametrize("version", ALL)
def test_a_load_through_each_version(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path, version: str
) -> None:
    config = {**target_config, "api_version": version}
    source = write_lines(tmp_path / "in.singer", _lead_load(5))

    run = run_target(config, source, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"position": 5}]
    assert sorted(r["Email"] for r in emulator.records("Leads")) == sorted(
        f"lead{i}@example.com" for i in range(5)
    )
    crm = [c["path"] for c in emulator.calls if c["path"].startswith("/crm/")]
    assert crm and all(p.startswith(f"/crm/{version}/") for p in crm), crm


def test_v8_loads_through_rest_upsert_bulk_write_and_coql_lookups(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    zylker = emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    emulator.add_record("Leads", {"Last_Name": "Old", "Email": "lead0@example.com", "Company": "Old Co"})
    contact_properties = {
        "id": {"type": "integer"},
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "account_name": {"type": "string"},
    }
    messages = [
        *_lead_load(3)[:-1],
        schema("contacts", contact_properties, ["id"]),
        *(
            record(
                "contacts",
                {"id": i, "last_name": f"C{i}", "email": f"c{i}@example.com", "account_name": "Zylker"},
            )
            for i in range(4)
        ),
        state({"position": 7}),
    ]
    config = {
        **target_config,
        "api_version": "v8",
        "streams": {"contacts": {"api_type": "bulk"}},
        "bulk_poll_max_interval": 1,
    }

    run = run_target(config, write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"position": 7}]
    leads = {r["Email"]: r for r in emulator.records("Leads")}
    assert sorted(leads) == [f"lead{i}@example.com" for i in range(3)]
    assert leads["lead0@example.com"]["Last_Name"] == "Last0"  # upserted onto the record Zoho held
    contacts = emulator.records("Contacts")
    assert len(contacts) == 4
    assert all(str((c["Account_Name"] or {}).get("id")) == zylker for c in contacts)
    paths = {c["path"] for c in emulator.calls}
    assert "/crm/v8/Leads/upsert" in paths
    assert "/crm/v8/upload" in paths and "/crm/bulk/v8/write" in paths
    assert "/crm/v8/coql" in paths
    assert not [p for p in paths if p.startswith("/crm/") and "v8" not in p]
