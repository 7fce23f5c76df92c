"""Module catalog and stream → module resolution, against the emulator's `/settings/modules` and
`/settings/fields` per API version.

Modules API (api_name, module_name, labels, api_supported, creatable, generated_type):
https://www.zoho.com/crm/developer/docs/api/v4/modules-api.html; fields API:
https://www.zoho.com/crm/developer/docs/api/v4/field-meta.html; system duplicate-check fields per module:
https://www.zoho.com/crm/developer/docs/api/v4/upsert-records.html; Appointments__s / Services__s exist from
v3 on (https://www.zoho.com/crm/developer/docs/api/v3/change-log.html).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from target_zoho_crm.errors import ConfigError, UnknownStreamError, UnmatchedStreamError
from target_zoho_crm.load.keys import check_stream_keys
from target_zoho_crm.names import normalize, stream_name_forms
from target_zoho_crm.run import connect_client
from target_zoho_crm.zoho.metadata import ModuleCatalog
from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.metadata import Catalog as EmulatorCatalog

COMMON = {
    "leads": "Leads",
    "Leads": "Leads",
    "public-leads": "Leads",
    "public.contacts": "Contacts",
    "dbo.contacts": "Contacts",
    "crm-Contacts": "Contacts",
    "Account": "Accounts",
    "CASES": "Cases",
    "SalesOrders": "Sales_Orders",
    "sales_orders": "Sales_Orders",
    "sales-order": "Sales_Orders",
    "price_books": "Price_Books",
    "Price Books": "Price_Books",
    "PurchaseOrders": "Purchase_Orders",
    "invoice": "Invoices",
    "vendors": "Vendors",
    "solution": "Solutions",
    "campaigns": "Campaigns",
    "products": "Products",
    "deals": "Deals",
    "quotes": "Quotes",
    "vehicles": "Vehicles",
    "public-vehicle": "Vehicles",
}
V3_PLUS = {
    "Appointments": "Appointments__s",
    "appointment": "Appointments__s",
    "services": "Services__s",
    "appointments_rescheduled_history": "Appointments_Rescheduled_History__s",
}


def _catalog(target_config: dict[str, Any], version: str) -> ModuleCatalog:
    client = connect_client({**target_config, "api_version": version})
    return ModuleCatalog(client, version)


def test_name_normalisation_rules() -> None:
    assert normalize("Sales_Orders") == normalize("SalesOrders") == normalize("sales-orders") == "salesorders"
    assert normalize("Appointments__s") == "appointments"
    assert stream_name_forms("public-leads") == ["public-leads", "leads"]
    assert stream_name_forms("db.public.price_books") == ["db.public.price_books", "price_books"]
    assert stream_name_forms("dbo_contacts") == ["dbo_contacts"]  # an underscore is no schema prefix


@pytest.mark.parametrize("version", ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"])
def test_resolution_table_per_version(emulator: Any, target_config: dict[str, Any], version: str) -> None:
    catalog = _catalog(target_config, version)
    v3_plus = version not in ("v2", "v2.1")
    table = {**COMMON, **(V3_PLUS if v3_plus else {})}
    resolved = {stream: catalog.resolve(stream, None).api_name for stream in table}
    assert resolved == table
    names = catalog.module_names()
    assert "Leads" in names and "Quoted_Items" not in names  # subform modules are not targets
    assert ("Appointments__s" in names) is v3_plus


def test_v2_has_no_appointments_and_says_what_it_has(emulator: Any, target_config: dict[str, Any]) -> None:
    catalog = _catalog(target_config, "v2")
    with pytest.raises(UnknownStreamError) as info:
        catalog.resolve("appointments", None)
    assert "API v2" in str(info.value) and "streams.appointments.module" in str(info.value)


def test_unknown_stream_lists_the_closest_modules(emulator: Any, target_config: dict[str, Any]) -> None:
    catalog = _catalog(target_config, "v4")
    with pytest.raises(UnknownStreamError) as info:
        catalog.resolve("lead_sauce", None)
    assert info.value.candidates[0] == "Leads" and "Did you mean: Leads" in str(info.value)
    with pytest.raises(UnknownStreamError) as info:
        catalog.resolve("public-contactz", None)
    assert "Contacts" in info.value.candidates
    with pytest.raises(UnknownStreamError):
        catalog.resolve("quoted_items", None)  # a subform module: not creatable through the API


@pytest.mark.parametrize(
    "stream", ["user_accounts", "customer_leads", "support_cases", "dbo_contacts", "leads_archive", "lead_x"]
)
def test_matching_is_strict_no_suffix_or_substring_matches_a_module(
    emulator: Any, target_config: dict[str, Any], stream: str
) -> None:
    """Only the API name or a label, ignoring case and separators, after a schema prefix: a login table
    `user_accounts` must never land in Accounts."""
    catalog = _catalog(target_config, "v4")
    with pytest.raises(UnmatchedStreamError, match="matches no Zoho CRM module"):
        catalog.resolve(stream, None)


def test_suggestions_are_real_neighbours_not_noise(emulator: Any, target_config: dict[str, Any]) -> None:
    catalog = _catalog(target_config, "v4")
    with pytest.raises(UnmatchedStreamError) as info:
        catalog.resolve("customers", None)
    assert not {"Purchase_Orders", "Vehicles", "Cases"} & set(info.value.candidates)
    assert "Did you mean" not in str(info.value) and "Modules: Accounts" in str(info.value)
    with pytest.raises(UnmatchedStreamError) as info:
        catalog.resolve("public-contatcs", None)
    assert info.value.candidates[0] == "Contacts"


def test_explicit_module_wins_and_is_checked(emulator: Any, target_config: dict[str, Any]) -> None:
    catalog = _catalog(target_config, "v4")
    assert catalog.resolve("people", "Contacts").api_name == "Contacts"
    assert catalog.resolve("people", "contacts").api_name == "Contacts"
    with pytest.raises(UnknownStreamError, match="does not accept records"):
        catalog.resolve("items", "Quoted_Items")
    with pytest.raises(UnknownStreamError, match="not a module of this org"):
        catalog.resolve("people", "Kontakts")


def test_module_info_fields_and_duplicate_keys(emulator: Any, target_config: dict[str, Any]) -> None:
    catalog = _catalog(target_config, "v4")
    leads = catalog.resolve("leads", None)
    assert leads.system_duplicate_fields == ["Email"]
    assert leads.fields["Email"].data_type == "email"
    assert "Last_Name" in leads.mandatory_fields
    assert catalog.module("Accounts").system_duplicate_fields == ["Account_Name"]
    vehicles = catalog.module("Vehicles")
    assert vehicles.generated_type == "custom" and vehicles.system_duplicate_fields == ["Name"]
    assert "External_Vehicle_ID" in vehicles.external_fields and "VIN" in vehicles.unique_fields
    assert catalog.module("Quotes").line_items_field == "Quoted_Items"
    assert _catalog(target_config, "v2").module("Quotes").line_items_field == "Product_Details"


def test_metadata_is_fetched_once_even_from_many_threads(
    emulator: Any, target_config: dict[str, Any]
) -> None:
    catalog = _catalog(target_config, "v4")
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        catalog.resolve("contacts", None)
        catalog.resolve("vehicles", None)  # a custom module: found in the module list
        catalog.module("Contacts")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    catalog.resolve("leads", None)
    paths = [c["path"] for c in emulator.calls]
    assert sum(1 for p in paths if p.endswith("/settings/modules")) == 1
    assert sum(1 for p in paths if "/settings/fields" in p) == 3  # Contacts, Vehicles, Leads


def test_a_standard_module_costs_one_metadata_credit(emulator: Any, target_config: dict[str, Any]) -> None:
    """Zoho never renames a standard module's API name, and its duplicate-check fields are known: its
    fields alone describe it, so the module list (another credit, api-limits.html) is not read."""
    catalog = _catalog(target_config, "v4")
    leads = catalog.resolve("leads", None)
    orders = catalog.resolve("orders", "sales_orders")
    assert (leads.api_name, leads.system_duplicate_fields, leads.generated_type) == (
        "Leads",
        ["Email"],
        "default",
    )
    assert orders.api_name == "Sales_Orders" and orders.line_items_field == "Ordered_Items"
    assert catalog.module("Accounts").system_duplicate_fields == ["Account_Name"]  # a lookup's module
    paths = [c["path"] for c in emulator.calls]
    assert not any(p.endswith("/settings/modules") for p in paths)
    assert sum(1 for p in paths if "/settings/fields" in p) == 3
    assert emulator.credits_used == 3


def test_a_standard_module_the_org_lacks_is_explained_from_the_module_list(
    target_config: dict[str, Any], tmp_path: Path
) -> None:
    """An org without Solutions answers its fields with INVALID_MODULE (400): then the module list is read
    to say which modules there are, as for any unknown stream."""
    modules = [m for m in EmulatorCatalog.builtin("v4").modules() if m["api_name"] != "Solutions"]
    exported = tmp_path / "modules.json"
    exported.write_text(json.dumps({"modules": modules}))
    with ZohoEmulator(modules_json=str(exported)) as zoho:
        config = {**target_config, "accounts_url": zoho.url, "api_url": zoho.url, "upload_url": zoho.url}
        catalog = _catalog(config, "v4")
        with pytest.raises(UnknownStreamError, match="matches no Zoho CRM module") as info:
            catalog.resolve("solutions", None)
        assert "Solutions" not in info.value.candidates
        with pytest.raises(UnknownStreamError, match="not a module of this org"):
            catalog.resolve("kb", "Solutions")
        assert catalog.resolve("leads", None).api_name == "Leads"
        paths = [c["path"] for c in zoho.calls]
        assert sum(1 for p in paths if p.endswith("/settings/modules")) == 1


def test_stream_keys_are_checked_against_the_module(emulator: Any, target_config: dict[str, Any]) -> None:
    """Only system duplicate-check, unique and External ID fields may key an upsert (upsert page)."""
    catalog = _catalog(target_config, "v4")
    vehicles = catalog.module("Vehicles")
    assert check_stream_keys(vehicles, ["vin", "name"], "external_vehicle_id") == (
        ["VIN", "Name"],
        "External_Vehicle_ID",
    )
    assert check_stream_keys(catalog.module("Leads"), None, None) == (None, None)
    with pytest.raises(ConfigError, match="use one of: Email"):
        check_stream_keys(catalog.module("Leads"), ["Last_Name"], None)
    with pytest.raises(ConfigError, match="External_Vehicle_ID"):
        check_stream_keys(vehicles, None, "VIN")
