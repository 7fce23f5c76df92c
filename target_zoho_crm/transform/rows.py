"""Values that point at other records or hold rows: lookups (a LookupRef until resolved), multi-select
lookups, inventory line items (each API version's row keys) and subform rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from target_zoho_crm.model import USERS, FieldMeta, LookupRef, ModuleInfo
from target_zoho_crm.names import loose
from target_zoho_crm.transform.values import (
    ID_RE,
    MSG_MANDATORY,
    ConversionError,
    Converter,
    as_text,
    invalid,
    make_decimal,
    make_text,
)
from target_zoho_crm.zoho.versions import LINE_ITEM_KEYS_V2, LINE_ITEM_KEYS_V21, V2_LINE_ITEMS_FIELD

# Compiles one field's converter (transform/convert.py's dispatch), for the fields of subform rows.
FieldCompiler = Callable[[FieldMeta, tzinfo, Mapping[str, ModuleInfo]], Converter | None]

# Inventory line items: the row keys of each API version are zoho/versions.py's.


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
    return text if ID_RE.match(text) else None


def _lookup_value(value: Any, module: str, api_name: str, path: str, *, owner: bool = False) -> Any:
    """One lookup value → `{"id": ...}`, a LookupRef to resolve, or None; raises when unusable."""
    if value is None:
        return None
    expected = "jsonobject"
    if isinstance(value, Mapping):
        if value.get("id") not in (None, ""):
            record_id = str(value["id"]).strip()
            if isinstance(value["id"], bool) or not record_id.isdigit():
                raise invalid(expected)
            return {"id": record_id}
        keys = [k for k, v in value.items() if v not in (None, "") and not str(k).startswith("$")]
        if not keys:
            return None
        specific = [k for k in keys if k != "name"]
        key = specific[0] if specific else "name"
        raw = value[key]
        if isinstance(raw, (Mapping, list, bool)):
            raise invalid(expected)
        text = as_text(raw, expected).strip()
        if owner:
            field = "email" if key.lower() == "email" or "@" in text else "full_name"
            return LookupRef(USERS, field, text, api_name, path)
        return LookupRef(module, None if key == "name" else str(key), text, api_name, path)
    if isinstance(value, (list, tuple, bool)):
        raise invalid(expected)
    given_id = _id_or_none(value)
    if given_id is not None:
        return {"id": given_id}
    text = as_text(value, expected).strip()
    if not text:
        return None
    if owner:
        return LookupRef(USERS, "email" if "@" in text else "full_name", text, api_name, path)
    return LookupRef(module, None, text, api_name, path)


def make_lookup(meta: FieldMeta) -> Converter:
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


def make_multi_lookup(meta: FieldMeta) -> Converter:
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


_QUANTITY = FieldMeta(api_name="Quantity", data_type="double", decimal_place=2, length=16)


_PRICE = FieldMeta(api_name="List_Price", data_type="currency", decimal_place=2, length=16)


_DISCOUNT = FieldMeta(api_name="Discount", data_type="currency", decimal_place=2, length=16)


_DESCRIPTION = FieldMeta(api_name="Description", data_type="textarea", length=2000)


def make_line_items(meta: FieldMeta, mandatory_rows: bool) -> Converter:
    """Inventory line items with the version's key names; products by id, code or name."""
    keys = LINE_ITEM_KEYS_V2 if meta.api_name == V2_LINE_ITEMS_FIELD else LINE_ITEM_KEYS_V21
    scalars: dict[str, Converter] = {
        "quantity": make_decimal(_QUANTITY),
        "list_price": make_decimal(_PRICE),
        "discount": make_decimal(_DISCOUNT),
        "description": make_text(_DESCRIPTION),
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
        raise invalid("jsonarray")
    rows = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise invalid("jsonarray")
        rows.append(row(item, f"{path}[{i}]"))
    return rows


def make_subform(
    meta: FieldMeta, sub: ModuleInfo | None, zone: tzinfo, compile_field: FieldCompiler
) -> Converter:
    """A subform: rows converted with the subform module's fields when known, else passed as is."""
    compiled: dict[str, tuple[str, Converter]] = {}
    if sub is not None:
        for field in sub.fields.values():
            if field.read_only and field.api_name != "id":
                continue
            converter = compile_field(field, zone, {})
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


def passthrough(value: Any, path: str) -> Any:
    return value


def make_id_object(meta: FieldMeta) -> Converter:
    """`Layout` and similar `{"id": ...}` objects: accept the bare id too."""

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return dict(value)
        record_id = _id_or_none(value)
        if record_id is None:
            raise invalid("jsonobject")
        return {"id": record_id}

    return convert
