"""Builders that turn compact field/module specs into Zoho's metadata JSON shapes.

The built-in catalog is written as short Python specs (`F(...)`) so it stays reviewable; this module
expands them into the full `/settings/fields` element shape (reference §6.2, Zoho "Fields Meta Data"
page) so the emulator serves what Zoho serves and the target parses it with the same code it uses
against a real org.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")
ORG_PREFIX = 5725767

# data_type → (json_type, default length); lengths follow what Zoho reports for standard fields.
JSON_TYPES: dict[str, tuple[str | None, int]] = {
    "text": ("string", 255),
    "textarea": ("string", 32000),
    "email": ("string", 100),
    "phone": ("string", 30),
    "website": ("string", 255),
    "picklist": ("string", 120),
    "multiselectpicklist": ("jsonarray", 2000),
    "integer": ("integer", 9),
    "bigint": ("string", 18),
    "double": ("double", 16),
    "currency": ("double", 16),
    "percent": ("double", 5),
    "date": ("string", 20),
    "datetime": ("string", 120),
    "boolean": ("boolean", 5),
    "lookup": ("jsonobject", 120),
    "ownerlookup": ("jsonobject", 120),
    "userlookup": ("jsonobject", 120),
    "autonumber": ("string", 255),
    "formula": ("string", 255),
    "subform": ("jsonarray", 255),
    "lineitem": ("jsonarray", 255),
    "multiselectlookup": ("jsonarray", 255),
}


def version_index(version: str) -> int:
    """Position of an API version in VERSIONS; unknown versions sort as the newest."""
    try:
        return VERSIONS.index(version)
    except ValueError:
        return len(VERSIONS) - 1


def stable_id(*parts: str) -> str:
    """A deterministic 19-digit Zoho-like id: org prefix + 12 digits hashed from the parts.

    The same field keeps its id in every API version, as in Zoho. The 12 digits start with 9, far above
    the counter the emulator issues record ids from (1,000,000 upwards), and the hash space (10^11) makes
    a collision among the catalog's few thousand ids practically impossible (checked by the tests).
    """
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    n = 900_000_000_000 + int.from_bytes(digest[:8], "big") % 99_999_999_999
    return f"{ORG_PREFIX}{n:012d}"


@dataclass
class F:
    """Compact spec of one field; `since`/`until` limit it to a range of API versions."""

    api_name: str
    data_type: str = "text"
    label: str | None = None
    length: int | None = None
    mandatory: bool = False
    read_only: bool = False
    unique: bool = False
    external: bool = False
    custom: bool = False
    lookup: str | None = None
    picklist: list[str] | None = None
    decimal_place: int | None = None
    subform: str | None = None
    json_type: str | None = None
    layout_required: bool = False
    since: str | None = None
    until: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def in_version(self, version: str) -> bool:
        v = version_index(version)
        if self.since and v < version_index(self.since):
            return False
        return not (self.until and v > version_index(self.until))


def _label(api_name: str) -> str:
    return api_name.replace("__s", "").replace("__c", "").replace("_", " ").strip()


def picklist_values(module: str, api_name: str, values: list[str]) -> list[dict[str, Any]]:
    """Zoho's `pick_list_values` elements; single-selects start with the `-None-` entry as Zoho's do."""
    return [
        {
            "display_value": v,
            "actual_value": v,
            "reference_value": v,
            "sequence_number": i + 1,
            "type": "used",
            "id": stable_id(module, api_name, "pick", v),
            "colour_code": None,
        }
        for i, v in enumerate(values)
    ]


def field_meta(module: str, spec: F, version: str = "v8") -> dict[str, Any]:
    """Expand a spec into one element of Zoho's `{"fields": [...]}` response for an API version."""
    json_type, default_len = JSON_TYPES.get(spec.data_type, ("string", 255))
    label = spec.label or _label(spec.api_name)
    writable = not spec.read_only
    meta: dict[str, Any] = {
        "api_name": spec.api_name,
        "id": stable_id(module, "field", spec.api_name),
        "field_label": label,
        "display_label": label,
        "data_type": spec.data_type,
        "json_type": spec.json_type or json_type,
        "length": spec.length if spec.length is not None else default_len,
        "decimal_place": spec.decimal_place,
        "system_mandatory": spec.mandatory,
        "read_only": spec.read_only,
        "field_read_only": spec.read_only,
        "custom_field": spec.custom,
        "visible": True,
        "unique": {"casesensitive": "false"} if spec.unique else {},
        "external": {"show": True, "type": "org", "allow_multiple_config": False} if spec.external else None,
        "lookup": {},
        "pick_list_values": [],
        "operation_type": {
            "web_update": writable,
            "api_create": writable,
            "web_create": writable,
            "api_update": writable,
        },
        "created_source": "crm" if spec.custom else "default",
        "searchable": spec.data_type not in ("textarea", "subform", "lineitem"),
        "sortable": spec.data_type not in ("textarea", "multiselectpicklist", "subform", "lineitem"),
        "filterable": spec.data_type not in ("subform", "lineitem"),
        "history_tracking": None,  # Zoho: null unless the field tracks picklist history (field-meta.html)
        "auto_number": {},
        "formula": {},
        "currency": {},
        "textarea": None,
        "subform": None,
        "associated_module": None,
    }
    if spec.lookup:
        meta["lookup"] = {
            "display_label": label,
            "api_name": spec.api_name,
            # v2/v2.1 name the related module as a string (field-meta.html v2; Zoho's v2.1 SDK models
            # `lookup.module` as a string); objects `{"api_name", "id"}` from v3.
            "module": (
                spec.lookup
                if version_index(version) <= version_index("v2.1")
                else {"api_name": spec.lookup, "id": stable_id("module", spec.lookup)}
            ),
            "id": stable_id(module, "lookup", spec.api_name),
            "query_details": {},
        }
    if spec.picklist is not None:
        values = spec.picklist if spec.data_type == "multiselectpicklist" else ["-None-", *spec.picklist]
        meta["pick_list_values"] = picklist_values(module, spec.api_name, values)
        meta["pick_list_values_sorted_lexically"] = False
    if spec.data_type == "currency":
        meta["currency"] = {"rounding_option": "normal", "precision": 2}
        if meta["decimal_place"] is None:
            meta["decimal_place"] = 2
    if spec.data_type in ("double", "percent") and meta["decimal_place"] is None:
        meta["decimal_place"] = 2
    if spec.data_type == "textarea":
        meta["textarea"] = {"type": "large" if meta["length"] > 2000 else "small"}
    if spec.subform:
        meta["subform"] = {"module": spec.subform, "id": stable_id("module", spec.subform)}
        meta["associated_module"] = {"module": spec.subform, "id": stable_id("module", spec.subform)}
    if spec.data_type == "autonumber":
        meta["auto_number"] = {"prefix": "", "suffix": "", "start_number": 1}
    meta.update(spec.extra)
    return meta


@dataclass
class M:
    """Compact spec of one module (`/settings/modules` element) and its fields."""

    api_name: str
    module_name: str
    singular: str
    plural: str
    fields: list[F]
    generated_type: str = "default"
    since: str | None = None
    dup_fields: list[str] = field(default_factory=list)
    line_items: dict[str, str] | None = None  # version-range key ("v2" / "v2.1+") → field api name
    parent_module: str | None = None

    def in_version(self, version: str) -> bool:
        return not (self.since and version_index(version) < version_index(self.since))


def module_meta(spec: M, version: str, sequence: int) -> dict[str, Any]:
    """Expand a module spec into one element of Zoho's `{"modules": [...]}` response (§6.1)."""
    subform = spec.generated_type == "subform"
    meta: dict[str, Any] = {
        "api_name": spec.api_name,
        "module_name": spec.module_name,
        "singular_label": spec.singular,
        "plural_label": spec.plural,
        "actual_singular_label": spec.singular,
        "actual_plural_label": spec.plural,
        "id": stable_id("module", spec.api_name),
        "api_supported": True,
        "creatable": not subform,
        "editable": not subform,
        "deletable": not subform,
        "viewable": True,
        "convertable": spec.api_name in ("Leads", "Quotes", "Sales_Orders"),
        "generated_type": spec.generated_type,
        "visibility": 1,
        "sequence_number": sequence,
        "quick_create": not subform,
        "show_as_tab": not subform,
        "global_search_supported": not subform,
        "business_card_field_limit": 5,
        "modified_time": None if spec.generated_type != "custom" else "2024-03-14T10:21:07+05:30",
        "parent_module": {"api_name": spec.parent_module, "id": stable_id("module", spec.parent_module)}
        if spec.parent_module
        else {},
        "profiles": [
            {"name": "Administrator", "id": stable_id("profile", "Administrator")},
            {"name": "Standard", "id": stable_id("profile", "Standard")},
        ],
    }
    if version_index(version) >= version_index("v5"):
        meta["status"] = "visible"
    else:
        meta["visible"] = True
    if version_index(version) >= version_index("v6"):
        meta["recycle_bin_on_delete"] = True
    return meta
