"""Scalar values → Zoho's formats, per field type (text, numbers, booleans, picklists, dates), with
Zoho's own error shapes for values Zoho would refuse (insert-records.html "Possible Errors").

Formats follow Zoho's field-type table (insert-records.html "Sample Attributes" and field-meta.html):
date `yyyy-MM-dd`, datetime ISO 8601 with offset and seconds, bigint as a string, decimals to the
field's `decimal_place` (kept as Decimal: every digit reaches Zoho), multi-select picklists as arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from target_zoho_crm.errors import TargetZohoCRMError
from target_zoho_crm.model import FieldMeta
from target_zoho_crm.zoho.codec import encode_json

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
ID_RE = re.compile(r"^[1-9]\d{14,19}$")


# Zoho's email check: local part, "@", a domain with a 2-22 letter TLD (insert-records.html).
_EMAIL_RE = re.compile(
    r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,22}$"
)


_PHONE_RE = re.compile(r"^[0-9A-Za-z+\-.\s,;#()/*x]+$")


_WEBSITE_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$")


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})


_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


class ConversionError(TargetZohoCRMError):
    """One value Zoho would refuse; carries the `details` keys beyond api_name/json_path."""

    def __init__(self, code: str = "INVALID_DATA", message: str = MSG_INVALID, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


Converter = Callable[[Any, str], Any]  # (value, json_path) -> Zoho value; raises ConversionError


def invalid(expected: str) -> ConversionError:
    return ConversionError(expected_data_type=expected)


def format_datetime(value: datetime) -> str:
    """Zoho's datetime form: `yyyy-MM-ddTHH:mm:ss±HH:mm` (seconds, never microseconds or `Z`)."""
    return value.replace(microsecond=0).isoformat(timespec="seconds")


def _to_decimal(value: Any, expected: str) -> Decimal:
    if isinstance(value, bool):
        raise invalid(expected)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(expected)
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise invalid(expected) from None
    else:
        raise invalid(expected)
    if not result.is_finite():
        raise invalid(expected)
    return result


def _integer_digits(value: Decimal) -> int:
    integral = abs(value).to_integral_value(rounding="ROUND_DOWN")
    return len(str(int(integral))) if integral else 1


def make_integer(meta: FieldMeta) -> Converter:
    max_digits = meta.length or _DEFAULT_DIGITS["integer"]

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            dec = _to_decimal(value, "integer")
            if dec != dec.to_integral_value():
                raise invalid("integer")
            number = int(dec)
        if len(str(abs(number))) > max_digits:
            raise ConversionError(maximum_length=max_digits)
        return number

    return convert


def make_bigint(meta: FieldMeta) -> Converter:
    """Long Integer: Zoho wants a string of up to 18 digits (leading zeros kept)."""
    max_digits = meta.length or _DEFAULT_DIGITS["bigint"]
    if max_digits > 18:
        max_digits = 18

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, str):
            text = value.strip()
            digits = text[1:] if text[:1] == "-" else text
            if not digits.isdigit() or not digits.isascii():
                raise invalid("bigint")
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            digits = text.lstrip("-")
        else:
            dec = _to_decimal(value, "bigint")
            if dec != dec.to_integral_value():
                raise invalid("bigint")
            text = str(int(dec))
            digits = text.lstrip("-")
        if len(digits) > max_digits:
            raise ConversionError(maximum_length=max_digits)
        return text

    return convert


def make_decimal(meta: FieldMeta) -> Converter:
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


def make_boolean(meta: FieldMeta) -> Converter:
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
        raise invalid("boolean")

    return convert


def as_text(value: Any, expected: str) -> str:
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
    raise invalid(expected)


def _text_length(meta: FieldMeta) -> int:
    if meta.length:
        return int(meta.length)
    if meta.data_type == "textarea":
        kind = (meta.raw.get("textarea") or {}).get("type") if meta.raw else None
        return _TEXTAREA_LENGTHS.get(str(kind), _DEFAULT_LENGTHS["textarea"])
    return _DEFAULT_LENGTHS.get(meta.data_type, 255)


def as_json_text(value: dict[str, Any] | list[Any]) -> str:
    """A JSON object or array (a `json`/`jsonb` column) as compact JSON text, keys in the source's
    order, non-ASCII kept as is, every digit of a number kept."""
    return encode_json(value).decode("utf-8")


def make_text(meta: FieldMeta, pattern: re.Pattern[str] | None = None) -> Converter:
    """Text-like fields. Into a plain text or textarea field (no `pattern`: not email, phone, website),
    a JSON object or array is sent as its JSON text, within the field's length like any text."""
    expected = meta.data_type
    max_length = _text_length(meta)
    strip = pattern is not None

    def convert(value: Any, path: str) -> Any:
        if value.__class__ is str:
            text = value
        elif not strip and isinstance(value, (dict, list)):
            text = as_json_text(value)
        else:
            text = as_text(value, expected)
        if strip:
            text = text.strip()
            if not text:
                return None
        if len(text) > max_length:
            raise ConversionError(maximum_length=max_length)
        if pattern is not None and not pattern.match(text):
            raise invalid(expected)
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


def make_picklist(meta: FieldMeta) -> Converter:
    """Single picklist: Zoho's spelling of a known value; an unknown one only where Zoho takes it."""
    exact, folded, restricted = _picklist_lookup(meta)
    supported = list(meta.picklist_values)
    max_length = meta.length or 120

    def convert(value: Any, path: str) -> Any:
        text = (value if value.__class__ is str else as_text(value, "picklist")).strip()
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


def make_multiselect(meta: FieldMeta) -> Converter:
    """Multi-select picklist: a JSON array; a `;`-delimited string is split."""
    exact, folded, restricted = _picklist_lookup(meta)
    supported = list(meta.picklist_values)

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, str):
            items: Iterable[Any] = value.split(";")
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            raise invalid("multiselectpicklist")
        result: list[str] = []
        for item in items:
            text = as_text(item, "multiselectpicklist").strip()
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


def make_date(meta: FieldMeta) -> Converter:
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
                raise invalid("date") from None
        raise invalid("date")

    return convert


def make_datetime(meta: FieldMeta, zone: tzinfo) -> Converter:
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
                raise invalid("datetime") from None
        else:
            raise invalid("datetime")
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=zone)
        return format_datetime(moment)

    return convert


TEXT_TYPES = {"text": None, "textarea": None, "email": _EMAIL_RE, "phone": _PHONE_RE, "website": _WEBSITE_RE}
