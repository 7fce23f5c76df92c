"""The Search API over the emulator's records (the alternative to COQL for key lookups).

Follows Zoho's "Search Records" page (https://www.zoho.com/crm/developer/docs/api/v8/search-records.html,
v2: https://www.zoho.com/crm/developer/docs/api/v2/search-records.html): `criteria` of at most 10
`(field:operator:value)` conditions joined by and/or, `(` `)` `,` escaped with a backslash, the `email`,
`phone` and `word` parameters, and 204 No Content when nothing matches.
"""

from __future__ import annotations

from typing import Any

import pytest

from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.metadata import load_catalog
from zoho_crm_emulator.search import SearchError, parse_criteria, run_search, split_values

from .conftest import Api

ACME = "5725767000001000001"
RECORDS: list[dict[str, Any]] = [
    {"id": "5725767000001000010", "Last_Name": "Burns, B (Jr)", "Email": "Mike@Acme.com", "Phone": "+1 (555) 010-0200",
     "Account_Name": {"id": ACME}, "Date_of_Birth": "1980-05-01", "Email_Opt_Out": True},
    {"id": "5725767000001000011", "Last_Name": "Boyle", "Email": "p.boyle@zylker.com", "Secondary_Email": "pb@home.org",
     "Mobile": "555-0300", "Date_of_Birth": "1990-01-31", "Email_Opt_Out": False},
    {"id": "5725767000001000012", "Last_Name": "Smith", "Email": None, "Title": "Buyer at Zylker"},
]  # fmt: skip


def search(**kw: str) -> list[str]:
    fields = load_catalog("v4").fields("Contacts")
    return [r["id"][-2:] for r in run_search(fields, RECORDS, **kw)]


def test_or_of_email_equals_is_exact_and_case_insensitive() -> None:
    assert search(criteria="((Email:equals:mike@acme.com)or(Email:equals:P.Boyle@Zylker.com))") == [
        "10",
        "11",
    ]
    assert search(criteria="(Email:equals:acme.com)") == []


def test_escaped_parentheses_and_commas_are_literal() -> None:
    assert split_values(r"Burns\, B \(Jr\),Other") == ["Burns, B (Jr)", "Other"]
    assert search(criteria=r"(Last_Name:equals:Burns\, B \(Jr\))") == ["10"]
    with pytest.raises(SearchError):  # unescaped: the value's ")" closes the criterion early
        search(criteria="(Last_Name:equals:Burns, B (Jr))")
    assert search(criteria="(Last_Name:equals:Burns, B)") == []  # unescaped comma: two values
    assert search(criteria="(Last_Name:in:Smith,Boyle)") == ["11", "12"]


def test_operators_by_type() -> None:
    assert search(criteria="(Last_Name:starts_with:bo)") == ["11"]
    assert search(criteria=f"(Account_Name:equals:{ACME})") == ["10"]
    assert search(criteria="(Date_of_Birth:greater_than:1985-01-01)") == ["11"]
    assert search(criteria="(Date_of_Birth:between:1979-01-01,1985-12-31)") == ["10"]
    assert search(criteria="(Email_Opt_Out:equals:true)") == ["10"]
    assert search(criteria="(Last_Name:not_equal:Smith)") == ["10", "11"]
    assert search(criteria="(id:equals:5725767000001000011)") == ["11"]
    assert search(criteria="((Last_Name:starts_with:B) and (Email:equals:p.boyle@zylker.com))") == ["11"]


def test_email_phone_and_word_parameters() -> None:
    assert search(email="PB@home.org") == ["11"]
    assert search(phone="15550100200") == ["10"]
    assert search(phone="555 0300") == ["11"]
    assert search(word="zylker") == ["11", "12"]
    assert search(email="nobody@x.com") == []


@pytest.mark.parametrize(
    ("kw", "code", "detail"),
    [
        ({"criteria": "(Nope:equals:1)"}, "INVALID_QUERY", {"api_name": "Nope"}),
        ({"criteria": "(Last_Name:greater_than:a)"}, "INVALID_QUERY", {"operator": "greater_than"}),
        ({"criteria": "(Modified_Time:equals:2024-01-01T00:00:00+00:00)"}, "INVALID_QUERY", {"api_name": "Modified_Time"}),
        ({"criteria": "Email:equals:a@x.com"}, "INVALID_QUERY", {}),
        ({"criteria": "(Email:equals)"}, "INVALID_QUERY", {}),
        ({"criteria": "((Email:equals:a)and(Email:equals:b)or(Email:equals:c))"}, "INVALID_QUERY", {}),
        ({"criteria": "(" + ")or(".join(f"Email:equals:{i}@x.com" for i in range(11)) + ")"}, "LIMIT_EXCEEDED", {"limit": 10}),
        ({"word": "a"}, "INVALID_QUERY", {"param": "word"}),
        ({}, "REQUIRED_PARAM_MISSING", {}),
    ],
)  # fmt: skip
def test_errors(kw: dict[str, str], code: str, detail: dict[str, Any]) -> None:
    with pytest.raises(SearchError) as info:
        search(**kw)
    assert info.value.code == code and info.value.status == 400
    assert detail.items() <= info.value.details.items()


def test_ten_criteria_are_allowed() -> None:
    node = parse_criteria("(" + ")or(".join(f"Email:equals:{i}@x.com" for i in range(10)) + ")")
    assert len(node.items) == 10  # type: ignore[union-attr]


def test_search_over_http(zoho: ZohoEmulator) -> None:
    """GET /{module}/search: 200 with data and info, 204 with no body when nothing matches, 400 on bad criteria."""
    api = Api(zoho, "v4")
    try:
        zoho.add_record("Contacts", {"Last_Name": "Hall, A", "Email": "a.hall@acme.com"})
        zoho.add_record("Contacts", {"Last_Name": "Hall", "Email": "b.hall@acme.com"})
        found = api.get("Contacts/search", params={"criteria": r"(Last_Name:equals:Hall\, A)"})
        assert found.status_code == 200
        assert [r["Email"] for r in found.json()["data"]] == ["a.hall@acme.com"]
        assert found.json()["info"]["more_records"] is False
        by_email = api.get("Contacts/search", params={"email": "B.HALL@acme.com"})
        assert [r["Last_Name"] for r in by_email.json()["data"]] == ["Hall"]
        none = api.get("Contacts/search", params={"criteria": "(Email:equals:nobody@acme.com)"})
        assert none.status_code == 204 and none.content == b""
        bad = api.get("Contacts/search", params={"criteria": "(Emial:equals:x)"})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_QUERY"
    finally:
        api.session.close()
