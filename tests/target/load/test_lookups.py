"""Lookups, owners, line items and upsert keys against the emulator, over real HTTP.

Each test converts records with `RecordConverter`, resolves their lookups with `LookupResolver` (COQL:
https://www.zoho.com/crm/developer/docs/api/v8/Get-Records-through-COQL-Query.html, or the Search API:
https://www.zoho.com/crm/developer/docs/api/v8/search-records.html), writes them with Zoho's insert API
(https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html) and reads back what Zoho stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from target_zoho_crm.load.keys import upsert_match_order
from target_zoho_crm.load.lookups import (
    AMBIGUOUS_KEY,
    AMBIGUOUS_LOOKUP,
    KeyMatcher,
    LookupResolver,
    coql_quote,
    search_escape,
)
from target_zoho_crm.model import FieldMeta, LookupRef, ModuleInfo, PreparedRecord, ZohoError
from target_zoho_crm.run import connect_client
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.versions import API_VERSIONS


@pytest.fixture
def client(emulator: Any, target_config: dict[str, Any]) -> Iterator[ZohoClient]:
    c = connect_client(target_config)
    yield c
    c.close()


@pytest.fixture
def catalog(client: ZohoClient) -> ModuleCatalog:
    return ModuleCatalog(client, "v4")


def prepare(
    catalog: ModuleCatalog,
    module: str,
    records: list[dict[str, Any]],
    *,
    operation: str = "insert",
    version: str = "v4",
) -> tuple[list[PreparedRecord], RecordConverter]:
    info = catalog.module(module)
    properties = {key: {} for record in records for key in record}
    conv = RecordConverter(
        info, FieldMapper(info, properties, {}), timezone="UTC", operation=operation, api_version=version
    )
    prepared = []
    for i, record in enumerate(records):
        payload, errors = conv.convert(record)
        assert errors == [], errors
        prepared.append(PreparedRecord(index=i, source=record, payload=payload))
    return prepared, conv


def insert(client: ZohoClient, module: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.request("POST", f"/{module}", json={"data": payloads, "trigger": []})
    return response.json()["data"]


def calls(zoho: Any, suffix: str) -> int:
    return sum(1 for call in zoho.calls if call["path"].split("?")[0].endswith(suffix))


def stored(zoho: Any, module: str, record_id: str) -> dict[str, Any]:
    return next(r for r in zoho.records(module) if str(r["id"]) == record_id)


def lookup_id(value: Any) -> str:
    return str(value["id"]) if isinstance(value, dict) else str(value)


# --- lookups ----------------------------------------------------------------------------------------


def test_lookup_by_unique_field_through_one_batched_coql_query(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """Get-Records-through-COQL-Query.html: `where F in (...)`; lookups sent as `{"id": ...}`."""
    zylker = emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    oreilly = emulator.add_record("Accounts", {"Account_Name": "O'Reilly Media"})
    before = calls(emulator, "/coql")
    prepared, _ = prepare(
        catalog,
        "Contacts",
        [
            {"Last_Name": "Ada", "Account_Name": "Zylker"},
            {"Last_Name": "Bob", "Account_Name": "Zylker"},
            {"Last_Name": "Cy", "Account_Name": {"name": "O'Reilly Media"}},
            {"Last_Name": "Di", "Account_Name": zylker},  # already an id: nothing to resolve
        ],
    )
    resolver = LookupResolver(client, catalog, use_coql=True)
    errors = resolver.resolve_payloads([p.payload for p in prepared])
    assert errors == [[], [], [], []]
    assert calls(emulator, "/coql") - before == 1  # both names in one `in (...)` query, asked once
    assert [p.payload["Account_Name"] for p in prepared] == [
        {"id": zylker},
        {"id": zylker},
        {"id": oreilly},
        {"id": zylker},
    ]
    results = insert(client, "Contacts", [p.payload for p in prepared])
    assert [r["status"] for r in results] == ["success"] * 4
    contact = stored(emulator, "Contacts", str(results[2]["details"]["id"]))
    assert lookup_id(contact["Account_Name"]) == oreilly


def test_lookup_through_the_search_api_when_coql_is_off(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """search-records.html: `criteria=(F:equals:v)`, with `(`, `)`, `,` escaped by a backslash."""
    acme = emulator.add_record("Accounts", {"Account_Name": "Acme (Europe), Ltd"})
    emulator.add_record("Accounts", {"Account_Name": "Acme"})  # `equals` may match loosely: filtered out
    prepared, _ = prepare(catalog, "Contacts", [{"Last_Name": "Ada", "Account_Name": "Acme (Europe), Ltd"}])
    coql_before, search_before = calls(emulator, "/coql"), calls(emulator, "/search")
    errors = LookupResolver(client, catalog, use_coql=False).resolve_payloads([prepared[0].payload])
    assert errors == [[]]
    assert prepared[0].payload["Account_Name"] == {"id": acme}
    assert calls(emulator, "/coql") == coql_before
    assert calls(emulator, "/search") - search_before == 1


def test_lookup_by_the_related_modules_external_id(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """insert-records-ext.html: a lookup may name the related record by its External ID field."""
    account = emulator.add_record("Accounts", {"Account_Name": "Zylker", "External_Account_ID": "crm-acc-1"})
    prepared, _ = prepare(
        catalog, "Contacts", [{"Last_Name": "Ada", "Account_Name": {"External_Account_ID": "crm-acc-1"}}]
    )
    ref = prepared[0].payload["Account_Name"]
    assert isinstance(ref, LookupRef) and ref.field == "External_Account_ID"
    resolver = LookupResolver(client, catalog)
    assert resolver.resolve_payloads([prepared[0].payload]) == [[]]
    assert resolver.external_headers(catalog.module("Contacts")) == []  # resolved before the write
    results = insert(client, "Contacts", [prepared[0].payload])
    assert (
        lookup_id(stored(emulator, "Contacts", str(results[0]["details"]["id"]))["Account_Name"]) == account
    )


def test_a_value_matching_no_record_or_several_is_rejected_not_guessed(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """insert-records.html Possible Errors: INVALID_DATA names the lookup field; several matches: own code."""
    first = emulator.add_record("Accounts", {"Account_Name": "Twin"})
    second = emulator.add_record("Accounts", {"Account_Name": "Twin"})
    prepared, _ = prepare(
        catalog,
        "Contacts",
        [
            {"Last_Name": "Ada", "Account_Name": "Twin"},
            {"Last_Name": "Bob", "Account_Name": "Nobody Inc"},
            {"Last_Name": "Cy", "Account_Name": first},
        ],
    )
    resolver = LookupResolver(client, catalog)
    kept, rejected = resolver.resolve_records(catalog.module("Contacts"), prepared)
    assert [r.index for r in kept] == [2]
    by_index = {record.index: errors[0] for record, errors in rejected}
    ambiguous, missing = by_index[0], by_index[1]
    assert ambiguous.code == AMBIGUOUS_LOOKUP
    assert ambiguous.details["api_name"] == "Account_Name"
    assert ambiguous.details["json_path"] == "$.data[0].Account_Name"
    assert sorted(ambiguous.details["matched_ids"]) == sorted([first, second])
    assert missing.code == "INVALID_DATA"
    assert missing.details["api_name"] == "Account_Name"
    assert missing.details["json_path"] == "$.data[0].Account_Name"
    assert "Nobody Inc" in missing.message
    assert isinstance(prepared[0].payload["Account_Name"], LookupRef)  # never linked to a guess


def test_cache_serves_repeated_values_and_parents_written_earlier_in_the_run(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """Parents before children: an Account written earlier in the run is found without a COQL call."""
    zylker = emulator.add_record("Accounts", {"Account_Name": "Zylker"})
    resolver = LookupResolver(client, catalog)
    first, _ = prepare(catalog, "Contacts", [{"Last_Name": "Ada", "Account_Name": "Zylker"}])
    resolver.resolve_payloads([first[0].payload])
    made = len(emulator.calls)
    again, _ = prepare(catalog, "Contacts", [{"Last_Name": "Bob", "Account_Name": "ZYLKER"}])
    assert resolver.resolve_payloads([again[0].payload]) == [[]]
    assert again[0].payload["Account_Name"] == {"id": zylker}
    # Parents before children: the sink remembers each Account it writes, so a Contact of the same run
    # finds it without a query.
    accounts, _ = prepare(catalog, "Accounts", [{"Account_Name": "NewCo", "External_Account_ID": "new-1"}])
    parent_id = str(insert(client, "Accounts", [accounts[0].payload])[0]["details"]["id"])
    resolver.remember_record(catalog.module("Accounts"), accounts[0].payload, parent_id)
    made = len(emulator.calls)
    children, _ = prepare(
        catalog,
        "Contacts",
        [
            {"Last_Name": "Cy", "Account_Name": "NewCo"},
            {"Last_Name": "Di", "Account_Name": {"External_Account_ID": "new-1"}},
        ],
    )
    assert resolver.resolve_payloads([c.payload for c in children]) == [[], []]
    assert [c.payload["Account_Name"] for c in children] == [{"id": parent_id}, {"id": parent_id}]
    assert len(emulator.calls) == made  # no call at all


def test_coql_batches_hold_at_most_50_values_and_escape_quotes(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """COQL-Limitations.html: at most 50 values in `in (...)`; strings in single quotes."""
    assert coql_quote("O'Reilly \\ Co") == "'O\\'Reilly \\\\ Co'"
    assert search_escape("Acme (EU), Ltd") == "Acme \\(EU\\)\\, Ltd"
    ids = {
        f"Vendor {i:03d}": emulator.add_record("Accounts", {"Account_Name": f"Vendor {i:03d}"})
        for i in range(120)
    }
    before = calls(emulator, "/coql")
    answer = LookupResolver(client, catalog).resolve("Accounts", "Account_Name", sorted(ids))
    assert answer == ids
    assert calls(emulator, "/coql") - before == 3  # 50 + 50 + 20


def test_numeric_fields_are_queried_with_bare_numbers(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """Get-Records-through-COQL-Query.html: number fields compare with unquoted numbers."""
    old = emulator.add_record("Vehicles", {"Name": "Old", "Year": 2020})
    emulator.add_record("Vehicles", {"Name": "A", "Year": 2023})
    emulator.add_record("Vehicles", {"Name": "B", "Year": 2023})
    answer = LookupResolver(client, catalog).resolve("Vehicles", "Year", ["2020", "2023", "new"])
    assert answer["2020"] == old
    assert isinstance(answer["2023"], ZohoError) and answer["2023"].code == AMBIGUOUS_LOOKUP
    assert isinstance(answer["new"], ZohoError) and answer["new"].code == "INVALID_DATA"
    query = next(c for c in reversed(emulator.calls) if c["path"].endswith("/coql"))
    assert query["status"] == 200


# --- owners -----------------------------------------------------------------------------------------


def test_owner_by_email_or_user_id(emulator: Any, client: ZohoClient, catalog: ModuleCatalog) -> None:
    """insert-records.html: `Owner` is `{"id": <user id>}`; ids from GET /users?type=ActiveUsers."""
    users = client.get_json("/users", params={"type": "ActiveUsers"})["users"]
    user = users[-1]
    prepared, _ = prepare(
        catalog,
        "Leads",
        [
            {"Last_Name": "Ada", "Company": "Zylker", "Owner": user["email"].upper()},
            {"Last_Name": "Bob", "Company": "Zylker", "Owner": user["id"]},
            {"Last_Name": "Cy", "Company": "Zylker", "Owner": "nobody@example.com"},
        ],
    )
    resolver = LookupResolver(client, catalog)
    kept, rejected = resolver.resolve_records(catalog.module("Leads"), prepared)
    assert [r.payload["Owner"] for r in kept] == [{"id": str(user["id"])}, {"id": str(user["id"])}]
    assert [(r.index, e[0].code, e[0].details["api_name"]) for r, e in rejected] == [
        (2, "INVALID_DATA", "Owner")
    ]
    results = insert(client, "Leads", [r.payload for r in kept])
    lead = stored(emulator, "Leads", str(results[0]["details"]["id"]))
    assert lookup_id(lead["Owner"]) == str(user["id"])


# --- line items -------------------------------------------------------------------------------------


LINE_ITEMS_V21 = {
    "Quotes": "Quoted_Items",
    "Sales_Orders": "Ordered_Items",
    "Purchase_Orders": "Purchase_Items",
    "Invoices": "Invoiced_Items",
}


@pytest.mark.parametrize("module", list(LINE_ITEMS_V21))
@pytest.mark.parametrize("version", ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"])
def test_line_items_are_stored_with_each_versions_keys(
    emulator: Any, target_config: dict[str, Any], version: str, module: str
) -> None:
    """v2: `Product_Details` rows with `product`/`quantity`/`list_price` (Kaizen #53, zohocrm-python-sdk
    `InventoryLineItems`); v2.1+: `Quoted_Items`... with `Product_Name`/`Quantity`/`List_Price`
    (https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html, inventory sample)."""
    field = "Product_Details" if version == "v2" else LINE_ITEMS_V21[module]
    product_key, quantity_key, price_key = (
        ("product", "quantity", "list_price")
        if version == "v2"
        else ("Product_Name", "Quantity", "List_Price")
    )
    client = connect_client({**target_config, "api_version": version})
    try:
        catalog = ModuleCatalog(client, version)
        assert (
            catalog.module(module).line_items_field == field == API_VERSIONS[version].line_items_field(module)
        )
        widget = emulator.add_record("Products", {"Product_Name": "Widget", "Product_Code": "W-1"})
        gadget = emulator.add_record("Products", {"Product_Name": "Gadget", "Product_Code": "G-1"})
        vendor = emulator.add_record("Vendors", {"Vendor_Name": "Acme Supplies"})
        record: dict[str, Any] = {
            "Subject": f"{module} {version}",
            field: [
                {"Product_Code": "W-1", "Quantity": Decimal("2"), "List_Price": Decimal("10.005")},
                {"product": "Gadget", "quantity": 1},
                {"product": {"id": widget}, "qty": "3"},
            ],
        }
        if module == "Purchase_Orders":
            record["Vendor_Name"] = "Acme Supplies"
        prepared, _ = prepare(catalog, module, [record], version=version)
        kept, rejected = LookupResolver(client, catalog).resolve_records(catalog.module(module), prepared)
        assert rejected == []
        results = insert(client, module, [kept[0].payload])
        assert results[0]["status"] == "success", results
        saved = stored(emulator, module, str(results[0]["details"]["id"]))
        rows = saved[field]
        assert [lookup_id(row[product_key]) for row in rows] == [widget, gadget, widget]
        assert [row[quantity_key] for row in rows] == [2, 1, 3]
        assert rows[0][price_key] == 10.01
        if module == "Purchase_Orders":
            assert lookup_id(saved["Vendor_Name"]) == vendor
    finally:
        client.close()


# --- upsert keys ------------------------------------------------------------------------------------


def test_upsert_matches_fields_in_zohos_order() -> None:
    """upsert-records.html: listed fields first (else the system ones), then user-defined unique ones."""
    leads = ModuleInfo(api_name="Leads", system_duplicate_fields=["Email"])
    leads.fields = {
        name: FieldMeta(api_name=name, data_type="text", unique=unique, external=external)
        for name, unique, external in [("Email", False, False), ("U1", True, False), ("Ext", False, True)]
    }
    assert upsert_match_order(leads) == ["Email", "U1", "Ext"]
    assert upsert_match_order(leads, ["U1"]) == ["U1", "Ext"]
    assert upsert_match_order(leads, ["Ext", "Email"]) == ["Ext", "Email", "U1"]


def test_upsert_key_matching_several_records_is_rejected(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """upsert-records.html: the first matching duplicate-check field decides; two matches mean a random update."""
    emulator.add_record("Leads", {"Last_Name": "One", "Company": "Z", "Email": "twin@zylker.com"})
    emulator.add_record("Leads", {"Last_Name": "Two", "Company": "Z", "Email": "twin@zylker.com"})
    single = emulator.add_record("Leads", {"Last_Name": "Solo", "Company": "Z", "Email": "solo@zylker.com"})
    prepared, conv = prepare(
        catalog,
        "Leads",
        [
            {"Email": "twin@zylker.com", "Company": "New"},  # would update an arbitrary one of two
            {"Email": "solo@zylker.com", "Company": "New"},  # an update: Last_Name not needed
            {"Email": "new@zylker.com", "Company": "New"},  # an insert without Last_Name
            {"Email": "new2@zylker.com", "Last_Name": "Ok", "Company": "New"},
        ],
        operation="upsert",
    )
    leads = catalog.module("Leads")
    matches = KeyMatcher(client, leads).match(prepared, ["Email"])
    assert [matches[i].action for i in range(4)] == ["ambiguous", "update", "insert", "insert"]
    assert matches[1].record_id == single
    resolver = LookupResolver(client, catalog)
    kept, rejected = resolver.resolve_records(
        leads, prepared, operation="upsert", key_fields=["Email"], converter=conv
    )
    assert [r.index for r in kept] == [1, 3]
    errors = {r.index: e[0] for r, e in rejected}
    assert errors[0].code == AMBIGUOUS_KEY
    assert errors[0].details["api_name"] == "Email" and len(errors[0].details["matched_ids"]) == 2
    assert errors[2].code == "MANDATORY_NOT_FOUND" and errors[2].details["api_name"] == "Last_Name"


def test_reconcile_finds_records_a_lost_answer_may_have_created(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """Re-read by key (COQL) before resending an insert whose answer was lost (docs/ARCHITECTURE.md)."""
    existing = emulator.add_record("Accounts", {"Account_Name": "Landed"})
    prepared, _ = prepare(catalog, "Accounts", [{"Account_Name": "Landed"}, {"Account_Name": "Lost"}])
    prepared.append(PreparedRecord(index=2, source={}, payload={"Phone": "1"}))
    found, unknown = LookupResolver(client, catalog).reconcile(
        catalog.module("Accounts"), "Account_Name", prepared
    )
    assert found == {0: existing}
    assert unknown == {2}


# --- Zoho's own formats, end to end -----------------------------------------------------------------


def test_every_data_type_is_stored_in_zohos_format(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    leads = catalog.module("Leads")
    samples: dict[str, tuple[Any, Any]] = {
        "boolean": ("true", True),
        "integer": (Decimal("42"), 42),
        "bigint": ("0012345678901234", "0012345678901234"),
        "currency": (Decimal("1234.567"), 1234.57),
        "email": (" ada@zylker.com ", "ada@zylker.com"),
        "phone": (5550100, "5550100"),
        "website": ("https://zylker.com", "https://zylker.com"),
        "textarea": ("line 1\nline 2", "line 1\nline 2"),
    }
    record: dict[str, Any] = {"Last_Name": "Ada", "Company": "Zylker"}
    expected: dict[str, Any] = {}
    for meta in leads.fields.values():
        if meta.read_only or meta.api_name in record:
            continue
        kind = meta.data_type
        if kind in samples and kind not in {leads.fields[k].data_type for k in expected}:
            record[meta.api_name], expected[meta.api_name] = samples[kind]
        elif kind == "multiselectpicklist" and len(meta.picklist_values) >= 2:
            a, b = meta.picklist_values[:2]
            record[meta.api_name], expected[meta.api_name] = f"{a};{b.lower()}", [a, b]
        elif kind == "picklist" and meta.api_name == "Lead_Source":
            option = meta.picklist_values[-1]
            record[meta.api_name], expected[meta.api_name] = option.upper(), option
    covered = {leads.fields[name].data_type for name in expected}
    assert set(samples) | {"multiselectpicklist", "picklist"} <= covered
    prepared, _ = prepare(catalog, "Leads", [record])
    results = insert(client, "Leads", [prepared[0].payload])
    assert results[0]["status"] == "success", results
    lead = stored(emulator, "Leads", str(results[0]["details"]["id"]))
    for name, value in expected.items():
        assert lead[name] == value, (name, lead[name], value)


def test_dates_decimals_and_lookups_of_custom_and_deal_records_are_stored_in_zohos_format(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    account = emulator.add_record("Accounts", {"Account_Name": "Zylker", "External_Account_ID": "acc-9"})
    vehicles, _ = prepare(
        catalog,
        "Vehicles",
        [
            {
                "Name": "Van 1",
                "VIN": "1HGCM82633A004352",
                "Account": {"External_Account_ID": "acc-9"},
                "Features": ["bluetooth", "Navigation"],
                "Purchase_Date": datetime(2023, 3, 9, 0, 0),  # a `format: date-time` column holding a date
                "Mileage": Decimal("12345.66"),  # decimal_place 1
                "Year": "2023",
            }
        ],
    )
    deals, _ = prepare(
        catalog,
        "Deals",
        [
            {
                "Deal_Name": "Big deal",
                "Stage": "qualification",
                "Account_Name": "Zylker",
                "Closing_Date": date(2024, 12, 31),
                "Probability": Decimal("62.5"),  # percent, decimal_place 0
                "Amount": "1000000",
            }
        ],
    )
    resolver = LookupResolver(client, catalog)
    assert resolver.resolve_payloads([vehicles[0].payload, deals[0].payload]) == [[], []]
    vehicle_id = str(insert(client, "Vehicles", [vehicles[0].payload])[0]["details"]["id"])
    deal_id = str(insert(client, "Deals", [deals[0].payload])[0]["details"]["id"])
    vehicle = stored(emulator, "Vehicles", vehicle_id)
    assert lookup_id(vehicle["Account"]) == account
    assert vehicle["Features"] == ["Bluetooth", "Navigation"]
    assert vehicle["Purchase_Date"] == "2023-03-09"
    assert vehicle["Mileage"] == 12345.7
    assert vehicle["Year"] == 2023
    deal = stored(emulator, "Deals", deal_id)
    assert deal["Stage"] == "Qualification"
    assert lookup_id(deal["Account_Name"]) == account
    assert deal["Closing_Date"] == "2024-12-31"
    assert deal["Probability"] == 63
    assert deal["Amount"] == 1000000.0


def test_records_zoho_would_refuse_are_rejected_before_any_call(
    emulator: Any, client: ZohoClient, catalog: ModuleCatalog
) -> None:
    """The local check gives the code and details Zoho itself answers for the same record."""
    leads = catalog.module("Leads")
    conv = RecordConverter(
        leads,
        FieldMapper(leads, {"Company": {}, "No_of_Employees": {}, "Email": {}}, {}),
        timezone="UTC",
        operation="insert",
        api_version="v4",
    )
    before = len(emulator.calls)
    bad = [
        {"Company": "Zylker"},  # no Last_Name
        {"Company": "x" * 500},
        {"Company": "Zylker", "No_of_Employees": "many"},
    ]
    local = [conv.convert({**r, "Last_Name": "Ada"} if i else r) for i, r in enumerate(bad)]
    assert len(emulator.calls) == before  # nothing spent
    zoho_says = insert(client, "Leads", [{**r, "Last_Name": "Ada"} if i else r for i, r in enumerate(bad)])
    for i, ((_payload, errors), answer) in enumerate(zip(local, zoho_says, strict=True)):
        assert answer["status"] == "error"
        mine = errors[0].as_dict()
        details = {**answer["details"], "json_path": answer["details"]["json_path"].replace(f"[{i}]", "[0]")}
        assert (mine["code"], mine["message"], mine["details"]) == (
            answer["code"],
            answer["message"],
            details,
        )
