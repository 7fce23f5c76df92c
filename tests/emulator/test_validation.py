"""Per-record validation, as Zoho does it: types, lengths, picklists, mandatory fields, in that order.

Follows insert-records.html "Possible Errors" and field-meta.html
(https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html,
https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html) and reference §2.8 / §5.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from zoho_crm_emulator import ZohoEmulator


def first_error(api: Any, module: str, record: dict[str, Any]) -> dict[str, Any]:
    resp = api.post(module, json={"data": [record]})
    assert resp.status_code == 400, resp.text
    result: dict[str, Any] = resp.json()["data"][0]
    return result


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("No_of_Employees", "many", "integer"),
        ("No_of_Employees", 2.5, "integer"),
        ("Lead_Score", "12a", "bigint"),
        ("Annual_Revenue", "lots", "double"),
        ("Email_Opt_Out", "yes", "boolean"),
        ("Last_Name", {"a": 1}, "text"),
        ("Interests", "Analytics", "jsonarray"),
        ("Owner", ["x"], "jsonobject"),
    ],
)
def test_wrong_type_is_invalid_data_with_expected_type(api, field, value, expected):
    """INVALID_DATA with `expected_data_type`, `api_name` and `json_path` (reference §2.8 example)."""
    err = first_error(api, "Leads", {"Last_Name": "X", field: value})
    assert err["code"] == "INVALID_DATA" and err["message"] == "invalid data"
    assert err["details"] == {
        "expected_data_type": expected,
        "api_name": field,
        "json_path": f"$.data[0].{field}",
    }


def test_accepted_formats_are_stored_as_zoho_stores_them(api, zoho):
    """Numbers as numbers, bigint as string, dates `yyyy-MM-dd`, ISO datetimes with offset (reference §5)."""
    rec = {
        "Last_Name": "X",
        "No_of_Employees": "25",
        "Lead_Score": 12345678901,
        "Annual_Revenue": 2500.5,
        "Email_Opt_Out": True,
        "Interests": ["Analytics"],
        "Description": "line 1\nline 2",
        "Unknown_Field": "ignored",
        "Created_Time": "2001-01-01T00:00:00+00:00",
    }
    assert api.post("Leads", json={"data": [rec]}).status_code == 201
    stored = zoho.records("Leads")[0]
    assert stored["No_of_Employees"] == 25 and stored["Lead_Score"] == "12345678901"
    assert stored["Annual_Revenue"] == 2500.5 and stored["Interests"] == ["Analytics"]
    assert "Unknown_Field" not in stored and stored["Created_Time"] != rec["Created_Time"]


@pytest.mark.parametrize(
    ("module", "field", "bad"),
    [
        ("Deals", "Closing_Date", "2024-02-30"),
        ("Deals", "Closing_Date", "02/01/2024"),
        ("Appointments__s", "Appointment_Start_Time", "2024-01-15 10:00"),
    ],
)
def test_dates_and_datetimes(api, module, field, bad):
    """date `yyyy-MM-dd`, datetime ISO 8601 `yyyy-MM-ddTHH:mm:ss±HH:mm` (reference §5)."""
    if module == "Appointments__s" and api.version in ("v2", "v2.1"):
        pytest.skip("Appointments__s is served from v3 (reference §12)")
    resp = api.post(module, json={"data": [{field: bad}]})
    err = resp.json()["data"][0]
    assert err["code"] == "INVALID_DATA" and err["details"]["api_name"] == field


def test_invalid_email_names_the_expected_type(api):
    """An email that fails Zoho's email pattern → INVALID_DATA with `expected_data_type: email`,
    the detail Zoho gives for a value of the wrong form (insert-records.html "possible errors":
    `INVALID_DATA` details carry `expected_data_type`); the target's converter reports the same.
    """
    err = first_error(api, "Leads", {"Last_Name": "X", "Email": "not-an-email"})
    assert err["details"] == {
        "expected_data_type": "email",
        "api_name": "Email",
        "json_path": "$.data[0].Email",
    }


def test_too_long_is_invalid_data_with_maximum_length(api):
    """A value longer than the field's `length` → INVALID_DATA with `maximum_length` (insert-records.html)."""
    err = first_error(api, "Leads", {"Last_Name": "x" * 81})
    assert err["code"] == "INVALID_DATA"
    assert err["details"] == {
        "maximum_length": 80,
        "api_name": "Last_Name",
        "json_path": "$.data[0].Last_Name",
    }
    assert api.post("Leads", json={"data": [{"Last_Name": "x" * 80}]}).status_code == 201


def test_mandatory_on_insert_and_on_emptying(api, zoho):
    """System-mandatory fields must be present on insert and cannot be emptied by an update."""
    err = first_error(api, "Deals", {"Deal_Name": "Big deal"})
    assert err == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Stage", "json_path": "$.data[0].Stage"},
        "message": "required field not found",
        "status": "error",
    }
    rid = zoho.add_record("Leads", {"Last_Name": "Kept"})
    resp = api.put("Leads", json={"data": [{"id": rid, "Last_Name": ""}]})
    assert resp.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert api.put("Leads", json={"data": [{"id": rid, "City": "Pune"}]}).status_code == 200


def test_inventory_line_items_are_mandatory_and_products_must_exist(api, zoho):
    """Quotes need their line items whose products exist (insert-records.html, inventory sample):
    `Product_Details` rows of `product` / `quantity` in v2, the `Quoted_Items` subform from v2.1."""
    items, product_key, quantity_key = (
        ("Product_Details", "product", "quantity")
        if api.version == "v2"
        else ("Quoted_Items", "Product_Name", "Quantity")
    )
    err = first_error(api, "Quotes", {"Subject": "Q1"})
    assert err["code"] == "MANDATORY_NOT_FOUND" and err["details"]["api_name"] == items
    product = zoho.add_record("Products", {"Product_Name": "Widget"})
    row = {product_key: {"id": product}, quantity_key: 2}
    ok = api.post("Quotes", json={"data": [{"Subject": "Q2", items: [row]}]})
    assert ok.status_code == 201, ok.text
    missing = {product_key: {"id": "5725767999999999999"}, quantity_key: 1}
    bad = first_error(api, "Quotes", {"Subject": "Q3", items: [missing]})
    assert (
        bad["code"] == "INVALID_DATA" and bad["details"]["json_path"] == f"$.data[0].{items}[0].{product_key}"
    )


def test_checks_run_in_zoho_order_and_json_path_indexes_the_record(api):
    """Type errors are reported before mandatory ones; `json_path` carries the record's index."""
    resp = api.post(
        "Leads",
        json={
            "data": [
                {"Last_Name": "ok"},
                {"No_of_Employees": "x"},
                {"Last_Name": "y" * 100, "No_of_Employees": "x"},
            ]
        },
    )
    assert resp.status_code == 207
    _, second, third = resp.json()["data"]
    assert second["details"]["json_path"] == "$.data[1].No_of_Employees"  # type before mandatory
    assert third["details"]["json_path"] == "$.data[2].No_of_Employees"  # type before length


def test_picklists_accept_new_values_unless_restricted(tmp_path, api_for):
    """Picklists accept values not in the list (field-meta.html); a field whose metadata marks
    `restricted_picklist: true` (emulator extension, see README) rejects them. Uses the `fields_dir`
    override with a user's own exported fields JSON."""
    fields = [
        {"api_name": "Last_Name", "data_type": "text", "length": 80, "system_mandatory": True},
        {"api_name": "Email", "data_type": "email", "length": 100},
        {"api_name": "Lead_Source", "data_type": "picklist", "pick_list_values": [{"actual_value": "Web"}]},
        {
            "api_name": "Rating",
            "data_type": "picklist",
            "restricted_picklist": True,
            "pick_list_values": [{"actual_value": "Hot"}, {"actual_value": "Cold"}],
        },
    ]
    (tmp_path / "Leads.json").write_text(json.dumps({"fields": fields}))
    with ZohoEmulator(fields_dir=str(tmp_path)) as zoho:
        api = api_for(zoho)
        assert (
            api.post(
                "Leads", json={"data": [{"Last_Name": "a", "Lead_Source": "Brand new", "Rating": "Hot"}]}
            ).status_code
            == 201
        )
        err = api.post("Leads", json={"data": [{"Last_Name": "b", "Rating": "Lukewarm"}]}).json()["data"][0]
        assert err["code"] == "INVALID_DATA" and err["details"]["api_name"] == "Rating"
        assert (
            api.get("settings/fields", params={"module": "Leads"}).json()["fields"][3]["api_name"] == "Rating"
        )


def test_multiple_unique_collisions_are_multiple_or_multi_errors(api, zoho):
    """Duplicates in several unique fields → MULTIPLE_OR_MULTI_ERRORS with `errors` (reference §2.8)."""
    zoho.add_record("Vehicles", {"Name": "A", "VIN": "V1"})
    err = first_error(api, "Vehicles", {"Name": "A", "VIN": "V1"})
    assert err["code"] == "MULTIPLE_OR_MULTI_ERRORS"
    assert [e["details"]["api_name"] for e in err["details"]["errors"]] == ["Name", "VIN"]


def test_v2_line_items_use_product_details(zoho, api_for):
    """v2 inventory line items are `Product_Details` rows with `product` (reference §2.9; v2
    insert-records.html, https://www.zoho.com/crm/developer/docs/api/v2/insert-records.html)."""
    api = api_for(zoho, "v2")
    product = zoho.add_record("Products", {"Product_Name": "Widget"})
    ok = api.post(
        "Quotes",
        json={"data": [{"Subject": "Q", "Product_Details": [{"product": {"id": product}, "quantity": 1}]}]},
    )
    assert ok.status_code == 201, ok.text
    assert zoho.records("Quotes")[0]["Product_Details"][0]["product"] == {"name": "Widget", "id": product}
    err = api.post(
        "Quotes", json={"data": [{"Subject": "Q", "Product_Details": {"product": {"id": product}}}]}
    )
    assert err.json()["data"][0]["details"]["expected_data_type"] == "jsonarray"
