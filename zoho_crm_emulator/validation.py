"""Per-record validation from field metadata, in Zoho's order, with Zoho's error shapes.

Zoho checks each record of a write on its own and reports the first problem it finds, in this order:
data type (`INVALID_DATA` + `expected_data_type`), length (`INVALID_DATA` + `maximum_length`), picklist
(only restricted picklists reject unknown values), mandatory fields (`MANDATORY_NOT_FOUND`); then the
record service checks uniqueness (`DUPLICATE_DATA`) and lookups (`INVALID_DATA`), which need the store.
Every error carries `api_name` and `json_path` = `$.data[i].Field`.
Sources: https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html ("Possible Errors"),
https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html, reference §2.8 and §5.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, partial
from typing import Any

from .responses import error

READ_ONLY_TYPES = frozenset({"autonumber", "formula", "rollup_summary", "profileimage", "territories"})
SYSTEM_READ_ONLY = frozenset(
    {
        "Created_Time",
        "Modified_Time",
        "Created_By",
        "Modified_By",
        "Full_Name",
        "Last_Activity_Time",
        "Locked__s",
        "Record_Status__s",
        "Converted__s",
        "Tag",
    }
)
TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website", "picklist"})
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup", "layout"})
ARRAY_TYPES = frozenset(
    {
        "multiselectpicklist",
        "subform",
        "lineitem",
        "multiselectlookup",
        "multiuserlookup",
        "fileupload",
        "imageupload",
    }
)
DECIMAL_TYPES = frozenset({"double", "currency", "percent", "decimal"})
INVENTORY_LINE_ITEMS = (
    "Product_Details",
    "Quoted_Items",
    "Ordered_Items",
    "Purchase_Items",
    "Invoiced_Items",
)
INVENTORY_MODULES = frozenset({"Quotes", "Sales_Orders", "Purchase_Orders", "Invoices"})
DEFAULT_TEXT_LENGTH = 255
INTEGER_DIGITS = 9
BIGINT_DIGITS = 18

# Zoho's email rule: local part, @, domain with a 2-22 letter TLD (reference §5).
EMAIL_RE = re.compile(
    r"^[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,22}$"
)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?$")
INT_RE = re.compile(r"^-?\d+$")
NUM_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


def invalid(api_name: str, path: str, **extra: Any) -> dict[str, Any]:
    return error("INVALID_DATA", "invalid data", {**extra, "api_name": api_name, "json_path": path})


def missing(api_name: str, path: str) -> dict[str, Any]:
    return error("MANDATORY_NOT_FOUND", "required field not found", {"api_name": api_name, "json_path": path})


@dataclass
class FieldSpec:
    """The parts of one field's metadata the emulator enforces."""

    api_name: str
    data_type: str
    length: int | None = None
    read_only: bool = False
    mandatory: bool = False
    unique: bool = False
    case_sensitive: bool = False
    external: bool = False
    lookup_module: str | None = None
    picklist: frozenset[str] = frozenset()
    restricted: bool = False

    @classmethod
    def from_zoho(cls, item: dict[str, Any]) -> FieldSpec:
        data_type = str(item.get("data_type") or "text")
        op = item.get("operation_type") or {}
        not_writable = bool(op) and op.get("api_create") is False and op.get("api_update") is False
        unique = item.get("unique")
        lookup = item.get("lookup") or {}
        target = lookup.get("module") if isinstance(lookup, dict) else None
        # `lookup.module` is the module's name (v2, v2.1) or `{"api_name", "id"}` (later versions).
        lookup_module = target.get("api_name") if isinstance(target, dict) else target
        if data_type in ("ownerlookup", "userlookup"):
            lookup_module = "Users"
        picklist = frozenset(
            str(v.get("actual_value", v.get("display_value")))
            for v in item.get("pick_list_values") or []
            if isinstance(v, dict)
        )
        case_sensitive = isinstance(unique, dict) and str(unique.get("casesensitive", "")).lower() == "true"
        return cls(
            api_name=str(item["api_name"]),
            data_type=data_type,
            length=item.get("length") if isinstance(item.get("length"), int) else None,
            read_only=bool(item.get("read_only")) or not_writable or data_type in READ_ONLY_TYPES,
            mandatory=bool(item.get("system_mandatory")),
            unique=bool(unique),
            case_sensitive=case_sensitive,
            external=bool(item.get("external")),
            lookup_module=lookup_module,
            picklist=picklist,
            restricted=bool(item.get("restricted_picklist")),
        )


@dataclass
class ModuleSchema:
    """A module's fields and keys, built once per (version, module) from the catalog."""

    api_name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    system_duplicate_fields: list[str] = field(default_factory=list)
    display_field: str | None = None

    @classmethod
    def build(cls, api_name: str, fields: list[dict[str, Any]], system_dup: list[str]) -> ModuleSchema:
        specs = {str(f["api_name"]): FieldSpec.from_zoho(f) for f in fields if f.get("api_name")}
        for name in INVENTORY_LINE_ITEMS:
            if api_name in INVENTORY_MODULES and name in specs:
                specs[name].mandatory = True
        display = next((f for f in system_dup if f in specs), None)
        for candidate in ("Name", "Full_Name", "Last_Name", "Subject"):
            if display is None and candidate in specs:
                display = candidate
        return cls(api_name, specs, [f for f in system_dup if f in specs], display)

    @cached_property
    def unique_fields(self) -> list[str]:
        """User-defined unique fields ("Do not allow duplicate values"), external fields excluded."""
        return [
            f.api_name
            for f in self.fields.values()
            if f.unique and not f.external and f.api_name not in self.system_duplicate_fields
        ]

    @cached_property
    def external_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.external]

    @cached_property
    def all_unique_fields(self) -> list[str]:
        """Every field enforced unique on insert/update: system duplicate, custom unique, external."""
        return self.system_duplicate_fields + self.unique_fields + self.external_fields

    @cached_property
    def mandatory_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.mandatory]

    @cached_property
    def writable_checks(self) -> dict[str, FieldCheck]:
        """Writable fields with their checks prepared once, so a record costs one dict lookup per key."""
        return {name: FieldCheck.of(spec) for name, spec in self.fields.items() if self.writable(name)}

    @cached_property
    def resolved_fields(self) -> frozenset[str]:
        """Fields the record service resolves against the store: lookups and inventory line items."""
        return frozenset(
            name
            for name, spec in self.fields.items()
            if (spec.data_type in LOOKUP_TYPES and spec.data_type != "layout") or name in INVENTORY_LINE_ITEMS
        )

    def writable(self, name: str) -> FieldSpec | None:
        spec = self.fields.get(name)
        if spec is None or spec.read_only or name in SYSTEM_READ_ONLY or name == "id":
            return None
        return spec


class _Invalid(Exception):
    def __init__(self, expected: str | None) -> None:
        self.expected = expected


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def coerce(spec: FieldSpec, value: Any) -> Any:
    """The value as Zoho stores it, or `_Invalid(expected_data_type)` when its type is wrong."""
    if value is None:
        return None
    dt = spec.data_type
    if dt in TEXT_TYPES:
        if _is_number(value):
            value = str(value)
        if not isinstance(value, str):
            raise _Invalid(dt)
        if dt == "email" and value and not EMAIL_RE.match(value):
            # Zoho names the field's type for a malformed email too (reference §2.8; README table).
            raise _Invalid("email")
        return value
    if dt == "integer":
        if _is_number(value) and float(value).is_integer():
            return int(value)
        if isinstance(value, str) and INT_RE.match(value.strip()):
            return int(value)
        raise _Invalid("integer")
    if dt == "bigint":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and INT_RE.match(value.strip()):
            return value.strip()
        raise _Invalid("bigint")
    if dt in DECIMAL_TYPES:
        if _is_number(value):
            return value
        if isinstance(value, str) and NUM_RE.match(value.strip()):
            return float(value)
        raise _Invalid("double")
    if dt == "boolean":
        if isinstance(value, bool):
            return value
        raise _Invalid("boolean")
    if dt == "date":
        if isinstance(value, str) and DATE_RE.match(value):
            try:
                date.fromisoformat(value)
                return value
            except ValueError:
                pass
        raise _Invalid("date")
    if dt == "datetime":
        if isinstance(value, str) and DATETIME_RE.match(value):
            return value
        raise _Invalid("datetime")
    if dt in LOOKUP_TYPES:
        if isinstance(value, dict):
            return value
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip().isdigit():
            return {"id": str(value).strip()}
        raise _Invalid("jsonobject")
    if dt in ARRAY_TYPES:
        if isinstance(value, list):
            if dt == "multiselectpicklist" and not all(isinstance(v, str) for v in value):
                raise _Invalid("jsonarray")
            return value
        raise _Invalid("jsonarray")
    return value


def _length_limit(spec: FieldSpec) -> int | None:
    if spec.data_type in TEXT_TYPES:
        return spec.length or DEFAULT_TEXT_LENGTH
    if spec.data_type == "integer":
        return spec.length or INTEGER_DIGITS
    if spec.data_type == "bigint":
        return BIGINT_DIGITS
    return None


def _digit_count(value: Any) -> int:
    return len(str(value).lstrip("-"))


def _measure(spec: FieldSpec) -> Callable[[Any], int]:
    """How a coerced value's length is counted: digits for integer/bigint, characters for text
    (text types always coerce to str)."""
    return _digit_count if spec.data_type in ("integer", "bigint") else len


_MAX_EXACT_INT = 1 << 53  # beyond this `coerce` goes through float(); leave those to it


def _coercer(spec: FieldSpec) -> Callable[[Any], Any]:
    """`coerce` for one field, with a fast path for the value type JSON usually gives it.

    Only values whose result is obviously the value itself take the fast path; everything else goes
    through `coerce`, so results and errors are the same.
    """
    slow = partial(coerce, spec)
    dt = spec.data_type
    if dt == "email":

        def email(value: Any) -> Any:
            if value.__class__ is str and (not value or EMAIL_RE.match(value)):
                return value
            return slow(value)

        return email
    if dt in TEXT_TYPES:
        return lambda value: value if value.__class__ is str else slow(value)
    if dt == "integer":
        return lambda value: (
            value if value.__class__ is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT else slow(value)
        )
    if dt in DECIMAL_TYPES:
        return lambda value: value if value.__class__ in (int, float) else slow(value)
    if dt == "boolean":
        return lambda value: value if value.__class__ is bool else slow(value)
    return slow


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """One writable field's type and length checks, prepared once per schema."""

    spec: FieldSpec
    coerce: Callable[[Any], Any]  # raises `_Invalid`; never called with None
    limit: int | None  # maximum length, None when the type has none
    size: Callable[[Any], int]  # a coerced value's length, compared with `limit`
    any_str: bool  # every str is valid as is (plain text types): no call needed
    restricted: bool

    @classmethod
    def of(cls, spec: FieldSpec) -> FieldCheck:
        any_str = spec.data_type in TEXT_TYPES and spec.data_type != "email"
        return cls(spec, _coercer(spec), _length_limit(spec), _measure(spec), any_str, spec.restricted)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def check_record(
    schema: ModuleSchema, record: dict[str, Any], index: int, *, for_insert: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(clean payload, first error or None) for one record, checked in Zoho's order.

    The payload keeps only writable fields of the module, with values as Zoho stores them; unknown,
    read-only and `$`-prefixed keys are ignored as Zoho ignores them.
    """
    path = f"$.data[{index}]"
    checks = schema.writable_checks
    clean: dict[str, Any] = {}
    too_long: FieldCheck | None = None  # the first field over its length, reported after the types
    restricted: list[tuple[FieldSpec, Any]] = []
    # 1. data types
    for name, value in record.items():
        check = checks.get(name)
        if check is None:
            continue
        if value is not None:
            if not (check.any_str and value.__class__ is str):
                try:
                    value = check.coerce(value)
                except _Invalid as exc:
                    extra = {"expected_data_type": exc.expected} if exc.expected else {}
                    return clean, invalid(name, f"{path}.{name}", **extra)
            if check.limit is not None and too_long is None and check.size(value) > check.limit:
                too_long = check
        clean[name] = value
        if check.restricted:
            restricted.append((check.spec, value))
    # 2. lengths
    if too_long is not None:
        name = too_long.spec.api_name
        return clean, invalid(name, f"{path}.{name}", maximum_length=too_long.limit)
    # 3. restricted picklists
    for spec, value in restricted:
        if value is None or value == "":
            continue
        values = value if isinstance(value, list) else [value]
        if any(str(v) not in spec.picklist for v in values):
            return clean, invalid(spec.api_name, f"{path}.{spec.api_name}")
    # 4. mandatory fields (insert: must be present; update: must not be emptied)
    for name in schema.mandatory_fields:
        if for_insert:
            if _empty(clean.get(name)):
                return clean, missing(name, f"{path}.{name}")
        elif name in clean and _empty(clean[name]):
            return clean, missing(name, f"{path}.{name}")
    return clean, None
