"""Is a converted payload already what Zoho holds? The field-by-field comparison behind `skip_unchanged`.

Pure: no I/O. A `RecordComparer` is built once per stream from the mapped fields' metadata; `compare`
takes a payload as `RecordConverter.convert` makes it (lookups resolved to `{"id": ...}`) and the row
that a COQL `select` of `fields_to_read(...)` returned for the same record, and gives the fields a write
would change, old → new (empty: the record is unchanged and needs no write).

Row shapes (Get-Records-through-COQL-Query.html, v4-v8): text and picklists as strings, multi-select
picklists as arrays of strings, booleans as JSON booleans, numbers and currency as JSON numbers, dates
`yyyy-MM-dd`, datetimes ISO 8601 in the org's offset (`2024-06-05T02:04:09-07:00`), lookups and owners
as `{"id"}` objects (from v7 with `name`), and a field without a value as `null`.

Normalisation, per field type, as Zoho stores values:
- datetimes are compared as instants, to the second (Zoho keeps no fractions);
- decimals, currency and percent are rounded half-up to the field's decimal places (currency: its
  `currency.precision`, else 2), as the converter rounds them before a write: `1.50` equals `1.5`;
- picklist values are compared as Zoho shows them: an option's `actual_value` counts as its
  `display_value`; anything else must match exactly, case included (a case change is a real write);
- multi-select picklists compare as sets of such values;
- lookups, owners and layouts compare by id only (COQL adds the display `name` from v7);
- text is compared exactly (case and spaces count); Zoho answers an empty field with `null`, and
  `""`, `null` and a key the row lacks all read as empty, so an explicit `null` in the payload only
  changes a field that holds something;
- a checkbox has two states: `null` in the payload is `false`.
A property missing from the payload changes nothing. A field whose value cannot be compared from a COQL
row (subforms and line items, multi-select lookups, file and image uploads, any type this module does
not know, a value of an unexpected shape such as an unresolved lookup) is always reported as changed, so
a real change is never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from hashlib import blake2b
from typing import Any

from target_zoho_crm.model import FieldMeta, ModuleInfo

__all__ = [
    "COQL_SELECT_MAX",
    "FieldChange",
    "RecordComparer",
    "comparable",
    "fields_to_read",
]

COQL_SELECT_MAX = 50  # columns in one COQL select (COQL-Limitations.html, v2-v8)

# Types a COQL row cannot give back, or gives in a shape that does not answer "would a write change
# it": COQL-Limitations.html lists multi-select lookups, line items and file/image uploads as
# unsupported; subform rows live in their own module; the rest are never written.
_NOT_COMPARED = {
    "subform": "subform rows are not compared",
    "lineitem": "line items are not compared",
    "multiselectlookup": "multi-select lookups cannot be read with COQL",
    "multiuserlookup": "multi-select user lookups cannot be read with COQL",
    "fileupload": "file uploads cannot be read with COQL",
    "imageupload": "image uploads cannot be read with COQL",
    "profileimage": "profile images are not compared",
    "territories": "territories are not compared",
    "consent_lookup": "consent lookups are not compared",
    "autonumber": "read-only field",
    "formula": "read-only field",
    "rollup_summary": "read-only field",
}
_UNKNOWN_FIELD = "not a mapped field of this stream"
_UNEXPECTED_VALUE = "value of an unexpected shape"

_INCOMPARABLE = object()  # a normaliser's answer for a value it cannot put in canonical form

Normaliser = Callable[[Any], Any]  # value (payload or row) → canonical value, None (empty) or _INCOMPARABLE


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field a write would change: `old` as the Zoho row holds it, `new` as the payload sends it.

    `reason` is set when the field could not be compared (it counts as changed without knowing)."""

    field: str
    old: Any
    new: Any
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "old": self.old, "new": self.new}
        if self.reason:
            out["reason"] = self.reason
        return out


# --- normalisers -------------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _INCOMPARABLE


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, float):
            return Decimal(repr(value))
        if isinstance(value, (int, Decimal)):
            return Decimal(value)
        if isinstance(value, str):
            return Decimal(value.strip())
    except InvalidOperation:
        return None
    return None


def _number(quantum: Decimal | None) -> Normaliser:
    def normalise(value: Any) -> Any:
        if value is None or value == "":
            return None
        number = _to_decimal(value)
        if number is None or not number.is_finite():
            return _INCOMPARABLE
        if quantum is None:
            return number
        try:
            return number.quantize(quantum, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return _INCOMPARABLE

    return normalise


def _decimal_quantum(meta: FieldMeta) -> Decimal | None:
    """The field's rounding step, as `convert` rounds before a write."""
    places = meta.decimal_place
    if places is None and meta.data_type == "currency":
        precision = (meta.raw.get("currency") or {}).get("precision") if meta.raw else None
        places = int(precision) if isinstance(precision, int) else 2
    return Decimal(1).scaleb(-places) if places is not None else None


def _bigint(value: Any) -> Any:
    """Long Integer: a string of digits whose leading zeros count, so compared as text."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return _INCOMPARABLE


def _boolean(value: Any) -> Any:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _INCOMPARABLE


def _date(value: Any) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return _INCOMPARABLE
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        return _INCOMPARABLE


def _datetime(value: Any) -> Any:
    """An instant in UTC, to the second; a value without an offset is not an instant."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return _INCOMPARABLE
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _INCOMPARABLE
    if moment.utcoffset() is None:
        return _INCOMPARABLE
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _record_id(value: Any) -> Any:
    """A lookup, owner or layout by id: `{"id": ...}` (any extra keys such as `name` ignored)."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        rid = value.get("id")
        if rid is None or rid == "":
            # `{}` or `{"id": null}` is empty; `{"name": "Zylker"}` without an id cannot be compared
            return None if all(v in (None, "") for v in value.values()) else _INCOMPARABLE
        value = rid
    if isinstance(value, bool):
        return _INCOMPARABLE
    if isinstance(value, (int, str)):
        text = str(value).strip()
        return text if text.isdigit() else _INCOMPARABLE
    return _INCOMPARABLE  # e.g. an unresolved lookup marker


def _picklist_options(meta: FieldMeta) -> dict[str, str]:
    """Every spelling Zoho may give an option (its actual and display value) → its display value."""
    options: dict[str, str] = {}
    raw_values = (meta.raw.get("pick_list_values") if meta.raw else None) or []
    for option in raw_values:
        if not isinstance(option, Mapping):
            continue
        display = option.get("display_value")
        actual = option.get("actual_value")
        shown = str(display if display is not None else actual)
        if display is not None:
            options[str(display)] = shown
        if actual is not None:
            options.setdefault(str(actual), shown)
    for value in meta.picklist_values:
        options.setdefault(value, value)
    return options


_NONE_OPTION = "-None-"  # the option Zoho shows for "no value"


def _picklist(meta: FieldMeta) -> Normaliser:
    options = _picklist_options(meta)

    def normalise(value: Any) -> Any:
        if value is None or value == "" or value == _NONE_OPTION:
            return None
        if not isinstance(value, str):
            return _INCOMPARABLE
        return options.get(value, value)

    return normalise


def _multiselect(meta: FieldMeta) -> Normaliser:
    options = _picklist_options(meta)

    def normalise(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            items: Iterable[Any] = value.split(";")  # criteria and older answers join values with `;`
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            return _INCOMPARABLE
        result = set()
        for item in items:
            if not isinstance(item, str):
                return _INCOMPARABLE
            if item and item != _NONE_OPTION:
                result.add(options.get(item, item))
        return frozenset(result) or None

    return normalise


_TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website"})
_DECIMAL_TYPES = frozenset({"double", "currency", "percent", "decimal"})
_ID_TYPES = frozenset({"lookup", "ownerlookup", "userlookup", "layout", "multi_module_lookup"})


def _normaliser(meta: FieldMeta) -> Normaliser | None:
    """How one field's values are put in canonical form; None when the type is not compared."""
    kind = meta.data_type
    if kind in _NOT_COMPARED:
        return None
    if meta.json_type == "jsonarray" and kind != "multiselectpicklist":
        return None  # e.g. Tag (data_type text, json_type jsonarray)
    if kind in _TEXT_TYPES:
        return _text
    if kind == "integer":
        return _number(None)
    if kind == "bigint":
        return _bigint
    if kind in _DECIMAL_TYPES:
        return _number(_decimal_quantum(meta))
    if kind == "boolean":
        return _boolean
    if kind == "date":
        return _date
    if kind == "datetime":
        return _datetime
    if kind in _ID_TYPES:
        return _record_id
    if kind == "picklist":
        return _picklist(meta)
    if kind == "multiselectpicklist":
        return _multiselect(meta)
    return None


def _reason(meta: FieldMeta, line_items_field: str | None) -> str:
    if meta.api_name == line_items_field:
        return _NOT_COMPARED["lineitem"]
    return _NOT_COMPARED.get(meta.data_type) or f"fields of type {meta.data_type!r} are not compared"


def comparable(meta: FieldMeta, *, line_items_field: str | None = None) -> bool:
    """Whether a COQL row can tell if a write of this field would change it."""
    return meta.api_name != line_items_field and _normaliser(meta) is not None


def fields_to_read(
    fields: Iterable[FieldMeta], *, keys: Iterable[str] = (), line_items_field: str | None = None
) -> tuple[str, ...]:
    """The API names one COQL select must name to match records on `keys` and compare `fields`.

    `id` first, then the key fields, then every comparable mapped field, each once, in the given order
    (a duplicate select column is Zoho's DUPLICATE_DATA). Fields that cannot be compared are left out:
    COQL refuses some of them (INVALID_QUERY), and a payload carrying one counts as changed anyway.
    More than COQL_SELECT_MAX names must be read in several selects and their rows joined on `id`.
    """
    names: dict[str, None] = {"id": None}
    for key in keys:
        names.setdefault(key, None)
    for meta in fields:
        if comparable(meta, line_items_field=line_items_field):
            names.setdefault(meta.api_name, None)
    return tuple(names)


class RecordComparer:
    """Compares payloads with Zoho's rows for one stream; built once from the mapped fields' metadata.

    `fields` are the FieldMeta of the stream's mapped fields (`FieldMapper.mapping.values()`);
    `line_items_field` the module's inventory line-items field (`ModuleInfo.line_items_field`), which
    is never compared whatever its `data_type`. `id` is always known (compared as a record id)."""

    def __init__(self, fields: Iterable[FieldMeta], *, line_items_field: str | None = None) -> None:
        self._fields = list(fields)
        self.line_items_field = line_items_field
        # api_name → (normaliser, None) or (None, why it is not compared)
        self._rules: dict[str, tuple[Normaliser | None, str | None]] = {"id": (_record_id, None)}
        for meta in self._fields:
            normalise = None if meta.api_name == line_items_field else _normaliser(meta)
            reason = None if normalise is not None else _reason(meta, line_items_field)
            self._rules[meta.api_name] = (normalise, reason)

    @classmethod
    def for_module(cls, module: ModuleInfo, fields: Iterable[FieldMeta]) -> RecordComparer:
        return cls(fields, line_items_field=module.line_items_field)

    def fields_to_read(self, keys: Iterable[str] = ()) -> tuple[str, ...]:
        """`fields_to_read` for this stream's fields (see the module function)."""
        return fields_to_read(self._fields, keys=keys, line_items_field=self.line_items_field)

    def compare(self, payload: Mapping[str, Any], row: Mapping[str, Any]) -> tuple[FieldChange, ...]:
        """The fields of `payload` a write would change in the record Zoho returned as `row`; empty
        when the record is unchanged. A key the row lacks reads as empty (COQL returns null fields
        as `null`), so `row` must come from a select of `fields_to_read`."""
        changes: list[FieldChange] = []
        for name, new in payload.items():
            old = row.get(name)
            normalise, reason = self._rules.get(name, (None, _UNKNOWN_FIELD))
            if normalise is None:
                changes.append(FieldChange(name, old, new, reason))
                continue
            want, have = normalise(new), normalise(old)
            if want is _INCOMPARABLE or have is _INCOMPARABLE:
                changes.append(FieldChange(name, old, new, _UNEXPECTED_VALUE))
            elif want != have:
                changes.append(FieldChange(name, old, new))
        return tuple(changes)

    def unchanged(self, payload: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
        return not self.compare(payload, row)

    def digest(self, values: Mapping[str, Any], fields: Iterable[str]) -> bytes | None:
        """A short fingerprint of `values`' canonical form over `fields` (in that order), so that a
        scan of a large module keeps 16 bytes per record rather than its row: a payload and a row with
        equal digests over the same fields compare equal field by field. None when a field is missing
        from `values` (a payload's missing property is "no change", not "empty"), is not compared, or
        holds a value that cannot be put in canonical form: such a record needs its row."""
        parts: list[str] = []
        for name in fields:
            if name not in values:
                return None
            normalise, _reason = self._rules.get(name, (None, _UNKNOWN_FIELD))
            if normalise is None:
                return None
            value = normalise(values[name])
            if value is _INCOMPARABLE:
                return None
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Decimal):
                value = value.normalize()  # 5 and 5.0 are equal numbers: one spelling
            parts.append(repr(value))
        return blake2b("\x1f".join(parts).encode(), digest_size=16).digest()
