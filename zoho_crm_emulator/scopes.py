"""OAuth scopes: which scope a CRM call needs and whether a token's scopes cover it (reference §1.6).

Scope syntax `Service.path….OPERATION` (https://www.zoho.com/crm/developer/docs/api/v8/scopes.html):
a granted scope covers a needed one when the service matches, its path is a prefix of the needed path
(`ZohoCRM.modules.ALL` covers `ZohoCRM.modules.leads.CREATE`, `ZohoCRM.settings.ALL` covers
`ZohoCRM.settings.fields.READ`) and its operation covers the needed one (`ALL` covers every operation,
`WRITE` covers CREATE, UPDATE and DELETE). A call without a covering scope gets 401
`OAUTH_SCOPE_MISMATCH`.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_SCOPES = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.org.ALL",
    "ZohoCRM.users.ALL",
    "ZohoCRM.coql.READ",
    "ZohoCRM.bulk.ALL",
    "ZohoFiles.files.ALL",
)
WRITE_OPS = frozenset({"CREATE", "UPDATE", "DELETE", "WRITE"})


def parse_scopes(text: str | Iterable[str] | None) -> frozenset[str]:
    """Zoho lists scopes comma-separated in requests and space-separated in token responses."""
    if text is None:
        return frozenset()
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return frozenset(s.strip() for s in items if s.strip())


def _covers(granted: str, needed: str) -> bool:
    g, n = granted.split("."), needed.split(".")
    if len(g) < 2 or len(n) < 2 or g[0] != n[0]:
        return False
    g_path, g_op = [p.lower() for p in g[1:-1]], g[-1].upper()
    n_path, n_op = [p.lower() for p in n[1:-1]], n[-1].upper()
    if n_path[: len(g_path)] != g_path:
        return False
    return g_op == "ALL" or g_op == n_op or (g_op == "WRITE" and n_op in WRITE_OPS)


def allowed(granted: Iterable[str], needed: str | None) -> bool:
    return needed is None or any(_covers(g, needed) for g in granted)


def module_scope_name(api_name: str, generated_type: str | None = None) -> str:
    """`Sales_Orders` → `salesorders`, `Appointments__s` → `appointments`, custom modules → `custom`."""
    if generated_type == "custom":
        return "custom"
    name = api_name[:-3] if api_name.endswith("__s") else api_name
    if name == "Appointments_Rescheduled_History":
        return "appointments_rescheduled_history"
    return name.lower().replace("_", "")


MODULE_OPS = {
    "insert": "CREATE",
    "upsert": "CREATE",
    "update": "UPDATE",
    "update_one": "UPDATE",
    "delete": "DELETE",
    "delete_one": "DELETE",
    "get_one": "READ",
    "list": "READ",
    "search": "READ",
    "count": "READ",
}
FIXED = {
    "meta_modules": "ZohoCRM.settings.modules.READ",
    "meta_fields": "ZohoCRM.settings.fields.READ",
    "meta_layouts": "ZohoCRM.settings.layouts.READ",
    "meta_org": "ZohoCRM.org.READ",
    "meta_users": "ZohoCRM.users.READ",
    "coql": "ZohoCRM.coql.READ",
    "bulk_upload": "ZohoFiles.files.ALL",
    "bulk_create": "ZohoCRM.bulk.CREATE",
    "bulk_status": "ZohoCRM.bulk.CREATE",
    "bulk_download": "ZohoCRM.bulk.CREATE",
}


def needed_scope(kind: str, module: str | None = None, generated_type: str | None = None) -> str | None:
    """The scope a call of this kind needs (None: no scope check)."""
    if kind in MODULE_OPS and module:
        return f"ZohoCRM.modules.{module_scope_name(module, generated_type)}.{MODULE_OPS[kind]}"
    return FIXED.get(kind)
