"""Read-only questions to Zoho that are not lookups of values (those are load/lookups.py's)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from target_zoho_crm.zoho.client import ZohoClient

# Field types whose COQL literals are bare numbers (a quoted value never matches them).
COQL_NUMERIC_TYPES = frozenset({"integer", "bigint", "double", "currency", "percent", "decimal"})
_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


def coql_quote(value: str) -> str:
    """A COQL string literal: single quotes, with `\\` and `'` escaped by a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def coql_in_conditions(field: str, values: Sequence[str], *, numeric: bool, per_call: int) -> Iterator[str]:
    """WHERE conditions matching `field` against `values`, at most `per_call` values each (COQL's `in`
    limit for the API version): `F = v` for one value, `F in (...)` for more. Numbers are written bare,
    and a value that is not a number is left out (it can match no numeric field)."""
    if numeric:
        values = [v for v in values if _NUMBER_RE.match(str(v).strip())]
    for start in range(0, len(values), per_call):
        chunk = values[start : start + per_call]
        literals = ", ".join(str(v).strip() if numeric else coql_quote(str(v)) for v in chunk)
        yield f"{field} = {literals}" if len(chunk) == 1 else f"{field} in ({literals})"


def module_is_empty(client: ZohoClient, module: str, *, use_coql: bool) -> bool:
    """Whether `module` holds no record: one COQL query (1 credit), or a one-row list read."""
    if use_coql:
        query = f"select id from {module} where id is not null limit 1"
        rows = client.get_json("/coql", method="POST", json={"select_query": query})
    else:
        rows = client.get_json(f"/{module}", params={"fields": "id", "per_page": 1})
    return not (rows or {}).get("data")
