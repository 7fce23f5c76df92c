"""Property → field API name mapping.

Zoho accepts only field API names in record bodies (insert-records page,
https://www.zoho.com/crm/developer/docs/api/v4/insert-records.html) and marks fields it will not write as
`read_only` / `field_read_only` or `operation_type.api_create/api_update = false` in the fields metadata
(https://www.zoho.com/crm/developer/docs/api/v4/field-meta.html).
"""

from __future__ import annotations

from typing import Any

import pytest

from target_zoho_crm.errors import FieldMapError
from target_zoho_crm.model import FieldMeta, ModuleInfo
from target_zoho_crm.names import match_name
from target_zoho_crm.run import connect_client
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.zoho.metadata import ModuleCatalog


def _field(api_name: str, data_type: str = "text", label: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "api_name": api_name,
        "data_type": data_type,
        "field_label": label or api_name.replace("_", " "),
        **extra,
    }


LEADS_FIELDS = [
    _field("First_Name"),
    _field("Last_Name", system_mandatory=True),
    _field("Email", "email"),
    _field("Company"),
    _field("Lead_Source", "picklist"),
    _field("Account_Name", "lookup", lookup={"module": {"api_name": "Accounts"}}),
    _field("No_of_Employees", "integer", label="No. of Employees"),
    _field("Full_Name", read_only=True),
    _field("Created_Time", "datetime", read_only=True),
    _field("Formula_Score", "formula", operation_type={"api_create": False, "api_update": False}),
    _field("Lead_Status__c", "picklist", label="Qualification"),
    _field("id", "bigint", read_only=True),
]


def _module(fields: list[dict[str, Any]], api_name: str = "Leads") -> ModuleInfo:
    return ModuleInfo(api_name=api_name, fields={f["api_name"]: FieldMeta.from_zoho(f) for f in fields})


def _props(*names: str) -> dict[str, Any]:
    return {n: {"type": ["string", "null"]} for n in names}


def test_forgiving_match_case_separators_camelcase_and_labels() -> None:
    props = _props("first_name", "LAST-NAME", "email", "accountName", "no_of_employees", "qualification")
    mapper = FieldMapper(_module(LEADS_FIELDS), props, {})
    assert {p: m.api_name for p, m in mapper.mapping.items()} == {
        "first_name": "First_Name",
        "LAST-NAME": "Last_Name",
        "email": "Email",
        "accountName": "Account_Name",
        "no_of_employees": "No_of_Employees",
        "qualification": "Lead_Status__c",  # by field label
    }
    assert list(mapper.mapping) == list(props)  # schema order kept
    assert mapper.ignored == {}


def test_field_map_wins_and_can_exclude() -> None:
    props = _props("mail", "email", "company_name", "source")
    mapper = FieldMapper(
        _module(LEADS_FIELDS),
        props,
        {"mail": "Email", "company_name": "company", "source": "", "nope": "Email"},
    )
    assert mapper.mapping["mail"].api_name == "Email"
    assert mapper.mapping["company_name"].api_name == "Company"  # forgiving on the target side too
    assert "already fed by property 'mail'" in mapper.ignored["email"]
    assert mapper.ignored["source"] == "excluded by field_map"
    assert mapper.unused_field_map == ["nope"]
    with pytest.raises(FieldMapError, match="Not_A_Field"):
        FieldMapper(_module(LEADS_FIELDS), props, {"mail": "Not_A_Field"})


def test_unknown_and_read_only_properties_are_left_out_with_a_reason() -> None:
    props = _props(
        "Email", "favourite_colour", "full_name", "created_time", "formula_score", "_sdc_batched_at"
    )
    mapper = FieldMapper(_module(LEADS_FIELDS), props, {})
    assert list(mapper.mapping) == ["Email"]
    assert mapper.ignored["favourite_colour"] == "no field of Leads matches"
    assert mapper.ignored["full_name"] == "field Full_Name is read-only"
    assert mapper.ignored["created_time"] == "field Created_Time is read-only"
    assert mapper.ignored["formula_score"] == "field Formula_Score is read-only"  # operation_type
    assert mapper.ignored["_sdc_batched_at"] == "Singer metadata column"
    assert "favourite_colour (no field of Leads matches)" in mapper.describe_ignored()


def test_exact_api_name_beats_a_loose_duplicate_and_id_stays_mappable() -> None:
    mapper = FieldMapper(_module(LEADS_FIELDS), _props("email", "Email", "ID"), {})
    assert mapper.mapping["Email"].api_name == "Email"
    assert "email" in mapper.ignored
    assert mapper.mapping["ID"].api_name == "id" and not mapper.mapping["ID"].read_only


def test_line_items_and_subforms_map_by_name_and_alias() -> None:
    quotes = _module(
        [
            _field("Subject", system_mandatory=True),
            _field("Quoted_Items", "subform", subform={"module": {"api_name": "Quoted_Items"}}),
            _field("Team_Members", "subform", subform={"module": {"api_name": "Team_Members"}}),
        ],
        "Quotes",
    )
    mapper = FieldMapper(quotes, _props("subject", "line_items", "team-members"), {})
    assert mapper.mapping["line_items"].api_name == "Quoted_Items"
    assert mapper.mapping["team-members"].subform_module == "Team_Members"
    v2 = _module([_field("Subject"), _field("Product_Details", "subform")], "Quotes")
    assert (
        FieldMapper(v2, _props("product_details"), {}).mapping["product_details"].api_name
        == "Product_Details"
    )
    # Row keys of a subform / line item match the same way (used by the converter).
    assert match_name("list_price", ["Product_Name", "Quantity", "List_Price"]) == "List_Price"
    assert match_name("product", ["product", "quantity", "list_price"]) == "product"
    assert match_name("qty", ["Quantity"]) is None


def test_mapping_against_the_emulators_metadata(emulator: Any, target_config: dict[str, Any]) -> None:
    """Real `/settings/fields` of the emulator: a tap's snake_case columns all land on Zoho fields."""
    client = connect_client(target_config)
    catalog = ModuleCatalog(client, "v4")
    contacts = catalog.resolve("contacts", None)
    props = _props(
        "first_name", "last_name", "email", "account_name", "mailing_city", "created_time", "shoe_size"
    )
    mapper = FieldMapper(contacts, props, {})
    assert {p: m.api_name for p, m in mapper.mapping.items()} == {
        "first_name": "First_Name",
        "last_name": "Last_Name",
        "email": "Email",
        "account_name": "Account_Name",
        "mailing_city": "Mailing_City",
    }
    assert mapper.mapping["account_name"].lookup_module == "Accounts"
    assert set(mapper.ignored) == {"created_time", "shoe_size"}
    assert "read-only" in mapper.ignored["created_time"]


def test_a_lookups_related_module_is_read_in_every_versions_shape() -> None:
    """v2.1 and later name the related module as an object; v2 (and org exports made with it) as a
    plain name. Both must resolve, or lookups from a v2 export would never be resolved."""
    base = {"api_name": "Account_Name", "data_type": "lookup", "field_label": "Account Name"}
    as_object = FieldMeta.from_zoho({**base, "lookup": {"module": {"api_name": "Accounts", "id": "1"}}})
    as_name = FieldMeta.from_zoho({**base, "lookup": {"module": "Accounts", "api_name": "Account_Name"}})
    empty = FieldMeta.from_zoho({**base, "lookup": {}})
    assert (as_object.lookup_module, as_name.lookup_module, empty.lookup_module) == (
        "Accounts",
        "Accounts",
        None,
    )
