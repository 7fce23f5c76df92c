"""RecordConverter: a tap record → a Zoho payload, through the per-type dispatch (`_compile_field`) to
the scalar converters (values.py) and the lookup, line-item and subform converters (rows.py).

A converter is compiled once per stream: every mapped property gets a closure specialised for its
field's `data_type`, so converting a record is one dict walk with no metadata lookups. Values that
Zoho would refuse produce the same `INVALID_DATA` / `MANDATORY_NOT_FOUND` errors Zoho returns
(insert-records.html "Possible Errors"), before a credit is spent. Lookup values that are not Zoho IDs
become `LookupRef` markers that load/lookups.py's `LookupResolver.resolve_payloads` swaps for
`{"id": ...}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from target_zoho_crm.model import FieldMeta, ModuleInfo, ZohoError, is_empty
from target_zoho_crm.transform.rows import (
    LINE_ITEM_KEYS_V2,
    LINE_ITEM_KEYS_V21,
    make_id_object,
    make_line_items,
    make_lookup,
    make_multi_lookup,
    make_subform,
    passthrough,
)
from target_zoho_crm.transform.values import (
    MSG_MANDATORY,
    TEXT_TYPES,
    ConversionError,
    Converter,
    format_datetime,
    make_bigint,
    make_boolean,
    make_date,
    make_datetime,
    make_decimal,
    make_integer,
    make_multiselect,
    make_picklist,
    make_text,
)

__all__ = [
    "LINE_ITEM_KEYS_V2",
    "LINE_ITEM_KEYS_V21",
    "ConversionError",
    "RecordConverter",
    "format_datetime",
]


class _Mapper(Protocol):
    mapping: Mapping[str, FieldMeta]


# --- scalar converters -------------------------------------------------------------------------


# --- lookups -----------------------------------------------------------------------------------


# --- subforms and line items -------------------------------------------------------------------


_READ_ONLY_TYPES = frozenset({"autonumber", "formula", "rollup_summary", "profileimage", "territories"})


def _compile_field(meta: FieldMeta, zone: tzinfo, subforms: Mapping[str, ModuleInfo]) -> Converter | None:
    """The converter closure for one field, or None for fields a write cannot set."""
    kind = meta.data_type
    if kind in _READ_ONLY_TYPES:
        return None
    if kind in TEXT_TYPES:
        return make_text(meta, TEXT_TYPES[kind])
    if kind == "integer":
        return make_integer(meta)
    if kind == "bigint":
        return make_bigint(meta)
    if kind in ("double", "currency", "percent", "decimal"):
        return make_decimal(meta)
    if kind == "boolean":
        return make_boolean(meta)
    if kind == "picklist":
        return make_picklist(meta)
    if kind == "multiselectpicklist":
        return make_multiselect(meta)
    if kind == "date":
        return make_date(meta)
    if kind == "datetime":
        return make_datetime(meta, zone)
    if kind in ("lookup", "ownerlookup", "userlookup"):
        return make_lookup(meta)
    if kind in ("multiselectlookup", "multiuserlookup"):
        return make_multi_lookup(meta)
    if kind == "subform":
        return make_subform(meta, subforms.get(meta.subform_module or meta.api_name), zone, _compile_field)
    if kind == "layout":
        return make_id_object(meta)
    return passthrough


_MISSING = object()


class RecordConverter:
    """Converts a stream's records to Zoho payloads; compiled once per stream (see module docstring).

    `operation` decides the mandatory check (insert-records.html, upsert-records.html):
    - insert: every system-mandatory field (and the inventory line items) must be present;
    - update: nothing is mandatory (a partial update changes only the keys sent);
    - upsert: Zoho inserts when no duplicate-check field matches and updates otherwise, so mandatory
      fields are only required of records that will insert. `convert` checks them when the record
      carries no key value at all (it can only insert); for the others the sink asks
      `missing_mandatory(payload)` once `lookups.KeyMatcher` knows the record matches nothing.
    """

    def __init__(
        self,
        module: ModuleInfo,
        mapper: _Mapper,
        *,
        timezone: str,
        operation: str,
        api_version: str,
        key_fields: Iterable[str] | None = None,
        subform_modules: Mapping[str, ModuleInfo] | None = None,
    ) -> None:
        try:
            self.zone: tzinfo = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Paris'"
            ) from exc
        if operation not in ("insert", "update", "upsert"):
            raise ValueError(f"unknown operation {operation!r}")
        self.module = module
        self.operation = operation
        self.api_version = api_version
        line_items = module.line_items_field
        # (property, field API name, Zoho's json_path for its errors, converter), compiled once.
        self._steps: list[tuple[str, str, str, Converter]] = []
        for prop, meta in mapper.mapping.items():
            if meta.api_name == line_items:
                converter: Converter | None = make_line_items(meta, mandatory_rows=operation != "update")
            else:
                converter = _compile_field(meta, self.zone, subform_modules or {})
            if converter is not None:
                self._steps.append((prop, meta.api_name, f"$.data[0].{meta.api_name}", converter))
        mandatory = [
            name
            for name in module.mandatory_fields
            if not (module.fields[name].read_only or module.fields[name].data_type in _READ_ONLY_TYPES)
        ]
        if line_items and line_items not in mandatory:
            mandatory.append(line_items)  # "Line item subform is mandatory on insert" (insert-records.html)
        self.mandatory_fields: tuple[str, ...] = tuple(mandatory)
        keys = list(key_fields or [])
        for name in (*module.system_duplicate_fields, *module.unique_fields, *module.external_fields):
            if name not in keys:
                keys.append(name)
        self.key_fields: tuple[str, ...] = tuple(keys)

    def convert(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[ZohoError]]:
        """The Zoho payload for one record and the errors Zoho would return for it (empty when ok)."""
        payload: dict[str, Any] = {}
        errors: list[ZohoError] = []
        missing = _MISSING
        for prop, api_name, path, converter in self._steps:
            value = record.get(prop, missing)
            if value is missing:
                continue
            if value is None or (value.__class__ is str and (not value or value.isspace())):
                payload[api_name] = None
                continue
            try:
                payload[api_name] = converter(value, path)
            except ConversionError as exc:
                details = {"api_name": api_name, "json_path": path, **exc.details}
                errors.append(ZohoError(exc.code, exc.message, details))
        if self.operation == "insert" or (self.operation == "upsert" and not self._has_key(payload)):
            errors.extend(self.missing_mandatory(payload, skip={e.field for e in errors}))
        return payload, errors

    def _has_key(self, payload: Mapping[str, Any]) -> bool:
        return any(not is_empty(payload.get(name)) for name in self.key_fields)

    def missing_mandatory(self, payload: Mapping[str, Any], skip: Iterable[Any] = ()) -> list[ZohoError]:
        """MANDATORY_NOT_FOUND for each mandatory field absent or empty in `payload`."""
        skipped = set(skip)
        return [
            ZohoError(
                "MANDATORY_NOT_FOUND", MSG_MANDATORY, {"api_name": name, "json_path": f"$.data[0].{name}"}
            )
            for name in self.mandatory_fields
            if name not in skipped and is_empty(payload.get(name))
        ]
