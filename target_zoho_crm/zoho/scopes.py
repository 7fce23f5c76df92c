"""OAuth scopes: which a load needs, and whether the scopes a token was granted cover them.

Scope syntax `Service.path….OPERATION` (https://www.zoho.com/crm/developer/docs/api/v8/scopes.html): a
granted scope covers a needed one when the service matches, its path is a prefix of the needed path
(`ZohoCRM.modules.ALL` covers `ZohoCRM.modules.leads.CREATE`) and its operation covers the needed one
(`ALL` covers every operation, `WRITE` covers CREATE, UPDATE and DELETE).
"""

from __future__ import annotations

from collections.abc import Iterable

WRITE_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "WRITE"})
# The write operation's scope (upsert-records.html: "ZohoCRM.modules.{module}.{ALL|WRITE|CREATE}").
OPERATION_SCOPES = {"insert": "CREATE", "upsert": "CREATE", "update": "UPDATE"}


def parse_scopes(text: str | None) -> frozenset[str]:
    """Zoho lists scopes comma-separated in requests and space-separated in token responses."""
    return frozenset(s for s in (text or "").replace(",", " ").split() if s)


def covers(granted: str, needed: str) -> bool:
    g, n = granted.split("."), needed.split(".")
    if len(g) < 2 or len(n) < 2 or g[0] != n[0]:
        return False
    g_path, g_op = [p.lower() for p in g[1:-1]], g[-1].upper()
    n_path, n_op = [p.lower() for p in n[1:-1]], n[-1].upper()
    if n_path[: len(g_path)] != g_path:
        return False
    return g_op == "ALL" or g_op == n_op or (g_op == "WRITE" and n_op in WRITE_OPERATIONS)


def missing_scopes(granted: Iterable[str], needed: Iterable[str]) -> list[str]:
    """The needed scopes no granted scope covers, in the order given."""
    have = list(granted)
    return [n for n in dict.fromkeys(needed) if not any(covers(g, n) for g in have)]


def module_scope(api_name: str, generated_type: str, operation: str) -> str:
    """`Sales_Orders` upsert → `ZohoCRM.modules.salesorders.CREATE`; custom modules are `custom`."""
    name = "custom" if generated_type == "custom" else api_name.removesuffix("__s").lower().replace("_", "")
    return f"ZohoCRM.modules.{name}.{OPERATION_SCOPES.get(operation, operation.upper())}"
