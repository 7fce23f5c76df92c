"""RecordComparer: converted payloads against the rows Zoho's COQL returns, per field type.

Pure unit tests (no HTTP). Field metadata is written in Zoho's `/settings/fields` shape
(https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html) and parsed by `FieldMeta.from_zoho`;
rows follow the sample responses of
https://www.zoho.com/crm/developer/docs/api/v7/Get-Records-through-COQL-Query.html (multi-select
picklists as arrays, lookups and owners as `{"id"}` objects with `name` from v7, datetimes in the org's
offset, numbers as JSON numbers, null fields as `null`). Payloads come from the real RecordConverter.
"""

from __future__ import annotations

import json
import random
import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_zoho_crm.model import FieldMeta, LookupRef, ModuleInfo
from target_zoho_crm.transform.compare import (
    COQL_SELECT_MAX,
    FieldChange,
    RecordComparer,
    comparable,
    fields_to_read,
)
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper

ACCOUNT_ID = "554023000000238116"
OTHER_ACCOUNT_ID = "554023000000238121"
USER_ID = "554023000000235011"
OTHER_USER_ID = "554023000000235099"
LAYOUT_ID = "554023000002734009"

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
    "userlookup": "jsonobject",
    "layout": "jsonobject",
    "multiselectlookup": "jsonarray",
    "multiuserlookup": "jsonarray",
    "subform": "jsonarray",
    "fileupload": "jsonarray",
    "imageupload": "jsonarray",
}


def zfield(api_name: str, data_type: str = "text", **extra: Any) -> dict[str, Any]:
    """One element of Zoho's `{"fields": [...]}` answer."""
    picklist = extra.pop("picklist", [])
    item: dict[str, Any] = {
        "api_name": api_name,
        "data_type": data_type,
        "json_type": JSON_TYPES.get(data_type, "string"),
        "length": extra.pop("length", 255 if data_type == "text" else None),
        "system_mandatory": False,
        "read_only": False,
        "unique": None,
        "external": None,
        "pick_list_values": [
            ({"display_value": v, "actual_value": v} if isinstance(v, str) else v) | {"type": "used"}
            for v in picklist
        ],
        "field_label": api_name.replace("_", " "),
    }
    lookup = extra.pop("lookup", None)
    item["lookup"] = {"module": {"api_name": lookup}} if lookup else {}
    item.update(extra)
    return item


FIELDS = [
    zfield("Last_Name", length=80),
    zfield("Email", "email", length=100),
    zfield("Phone", "phone", length=30),
    zfield("Website", "website"),
    zfield("Description", "textarea", length=None, textarea={"type": "small"}),
    zfield("Lead_Source", "picklist", length=120, picklist=["-None-", "Advertisement", "Web Download"]),
    zfield(
        "Region",
        "picklist",
        picklist=[
            {"display_value": "East", "actual_value": "IN_East"},
            {"display_value": "West", "actual_value": "IN_West"},
        ],
    ),
    zfield("Interests", "multiselectpicklist", picklist=["Analytics", "Big data", "CRM"]),
    zfield(
        "Zones",
        "multiselectpicklist",
        picklist=[
            {"display_value": "North", "actual_value": "Z_N"},
            {"display_value": "South", "actual_value": "Z_S"},
        ],
    ),
    zfield("Email_Opt_Out", "boolean"),
    zfield("No_of_Employees", "integer", length=9),
    zfield("Annual_Revenue", "currency", length=16, decimal_place=2),
    zfield("Budget", "currency", length=16, decimal_place=None, currency={"precision": 3}),
    zfield("Score", "double", length=16, decimal_place=3),
    zfield("Ratio", "double", length=16, decimal_place=None),
    zfield("Probability", "percent", length=5, decimal_place=None),
    zfield("Long_Number", "bigint", length=18),
    zfield("Date_of_Birth", "date"),
    zfield("Follow_Up", "datetime"),
    zfield("Owner", "ownerlookup"),
    zfield("Reviewer", "userlookup"),
    zfield("Account_Name", "lookup", lookup="Accounts"),
    zfield("Layout", "layout"),
    zfield("Listings", "multiselectlookup"),
    zfield("Watchers", "multiuserlookup"),
    zfield("Contract", "fileupload"),
    zfield("Photo", "imageupload"),
    zfield("Visits", "subform", subform={"module": {"api_name": "Visits"}}),
    zfield("Tag", "text", json_type="jsonarray"),
    zfield("Hologram", "hologram"),
]
LEADS = ModuleInfo(
    api_name="Leads",
    singular="Lead",
    plural="Leads",
    fields={m.api_name: m for m in (FieldMeta.from_zoho(f) for f in FIELDS)},
    system_duplicate_fields=["Email"],
)
COMPARER = RecordComparer.for_module(LEADS, LEADS.fields.values())


def convert(record: dict[str, Any], *, tz: str = "UTC", module: ModuleInfo = LEADS) -> dict[str, Any]:
    """The payload the real converter makes of `record` (update: nothing mandatory)."""
    mapper = FieldMapper(module, {name: {} for name in record}, {})
    converter = RecordConverter(module, mapper, timezone=tz, operation="update", api_version="v7")
    payload, errors = converter.convert(record)
    assert not errors, errors
    return payload


def changes(payload: dict[str, Any], row: dict[str, Any]) -> tuple[FieldChange, ...]:
    return COMPARER.compare(payload, {"id": ACCOUNT_ID, **row})


# --- equal once normalised -------------------------------------------------------------------------

EQUAL = [
    # field, payload value, row value
    ("Date_of_Birth", "2024-01-01", "2024-01-01"),
    ("Follow_Up", "2024-01-01T10:00:00+01:00", "2024-01-01T09:00:00Z"),
    ("Follow_Up", "2024-01-01T10:00:00+01:00", "2024-01-01T01:00:00-08:00"),
    ("Follow_Up", "2024-01-01T10:00:00+01:00", "2024-01-01T14:30:00+05:30"),
    ("Follow_Up", "2024-01-01T09:00:00+00:00", "2024-01-01T09:00:00.000Z"),
    ("Annual_Revenue", 1.5, 1.50),
    ("Annual_Revenue", 1.5, "1.50"),
    ("Annual_Revenue", 1000, 1000.0),
    ("Annual_Revenue", 0.3, 0.30000000000000004),
    ("Budget", 2.125, 2.125),
    ("Score", 0.1, 0.1),
    ("Ratio", 1.5, 1.50),
    ("Probability", 25, 25.0),
    ("No_of_Employees", 5, 5.0),
    ("Long_Number", "0012345600012", "0012345600012"),
    ("Long_Number", "123456789012345678", 123456789012345678),
    ("Email_Opt_Out", True, True),
    ("Email_Opt_Out", False, False),
    ("Email_Opt_Out", None, False),
    ("Email_Opt_Out", False, None),
    ("Lead_Source", "Advertisement", "Advertisement"),
    ("Lead_Source", None, None),
    ("Lead_Source", None, "-None-"),
    ("Lead_Source", "-None-", None),
    ("Region", "IN_East", "East"),
    ("Region", "East", "East"),
    ("Region", "East", "IN_East"),
    ("Interests", ["Analytics", "CRM"], ["CRM", "Analytics"]),
    ("Interests", ["Analytics"], "Analytics"),
    ("Interests", ["Analytics", "CRM"], "CRM;Analytics"),
    ("Interests", [], None),
    ("Interests", None, []),
    ("Interests", [], []),
    ("Zones", ["Z_N", "South"], ["North", "South"]),
    ("Account_Name", {"id": ACCOUNT_ID}, {"id": ACCOUNT_ID}),
    ("Account_Name", {"id": ACCOUNT_ID}, {"id": ACCOUNT_ID, "name": "Zylker"}),
    ("Account_Name", None, None),
    ("Account_Name", None, {"id": None}),
    ("Owner", {"id": USER_ID}, {"id": USER_ID, "name": "Boyle"}),
    ("Reviewer", {"id": USER_ID}, {"name": "Boyle", "id": USER_ID}),
    ("Layout", {"id": LAYOUT_ID}, {"id": LAYOUT_ID, "name": "Standard"}),
    ("Last_Name", "Boyle", "Boyle"),
    ("Last_Name", None, None),
    ("Last_Name", None, ""),
    ("Description", "line 1\nline 2", "line 1\nline 2"),
    ("Email", "p.boyle@zylker.com", "p.boyle@zylker.com"),
    ("Phone", "+1 (987) 654-321", "+1 (987) 654-321"),
]


@pytest.mark.parametrize(("field", "new", "old"), EQUAL)
def test_equal_once_normalised_is_unchanged(field: str, new: Any, old: Any) -> None:
    assert changes({field: new}, {field: old}) == ()
    assert COMPARER.unchanged({field: new}, {field: old})


@pytest.mark.parametrize("field", ["Last_Name", "Lead_Source", "Interests", "Account_Name", "Follow_Up"])
def test_explicit_null_against_a_field_the_row_lacks_is_unchanged(field: str) -> None:
    assert changes({field: None}, {}) == ()


def test_a_property_missing_from_the_payload_changes_nothing() -> None:
    row = {"Last_Name": "Boyle", "Annual_Revenue": 99.0, "Interests": ["CRM"], "Owner": {"id": USER_ID}}
    assert changes({"Last_Name": "Boyle"}, row) == ()
    assert changes({}, row) == ()


def test_the_record_id_compares_as_an_id() -> None:
    assert (
        COMPARER.compare({"id": ACCOUNT_ID, "Last_Name": "Boyle"}, {"id": ACCOUNT_ID, "Last_Name": "Boyle"})
        == ()
    )
    assert COMPARER.compare({"id": ACCOUNT_ID}, {"id": int(ACCOUNT_ID)}) == ()


# --- real changes --------------------------------------------------------------------------------

CHANGED = [
    ("Date_of_Birth", "2024-01-02", "2024-01-01"),
    ("Date_of_Birth", "2024-01-01", None),
    ("Date_of_Birth", None, "2024-01-01"),
    ("Follow_Up", "2024-01-01T10:00:01+01:00", "2024-01-01T09:00:00Z"),
    ("Follow_Up", "2024-01-01T10:00:00+01:00", "2024-01-01T10:00:00Z"),
    ("Follow_Up", None, "2024-01-01T09:00:00Z"),
    ("Annual_Revenue", 1.51, 1.5),
    ("Annual_Revenue", 1.5, None),
    ("Annual_Revenue", None, 0),
    ("Annual_Revenue", 0, None),
    ("Budget", 2.125, 2.12),
    ("Score", 0.001, 0.002),
    ("Ratio", 1.5, 1.5000001),
    ("Probability", 25, 26),
    ("No_of_Employees", 5, 6),
    ("No_of_Employees", 0, None),
    ("Long_Number", "0012345600012", "12345600012"),
    ("Long_Number", "123", "124"),
    ("Email_Opt_Out", True, False),
    ("Email_Opt_Out", False, True),
    ("Email_Opt_Out", None, True),
    ("Email_Opt_Out", True, None),
    ("Lead_Source", "Advertisement", "Web Download"),
    ("Lead_Source", "Trade show", "Trade Show"),  # not an option: stored as given, case counts
    ("Lead_Source", None, "Advertisement"),
    ("Lead_Source", "Advertisement", None),
    ("Region", "IN_West", "East"),
    ("Region", "IN_East", "IN_West"),
    ("Interests", ["Analytics", "CRM"], ["Analytics"]),
    ("Interests", ["Analytics"], ["Analytics", "CRM"]),
    ("Interests", [], ["Analytics"]),
    ("Interests", None, ["Analytics"]),
    ("Interests", ["Analytics"], None),
    ("Interests", ["crm"], ["CRM"]),
    ("Zones", ["Z_N"], ["South"]),
    ("Account_Name", {"id": ACCOUNT_ID}, {"id": OTHER_ACCOUNT_ID, "name": "Zylker"}),
    ("Account_Name", None, {"id": ACCOUNT_ID}),
    ("Account_Name", {"id": ACCOUNT_ID}, None),
    ("Owner", {"id": USER_ID}, {"id": OTHER_USER_ID, "name": "Boyle"}),
    ("Reviewer", None, {"id": USER_ID, "name": "Boyle"}),
    ("Layout", {"id": LAYOUT_ID}, {"id": ACCOUNT_ID}),
    ("Last_Name", "Boyle", "boyle"),
    ("Last_Name", "Boyle ", "Boyle"),
    ("Last_Name", None, "Boyle"),
    ("Last_Name", "Boyle", None),
    ("Last_Name", "Boyle", ""),
    ("Description", "line 1\r\nline 2", "line 1\nline 2"),
    ("Email", "P.Boyle@zylker.com", "p.boyle@zylker.com"),
]


@pytest.mark.parametrize(("field", "new", "old"), CHANGED)
def test_a_real_change_is_reported_old_to_new(field: str, new: Any, old: Any) -> None:
    assert changes({field: new}, {field: old}) == (FieldChange(field, old, new),)
    assert not COMPARER.unchanged({field: new}, {field: old})


def test_a_change_against_a_field_the_row_lacks_is_reported() -> None:
    assert changes({"Last_Name": "Boyle"}, {}) == (FieldChange("Last_Name", None, "Boyle"),)


def test_every_changed_field_is_listed_in_payload_order() -> None:
    payload = {
        "Last_Name": "Boyle",
        "Annual_Revenue": 10.0,
        "Interests": ["CRM"],
        "Owner": {"id": USER_ID},
        "Follow_Up": "2024-01-01T10:00:00+01:00",
    }
    row = {
        "Last_Name": "Boyle",
        "Annual_Revenue": 12.5,
        "Interests": ["CRM"],
        "Owner": {"id": OTHER_USER_ID, "name": "Smith"},
        "Follow_Up": "2024-01-01T09:00:00Z",
    }
    found = changes(payload, row)
    assert found == (
        FieldChange("Annual_Revenue", 12.5, 10.0),
        FieldChange("Owner", {"id": OTHER_USER_ID, "name": "Smith"}, {"id": USER_ID}),
    )
    assert [c.as_dict() for c in found] == [
        {"field": "Annual_Revenue", "old": 12.5, "new": 10.0},
        {"field": "Owner", "old": {"id": OTHER_USER_ID, "name": "Smith"}, "new": {"id": USER_ID}},
    ]


# --- what cannot be compared counts as changed ----------------------------------------------------

NOT_COMPARED = [
    ("Listings", [{"Interested_Listings": {"id": ACCOUNT_ID}}], "multi-select lookup"),
    ("Watchers", [{"Watchers": {"id": USER_ID}}], "multi-select user lookup"),
    ("Contract", [{"File_Id__s": "2cxx2fa"}], "file upload"),
    ("Photo", [{"File_Id__s": "2cxx2fa"}], "image upload"),
    ("Visits", [{"Place": "Paris"}], "subform"),
    ("Tag", [{"name": "VIP"}], "'text'"),
    ("Hologram", "anything", "'hologram'"),
]


@pytest.mark.parametrize(("field", "value", "why"), NOT_COMPARED)
def test_a_field_that_cannot_be_compared_counts_as_changed(field: str, value: Any, why: str) -> None:
    # even when the row seems to hold the very same value, and even for an explicit null
    for new in (value, None):
        (change,) = changes({field: new}, {field: value})
        assert (change.field, change.old, change.new) == (field, value, new)
        assert change.reason and why in change.reason
        assert change.as_dict()["reason"] == change.reason


def test_line_items_are_never_compared_whatever_their_type() -> None:
    quotes = ModuleInfo(
        api_name="Quotes",
        fields={
            m.api_name: m
            for m in (
                FieldMeta.from_zoho(f)
                for f in [
                    zfield("Subject"),
                    zfield("Quoted_Items", "subform"),
                    zfield("Product_Details", "lineitem"),
                ]
            )
        },
    )
    assert quotes.line_items_field == "Product_Details"
    comparer = RecordComparer.for_module(quotes, quotes.fields.values())
    rows = [{"Product_Name": {"id": ACCOUNT_ID}, "Quantity": 1}]
    for field in ("Quoted_Items", "Product_Details"):
        (change,) = comparer.compare({field: rows}, {field: rows})
        assert change.reason and ("line items" in change.reason or "subform" in change.reason)
    # a line-items field is never compared, even when its metadata calls it something plain
    odd = ModuleInfo(api_name="Invoices", fields={"Invoiced_Items": FieldMeta("Invoiced_Items", "text")})
    (change,) = RecordComparer.for_module(odd, odd.fields.values()).compare(
        {"Invoiced_Items": "x"}, {"Invoiced_Items": "x"}
    )
    assert change.reason == "line items are not compared"


def test_an_unresolved_lookup_counts_as_changed() -> None:
    ref = LookupRef("Accounts", None, "Zylker", "Account_Name", "$.data[0].Account_Name")
    (change,) = changes({"Account_Name": ref}, {"Account_Name": {"id": ACCOUNT_ID, "name": "Zylker"}})
    assert change.new is ref and change.reason
    (change,) = changes({"Account_Name": {"name": "Zylker"}}, {"Account_Name": {"id": ACCOUNT_ID}})
    assert change.reason


@pytest.mark.parametrize(
    ("field", "new", "old"),
    [
        ("Annual_Revenue", 1.5, {"amount": 1.5}),
        ("Annual_Revenue", 1.5, "n/a"),
        ("Annual_Revenue", 1.5, True),
        ("No_of_Employees", 5, "five"),
        ("Email_Opt_Out", True, "yes"),
        ("Date_of_Birth", "2024-01-01", "01/01/2024"),
        ("Follow_Up", "2024-01-01T09:00:00+00:00", "2024-01-01T09:00:00"),  # no offset: not an instant
        ("Follow_Up", "2024-01-01T09:00:00+00:00", 1704099600),
        ("Interests", ["CRM"], [{"name": "CRM"}]),
        ("Last_Name", "Boyle", {"name": "Boyle"}),
        ("Owner", {"id": USER_ID}, {"id": "Boyle"}),
        ("Long_Number", "12", 12.0),
    ],
)
def test_a_row_value_of_an_unexpected_shape_counts_as_changed(field: str, new: Any, old: Any) -> None:
    (change,) = changes({field: new}, {field: old})
    assert change.reason == "value of an unexpected shape"


def test_a_payload_field_the_stream_does_not_map_counts_as_changed() -> None:
    comparer = RecordComparer([LEADS.fields["Last_Name"]])
    (change,) = comparer.compare(
        {"Last_Name": "Boyle", "Email": "a@b.co"}, {"Last_Name": "Boyle", "Email": "a@b.co"}
    )
    assert change.field == "Email" and change.reason
    (change,) = comparer.compare({"$append_values": {"Interests": True}}, {})
    assert change.field == "$append_values"


# --- through the real converter --------------------------------------------------------------------


def test_converted_values_compare_with_what_zoho_returns() -> None:
    payload = convert(
        {
            "Last_Name": "Boyle",
            "Annual_Revenue": "1.50",
            "Score": "2.1",
            "Follow_Up": "2024-01-01T10:00:00",  # naive: read in the configured zone
            "Date_of_Birth": "1990-05-17T00:00:00Z",
            "Interests": "crm;Analytics",
            "Lead_Source": "advertisement",
            "Email_Opt_Out": "yes",
            "Owner": USER_ID,
            "Long_Number": 123,
            "Description": "",
        },
        tz="Europe/Paris",
    )
    row = {
        "Last_Name": "Boyle",
        "Annual_Revenue": 1.5,
        "Score": 2.1,
        "Follow_Up": "2024-01-01T01:00:00-08:00",
        "Date_of_Birth": "1990-05-17",
        "Interests": ["Analytics", "CRM"],
        "Lead_Source": "Advertisement",
        "Email_Opt_Out": True,
        "Owner": {"name": "Boyle", "id": USER_ID},
        "Long_Number": "123",
        "Description": None,
    }
    assert payload["Description"] is None and payload["Annual_Revenue"] == 1.5
    assert changes(payload, row) == ()
    row["Follow_Up"] = "2024-01-01T10:00:00Z"  # the same wall time in another zone is another instant
    assert [c.field for c in changes(payload, row)] == ["Follow_Up"]


def test_decimals_compare_at_the_fields_decimal_places() -> None:
    payload = convert({"Annual_Revenue": "10.005", "Score": 1.23449, "Budget": "7.0004"})
    # The converter keeps every digit the field allows, as Decimals (not floats).
    assert payload == {
        "Annual_Revenue": Decimal("10.01"),
        "Score": Decimal("1.234"),
        "Budget": Decimal("7.000"),
    }
    assert changes(payload, {"Annual_Revenue": 10.01, "Score": 1.234, "Budget": 7}) == ()
    assert [c.field for c in changes(payload, {"Annual_Revenue": 10.0, "Score": 1.235, "Budget": 7.001})] == [
        "Annual_Revenue",
        "Score",
        "Budget",
    ]


# --- which fields to read ----------------------------------------------------------------------------


def test_fields_to_read_names_id_then_keys_then_the_comparable_fields_once() -> None:
    names = fields_to_read(LEADS.fields.values(), keys=["Email", "Last_Name"])
    assert names[:3] == ("id", "Email", "Last_Name")
    assert len(names) == len(set(names))
    for left_out in ("Listings", "Watchers", "Contract", "Photo", "Visits", "Tag", "Hologram"):
        assert left_out not in names
    expected = [m.api_name for m in LEADS.fields.values() if comparable(m)]
    assert [n for n in names if n not in ("id", "Email", "Last_Name")] == [
        n for n in expected if n not in ("Email", "Last_Name")
    ]
    assert "Owner" in names and "Interests" in names and "Follow_Up" in names
    assert COMPARER.fields_to_read(["Email"]) == fields_to_read(LEADS.fields.values(), keys=["Email"])
    assert fields_to_read([]) == ("id",)
    assert fields_to_read([], keys=["id"]) == ("id",)


def test_fields_to_read_leaves_out_the_line_items_field() -> None:
    metas = [
        FieldMeta("Subject", "text"),
        FieldMeta("Quoted_Items", "subform"),
        FieldMeta("Grand_Total", "currency"),
    ]
    assert fields_to_read(metas, line_items_field="Quoted_Items") == ("id", "Subject", "Grand_Total")
    assert not comparable(FieldMeta("Invoiced_Items", "text"), line_items_field="Invoiced_Items")


def test_the_fields_a_stream_reads_fit_in_one_select() -> None:
    # the standard modules' mapped fields stay within one COQL select; the reader splits beyond it
    assert len(COMPARER.fields_to_read(["Email"])) <= COQL_SELECT_MAX


# --- property: a payload compares unchanged against itself as Zoho echoes it ----------------------

OFFSETS = [timedelta(hours=h, minutes=m) for h, m in ((0, 0), (-8, 0), (5, 30), (1, 0), (-3, -30), (14, 0))]
DISPLAY = {"IN_East": "East", "IN_West": "West", "Z_N": "North", "Z_S": "South"}


def zoho_echo(payload: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """The COQL row Zoho would return after storing `payload`: datetimes in the org's offset, numbers
    as JSON numbers (whole ones without `.0`), picklists by display value, multi-select arrays in
    Zoho's own order, lookups with the v7 display name, and empty values as `null`."""
    org_zone = timezone(rnd.choice(OFFSETS))
    row: dict[str, Any] = {"id": ACCOUNT_ID}
    for name, value in payload.items():
        kind = LEADS.fields[name].data_type
        if value is None or value == [] or value == "":
            empty = [] if kind == "multiselectpicklist" else "" if kind in ("text", "textarea") else None
            if rnd.random() < 0.3:
                continue  # a null field the row leaves out
            row[name] = rnd.choice([None, empty])
        elif kind == "datetime":
            moment = datetime.fromisoformat(value).astimezone(org_zone)
            row[name] = moment.isoformat(timespec="seconds").replace("+00:00", rnd.choice(["+00:00", "Z"]))
        elif kind in ("double", "currency", "percent"):
            row[name] = int(value) if float(value).is_integer() and rnd.random() < 0.5 else float(value)
        elif kind == "picklist":
            row[name] = DISPLAY.get(value, value)
        elif kind == "multiselectpicklist":
            shown = [DISPLAY.get(v, v) for v in value]
            rnd.shuffle(shown)
            row[name] = shown
        elif kind in ("lookup", "ownerlookup", "userlookup"):
            row[name] = {"name": "Boyle", **value} if rnd.random() < 0.5 else dict(value)
        else:
            row[name] = value
    return json.loads(json.dumps(row))  # through the wire, as the reader parses it


def random_text(rnd: random.Random, alphabet: str = string.ascii_letters + " éß'-") -> str:
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12))).strip() or "x"


def random_record(rnd: random.Random) -> dict[str, Any]:
    """A tap record over the comparable fields, in the many shapes taps send."""
    moment = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rnd.randint(0, 10**9))
    pick = rnd.choice
    candidates: dict[str, Any] = {
        "Last_Name": random_text(rnd),
        "Email": f"{random_text(rnd, string.ascii_lowercase)}@zylker.com",
        "Phone": f"+1 {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}",
        "Description": random_text(rnd) + "\n" + random_text(rnd),
        "Lead_Source": pick(["Advertisement", "advertisement", "Web Download", "Cold Call", "-None-", ""]),
        "Region": pick(["IN_East", "East", "west", "IN_West"]),
        "Interests": pick([["CRM"], ["crm", "Analytics"], "Big data;CRM", [], ["Quantum"]]),
        "Zones": pick([["Z_N"], ["South", "Z_N"], "north"]),
        "Email_Opt_Out": pick([True, False, "yes", "0", 1]),
        "No_of_Employees": pick([0, rnd.randint(-(10**6), 10**6), str(rnd.randint(0, 999)), 12.0]),
        "Annual_Revenue": pick(
            [rnd.uniform(-1e6, 1e6), str(round(rnd.uniform(0, 1e4), 4)), rnd.randint(0, 10**9)]
        ),
        "Budget": pick([rnd.uniform(0, 1e5), "0.0005", 3]),
        "Score": pick([rnd.uniform(-100, 100), "1.2345", 7]),
        "Ratio": pick([rnd.uniform(0, 1), 0.1, "2.50", 3]),
        "Probability": pick([rnd.randint(0, 100), 12.5, "99.9"]),
        "Long_Number": pick([rnd.randint(0, 10**17), "000123", str(rnd.randint(0, 10**17))]),
        "Date_of_Birth": pick([moment.date().isoformat(), moment.isoformat()]),
        "Follow_Up": pick(
            [
                moment.isoformat(),
                moment.astimezone(timezone(pick(OFFSETS))).isoformat(),
                moment.replace(tzinfo=None).isoformat(),
                moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
            ]
        ),
        "Owner": pick([USER_ID, {"id": OTHER_USER_ID}, int(USER_ID)]),
        "Reviewer": {"id": USER_ID},
        "Account_Name": pick([ACCOUNT_ID, {"id": OTHER_ACCOUNT_ID, "name": "Zylker"}]),
    }
    record = {k: v for k, v in candidates.items() if rnd.random() < 0.7}
    for name in rnd.sample(sorted(record), k=min(2, len(record))):
        if rnd.random() < 0.3:
            record[name] = pick([None, ""])  # explicit clears
    return record


def test_a_payload_always_compares_unchanged_against_its_own_echo() -> None:
    rnd = random.Random(20261201)
    for _ in range(600):
        record = random_record(rnd)
        payload = convert(record, tz=rnd.choice(["UTC", "Europe/Paris", "Asia/Kolkata", "America/Denver"]))
        row = zoho_echo(payload, rnd)
        assert COMPARER.compare(payload, row) == (), (record, payload, row)


def test_a_changed_echo_is_always_detected() -> None:
    """The converse, so the property above cannot pass by comparing nothing."""
    rnd = random.Random(15)
    bumps = {
        "Last_Name": lambda v: v + "!",
        "Annual_Revenue": lambda v: v + 0.01,
        "Score": lambda v: v + 0.001,
        "No_of_Employees": lambda v: v + 1,
        "Follow_Up": lambda v: (datetime.fromisoformat(v) + timedelta(seconds=1)).isoformat(),
        "Date_of_Birth": lambda v: (datetime.fromisoformat(v) + timedelta(days=1)).date().isoformat(),
        "Interests": lambda v: [*v, "Extra"],
        "Owner": lambda v: {"id": OTHER_ACCOUNT_ID},
        "Email_Opt_Out": lambda v: not v,
        "Long_Number": lambda v: "9" + v,
    }
    checked = 0
    for _ in range(300):
        payload = convert(random_record(rnd))
        row = zoho_echo(payload, rnd)
        present = [n for n in bumps if payload.get(n) not in (None, [])]
        if not present:
            continue
        name = rnd.choice(present)
        row[name] = bumps[name](row[name])
        assert [c.field for c in COMPARER.compare(payload, row)] == [name], (payload, row)
        checked += 1
    assert checked > 200


# --- digests (what a keyset scan keeps of a row) ------------------------------------------------------


@pytest.mark.parametrize(("field", "new", "old"), EQUAL)
def test_equal_values_have_equal_digests(field: str, new: Any, old: Any) -> None:
    assert COMPARER.digest({field: new}, [field]) == COMPARER.digest({field: old}, [field]) is not None


@pytest.mark.parametrize(("field", "new", "old"), CHANGED)
def test_a_real_change_changes_the_digest(field: str, new: Any, old: Any) -> None:
    assert COMPARER.digest({field: new}, [field]) != COMPARER.digest({field: old}, [field])


def test_no_digest_without_every_field_or_for_an_incomparable_value() -> None:
    assert COMPARER.digest({"Last_Name": "Boyle"}, ["Last_Name", "Email"]) is None  # missing ≠ empty
    assert COMPARER.digest({"Account_Name": {"name": "Zylker"}}, ["Account_Name"]) is None
    assert COMPARER.digest({"Unknown_Field": "x"}, ["Unknown_Field"]) is None
    both = {"Last_Name": "Boyle", "Email": "p.boyle@zylker.com"}
    swapped = {"Last_Name": "p.boyle@zylker.com", "Email": "Boyle"}
    assert COMPARER.digest(both, ["Last_Name", "Email"]) != COMPARER.digest(swapped, ["Last_Name", "Email"])
