"""Zoho's CRM URLs: which call a method and path are (`parse_route`), and what each kind of call needs.

`/crm/{v}/...` (API and upload host) and `/crm/bulk/{v}/...` (Bulk Write), for every version the
emulator serves (`VERSIONS`). An unknown path is None (`INVALID_URL_PATTERN`); a known path with the
wrong method is the kind `bad_method` or fails `EXPECTED_METHOD` (`INVALID_REQUEST_METHOD`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import VERSIONS

WRITE_KINDS = frozenset({"insert", "update", "upsert", "update_one"})
DELETE_KINDS = frozenset({"delete", "delete_one"})
# Module metadata flag a write needs (subform modules, e.g. Quoted_Items, have them false).
WRITE_FLAGS = {
    "insert": "creatable",
    "upsert": "creatable",
    "update": "editable",
    "update_one": "editable",
    "delete": "deletable",
    "delete_one": "deletable",
}
SPECIAL_SEGMENTS = frozenset({"settings", "org", "users", "coql", "upload"})
EXPECTED_METHOD = {
    "meta_modules": "GET",
    "meta_fields": "GET",
    "meta_layouts": "GET",
    "meta_org": "GET",
    "meta_users": "GET",
    "coql": "POST",
    "bulk_upload": "POST",
    "bulk_create": "POST",
    "bulk_status": "GET",
    "bulk_download": "GET",
    "count": "GET",
}


@dataclass
class Route:
    """A recognised Zoho URL."""

    kind: str
    version: str
    module: str | None = None
    record_id: str | None = None
    job_id: str | None = None

    def wrong_method(self, method: str) -> bool:
        expected = EXPECTED_METHOD.get(self.kind)
        return self.kind == "bad_method" or (expected is not None and method != expected)


def _bulk_route(parts: list[str]) -> Route | None:
    if len(parts) >= 4 and parts[2] in VERSIONS and parts[3] == "write":
        if len(parts) == 4:
            return Route("bulk_create", parts[2])
        if len(parts) == 5:
            return Route("bulk_status", parts[2], job_id=parts[4])
        if len(parts) == 6 and parts[5] == "result":
            return Route("bulk_download", parts[2], job_id=parts[4])
    return None


def _special_route(version: str, rest: list[str]) -> Route | None:
    head = rest[0]
    if head == "settings" and len(rest) >= 2:
        if rest[1] == "modules" and len(rest) <= 3:
            return Route("meta_modules", version, module=rest[2] if len(rest) == 3 else None)
        if rest[1] in ("fields", "layouts") and len(rest) == 2:
            return Route(f"meta_{rest[1]}", version)
        return None
    if head in ("org", "users") and len(rest) == 1:
        return Route(f"meta_{head}", version)
    if head == "coql" and len(rest) == 1:
        return Route("coql", version)
    if head == "upload" and len(rest) == 1:
        return Route("bulk_upload", version)
    return None


def _module_route(method: str, version: str, rest: list[str]) -> Route | None:
    head = rest[0]
    if len(rest) == 1:
        kind = {"GET": "list", "POST": "insert", "PUT": "update", "DELETE": "delete"}.get(
            method, "bad_method"
        )
        return Route(kind, version, module=head)
    if len(rest) == 2:
        if rest[1] == "upsert":
            return Route("upsert" if method == "POST" else "bad_method", version, module=head)
        if rest[1] == "search":
            return Route("search" if method == "GET" else "bad_method", version, module=head)
        kind = {"GET": "get_one", "PUT": "update_one", "DELETE": "delete_one"}.get(method, "bad_method")
        return Route(kind, version, module=head, record_id=rest[1])
    if len(rest) == 3 and rest[1:] == ["actions", "count"]:
        # Get Record Count (get-record-count.html, v3+): GET /{module}/actions/count → {"count": n}
        return Route("count", version, module=head)
    return None


def parse_route(method: str, path: str) -> Route | None:
    """Map a `/crm/...` path to a Route (None → `INVALID_URL_PATTERN`)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] != "crm":
        return None
    if parts[1] == "bulk":
        return _bulk_route(parts)
    version, rest = parts[1], parts[2:]
    if version not in VERSIONS:
        return None
    if rest[0] in SPECIAL_SEGMENTS:
        return _special_route(version, rest)
    return _module_route(method, version, rest)
