"""The emulator's metadata catalog per API version, and user-supplied org schemas.

Shapes follow Zoho's metadata pages: modules (https://www.zoho.com/crm/developer/docs/api/v8/modules-api.html),
fields (https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html), layouts
(https://www.zoho.com/crm/developer/docs/api/v8/layouts-meta.html), org
(https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html); version differences follow the v3/v4
changelogs (https://www.zoho.com/crm/developer/docs/api/v4/change-log.html) and the SDK field lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from target_zoho_crm.model import FieldMeta, ModuleInfo
from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.metadata import VERSIONS, CatalogError, load_catalog

from .conftest import Api

MISSION = ["Leads", "Accounts", "Contacts", "Deals", "Campaigns", "Cases", "Solutions", "Products", "Vendors",
           "Price_Books", "Quotes", "Sales_Orders", "Purchase_Orders", "Invoices"]  # fmt: skip
V3_MODULES = ["Appointments__s", "Appointments_Rescheduled_History__s", "Services__s"]
SUBFORMS = {"Quotes": "Quoted_Items", "Sales_Orders": "Ordered_Items",
            "Purchase_Orders": "Purchase_Items", "Invoices": "Invoiced_Items"}  # fmt: skip


def _info(version: str, module: str) -> ModuleInfo:
    """The module as the target's own parser (types.FieldMeta.from_zoho) sees it."""
    cat = load_catalog(version)
    return ModuleInfo(
        api_name=module,
        fields={f["api_name"]: FieldMeta.from_zoho(f) for f in cat.fields(module)},
        system_duplicate_fields=cat.system_duplicate_fields(module),
    )


@pytest.mark.parametrize("version", ["v2", "v2.1", "v4", "v8"])
def test_modules_present_per_version(version: str) -> None:
    """v2/v2.1 have no Appointments/Services/ARH (introduced in v3); subform modules exist from v2.1."""
    names = {m["api_name"] for m in load_catalog(version).modules()}
    assert set(MISSION) <= names
    assert "Vehicles" in names
    has_v3 = version not in ("v2", "v2.1")
    assert all((m in names) == has_v3 for m in V3_MODULES)
    assert all((s in names) == (version != "v2") for s in SUBFORMS.values())


def test_module_entries_have_zoho_keys_and_version_flags() -> None:
    """Modules API: `visible` up to v4, `status` from v5; subforms are api_supported but not creatable."""
    v4 = {m["api_name"]: m for m in load_catalog("v4").modules()}
    v5 = {m["api_name"]: m for m in load_catalog("v5").modules()}
    for key in ("api_name", "module_name", "singular_label", "plural_label", "id", "api_supported", "creatable",
                "editable", "deletable", "viewable", "generated_type"):  # fmt: skip
        assert key in v4["Leads"]
    assert v4["Leads"]["visible"] is True and "status" not in v4["Leads"]
    assert v5["Leads"]["status"] == "visible" and "visible" not in v5["Leads"]
    assert v4["Vehicles"]["module_name"] == "CustomModule1" and v4["Vehicles"]["generated_type"] == "custom"
    assert v4["Price_Books"]["module_name"] == "PriceBooks"
    quoted = v4["Quoted_Items"]
    assert (quoted["generated_type"], quoted["api_supported"], quoted["creatable"]) == (
        "subform",
        True,
        False,
    )
    assert v4["Appointments_Rescheduled_History__s"]["generated_type"] == "field_tracker"


@pytest.mark.parametrize("version", VERSIONS)
def test_ids_are_19_digits_stable_and_unique(version: str) -> None:
    first, second = load_catalog(version), load_catalog(version)
    fields = [f for m in first.modules() for f in first.fields(m["api_name"])]
    ids = [f["id"] for f in fields] + [p["id"] for f in fields for p in f["pick_list_values"]]
    ids += [m["id"] for m in first.modules()] + [u["id"] for u in first.users] + [first.org["id"]]
    assert all(isinstance(i, str) and len(i) == 19 and i.isdigit() for i in ids)
    assert len(ids) == len(set(ids))
    again = [f["id"] for m in second.modules() for f in second.fields(m["api_name"])]
    assert again == ids[: len(again)]
    assert first.field("Leads", "Email")["id"] == load_catalog("v8").field("Leads", "Email")["id"]


def test_v2_line_items_are_product_details_with_lower_case_keys() -> None:
    cat = load_catalog("v2")
    for module in SUBFORMS:
        assert cat.line_items_field(module) == "Product_Details"
        assert cat.field(module, "Product_Details")["data_type"] == "lineitem"
        assert cat.field(module, SUBFORMS[module]) is None
    keys = {f["api_name"] for f in cat.line_item_fields("Quotes")}
    assert {
        "product",
        "quantity",
        "list_price",
        "Discount",
        "product_description",
        "book",
        "line_tax",
    } <= keys
    assert _info("v2", "Quotes").line_items_field == "Product_Details"


@pytest.mark.parametrize("version", ["v2.1", "v4"])
def test_later_versions_use_per_module_subforms(version: str) -> None:
    cat = load_catalog(version)
    for module, sub in SUBFORMS.items():
        assert cat.line_items_field(module) == sub
        meta = cat.field(module, sub)
        assert meta["data_type"] == "subform" and meta["system_mandatory"] is True
        assert cat.field(module, "Product_Details") is None
        assert FieldMeta.from_zoho(meta).subform_module == sub
    row = {f["api_name"]: f for f in cat.line_item_fields("Quotes")}
    assert {
        "Product_Name",
        "Quantity",
        "List_Price",
        "Discount",
        "Description",
        "Price_Book_Name",
        "Line_Tax",
    } <= set(row)
    assert FieldMeta.from_zoho(row["Product_Name"]).lookup_module == "Products"
    assert row["Product_Name"]["system_mandatory"] and row["Quantity"]["system_mandatory"]
    assert _info(version, "Purchase_Orders").line_items_field == "Purchase_Items"


def test_id_is_listed_as_a_read_only_field_from_v4() -> None:
    assert load_catalog("v2.1").field("Leads", "id") is None
    meta = load_catalog("v4").field("Leads", "id")
    assert meta is not None and meta["read_only"] is True
    assert load_catalog("v4").field("Leads", "Converted__s") is not None
    assert load_catalog("v2").field("Leads", "Converted__s") is None


def test_system_duplicate_fields_follow_the_upsert_table() -> None:
    cat = load_catalog("v4")
    expected = {"Leads": ["Email"], "Contacts": ["Email"], "Accounts": ["Account_Name"], "Deals": ["Deal_Name"],
                "Campaigns": ["Campaign_Name"], "Cases": ["Subject"], "Solutions": ["Solution_Title"],
                "Products": ["Product_Name"], "Vendors": ["Vendor_Name"], "Price_Books": ["Price_Book_Name"],
                "Quotes": ["Subject"], "Sales_Orders": ["Subject"], "Purchase_Orders": ["Subject"],
                "Invoices": ["Subject"], "Vehicles": ["Name"], "Services__s": []}  # fmt: skip
    assert {m: cat.system_duplicate_fields(m) for m in expected} == expected
    assert cat.system_duplicate_fields("Nope") == []


def test_unique_and_external_fields_parse_as_the_target_expects() -> None:
    vehicles = _info("v4", "Vehicles")
    assert vehicles.unique_fields == ["VIN"]
    assert vehicles.external_fields == ["External_Vehicle_ID"]
    assert load_catalog("v4").field("Vehicles", "External_Vehicle_ID")["external"] == {
        "show": True,
        "type": "org",
        "allow_multiple_config": False,
    }
    assert load_catalog("v4").field("Vehicles", "Name")["external"] is None
    assert _info("v4", "Contacts").external_fields == ["External_Contact_ID"]
    assert _info("v4", "Accounts").external_fields == ["External_Account_ID"]
    assert _info("v4", "Products").unique_fields == ["Product_Code"]
    assert "Name" in vehicles.mandatory_fields


@pytest.mark.parametrize(
    ("module", "field", "target"),
    [
        ("Contacts", "Account_Name", "Accounts"),
        ("Deals", "Account_Name", "Accounts"),
        ("Deals", "Contact_Name", "Contacts"),
        ("Accounts", "Parent_Account", "Accounts"),
        ("Products", "Vendor_Name", "Vendors"),
        ("Quotes", "Deal_Name", "Deals"),
        ("Sales_Orders", "Quote_Name", "Quotes"),
        ("Invoices", "Sales_Order", "Sales_Orders"),
        ("Purchase_Orders", "Vendor_Name", "Vendors"),
        ("Cases", "Account_Name", "Accounts"),
        ("Appointments__s", "Service_Name", "Services__s"),
        ("Appointments_Rescheduled_History__s", "Appointment_Name", "Appointments__s"),
        ("Vehicles", "Account", "Accounts"),
    ],
)
def test_lookups_point_at_their_modules(module: str, field: str, target: str) -> None:
    meta = FieldMeta.from_zoho(load_catalog("v4").field(module, field))
    assert (meta.data_type, meta.lookup_module) == ("lookup", target)


@pytest.mark.parametrize("version", VERSIONS)
def test_lookup_module_is_a_name_in_v2_and_v2_1_and_an_object_later(version: str) -> None:
    """field-meta.html (v2): `"lookup": {"module": "Accounts", …}`; Zoho's v2.1 SDK models
    `lookup.module` as a string too (an object there made it call `INVALID_MODULE`); v3 and later pages
    show `{"api_name", "id"}`."""
    module = load_catalog(version).field("Contacts", "Account_Name")["lookup"]["module"]
    if version in ("v2", "v2.1"):
        assert module == "Accounts"
    else:
        assert module["api_name"] == "Accounts" and module["id"].isdigit()


def test_owner_everywhere_and_read_only_system_fields() -> None:
    cat = load_catalog("v4")
    for module in [m["api_name"] for m in cat.modules() if m["generated_type"] != "subform"]:
        assert cat.field(module, "Owner")["data_type"] == "ownerlookup", module
        for name in ("Created_Time", "Modified_Time", "Created_By", "Modified_By", "id"):
            meta = FieldMeta.from_zoho(cat.field(module, name))
            assert meta.read_only, (module, name)
            assert cat.field(module, name)["operation_type"]["api_create"] is False
    assert FieldMeta.from_zoho(cat.field("Leads", "Full_Name")).read_only
    assert FieldMeta.from_zoho(cat.field("Contacts", "Full_Name")).read_only


def test_mandatory_fields_match_the_insert_page() -> None:
    mandatory = {
        "Leads": {"Last_Name"}, "Accounts": {"Account_Name"}, "Deals": {"Deal_Name", "Stage"},
        "Cases": {"Subject", "Status", "Case_Origin"}, "Purchase_Orders": {"Subject", "Vendor_Name", "Purchase_Items"},
        "Quotes": {"Subject", "Quoted_Items"}, "Vehicles": {"Name"},
    }  # fmt: skip
    for module, names in mandatory.items():
        assert set(_info("v4", module).mandatory_fields) == names, module


def test_standard_set_covers_every_data_type_a_loader_converts() -> None:
    cat = load_catalog("v4")
    types = {f["data_type"] for m in cat.modules() for f in cat.fields(m["api_name"])}
    assert {"text", "textarea", "email", "phone", "website", "picklist", "multiselectpicklist", "integer", "bigint",
            "double", "currency", "percent", "date", "datetime", "boolean", "lookup", "ownerlookup", "subform"} <= types  # fmt: skip
    assert cat.field("Accounts", "Employees")["data_type"] == "integer"
    assert cat.field("Deals", "Probability")["data_type"] == "percent"
    assert cat.field("Contacts", "Date_of_Birth")["data_type"] == "date"
    interests = FieldMeta.from_zoho(cat.field("Leads", "Interests"))
    assert interests.data_type == "multiselectpicklist" and "CRM" in interests.picklist_values
    stage = FieldMeta.from_zoho(cat.field("Deals", "Stage"))
    assert "Closed Won" in stage.picklist_values
    assert cat.field("Accounts", "Annual_Revenue")["decimal_place"] == 2
    assert cat.field("Leads", "Last_Name")["length"] == 80


def test_layout_marks_required_fields() -> None:
    (layout,) = load_catalog("v4").layouts("Leads")
    assert layout["name"] == "Standard"
    required = {f["api_name"] for s in layout["sections"] for f in s["fields"] if f["required"]}
    assert required == {"Last_Name", "Company"}
    (quote_layout,) = load_catalog("v4").layouts("Quotes")
    assert any(s["isSubformSection"] for s in quote_layout["sections"])
    assert load_catalog("v4").layouts("Nope") == []


def test_org_and_users() -> None:
    cat = load_catalog("v4")
    for key in ("id", "zgid", "domain_name", "company_name", "time_zone", "iso_code", "currency_symbol"):
        assert cat.org[key]
    active = [u for u in cat.users if u["status"] == "active"]
    assert len(active) >= 2
    assert all({"id", "full_name", "email", "role", "profile"} <= set(u) for u in cat.users)


def test_lookups_are_case_sensitive_and_unknown_versions_refused() -> None:
    cat = load_catalog("v4")
    assert cat.module("leads") is None and cat.fields("leads") == []
    with pytest.raises(CatalogError):
        load_catalog("v9")


def test_user_override_files_replace_the_schema(tmp_path: Path) -> None:
    """A user's exported /settings/modules and /settings/fields responses drive the catalog."""
    modules = {"modules": [
        {"api_name": "Leads", "module_name": "Leads", "generated_type": "default", "api_supported": True},
        {"api_name": "Shipments", "module_name": "CustomModule7", "generated_type": "custom", "api_supported": True},
    ]}  # fmt: skip
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    fields_dir = tmp_path / "fields"
    fields_dir.mkdir()
    leads_fields = [
        {"api_name": "Last_Name", "data_type": "text", "system_mandatory": True, "length": 80},
        {"api_name": "Region__c", "data_type": "picklist", "pick_list_values": [{"actual_value": "EMEA"}]},
        {"api_name": "Partner_Code", "data_type": "text", "unique": {"casesensitive": "false"}},
    ]
    (fields_dir / "Leads.json").write_text(json.dumps({"fields": leads_fields}))
    (fields_dir / "Shipments.json").write_text(
        json.dumps({"fields": [{"api_name": "Name", "data_type": "text"}]})
    )
    (fields_dir / "Parcels.json").write_text(json.dumps([{"api_name": "Name", "data_type": "text"}]))

    cat = load_catalog("v4", modules_json=tmp_path / "modules.json", fields_dir=fields_dir)
    assert [m["api_name"] for m in cat.modules()] == ["Leads", "Shipments", "Parcels"]
    assert cat.module("Contacts") is None
    assert [f["api_name"] for f in cat.fields("Leads")] == ["Last_Name", "Region__c", "Partner_Code"]
    assert cat.system_duplicate_fields("Leads") == ["Email"]
    assert cat.system_duplicate_fields("Shipments") == ["Name"]
    assert cat.system_duplicate_fields("Parcels") == ["Name"]
    leads = {f["api_name"]: FieldMeta.from_zoho(f) for f in cat.fields("Leads")}
    assert leads["Partner_Code"].unique and leads["Region__c"].picklist_values == ["EMEA"]
    required = {
        f["api_name"] for s in cat.layouts("Leads")[0]["sections"] for f in s["fields"] if f["required"]
    }
    assert required == {"Last_Name"}

    only_fields = load_catalog("v2", fields_dir=fields_dir)
    assert only_fields.module("Contacts") is not None and only_fields.field("Leads", "Email") is None


def test_unreadable_override_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "modules.json"
    bad.write_text("{not json")
    with pytest.raises(CatalogError):
        load_catalog("v4", modules_json=bad)
    with pytest.raises(CatalogError):
        load_catalog("v4", fields_dir=tmp_path / "missing")


def test_metadata_served_over_http_per_version(zoho: ZohoEmulator) -> None:
    v2, v4 = Api(zoho, "v2"), Api(zoho, "v4")
    try:
        v2_names = {m["api_name"] for m in v2.get("settings/modules").json()["modules"]}
        v4_names = {m["api_name"] for m in v4.get("settings/modules").json()["modules"]}
        assert "Services__s" in v4_names and "Services__s" not in v2_names
        v2_quote = {
            f["api_name"] for f in v2.get("settings/fields", params={"module": "Quotes"}).json()["fields"]
        }
        v4_quote = {
            f["api_name"] for f in v4.get("settings/fields", params={"module": "Quotes"}).json()["fields"]
        }
        assert "Product_Details" in v2_quote and "Quoted_Items" not in v2_quote
        assert "Quoted_Items" in v4_quote and "id" in v4_quote and "id" not in v2_quote
        assert v4.get("org").json()["org"][0]["zgid"] == load_catalog("v4").org["zgid"]
    finally:
        v2.session.close()
        v4.session.close()


def test_emulator_serves_a_user_schema(tmp_path: Path) -> None:
    """`ZohoEmulator(fields_dir=...)` serves the user's fields and validates writes against them."""
    fields_dir = tmp_path / "fields"
    fields_dir.mkdir()
    leads = [
        {
            "api_name": "Last_Name",
            "data_type": "text",
            "json_type": "string",
            "system_mandatory": True,
            "length": 80,
        },
        {"api_name": "Region", "data_type": "text", "json_type": "string", "length": 10},
    ]
    (fields_dir / "Leads.json").write_text(json.dumps({"fields": leads}))
    with ZohoEmulator(fields_dir=str(fields_dir)) as zoho:
        api = Api(zoho, "v4")
        try:
            served = api.get("settings/fields", params={"module": "Leads"}).json()["fields"]
            assert [f["api_name"] for f in served] == ["Last_Name", "Region"]
            ok = api.post("Leads", json={"data": [{"Last_Name": "A", "Region": "EMEA"}]})
            assert ok.status_code == 201
            missing = api.post("Leads", json={"data": [{"Region": "EMEA"}]})
            assert missing.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
        finally:
            api.session.close()
