"""Read-only questions to Zoho that are not lookups of values (those are load/lookups.py's)."""

from __future__ import annotations

from target_zoho_crm.zoho.client import ZohoClient


def module_is_empty(client: ZohoClient, module: str, *, use_coql: bool) -> bool:
    """Whether `module` holds no record: one COQL query (1 credit), or a one-row list read."""
    if use_coql:
        query = f"select id from {module} where id is not null limit 1"
        rows = client.get_json("/coql", method="POST", json={"select_query": query})
    else:
        rows = client.get_json(f"/{module}", params={"fields": "id", "per_page": 1})
    return not (rows or {}).get("data")
