"""The one forgiving-name rule (pure logic): case and separators do not matter, exact names win,
an ambiguous loose match is no match."""

from __future__ import annotations

from target_zoho_crm.names import closest, did_you_mean, loose, match_name, normalize, stream_name_forms


def test_names_match_ignoring_case_and_separators_unless_ambiguous() -> None:
    assert loose("First Name") == loose("first_name") == loose("firstName") == "firstname"
    assert match_name("first_name", ["Last_Name", "First_Name"]) == "First_Name"
    assert match_name("Email", ["email", "Email"]) == "Email"  # exact wins
    assert match_name("e-mail", ["E_Mail", "EMail"]) is None  # two loose matches: no guess
    assert normalize("Sales_Orders") == "salesorders" and normalize("Visits__s") == "visits"


def test_a_stream_name_is_tried_with_and_without_its_schema_prefix() -> None:
    assert stream_name_forms("public-leads") == ["public-leads", "leads"]
    assert stream_name_forms("dbo.leads") == ["dbo.leads", "leads"]
    assert stream_name_forms("user_accounts") == ["user_accounts"]  # no suffix is ever tried


def test_did_you_mean_ranks_real_neighbours_only() -> None:
    assert closest("refesh_token", ["client_id", "refresh_token", "access_token"]) == ["refresh_token"]
    assert closest("customers", ["Purchase_Orders", "Vehicles", "Cases"]) == []
    assert did_you_mean("max_concurency", ["max_concurrency", "max_retries"]) == (
        " (did you mean max_concurrency?)"
    )
    assert did_you_mean("zzz", ["max_retries"]) == ""
