"""JSON value → Zoho value, per field type, with Zoho's own error shapes for values Zoho would refuse.

A converter is compiled once per stream: every mapped property gets a closure specialised for its
field's `data_type`, so converting a record is one dict walk with no metadata lookups. Values that
Zoho would refuse produce the same `INVALID_DATA` / `MANDATORY_NOT_FOUND` errors Zoho returns
(insert-records.html "Possible Errors"), before a credit is spent. Lookup values that are not Zoho IDs
become `LookupRef` markers that `lookups.LookupResolver.resolve_payloads` swaps for `{"id": ...}`.

Formats follow Zoho's field-type table (insert-records.html "Sample Attributes" and field-meta.html):
date `yyyy-MM-dd`, datetime ISO 8601 with offset and seconds, bigint as a string, decimals to the
field's `decimal_place`, multi-select picklists as arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from target_zoho_crm.errors import TargetZohoCRMError
from target_zoho_crm.model import USERS, FieldMeta, LookupRef, ModuleInfo, ZohoError, is_empty
from target_zoho_crm.names import loose

__all__ = [
    "LINE_ITEM_KEYS_V2",
    "LINE_ITEM_KEYS_V21",
    "ConversionError",
    "RecordConverter",
    "format_datetime",
]

# Zoho's messages (insert-records.html, "Possible Errors").
MSG_INVALID = "invalid data"
MSG_MANDATORY = "required field not found"
MANDATORY = "MANDATORY_NOT_FOUND"

# Text lengths Zoho applies when the metadata has no `length` (insert-records.html sample attributes).
_TEXTAREA_LENGTHS = {"small": 2000, "large": 32000, "rich_text": 50000}
_DEFAULT_LENGTHS = {"text": 255, "email": 100, "phone": 30, "website": 255, "textarea": 2000}
_DEFAULT_DIGITS = {"integer": 9, "bigint": 18, "double": 16, "currency": 16, "percent": 5}

# Zoho record ids are 18-19 digit numbers; shorter numbers (an EAN-13 product code, an account number)
# are values to look up, not ids.
_ID_RE = re.compile(r"^[1-9]\d{14,19}$")
# Zoho's email check: local part, "@", a domain with a 2-22 letter TLD (insert-records.html).
_EMAIL_RE = re.compile(
    r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,22}$"
)
_PHONE_RE = re.compile(r"^[0-9A-Za-z+\-.\s,;#()/*x]+$")
_WEBSITE_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$")


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})

# Inventory line items: the row keys of each API version (zoho-crm-api.md §2.9, §5; Kaizen #9/#53).
LINE_ITEM_KEYS_V2 = {
    "product": "product",
    "quantity": "quantity",
    "list_price": "list_price",
    "discount": "Discount",
    "description": "product_description",
    "price_book": "book",
    "line_tax": "line_tax",
}
LINE_ITEM_KEYS_V21 = {
    "product": "Product_Name",
    "quantity": "Quantity",
    "list_price": "List_Price",
    "discount": "Discount",
    "description": "Description",
    "price_book": "Price_Book_Name",
    "line_tax": "Line_Tax",
}
# Any spelling a source may use for a line-item key, normalised (lower case, letters/digits only).
_LINE_ITEM_ALIASES = {
    "product": "product",
    "productname": "product",
    "productid": "product",
    "productcode": "product",
    "quantity": "quantity",
    "qty": "quantity",
    "listprice": "list_price",
    "unitprice": "list_price",
    "price": "list_price",
    "discount": "discount",
    "description": "description",
    "productdescription": "description",
    "pricebook": "price_book",
    "pricebookname": "price_book",
    "book": "price_book",
    "linetax": "line_tax",
}
_LINE_ITEM_CODE_KEYS = frozenset({"productcode"})


class _Mapper(Protocol):
    mapping: Mapping[str, FieldMeta]


class ConversionError(TargetZohoCRMError):
    """One value Zoho would refuse; carries the `details` keys beyond api_name/json_path."""

    def __init__(self, code: str = "INVALID_DATA", message: str = MSG_INVALID, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


Converter = Callable[[Any, str], Any]  # (value, json_path) -> Zoho value; raises ConversionError


def _invalid(expected: str) -> ConversionError:
    return ConversionError(expected_data_type=expected)


def format_datetime(value: datetime) -> str:
    """Zoho's datetime form: `yyyy-MM-ddTHH:mm:ss±HH:mm` (seconds, never microseconds or `Z`)."""
    return value.replace(microsecond=0).isoformat(timespec="seconds")


# --- scalar converters -------------------------------------------------------------------------


def _to_decimal(value: Any, expected: str) -> Decimal:
    if isinstance(value, bool):
        raise _invalid(expected)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(expected)
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise _invalid(expected) from None
    else:
        raise _invalid(expected)
    if not result.is_finite():
        raise _invalid(expected)
    return result


def _integer_digits(value: Decimal) -> int:
    integral = abs(value).to_integral_value(rounding="ROUND_DOWN")
    return len(str(int(integral))) if integral else 1


def _make_integer(meta: FieldMeta) -> Converter:
    max_digits = meta.length or _DEFAULT_DIGITS["integer"]

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            dec = _to_decimal(value, "integer")
            if dec != dec.to_integral_value():
                raise _invalid("integer")
            number = int(dec)
        if len(str(abs(number))) > max_digits:
            raise ConversionError(maximum_length=max_digits)
        return number

    return convert


def _make_bigint(meta: FieldMeta) -> Converter:
    """Long Integer: Zoho wants a string of up to 18 digits (leading zeros kept)."""
    max_digits = meta.length or _DEFAULT_DIGITS["bigint"]
    if max_digits > 18:
        max_digits = 18

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, str):
            text = value.strip()
            digits = text[1:] if text[:1] == "-" else text
            if not digits.isdigit() or not digits.isascii():
                raise _invalid("bigint")
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            digits = text.lstrip("-")
        else:
            dec = _to_decimal(value, "bigint")
            if dec != dec.to_integral_value():
                raise _invalid("bigint")
            text = str(int(dec))
            digits = text.lstrip("-")
        if len(digits) > max_digits:
            raise ConversionError(maximum_length=max_digits)
        return text

    return convert


def _make_decimal(meta: FieldMeta) -> Converter:
    """Decimal, currency, percent: rounded half-up to the field's decimal places and kept a Decimal, so
    every digit the field allows reaches Zoho (a float holds 15-17 significant digits: a currency of 16
    integer digits and 2 places would lose its cents). The request encoder (zoho/codec.py, msgspec with
    `decimal_format="number"`) writes a Decimal as a JSON number with exactly its digits, the form
    Zoho's JSON takes for these fields."""
    expected = meta.data_type
    places = meta.decimal_place
    if places is None and meta.data_type == "currency":
        precision = (meta.raw.get("currency") or {}).get("precision") if meta.raw else None
        places = int(precision) if isinstance(precision, int) else 2
    quantum = Decimal(1).scaleb(-places) if places is not None else None
    max_digits = meta.length or _DEFAULT_DIGITS.get(expected, 16)

    def convert(value: Any, path: str) -> Any:
        dec = _to_decimal(value, expected)
        if quantum is not None:
            dec = dec.quantize(quantum, rounding=ROUND_HALF_UP)
        if _integer_digits(dec) > max_digits:
            raise ConversionError(maximum_length=max_digits)
        if places == 0 or (places is None and dec == dec.to_integral_value()):
            return int(dec)
        return dec

    return convert


def _make_boolean(meta: FieldMeta) -> Converter:
    def convert(value: Any, path: str) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, Decimal)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise _invalid("boolean")

    return convert


def _as_text(value: Any, expected: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float)):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    raise _invalid(expected)


def _text_length(meta: FieldMeta) -> int:
    if meta.length:
        return int(meta.length)
    if meta.data_type == "textarea":
        kind = (meta.raw.get("textarea") or {}).get("type") if meta.raw else None
        return _TEXTAREA_LENGTHS.get(str(kind), _DEFAULT_LENGTHS["textarea"])
    return _DEFAULT_LENGTHS.get(meta.data_type, 255)


def _make_text(meta: FieldMeta, pattern: re.Pattern[str] | None = None) -> Converter:
    expected = meta.data_type
    max_length = _text_length(meta)
    strip = pattern is not None

    def convert(value: Any, path: str) -> Any:
        text = value if value.__class__ is str else _as_text(value, expected)
        if strip:
            text = text.strip()
            if not text:
                return None
        if len(text) > max_length:
            raise ConversionError(maximum_length=max_length)
        if pattern is not None and not pattern.match(text):
            raise _invalid(expected)
        return text

    return convert


def _picklist_lookup(meta: FieldMeta) -> tuple[frozenset[str], dict[str, str], bool]:
    """(allowed values, casefolded → Zoho's spelling, whether unknown values are refused).

    Zoho stores a value that is not one of the options unless the picklist is restricted (a global or
    restricted picklist, field-meta.html); known values are sent in Zoho's own spelling either way."""
    exact = frozenset(meta.picklist_values)
    folded: dict[str, str] = {}
    for option in meta.picklist_values:
        folded.setdefault(option.casefold(), option)
    raw = meta.raw or {}
    restricted = bool(exact) and bool(raw.get("restricted_picklist") or raw.get("restricted"))
    return exact, folded, restricted


def _make_picklist(meta: FieldMeta) -> Converter:
    """Single picklist: Zoho's spelling of a known value; an unknown one only where Zoho takes it."""
    exact, folded, restricted = _picklist_lookup(meta)
    supported = list(meta.picklist_values)
    max_length = meta.length or 120

    def convert(value: Any, path: str) -> Any:
        text = (value if value.__class__ is str else _as_text(value, "picklist")).strip()
        if not text:
            return None
        if text in exact:
            return text
        canonical = folded.get(text.casefold())
        if canonical is not None:
            return canonical
        if restricted:
            raise ConversionError(supported_values=supported)
        if len(text) > max_length:
            raise ConversionError(maximum_length=max_length)
        return text

    return convert


def _make_multiselect(meta: FieldMeta) -> Converter:
    """Multi-select picklist: a JSON array; a `;`-delimited string is split."""
    exact, folded, restricted = _picklist_lookup(meta)
    supported = list(meta.picklist_values)

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, str):
            items: Iterable[Any] = value.split(";")
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            raise _invalid("multiselectpicklist")
        result: list[str] = []
        for item in items:
            text = _as_text(item, "multiselectpicklist").strip()
            if not text:
                continue
            if text not in exact:
                canonical = folded.get(text.casefold())
                if canonical is not None:
                    text = canonical
                elif restricted:
                    raise ConversionError(supported_values=supported)
            if text not in result:
                result.append(text)
        return result

    return convert


def _make_date(meta: FieldMeta) -> Converter:
    def convert(value: Any, path: str) -> Any:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                if len(text) == 10:
                    return date.fromisoformat(text).isoformat()
                return datetime.fromisoformat(text).date().isoformat()
            except ValueError:
                raise _invalid("date") from None
        raise _invalid("date")

    return convert


def _make_datetime(meta: FieldMeta, zone: tzinfo) -> Converter:
    """Datetime: ISO 8601 with offset, seconds; a naive value is read in the configured zone."""

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time())
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise _invalid("datetime") from None
        else:
            raise _invalid("datetime")
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=zone)
        return format_datetime(moment)

    return convert


# --- lookups -----------------------------------------------------------------------------------


def _id_or_none(value: Any) -> str | None:
    """A Zoho record id given as an int or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            return None
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return text if _ID_RE.match(text) else None


def _lookup_value(value: Any, module: str, api_name: str, path: str, *, owner: bool = False) -> Any:
    """One lookup value → `{"id": ...}`, a LookupRef to resolve, or None; raises when unusable."""
    if value is None:
        return None
    expected = "jsonobject"
    if isinstance(value, Mapping):
        if value.get("id") not in (None, ""):
            record_id = str(value["id"]).strip()
            if isinstance(value["id"], bool) or not record_id.isdigit():
                raise _invalid(expected)
            return {"id": record_id}
        keys = [k for k, v in value.items() if v not in (None, "") and not str(k).startswith("$")]
        if not keys:
            return None
        specific = [k for k in keys if k != "name"]
        key = specific[0] if specific else "name"
        raw = value[key]
        if isinstance(raw, (Mapping, list, bool)):
            raise _invalid(expected)
        text = _as_text(raw, expected).strip()
        if owner:
            field = "email" if key.lower() == "email" or "@" in text else "full_name"
            return LookupRef(USERS, field, text, api_name, path)
        return LookupRef(module, None if key == "name" else str(key), text, api_name, path)
    if isinstance(value, (list, tuple, bool)):
        raise _invalid(expected)
    given_id = _id_or_none(value)
    if given_id is not None:
        return {"id": given_id}
    text = _as_text(value, expected).strip()
    if not text:
        return None
    if owner:
        return LookupRef(USERS, "email" if "@" in text else "full_name", text, api_name, path)
    return LookupRef(module, None, text, api_name, path)


def _make_lookup(meta: FieldMeta) -> Converter:
    module = meta.lookup_module or ""
    api_name = meta.api_name
    owner = meta.data_type in ("ownerlookup", "userlookup")
    related = USERS if owner else module

    def convert(value: Any, path: str) -> Any:
        return _lookup_value(value, related, api_name, path, owner=owner)

    return convert


def _multi_lookup_meta(meta: FieldMeta) -> tuple[str, str]:
    """(connected lookup API name in the linking module, connected module) for multi lookups."""
    info = meta.raw.get(meta.data_type) if meta.raw else None
    info = info if isinstance(info, Mapping) else {}
    connected = info.get("connected_module") or {}
    module = connected.get("api_name") if isinstance(connected, Mapping) else connected
    lookup_name = info.get("connectedlookup_apiname") or info.get("connected_lookup_apiname") or meta.api_name
    if meta.data_type == "multiuserlookup":
        module = USERS
    return str(lookup_name), str(module or meta.lookup_module or "")


def _make_multi_lookup(meta: FieldMeta) -> Converter:
    """Multi-select (user) lookup: `[{"<connected lookup>": {"id": ...}}, ...]` (field-meta.html)."""
    lookup_name, module = _multi_lookup_meta(meta)
    owner = module == USERS
    api_name = meta.api_name

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, str):
            items: Iterable[Any] = [v for v in value.split(";") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            items = [value]
        result: list[Any] = []
        for i, item in enumerate(items):
            item_path = f"{path}[{i}]"
            if isinstance(item, Mapping) and lookup_name in item and isinstance(item[lookup_name], Mapping):
                extra = {k: v for k, v in item.items() if k != lookup_name}
                target = _lookup_value(item[lookup_name], module, api_name, item_path, owner=owner)
            else:
                extra = {}
                target = _lookup_value(item, module, api_name, item_path, owner=owner)
            if target is not None:
                result.append({**extra, lookup_name: target})
        return result

    return convert


# --- subforms and line items -------------------------------------------------------------------

_QUANTITY = FieldMeta(api_name="Quantity", data_type="double", decimal_place=2, length=16)
_PRICE = FieldMeta(api_name="List_Price", data_type="currency", decimal_place=2, length=16)
_DISCOUNT = FieldMeta(api_name="Discount", data_type="currency", decimal_place=2, length=16)
_DESCRIPTION = FieldMeta(api_name="Description", data_type="textarea", length=2000)


def _make_line_items(meta: FieldMeta, mandatory_rows: bool) -> Converter:
    """Inventory line items with the version's key names; products by id, code or name."""
    keys = LINE_ITEM_KEYS_V2 if meta.api_name == "Product_Details" else LINE_ITEM_KEYS_V21
    scalars: dict[str, Converter] = {
        "quantity": _make_decimal(_QUANTITY),
        "list_price": _make_decimal(_PRICE),
        "discount": _make_decimal(_DISCOUNT),
        "description": _make_text(_DESCRIPTION),
    }
    product_key = keys["product"]

    def row(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in raw.items():
            norm = loose(str(key))
            canonical = _LINE_ITEM_ALIASES.get(norm)
            if canonical is None:
                out[str(key)] = value  # id, _delete, $-keys, anything Zoho defines later
                continue
            name = keys[canonical]
            item_path = f"{path}.{name}"
            if value is None:
                continue
            try:
                if canonical == "product":
                    if norm in _LINE_ITEM_CODE_KEYS and not isinstance(value, Mapping):
                        value = {"Product_Code": value}
                    out[name] = _lookup_value(value, "Products", name, item_path)
                elif canonical == "price_book":
                    out[name] = _lookup_value(value, "Price_Books", name, item_path)
                elif canonical == "line_tax":
                    out[name] = value
                else:
                    out[name] = scalars[canonical](value, item_path)
            except ConversionError as exc:
                exc.details = {"api_name": name, "json_path": item_path, **exc.details}
                raise
        if mandatory_rows and out.get(product_key) is None and "id" not in out:
            raise ConversionError(
                "MANDATORY_NOT_FOUND", MSG_MANDATORY, api_name=product_key, json_path=f"{path}.{product_key}"
            )
        return out

    def convert(value: Any, path: str) -> Any:
        return _rows(value, path, row)

    return convert


def _rows(
    value: Any, path: str, row: Callable[[Mapping[str, Any], str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """A line-item or subform value: a list of row objects (a single object counts as one row)."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _invalid("jsonarray")
    rows = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _invalid("jsonarray")
        rows.append(row(item, f"{path}[{i}]"))
    return rows


def _make_subform(meta: FieldMeta, sub: ModuleInfo | None, zone: tzinfo) -> Converter:
    """A subform: rows converted with the subform module's fields when known, else passed as is."""
    compiled: dict[str, tuple[str, Converter]] = {}
    if sub is not None:
        for field in sub.fields.values():
            if field.read_only and field.api_name != "id":
                continue
            converter = _compile_field(field, zone, {})
            if converter is not None:
                compiled[field.api_name.lower()] = (field.api_name, converter)

    def row(item: Mapping[str, Any], row_path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, cell in item.items():
            spec = compiled.get(str(key).lower())
            if spec is None or cell is None:
                out[str(key)] = cell
                continue
            name, fn = spec
            cell_path = f"{row_path}.{name}"
            try:
                out[name] = fn(cell, cell_path)
            except ConversionError as exc:
                exc.details = {"api_name": name, "json_path": cell_path, **exc.details}
                raise
        return out

    def convert(value: Any, path: str) -> Any:
        return _rows(value, path, row)

    return convert


def _passthrough(value: Any, path: str) -> Any:
    return value


def _make_id_object(meta: FieldMeta) -> Converter:
    """`Layout` and similar `{"id": ...}` objects: accept the bare id too."""

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return dict(value)
        record_id = _id_or_none(value)
        if record_id is None:
            raise _invalid("jsonobject")
        return {"id": record_id}

    return convert


_TEXT_TYPES = {"text": None, "textarea": None, "email": _EMAIL_RE, "phone": _PHONE_RE, "website": _WEBSITE_RE}
_READ_ONLY_TYPES = frozenset({"autonumber", "formula", "rollup_summary", "profileimage", "territories"})


def _compile_field(meta: FieldMeta, zone: tzinfo, subforms: Mapping[str, ModuleInfo]) -> Converter | None:
    """The converter closure for one field, or None for fields a write cannot set."""
    kind = meta.data_type
    if kind in _READ_ONLY_TYPES:
        return None
    if kind in _TEXT_TYPES:
        return _make_text(meta, _TEXT_TYPES[kind])
    if kind == "integer":
        return _make_integer(meta)
    if kind == "bigint":
        return _make_bigint(meta)
    if kind in ("double", "currency", "percent", "decimal"):
        return _make_decimal(meta)
    if kind == "boolean":
        return _make_boolean(meta)
    if kind == "picklist":
        return _make_picklist(meta)
    if kind == "multiselectpicklist":
        return _make_multiselect(meta)
    if kind == "date":
        return _make_date(meta)
    if kind == "datetime":
        return _make_datetime(meta, zone)
    if kind in ("lookup", "ownerlookup", "userlookup"):
        return _make_lookup(meta)
    if kind in ("multiselectlookup", "multiuserlookup"):
        return _make_multi_lookup(meta)
    if kind == "subform":
        return _make_subform(meta, subforms.get(meta.subform_module or meta.api_name), zone)
    if kind == "layout":
        return _make_id_object(meta)
    return _passthrough


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
                converter: Converter | None = _make_line_items(meta, mandatory_rows=operation != "update")
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
