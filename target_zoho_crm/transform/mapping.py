"""Stream property → Zoho field API name.

Zoho accepts only field API names (insert-records page: "only field API names are accepted"), while taps
name columns `first_name`, `accountName` or `First Name`. Matching order: `field_map`, exact API name,
the same name ignoring case and separators, then the field label. Unknown and read-only properties are
left out and reported (once per stream, by the sink) instead of failing every record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from target_zoho_crm.errors import FieldMapError
from target_zoho_crm.model import FieldMeta, ModuleInfo
from target_zoho_crm.names import loose, match_name

logger = logging.getLogger("target_zoho_crm.fields")

# Names taps commonly use for inventory line items, whatever the API version calls them.
_LINE_ITEM_ALIASES = {"lineitems", "productdetails", "items", "products"}


def _record_id_field() -> FieldMeta:
    """`id` is read-only in the metadata but is the key of an update, so it is always mappable."""
    return FieldMeta(api_name="id", data_type="bigint", json_type="string", raw={"api_name": "id"})


class FieldMapper:
    """Decides, once per stream schema, which property feeds which Zoho field."""

    def __init__(
        self,
        module: ModuleInfo,
        properties: Mapping[str, Any],
        field_map: Mapping[str, str],
        *,
        operation: str = "update",
    ):
        self.module = module
        self.operation = operation
        self._mapping: dict[str, FieldMeta] = {}
        self.ignored: dict[str, str] = {}
        self._taken: dict[str, str] = {}  # field api_name → property
        fields = module.fields
        by_label: dict[str, list[str]] = {}
        for meta in fields.values():
            if meta.label:
                by_label.setdefault(loose(meta.label), []).append(meta.api_name)

        explicit = {p: f for p, f in (field_map or {}).items() if p in properties}
        self.unused_field_map = [p for p in field_map or {} if p not in properties]
        if self.unused_field_map:
            logger.warning(
                "field_map for %s names properties the stream schema does not have: %s",
                module.api_name,
                ", ".join(self.unused_field_map),
            )
        for prop, target in explicit.items():
            if not target:
                self.ignored[prop] = "excluded by field_map"
                continue
            api_name = target if target == "id" else match_name(target, fields)
            if api_name is None:
                raise FieldMapError(
                    f"field_map maps {prop!r} to {target!r}, which is not a field of {module.api_name}."
                )
            self._assign(prop, api_name)

        # Exact API names first so `Email` wins over `email` when a schema carries both.
        pending = [p for p in properties if p not in explicit]
        for prop in sorted(pending, key=lambda p: p not in fields):
            if prop.startswith("_sdc_"):
                self.ignored[prop] = "Singer metadata column"
                continue
            api_name = self._match(prop, fields, by_label)
            if api_name is None and loose(prop) == "id":
                self.ignored[prop] = (
                    f"the source's own id is not a Zoho record id ({operation}); map it to an External"
                    " ID field with field_map to keep it"
                )
                continue
            if api_name is None:
                self.ignored[prop] = f"no field of {module.api_name} matches"
                continue
            self._assign(prop, api_name)
        # Keep the schema's property order in the mapping (stable payloads and CSV columns).
        self.mapping: Mapping[str, FieldMeta] = {
            p: self._mapping[p] for p in properties if p in self._mapping
        }

    def _match(
        self, prop: str, fields: Mapping[str, FieldMeta], by_label: dict[str, list[str]]
    ) -> str | None:
        if prop == "id" or loose(prop) == "id":
            # Only an update is keyed by Zoho's record id; anywhere else a tap's `id` is its own key,
            # which Zoho would refuse (or mistake) as a record id. `field_map` can send it elsewhere.
            return "id" if self.operation == "update" else None
        api_name = match_name(prop, fields)
        if api_name:
            return api_name
        labelled = by_label.get(loose(prop), [])
        if len(labelled) == 1:
            return labelled[0]
        if loose(prop) in _LINE_ITEM_ALIASES and self.module.line_items_field:
            return self.module.line_items_field
        return None

    def _assign(self, prop: str, api_name: str) -> None:
        if api_name in self._taken:
            self.ignored[prop] = f"field {api_name} is already fed by property {self._taken[api_name]!r}"
            return
        meta = self.module.fields.get(api_name) if api_name != "id" else None
        if api_name == "id":
            meta = _record_id_field()
        assert meta is not None
        if meta.read_only:
            self.ignored[prop] = f"field {api_name} is read-only"
            return
        self._taken[api_name] = prop
        self._mapping[prop] = meta

    def describe_ignored(self) -> str:
        """One line for the sink's log: 'prop (reason); prop2 (reason)'."""
        return "; ".join(f"{prop} ({reason})" for prop, reason in self.ignored.items())
