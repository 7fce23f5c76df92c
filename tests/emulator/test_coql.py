"""COQL over the emulator's records: the subset a loader uses to find existing ids by key.

Behaviour follows Zoho's Query API pages: overview and syntax
(https://www.zoho.com/crm/developer/docs/api/v8/Get-Records-through-COQL-Query.html,
https://www.zoho.com/developer/docs/vertical-solutions/api/v4/COQL-Overview.html) and limitations
(https://zoho.com/crm/developer/docs/api/v2/COQL-Limitations.html,
https://zoho.com/crm/developer/docs/api/v8/COQL-Limitations.html): `in` up to 50 values, brackets for
more than two criteria, default LIMIT 200, 2000 rows per call from v4, 204 when nothing matches.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from zoho_crm_emulator import ZohoEmulator
from zoho_crm_emulator.coql import CoqlError, parse, row_limits, run_query
from zoho_crm_emulator.metadata import load_catalog
from zoho_crm_emulator.metadata.build import version_index

from .conftest import Api

ACME, ZYLKER = "5725767000001000001", "5725767000001000002"
VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")


def _store(catalog: Any) -> dict[str, list[dict[str, Any]]]:
    owner = {"id": catalog.users[0]["id"], "name": catalog.users[0]["full_name"]}
    other = {"id": catalog.users[1]["id"], "name": catalog.users[1]["full_name"]}
    return {
        "Accounts": [
            {
                "id": ACME,
                "Account_Name": "Acme",
                "Annual_Revenue": 5000.0,
                "Employees": 12,
                "Owner": owner,
                "Created_Time": "2024-03-01T10:00:00+05:30",
            },
            {
                "id": ZYLKER,
                "Account_Name": "Zylker",
                "Annual_Revenue": 90000.5,
                "Employees": 300,
                "Owner": other,
                "Created_Time": "2025-03-01T10:00:00-08:00",
            },
        ],
        "Contacts": [
            {
                "id": "5725767000001000010",
                "Last_Name": "O'Leary",
                "Email": "Mike@Acme.com",
                "Owner": owner,
                "Account_Name": {"id": ACME, "name": "Acme"},
                "Date_of_Birth": "1980-05-01",
                "Email_Opt_Out": True,
            },
            {
                "id": "5725767000001000011",
                "Last_Name": "Boyle",
                "Email": "p.boyle@zylker.com",
                "Owner": other,
                "Account_Name": {"id": ZYLKER, "name": "Zylker"},
                "Date_of_Birth": "1990-01-31",
                "Email_Opt_Out": False,
            },
            {
                "id": "5725767000001000012",
                "Last_Name": "Nomail",
                "Email": None,
                "Owner": owner,
                "Account_Name": None,
                "Date_of_Birth": None,
            },
        ],
        "Leads": [
            {
                "id": f"57257670000010{i:05d}",
                "Last_Name": f"Lead {i}",
                "Email": f"lead{i}@x.com",
                "Interests": ["CRM"],
            }
            for i in range(250)
        ],
    }


def q(query: str, version: str = "v4") -> tuple[list[dict[str, Any]], bool]:
    cat = load_catalog(version)
    data = _store(cat)
    return run_query(query, version=version, catalog=cat, rows=lambda m: data.get(m, []))


def ids(result: tuple[list[dict[str, Any]], bool]) -> list[str]:
    return [r["id"][-2:] for r in result[0]]


def err(query: str, version: str = "v4") -> CoqlError:
    with pytest.raises(CoqlError) as info:
        q(query, version)
    return info.value


def test_in_lookup_by_key_returns_id_and_ignores_case() -> None:
    rows, more = q(
        "select Email from Contacts where Email in ('mike@acme.com', 'P.BOYLE@zylker.com', 'no@x.com')"
    )
    assert rows == [
        {"Email": "Mike@Acme.com", "id": "5725767000001000010"},
        {"Email": "p.boyle@zylker.com", "id": "5725767000001000011"},
    ]
    assert more is False


def test_keywords_are_case_insensitive_and_strings_escape_quotes() -> None:
    assert ids(q("SELECT Last_Name FROM Contacts WHERE Last_Name = 'O\\'Leary' LIMIT 5")) == ["10"]
    assert ids(q("Select Last_Name From Contacts Where Last_Name != 'Boyle'")) == ["10", "12"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("'%zylker.com'", ["11"]), ("'mike%'", ["10"]), ("'%boyle@%'", ["11"]), ("'%nothing%'", [])],
)
def test_like_prefix_suffix_contains(pattern: str, expected: list[str]) -> None:
    assert ids(q(f"select Email from Contacts where Email like {pattern}")) == expected


def test_null_checks_and_comparisons() -> None:
    assert ids(q("select id from Contacts where Email is null")) == ["12"]
    assert ids(q("select id from Contacts where Email is not null")) == ["10", "11"]
    assert ids(q("select id from Accounts where Annual_Revenue > 5000")) == ["02"]
    assert ids(q("select id from Accounts where Employees <= 12")) == ["01"]
    assert ids(q("select id from Accounts where Employees between 10 and 400")) == ["01", "02"]
    assert ids(q("select id from Contacts where Date_of_Birth >= '1985-01-01'")) == ["11"]
    assert ids(q("select id from Contacts where Email_Opt_Out = true")) == ["10"]
    assert ids(q("select id from Accounts where Created_Time > '2024-06-01T00:00:00+00:00'")) == ["02"]
    assert ids(q("select id from Accounts where Created_Time < '2024-06-01T00:00:00'")) == [
        "01"
    ]  # no offset: UTC
    assert ids(q("select id from Leads where Interests = 'CRM' limit 2")) == ["00", "01"]


def test_lookup_by_id_by_dot_id_and_by_joined_field() -> None:
    assert ids(q(f"select id from Contacts where Account_Name = '{ZYLKER}'")) == ["11"]
    assert ids(q(f"select id from Contacts where Account_Name.id in ('{ACME}')")) == ["10"]
    rows, _ = q(
        "select Last_Name, Account_Name.Account_Name from Contacts where Account_Name.Account_Name = 'zylker'"
    )
    assert rows == [
        {"Last_Name": "Boyle", "Account_Name.Account_Name": "Zylker", "id": "5725767000001000011"}
    ]
    owner_email = load_catalog("v4").users[1]["email"]
    assert ids(q(f"select id from Contacts where Owner.email = '{owner_email}'")) == ["11"]


def test_lookup_values_are_id_objects_with_names_from_v7() -> None:
    v4, _ = q("select Account_Name from Contacts where Last_Name = 'Boyle'", "v4")
    v8, _ = q("select Account_Name from Contacts where Last_Name = 'Boyle'", "v8")
    assert v4[0]["Account_Name"] == {"id": ZYLKER}
    assert v8[0]["Account_Name"] == {"id": ZYLKER, "name": "Zylker"}


def test_brackets_are_required_for_more_than_two_criteria() -> None:
    e = err("select id from Contacts where Last_Name = 'a' or Last_Name = 'b' or Last_Name = 'Boyle'")
    assert e.code == "SYNTAX_ERROR" and e.status == 400 and e.details["clause"] == "where"
    nested = "select id from Contacts where ((Last_Name = 'a' or Last_Name = 'Boyle') or Email like 'mike%')"
    assert ids(q(nested)) == ["10", "11"]
    both = (
        "select id from Contacts where (Email is not null and (Last_Name = 'Boyle' or Last_Name = 'Nomail'))"
    )
    assert ids(q(both)) == ["11"]


def test_limit_offset_forms_and_more_records() -> None:
    first, more = q("select id from Leads where id is not null")
    assert len(first) == 200 and more is True
    page, more = q("select id from Leads where id is not null limit 200 offset 200")
    assert len(page) == 50 and more is False and page[0]["id"] == first[-1]["id"][:-3] + "200"
    assert (
        q("select id from Leads where id is not null limit 10, 5")[0]
        == q("select id from Leads where id is not null limit 5 offset 10")[0]
    )
    assert [r["id"][-3:] for r in q("select id from Leads where id is not null limit 5, 2")[0]] == [
        "005",
        "006",
    ]
    desc, _ = q("select Account_Name from Accounts where id is not null order by Annual_Revenue desc")
    assert [r["Account_Name"] for r in desc] == ["Zylker", "Acme"]
    asc, _ = q("select Account_Name from Accounts where id is not null order by Account_Name")
    assert [r["Account_Name"] for r in asc] == ["Acme", "Zylker"]


def test_per_version_row_limits() -> None:
    assert row_limits("v2") == (200, 10_000) and row_limits("v4") == (2000, 10_000)
    assert row_limits("v8") == (2000, 100_000)
    assert err("select id from Leads where id is not null limit 201", "v2").code == "LIMIT_EXCEEDED"
    assert len(q("select id from Leads where id is not null limit 2000", "v4")[0]) == 250
    assert err("select id from Leads where id is not null limit 2001", "v4").code == "LIMIT_EXCEEDED"
    assert (
        err("select id from Leads where id is not null limit 200 offset 10000", "v4").code == "LIMIT_EXCEEDED"
    )
    assert q("select id from Leads where id is not null limit 200 offset 10000", "v8") == ([], False)


def test_in_accepts_fifty_values_and_refuses_fifty_one() -> None:
    fifty = ", ".join(f"'lead{i}@x.com'" for i in range(50))
    assert len(q(f"select id from Leads where Email in ({fifty})")[0]) == 50
    e = err(f"select id from Leads where Email in ({fifty}, 'one-more@x.com')")
    assert (e.code, e.details["limit"]) == ("LIMIT_EXCEEDED", 50)


@pytest.mark.parametrize(
    ("query", "code", "detail"),
    [
        ("select Emial from Contacts where id is not null", "INVALID_QUERY", {"column_name": "Emial"}),
        ("select id from Contacts where Nope = 'x'", "INVALID_QUERY", {"column_name": "Nope"}),
        (
            "select id from Contacts where Account_Name.Nope = 'x'",
            "INVALID_QUERY",
            {"column_name": "Account_Name.Nope"},
        ),
        ("select id from Nope where id is not null", "INVALID_QUERY", {"column_name": "Nope"}),
        ("select id from leads where id is not null", "INVALID_QUERY", {"column_name": "leads"}),
        ("select id from Accounts where Employees = 'many'", "INVALID_QUERY", {"column_name": "Employees"}),
        ("select id from Contacts where Last_Name > 'a'", "INVALID_QUERY", {"operator": ">"}),
        ("select id from Contacts where Account_Name like '1%'", "INVALID_QUERY", {"operator": "like"}),
        ("select * from Contacts", "SYNTAX_ERROR", {"near": "*"}),
        ("select id Contacts", "SYNTAX_ERROR", {"clause": "from"}),
        ("select id from Contacts where Last_Name = 'open", "SYNTAX_ERROR", {}),
        ("select id from Contacts where Last_Name = Boyle", "SYNTAX_ERROR", {"near": "Boyle"}),
        ("select id, id from Contacts where id is not null", "DUPLICATE_DATA", {"column_name": "id"}),
        ("", "SYNTAX_ERROR", {}),
    ],
)
def test_errors_in_zoho_shape(query: str, code: str, detail: dict[str, Any]) -> None:
    e = err(query)
    assert e.code == code and e.status == 400 and e.message
    assert detail.items() <= e.details.items()


def test_parse_shapes_limit_and_offset_defaults() -> None:
    parsed = parse("select id from Leads where id is not null")
    assert (parsed.limit, parsed.offset, parsed.where.op) == (200, 0, "is not null")  # type: ignore[union-attr]


@pytest.mark.parametrize("version", VERSIONS)
def test_limit_zero_is_invalid_data(version: str) -> None:
    """`LIMIT 0` is INVALID_DATA, not LIMIT_EXCEEDED (project reference, audit corrections of the
    COQL pages)."""
    e = err("select id from Contacts where Email = '1' limit 0", version)
    assert (e.code, e.status) == ("INVALID_DATA", 400)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_query_without_where_is_a_syntax_error(version: str) -> None:
    """v7/v8 COQL-Limitations.html and the v8 COQL page's errors (`SYNTAX_ERROR`, clause `where`): a
    select needs a WHERE clause; a whole module is paged with a key criterion instead."""
    for query in ("select id from Leads", "select id from Leads limit 5", "select id from Leads order by id"):
        e = err(query, version)
        assert (e.code, e.details["clause"]) == ("SYNTAX_ERROR", "where"), query
    assert q("select id from Leads where id is not null order by id limit 5", version)[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_multi_line_fields_are_refused_in_criteria(version: str) -> None:
    """COQL-Limitations.html (v2, v3): "You cannot use multi-line fields such as Description, Terms and
    Conditions, Comments etc., in criteria." They may still be selected."""
    e = err("select id from Leads where Description = 'x'", version)
    assert (e.code, e.details["column_name"]) == ("INVALID_QUERY", "Description")
    assert e.details["data_type"] == "textarea"
    assert q("select Description from Leads where id is not null limit 1", version)[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_in_takes_fifty_values_up_to_v6_and_a_hundred_from_v7(version: str) -> None:
    """COQL-Limitations.html: `in` / `not in` "up to 50 values" (v2 … v6 pages); 100 from v7 (project
    reference, audit corrections of the v7/v8 pages)."""
    limit = 100 if version in ("v7", "v8") else 50
    values = ", ".join(f"'lead{i}@x.com'" for i in range(limit))
    assert len(q(f"select id from Leads where Email in ({values}) limit 200", version)[0]) == min(limit, 250)
    for op in ("in", "not in"):
        e = err(f"select id from Leads where Email {op} ({values}, 'one-more@x.com')", version)
        assert (e.code, e.details["limit"]) == ("LIMIT_EXCEEDED", limit)


@pytest.mark.parametrize("version", VERSIONS)
def test_owner_is_shown_with_the_users_last_name(version: str) -> None:
    """COQL shows a user lookup (Owner) named by the user's last name only (project reference, audit
    corrections); lookups carry a name only from v7 (v7 changelog), before that just the id."""
    rows, _ = q(f"select Owner from Accounts where id = '{ACME}'", version)
    owner = rows[0]["Owner"]
    user = load_catalog(version).users[0]
    if version in ("v7", "v8"):
        assert owner == {"id": user["id"], "name": user["last_name"]}
    else:
        assert owner == {"id": user["id"]}


# --- over real HTTP -------------------------------------------------------------------------------------
def test_coql_over_http(zoho: ZohoEmulator) -> None:
    """204 with no body when nothing matches; data + info.more_records otherwise; errors as 400 JSON."""
    api = Api(zoho, "v4")
    try:
        acme = zoho.add_record("Accounts", {"Account_Name": "Acme"})
        for i in range(3):
            zoho.add_record(
                "Contacts", {"Last_Name": f"C{i}", "Email": f"c{i}@acme.com", "Account_Name": {"id": acme}}
            )
        empty = api.post("coql", json={"select_query": "select id from Contacts where Email = 'none@x.com'"})
        assert empty.status_code == 204 and empty.content == b""

        resp = api.post(
            "coql",
            json={"select_query": "select Email, Account_Name from Contacts where id is not null limit 2"},
        )
        assert resp.status_code == 200
        body = resp.json()
        assert body["info"] == {"count": 2, "more_records": True}
        assert body["data"][0]["Account_Name"] == {"id": acme} and body["data"][0]["Email"] == "c0@acme.com"
        last = api.post(
            "coql", json={"select_query": "select Email from Contacts where id is not null limit 2 offset 2"}
        ).json()
        assert last["info"] == {"count": 1, "more_records": False}

        values = ", ".join(f"'k{i}@x.com'" for i in range(51))
        over = api.post("coql", json={"select_query": f"select id from Contacts where Email in ({values})"})
        assert over.status_code == 400 and over.json()["code"] == "LIMIT_EXCEEDED"
        bad = api.post("coql", json={"select_query": "select Emial from Contacts where id is not null"})
        assert bad.status_code == 400
        assert bad.json()["code"] == "INVALID_QUERY" and bad.json()["details"]["column_name"] == "Emial"
    finally:
        api.session.close()


def test_indexed_lookups_give_the_same_answers_as_a_scan(zoho: ZohoEmulator) -> None:
    """`=`/`in` on a plain field (text, lookup, `id`) read the store's value index; results equal a
    full scan's: case-insensitive text, `and` with another condition, `in`, lookups by id, `id` itself,
    and `or` (which cannot use the index) — the COQL semantics of Get-Records-through-COQL-Query.html.
    """
    acme = zoho.add_record("Accounts", {"Account_Name": "Acme"})
    made = [
        zoho.add_record(
            "Contacts",
            {
                "Last_Name": f"C{i}",
                "Email": f"c{i}@acme.com",
                **({"Account_Name": {"id": acme}} if i % 2 else {}),
            },
        )
        for i in range(40)
    ]
    store = zoho.state.store
    catalog = load_catalog("v4")

    def both(query: str) -> list[str]:
        """The ids via the index and via a scan; they must agree."""
        indexed, _ = run_query(
            query, version="v4", catalog=catalog, rows=store.iter_records, lookup=store.find_records
        )
        scanned, _ = run_query(query, version="v4", catalog=catalog, rows=store.iter_records)
        assert indexed == scanned
        return [str(r["id"]) for r in indexed]

    assert both("select Email from Contacts where Email = 'C3@ACME.com'") == [made[3]]
    assert (
        both("select Email from Contacts where Email in ('c1@acme.com', 'c2@acme.com', 'x@y.z')") == made[1:3]
    )
    assert both("select Email from Contacts where Email = 'c5@acme.com' and Last_Name = 'C4'") == []
    assert both("select Email from Contacts where Last_Name = 'C5' and Email like 'c5%'") == [made[5]]
    assert both(f"select Email from Contacts where Account_Name = '{acme}' limit 3") == [
        made[1],
        made[3],
        made[5],
    ]
    assert both(f"select Email from Contacts where id = '{made[7]}'") == [made[7]]
    assert (
        both("select Email from Contacts where Email = 'c1@acme.com' or Email = 'c2@acme.com'") == made[1:3]
    )
    assert both("select Email from Contacts where Email = ''") == []

    api = Api(zoho, "v4")
    try:  # the index follows updates and deletes
        changed = api.put("Contacts", json={"data": [{"id": made[3], "Email": "moved@acme.com"}]})
        assert changed.status_code == 200, changed.text
        assert api.delete("Contacts", params={"ids": made[5]}).status_code == 200
    finally:
        api.session.close()
    assert both("select Email from Contacts where Email = 'c3@acme.com'") == []
    assert both("select Email from Contacts where Email in ('moved@acme.com', 'c5@acme.com')") == [made[3]]


def test_key_lookups_over_http_do_not_scan_the_module(zoho: ZohoEmulator, monkeypatch: Any) -> None:
    """10k Leads: COQL key lookups by Email read the store's value index, never the whole module (an
    `or` forces a scan). Counted, not timed: how many times the module's records are listed."""
    seed = [{"Last_Name": f"L{i}", "Email": f"l{i}@zylker.com"} for i in range(10_000)]
    assert requests.post(f"{zoho.url}/__emulator__/seed/Leads", json=seed, timeout=30).status_code == 201
    store = zoho.state.store
    scans: list[str] = []
    listing = store.iter_records

    def counted(module: str) -> list[dict[str, Any]]:
        scans.append(module)
        return listing(module)

    monkeypatch.setattr(store, "iter_records", counted)
    api = Api(zoho, "v4")
    try:

        def lookups(where: str) -> int:
            scans.clear()
            for i in range(0, 10_000, 1_000):
                resp = api.post(
                    "coql", json={"select_query": f"select Email from Leads where {where.format(i=i)}"}
                )
                assert resp.status_code == 200 and resp.json()["data"][0]["Email"] == f"l{i}@zylker.com"
            return scans.count("Leads")

        assert lookups("Email = 'l{i}@zylker.com'") == 0
        assert lookups("(Email = 'l{i}@zylker.com' or Email = 'nobody@zylker.com')") == 10
    finally:
        api.session.close()


def test_coql_needs_the_modules_read_scope_as_well(zoho: ZohoEmulator) -> None:
    """Get-Records-through-COQL-Query.html (v2 … v8), "Scope": `ZohoCRM.coql.READ` (and)
    `ZohoCRM.modules.{operation_type}` or `ZohoCRM.modules.{module_name}.{operation_type}`, operation
    ALL or READ. With `coql.READ` alone the query is refused with OAUTH_SCOPE_MISMATCH, and not charged."""
    zoho.add_record("Leads", {"Last_Name": "Daly", "Email": "p.daly@zylker.com"})
    query = {"select_query": "select Last_Name from Leads where Email = 'p.daly@zylker.com'"}

    def run(scopes: str) -> requests.Response:
        token = zoho.access_token(scopes=scopes)
        return requests.post(
            f"{zoho.url}/crm/v8/coql",
            json=query,
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            timeout=5,
        )

    before = zoho.credits_used
    alone = run("ZohoCRM.coql.READ")
    assert alone.status_code == 401 and alone.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    other_module = run("ZohoCRM.coql.READ,ZohoCRM.modules.contacts.READ")
    assert other_module.status_code == 401
    assert zoho.credits_used == before
    for scopes in (
        "ZohoCRM.coql.READ,ZohoCRM.modules.leads.READ",
        "ZohoCRM.coql.READ,ZohoCRM.modules.leads.ALL",
        "ZohoCRM.coql.READ,ZohoCRM.modules.ALL",
    ):
        ok = run(scopes)
        assert ok.status_code == 200 and ok.json()["data"][0]["Last_Name"] == "Daly", scopes
    assert run("ZohoCRM.modules.leads.READ").status_code == 401  # and coql.READ itself


@pytest.mark.parametrize("version", VERSIONS)
def test_values_come_back_in_zohos_shapes(zoho: ZohoEmulator, version: str) -> None:
    """A datetime written with any offset is answered in the org's time zone; a decimal at the field's
    places as a number; an empty text as null; a multi-select as an array; a lookup as {"id"} (+ name
    from v7) — the shapes a loader compares against (Get-Records-through-COQL-Query.html)."""
    zoho.reset()
    api = Api(zoho, version)
    try:
        acme = zoho.add_record("Accounts", {"Account_Name": "Acme"})
        zoho.add_record(
            "Vehicles",
            {
                "Name": "Van",
                "VIN": "",
                "Account": {"id": acme, "name": "Acme"},
                "Features": ["Sunroof", "Bluetooth"],
                "Last_Serviced_At": "2024-01-01T10:00:00+01:00",
                "Mileage": 12.34,
                "Purchase_Date": "2024-01-02",
            },
        )
        query = (
            "select Name, VIN, Account, Features, Last_Serviced_At, Mileage, Purchase_Date, Year "
            "from Vehicles where Name = 'Van'"
        )
        [row] = api.post("coql", json={"select_query": query}).json()["data"]
        org_zone = api.get("org").json()["org"][0]["time_zone"]
        assert org_zone == "America/Los_Angeles"
        assert row["Last_Serviced_At"] == "2024-01-01T01:00:00-08:00"
        assert row["Mileage"] == 12.3  # one decimal place
        assert row["VIN"] is None and row["Year"] is None
        assert row["Features"] == ["Sunroof", "Bluetooth"]
        assert row["Purchase_Date"] == "2024-01-02"
        named = version_index(version) >= version_index("v7")
        assert row["Account"] == ({"id": acme, "name": "Acme"} if named else {"id": acme})
    finally:
        api.session.close()


def test_keyset_scan_pages_by_id_and_count_action(zoho: ZohoEmulator) -> None:
    """`where id > last order by id limit n` pages through a module without OFFSET's ceiling; the
    record count comes from GET /{module}/actions/count (get-record-count.html)."""
    zoho.reset()
    api = Api(zoho, "v4")
    try:
        made = [zoho.add_record("Leads", {"Last_Name": f"L{i}"}) for i in range(25)]
        assert api.get("Leads/actions/count").json() == {"count": 25}
        seen: list[str] = []
        last = "0"
        while True:
            query = f"select Last_Name from Leads where id > {last} order by id asc limit 10"
            resp = api.post("coql", json={"select_query": query})
            body = resp.json()
            seen += [r["id"] for r in body["data"]]
            last = body["data"][-1]["id"]
            if not body["info"]["more_records"]:
                break
        assert seen == sorted(made, key=int)
    finally:
        api.session.close()
