"""RecordConverter: every Zoho data type, local validation with Zoho's error shapes, line items per version.

Pure unit tests (no HTTP): field metadata is written in Zoho's `/settings/fields` shape
(https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html) and parsed by `FieldMeta.from_zoho`;
expected values follow the "Sample Attributes" of
https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html and the errors its "Possible Errors".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_zoho_crm.model import USERS, FieldMeta, LookupRef, ModuleInfo, ZohoError
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.transform.rows import LINE_ITEM_KEYS_V2, LINE_ITEM_KEYS_V21

JSON_TYPES = {
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "boolean": "boolean",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "multiselectlookup": "jsonarray",
    "subform": "jsonarray",
}


def zfield(api_name: str, data_type: str = "text", **extra: Any) -> dict[str, Any]:
    """One element of Zoho's `{"fields": [...]}` answer."""
    item: dict[str, Any] = {
        "api_name": api_name,
        "data_type": data_type,
        "json_type": JSON_TYPES.get(data_type, "string"),
        "length": extra.pop("length", 255 if data_type == "text" else None),
        "system_mandatory": extra.pop("mandatory", False),
        "read_only": False,
        "unique": {} if extra.pop("unique", False) else None,
        "external": None,
        "pick_list_values": [
            {"display_value": v, "actual_value": v, "type": "used"} for v in extra.pop("picklist", [])
        ],
        "field_label": api_name.replace("_", " "),
    }
    lookup = extra.pop("lookup", None)
    item["lookup"] = {"module": {"api_name": lookup}} if lookup else {}
    item.update(extra)
    return item


def module(name: str, fields: list[dict[str, Any]], dup: list[str] | None = None) -> ModuleInfo:
    metas = [FieldMeta.from_zoho(f) for f in fields]
    return ModuleInfo(
        api_name=name,
        singular=name[:-1],
        plural=name,
        fields={m.api_name: m for m in metas},
        system_duplicate_fields=dup or [],
    )


def converter(
    mod: ModuleInfo, *, operation: str = "insert", tz: str = "UTC", version: str = "v4"
) -> RecordConverter:
    mapper = FieldMapper(mod, {name: {} for name in mod.fields}, {})
    return RecordConverter(mod, mapper, timezone=tz, operation=operation, api_version=version)


LEADS = module(
    "Leads",
    [
        zfield("Last_Name", length=80, mandatory=True),
        zfield("Company", length=100),
        zfield("Email", "email", length=100),
        zfield("Phone", "phone", length=30),
        zfield("Website", "website", length=255),
        zfield("Description", "textarea", length=None, textarea={"type": "small"}),
        zfield("Lead_Source", "picklist", length=120, picklist=["-None-", "Advertisement", "Web Download"]),
        zfield("Rating", "picklist", picklist=["Hot", "Warm", "Cold"], restricted_picklist=True),
        zfield("Interests", "multiselectpicklist", picklist=["Analytics", "Big data", "CRM"]),
        zfield("Regions", "multiselectpicklist", picklist=["EMEA", "APAC"], restricted_picklist=True),
        zfield("Email_Opt_Out", "boolean"),
        zfield("No_of_Employees", "integer", length=9),
        zfield("Annual_Revenue", "currency", length=16, decimal_place=2),
        zfield("Score", "double", length=16, decimal_place=3),
        zfield("Probability", "percent", length=5, decimal_place=None),
        zfield("Long_Number", "bigint", length=18),
        zfield("Date_of_Birth", "date"),
        zfield("Follow_Up", "datetime"),
        zfield("Owner", "ownerlookup"),
    ],
    dup=["Email"],
)


def one(mod: ModuleInfo, record: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], list[ZohoError]]:
    return converter(mod, **kw).convert(record)


def value_of(field: str, value: Any, **kw: Any) -> Any:
    payload, errors = one(LEADS, {"Last_Name": "Doe", field: value}, **kw)
    assert errors == [], errors
    return payload[field]


def error_of(field: str, value: Any, **kw: Any) -> dict[str, Any]:
    _payload, errors = one(LEADS, {"Last_Name": "Doe", field: value}, **kw)
    assert len(errors) == 1, errors
    return errors[0].as_dict()


def invalid(field: str, **details: Any) -> dict[str, Any]:
    return {
        "code": "INVALID_DATA",
        "message": "invalid data",
        "details": {"api_name": field, "json_path": f"$.data[0].{field}", **details},
    }


# --- dates and times --------------------------------------------------------------------------------


def test_date_is_sent_as_yyyy_mm_dd_from_every_input_shape() -> None:
    assert value_of("Date_of_Birth", date(1984, 2, 29)) == "1984-02-29"
    assert value_of("Date_of_Birth", datetime(1984, 2, 29, 0, 0)) == "1984-02-29"  # format date-time, naive
    assert value_of("Date_of_Birth", "1984-02-29") == "1984-02-29"
    assert value_of("Date_of_Birth", "1984-02-29T10:00:00+05:30") == "1984-02-29"
    assert error_of("Date_of_Birth", "02/29/1984") == invalid("Date_of_Birth", expected_data_type="date")
    assert error_of("Date_of_Birth", 19840229) == invalid("Date_of_Birth", expected_data_type="date")


def test_naive_datetime_is_read_in_the_configured_zone_with_seconds_and_offset() -> None:
    naive = datetime(2024, 7, 1, 9, 30, 15, 987654)
    assert value_of("Follow_Up", naive) == "2024-07-01T09:30:15+00:00"  # UTC by default
    assert value_of("Follow_Up", naive, tz="Europe/Paris") == "2024-07-01T09:30:15+02:00"
    assert (
        value_of("Follow_Up", datetime(2024, 1, 15, 8, 0), tz="Europe/Paris") == "2024-01-15T08:00:00+01:00"
    )
    assert value_of("Follow_Up", "2024-07-01T09:30:15", tz="Asia/Kolkata") == "2024-07-01T09:30:15+05:30"
    # A value that carries an offset keeps it, whatever the configured zone.
    aware = datetime(2024, 7, 1, 9, 30, 15, tzinfo=timezone(timedelta(hours=-7)))
    assert value_of("Follow_Up", aware, tz="Europe/Paris") == "2024-07-01T09:30:15-07:00"
    assert value_of("Follow_Up", "2024-07-01T09:30:15Z", tz="Europe/Paris") == "2024-07-01T09:30:15+00:00"
    assert value_of("Follow_Up", date(2024, 7, 1), tz="Europe/Paris") == "2024-07-01T00:00:00+02:00"
    assert error_of("Follow_Up", "yesterday") == invalid("Follow_Up", expected_data_type="datetime")


def test_unknown_time_zone_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="time zone"):
        converter(LEADS, tz="Mars/Olympus_Mons")


# --- booleans and numbers ---------------------------------------------------------------------------


def test_booleans_from_strings_and_numbers() -> None:
    for raw, expected in [
        (True, True),
        ("true", True),
        ("FALSE", False),
        (1, True),
        (0, False),
        ("yes", True),
    ]:
        assert value_of("Email_Opt_Out", raw) is expected
    assert error_of("Email_Opt_Out", "maybe") == invalid("Email_Opt_Out", expected_data_type="boolean")
    assert error_of("Email_Opt_Out", 2) == invalid("Email_Opt_Out", expected_data_type="boolean")


def test_integer_accepts_integral_values_and_enforces_nine_digits() -> None:
    assert value_of("No_of_Employees", Decimal("250.0")) == 250
    assert value_of("No_of_Employees", "42") == 42
    assert value_of("No_of_Employees", 999_999_999) == 999_999_999
    assert error_of("No_of_Employees", Decimal("2.5")) == invalid(
        "No_of_Employees", expected_data_type="integer"
    )
    assert error_of("No_of_Employees", True) == invalid("No_of_Employees", expected_data_type="integer")
    assert error_of("No_of_Employees", 1_000_000_000) == invalid("No_of_Employees", maximum_length=9)


def test_bigint_is_sent_as_a_string_of_up_to_18_digits() -> None:
    assert value_of("Long_Number", 12345678901234) == "12345678901234"
    assert value_of("Long_Number", "0012345600012") == "0012345600012"  # leading zeros kept
    assert value_of("Long_Number", Decimal("-77")) == "-77"
    assert error_of("Long_Number", "1234567890123456789") == invalid("Long_Number", maximum_length=18)
    assert error_of("Long_Number", "12a") == invalid("Long_Number", expected_data_type="bigint")


def test_decimals_round_half_up_to_the_fields_decimal_places() -> None:
    assert value_of("Annual_Revenue", Decimal("1234.565")) == Decimal("1234.57")
    assert value_of("Annual_Revenue", Decimal("1234.564")) == Decimal("1234.56")
    assert value_of("Annual_Revenue", "250000.9") == Decimal("250000.90")
    assert value_of("Annual_Revenue", 10) == Decimal("10.00")
    assert value_of("Score", Decimal("0.12345")) == Decimal("0.123")
    assert value_of("Probability", Decimal("25")) == 25
    assert value_of("Probability", Decimal("12.5")) == Decimal("12.5")
    assert error_of("Annual_Revenue", "a lot") == invalid("Annual_Revenue", expected_data_type="currency")
    assert error_of("Annual_Revenue", Decimal("1e17")) == invalid("Annual_Revenue", maximum_length=16)
    assert error_of("Score", Decimal("NaN")) == invalid("Score", expected_data_type="double")


def test_decimals_keep_every_digit_the_field_allows() -> None:
    """16 integer digits and 2 places: more than a float holds (it would send 1234567890123456.8)."""
    value = value_of("Annual_Revenue", Decimal("1234567890123456.78"))
    assert isinstance(value, Decimal) and str(value) == "1234567890123456.78"
    assert str(value_of("Annual_Revenue", "1234567890123456.785")) == "1234567890123456.79"  # half up
    assert str(value_of("Annual_Revenue", 0.1)) == "0.10"  # a float's shortest repr, not its binary


# --- text, picklists, email / phone / website -------------------------------------------------------


def test_text_lengths_are_checked_with_zohos_maximum_length_error() -> None:
    assert value_of("Company", "x" * 100) == "x" * 100
    assert error_of("Company", "x" * 101) == invalid("Company", maximum_length=100)
    assert value_of("Company", 12345) == "12345"  # numbers become text
    assert value_of("Description", "line 1\nline 2") == "line 1\nline 2"
    assert error_of("Description", "y" * 2001) == invalid("Description", maximum_length=2000)


def test_json_objects_and_arrays_become_json_text_in_text_and_textarea_fields() -> None:
    """A `jsonb` column into a text field: compact JSON text, the source's key order, within length."""
    doc = {"z": 1, "a": [True, None, "é"], "n": Decimal("1.10")}
    assert value_of("Description", doc) == '{"z":1,"a":[true,null,"é"],"n":1.10}'
    assert value_of("Company", ["x", {"b": 2, "a": 1}]) == '["x",{"b":2,"a":1}]'
    assert error_of("Company", {"k": "v" * 100}) == invalid("Company", maximum_length=100)
    assert error_of("Email", {"name": "x"}) == invalid("Email", expected_data_type="email")


def test_picklist_values_are_checked_and_normalised_to_zohos_spelling() -> None:
    assert value_of("Lead_Source", "Advertisement") == "Advertisement"
    assert value_of("Lead_Source", "web download") == "Web Download"
    # Zoho keeps a value that is not an option of an ordinary picklist; a restricted one refuses it.
    assert value_of("Lead_Source", "Billboard") == "Billboard"
    assert value_of("Rating", "hot") == "Hot"
    assert error_of("Rating", "Lukewarm") == invalid("Rating", supported_values=["Hot", "Warm", "Cold"])
    assert error_of("Lead_Source", "x" * 121) == invalid("Lead_Source", maximum_length=120)


def test_multiselect_picklist_from_a_delimited_string_or_an_array() -> None:
    assert value_of("Interests", "Analytics;Big data") == ["Analytics", "Big data"]
    assert value_of("Interests", ["Analytics", "crm"]) == ["Analytics", "CRM"]
    assert value_of("Interests", "Analytics; ;Analytics") == ["Analytics"]
    assert value_of("Interests", ["Analytics", "Gardening"]) == ["Analytics", "Gardening"]
    assert value_of("Regions", "emea;APAC") == ["EMEA", "APAC"]
    assert error_of("Regions", ["EMEA", "LATAM"]) == invalid("Regions", supported_values=["EMEA", "APAC"])
    assert error_of("Interests", 3) == invalid("Interests", expected_data_type="multiselectpicklist")


def test_email_phone_and_website_are_checked_like_zoho() -> None:
    assert value_of("Email", " p.boyle@zylker.com ") == "p.boyle@zylker.com"
    assert error_of("Email", "p.boyle@zylker") == invalid("Email", expected_data_type="email")
    assert error_of("Email", "not an email") == invalid("Email", expected_data_type="email")
    assert value_of("Phone", "+1 (987) 654-321") == "+1 (987) 654-321"
    assert value_of("Phone", 5550100) == "5550100"
    assert error_of("Phone", "+1 555 0100 !!") == invalid("Phone", expected_data_type="phone")
    assert error_of("Phone", "1" * 31) == invalid("Phone", maximum_length=30)
    assert value_of("Website", "https://www.zylker.com/about?x=1") == "https://www.zylker.com/about?x=1"
    assert value_of("Website", "zylker.com") == "zylker.com"
    assert error_of("Website", "not a site") == invalid("Website", expected_data_type="website")


def test_null_and_blank_values_clear_the_field() -> None:
    assert value_of("Company", None) is None
    assert value_of("No_of_Employees", "") is None


# --- lookups and owners -----------------------------------------------------------------------------

CONTACTS = module(
    "Contacts",
    [
        zfield("Last_Name", mandatory=True),
        zfield("Email", "email", length=100),
        zfield("Account_Name", "lookup", lookup="Accounts"),
        zfield("Owner", "ownerlookup"),
        zfield(
            "Interested_Listings",
            "multiselectlookup",
            multiselectlookup={
                "linking_module": {"api_name": "Contacts_X_Listings"},
                "connected_module": {"api_name": "Listings"},
                "connectedlookup_apiname": "Interested_Listings",
                "lookup_apiname": "Contacts",
            },
        ),
    ],
    dup=["Email"],
)


def test_lookup_values_become_ids_or_references_to_resolve() -> None:
    conv = converter(CONTACTS)
    path = "$.data[0].Account_Name"
    cases = [
        ("5725767000000411001", {"id": "5725767000000411001"}),
        (5725767000000411001, {"id": "5725767000000411001"}),
        ({"id": "5725767000000411001", "name": "Zylker"}, {"id": "5725767000000411001"}),
        ("Zylker", LookupRef("Accounts", None, "Zylker", "Account_Name", path)),
        ({"name": "Zylker"}, LookupRef("Accounts", None, "Zylker", "Account_Name", path)),
        (4006381333931, LookupRef("Accounts", None, "4006381333931", "Account_Name", path)),  # not an id
        (
            {"External_Account_ID": "acc-1"},
            LookupRef("Accounts", "External_Account_ID", "acc-1", "Account_Name", path),
        ),
    ]
    for raw, expected in cases:
        payload, errors = conv.convert({"Last_Name": "Doe", "Account_Name": raw})
        assert errors == []
        assert payload["Account_Name"] == expected, raw
    _payload, errors = conv.convert({"Last_Name": "Doe", "Account_Name": ["a", "b"]})
    assert errors[0].as_dict() == invalid("Account_Name", expected_data_type="jsonobject")


def test_owner_by_user_id_or_email() -> None:
    conv = converter(CONTACTS)
    payload, _ = conv.convert({"Last_Name": "Doe", "Owner": "5725767000000411001"})
    assert payload["Owner"] == {"id": "5725767000000411001"}
    payload, _ = conv.convert({"Last_Name": "Doe", "Owner": "patricia@zylker.com"})
    assert payload["Owner"] == LookupRef(USERS, "email", "patricia@zylker.com", "Owner", "$.data[0].Owner")
    payload, _ = conv.convert({"Last_Name": "Doe", "Owner": {"email": "patricia@zylker.com"}})
    assert payload["Owner"] == LookupRef(USERS, "email", "patricia@zylker.com", "Owner", "$.data[0].Owner")


def test_multiselect_lookup_rows_use_the_connected_lookup_name() -> None:
    payload, errors = converter(CONTACTS).convert(
        {"Last_Name": "Doe", "Interested_Listings": ["5725767000000000001", "Sea View"]}
    )
    assert errors == []
    assert payload["Interested_Listings"] == [
        {"Interested_Listings": {"id": "5725767000000000001"}},
        {
            "Interested_Listings": LookupRef(
                "Listings", None, "Sea View", "Interested_Listings", "$.data[0].Interested_Listings[1]"
            )
        },
    ]


def test_subform_rows_are_converted_with_the_subform_modules_fields() -> None:
    """Subform rows are records of the subform module (insert-subforms.html): same types, nested paths."""
    visits = module(
        "Visits",
        [
            zfield("Visit_Date", "date"),
            zfield("Guests", "integer", length=3),
            zfield("Deal", "lookup", lookup="Deals"),
        ],
    )
    parent = module(
        "Contacts",
        [
            zfield("Last_Name", mandatory=True),
            zfield("Visits", "subform", subform={"module": {"api_name": "Visits"}}),
        ],
    )
    mapper = FieldMapper(parent, {"Last_Name": {}, "Visits": {}}, {})
    conv = RecordConverter(
        parent,
        mapper,
        timezone="UTC",
        operation="insert",
        api_version="v4",
        subform_modules={"Visits": visits},
    )
    payload, errors = conv.convert(
        {
            "Last_Name": "Doe",
            "Visits": [{"visit_date": "2024-05-01T10:00:00", "Guests": "2", "Deal": "Big deal"}],
        }
    )
    assert errors == []
    assert payload["Visits"] == [
        {
            "Visit_Date": "2024-05-01",
            "Guests": 2,
            "Deal": LookupRef("Deals", None, "Big deal", "Deal", "$.data[0].Visits[0].Deal"),
        }
    ]
    _p, errors = conv.convert({"Last_Name": "Doe", "Visits": [{}, {"Guests": 1000}]})
    assert errors[0].as_dict() == invalid("Visits", maximum_length=3) | {
        "details": {"api_name": "Guests", "json_path": "$.data[0].Visits[1].Guests", "maximum_length": 3}
    }


# --- mandatory fields per operation -----------------------------------------------------------------


def test_mandatory_fields_depend_on_the_operation() -> None:
    missing = {
        "code": "MANDATORY_NOT_FOUND",
        "message": "required field not found",
        "details": {"api_name": "Last_Name", "json_path": "$.data[0].Last_Name"},
    }
    record = {"Email": "a@zylker.com", "Company": "Zylker"}
    _p, errors = one(LEADS, record, operation="insert")
    assert [e.as_dict() for e in errors] == [missing]
    _p, errors = one(LEADS, {**record, "Last_Name": "  "}, operation="insert")
    assert [e.as_dict() for e in errors] == [missing]
    _p, errors = one(LEADS, record, operation="update")
    assert errors == []
    # Upsert: a record with a duplicate-check value may update an existing record: not decided here...
    conv = converter(LEADS, operation="upsert")
    payload, errors = conv.convert(record)
    assert errors == []
    # ...but the sink asks once it knows the record will insert.
    assert [e.as_dict() for e in conv.missing_mandatory(payload)] == [missing]
    # Without any key value it can only insert, so the check happens at once.
    _p, errors = conv.convert({"Company": "Zylker"})
    assert [e.as_dict() for e in errors] == [missing]


def test_every_error_of_a_record_is_reported_in_order() -> None:
    _p, errors = one(LEADS, {"Email": "nope", "No_of_Employees": "many"})
    assert [(e.code, e.field) for e in errors] == [
        ("INVALID_DATA", "Email"),
        ("INVALID_DATA", "No_of_Employees"),
        ("MANDATORY_NOT_FOUND", "Last_Name"),
    ]


# --- line items -------------------------------------------------------------------------------------


def quotes(version: str) -> ModuleInfo:
    items = "Product_Details" if version == "v2" else "Quoted_Items"
    return module(
        "Quotes",
        [
            zfield("Subject", mandatory=True),
            zfield("Account_Name", "lookup", lookup="Accounts"),
            zfield(
                items, "subform" if version != "v2" else "lineitem", subform={"module": {"api_name": items}}
            ),
        ],
        dup=["Subject"],
    )


@pytest.mark.parametrize(
    ("version", "keys"), [("v2", LINE_ITEM_KEYS_V2), ("v2.1", LINE_ITEM_KEYS_V21), ("v4", LINE_ITEM_KEYS_V21)]
)
def test_line_items_use_each_versions_key_names(version: str, keys: dict[str, str]) -> None:
    mod = quotes(version)
    field = mod.line_items_field
    assert field == ("Product_Details" if version == "v2" else "Quoted_Items")
    rows = [
        {
            "product": "5725767000000416001",
            "quantity": Decimal("2"),
            "list_price": Decimal("10.005"),
            "discount": 1,
        },
        {
            "Product_Name": {"Product_Code": "SKU-9"},
            "Quantity": 1,
            "Description": "gift",
            "Price_Book_Name": "Retail",
        },
        {"product_code": "SKU-7", "qty": "3"},
    ]
    payload, errors = converter(mod, version=version).convert({"Subject": "Q-1", field: rows})
    assert errors == []
    p, q, lp, d, desc, book = (
        keys[k] for k in ("product", "quantity", "list_price", "discount", "description", "price_book")
    )
    base = f"$.data[0].{field}"
    assert payload[field] == [
        {p: {"id": "5725767000000416001"}, q: Decimal("2.00"), lp: Decimal("10.01"), d: Decimal("1.00")},
        {
            p: LookupRef("Products", "Product_Code", "SKU-9", p, f"{base}[1].{p}"),
            q: 1.0,
            desc: "gift",
            book: LookupRef("Price_Books", None, "Retail", book, f"{base}[1].{book}"),
        },
        {p: LookupRef("Products", "Product_Code", "SKU-7", p, f"{base}[2].{p}"), q: 3.0},
    ]


def test_line_items_are_mandatory_on_insert_and_need_a_product() -> None:
    mod = quotes("v4")
    _p, errors = converter(mod).convert({"Subject": "Q-1"})
    assert [e.as_dict() for e in errors] == [
        {
            "code": "MANDATORY_NOT_FOUND",
            "message": "required field not found",
            "details": {"api_name": "Quoted_Items", "json_path": "$.data[0].Quoted_Items"},
        }
    ]
    _p, errors = converter(mod).convert({"Subject": "Q-1", "Quoted_Items": [{"Quantity": 1}]})
    assert errors[0].as_dict() == {
        "code": "MANDATORY_NOT_FOUND",
        "message": "required field not found",
        "details": {"api_name": "Product_Name", "json_path": "$.data[0].Quoted_Items[0].Product_Name"},
    }
    _p, errors = converter(mod).convert(
        {"Subject": "Q-1", "Quoted_Items": [{"Product_Name": "5725767000000416001", "Quantity": "two"}]}
    )
    assert errors[0].as_dict() == {
        "code": "INVALID_DATA",
        "message": "invalid data",
        "details": {
            "api_name": "Quantity",
            "json_path": "$.data[0].Quoted_Items[0].Quantity",
            "expected_data_type": "double",
        },
    }
    _p, errors = converter(mod, operation="update").convert({"id": "1", "Subject": "Q-1"})
    assert errors == []


# --- speed ------------------------------------------------------------------------------------------


def test_conversion_is_compiled_once_and_fast() -> None:
    conv = converter(LEADS, tz="Europe/Paris")
    record = {
        "Last_Name": "Doe",
        "Company": "Zylker",
        "Email": "doe@zylker.com",
        "Phone": "+1 555 0100",
        "Lead_Source": "Advertisement",
        "Interests": "Analytics;CRM",
        "Email_Opt_Out": "false",
        "No_of_Employees": Decimal("12"),
        "Annual_Revenue": Decimal("1234.5"),
        "Date_of_Birth": date(1990, 1, 1),
        "Follow_Up": datetime(2024, 1, 1, 12, 0),
    }
    for _ in range(20_000):  # how fast: `make bench` (no timing in tests: the cores are shared)
        payload, errors = conv.convert(record)
    assert errors == [] and payload["Follow_Up"] == "2024-01-01T12:00:00+01:00"
