"""Value types shared by the target's parts (catalog, mapping, conversion, writers, sink).

They live apart from the code that fills them so that each part can be read, tested and typed on its
own; see docs/ARCHITECTURE.md for who produces and who consumes each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

OutcomeStatus = Literal["inserted", "updated", "rejected"]


def is_empty(value: Any) -> bool:
    """Zoho's "no value": None, an empty string, or an empty list or object (the one definition)."""
    return value is None or value == "" or (isinstance(value, (list, dict)) and not value)


def is_key_value(value: Any) -> bool:
    """A value a record can be matched on: not empty, and a scalar (a list or object never is)."""
    return not is_empty(value) and not isinstance(value, (list, dict))


@dataclass
class ZohoError:
    """One per-record error in Zoho's own shape (code, message, details)."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_zoho(cls, item: dict[str, Any]) -> ZohoError:
        return cls(
            code=str(item.get("code") or "UNKNOWN_ERROR"),
            message=str(item.get("message") or ""),
            details=dict(item.get("details") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    @property
    def field(self) -> str | None:
        """The offending field's API name, when Zoho (or the local check) names one."""
        name = self.details.get("api_name")
        if name:
            return str(name)
        errors = self.details.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0].get("details", {}) if isinstance(errors[0], dict) else {}
            if first.get("api_name"):
                return str(first["api_name"])
        return None


class PositionReader(Protocol):
    """Where spooled records are kept (load/spool.py's RecordSpool): read one back by position."""

    def read(self, position: int) -> dict[str, Any]: ...


class SpooledRecord:
    """A tap record kept in a RecordSpool (a Bulk batch on disk), by position."""

    __slots__ = ("position", "spool")

    def __init__(self, spool: PositionReader, position: int) -> None:
        self.spool = spool
        self.position = position

    def read(self) -> dict[str, Any]:
        return self.spool.read(self.position)


RecordSource = dict[str, Any] | SpooledRecord


def unpack(source: RecordSource) -> dict[str, Any]:
    """The record a PreparedRecord's `source` holds, whether kept as a dict or spooled."""
    if isinstance(source, SpooledRecord):
        return source.read()
    return source


@dataclass
class PreparedRecord:
    """A record converted to Zoho's field names and formats, ready to be written.

    `source` is the tap's record (for the rejects file): a dict, or a SpooledRecord (Bulk batches);
    read it with `unpack`."""

    index: int
    source: RecordSource
    payload: dict[str, Any]
    key: str | None = None


@dataclass
class Outcome:
    """What happened to one PreparedRecord: in Zoho (inserted/updated) or rejected with a reason."""

    index: int
    status: OutcomeStatus
    record_id: str | None = None
    error: ZohoError | None = None


@dataclass
class FieldMeta:
    """The parts of Zoho's field metadata (`/settings/fields`) a loader needs."""

    api_name: str
    data_type: str
    json_type: str | None = None
    length: int | None = None
    decimal_place: int | None = None
    mandatory: bool = False
    read_only: bool = False
    unique: bool = False
    external: bool = False
    lookup_module: str | None = None
    picklist_values: list[str] = field(default_factory=list)
    subform_module: str | None = None
    label: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_zoho(cls, item: dict[str, Any]) -> FieldMeta:
        """Parse one element of Zoho's `{"fields": [...]}` response (any API version)."""
        lookup = item.get("lookup") or {}
        # v2.1 and later give the related module as {"api_name", "id"}; v2 (and exports of it) as a name.
        related = lookup.get("module") if isinstance(lookup, dict) else None
        lookup_module = (
            related.get("api_name") if isinstance(related, dict) else (str(related) if related else None)
        )
        subform = item.get("subform") or {}
        subform_module = None
        if isinstance(subform, dict) and subform.get("module"):
            mod = subform["module"]
            subform_module = mod.get("api_name") if isinstance(mod, dict) else str(mod)
        if not subform_module and item.get("associated_module"):
            assoc = item["associated_module"]
            subform_module = assoc.get("module") if isinstance(assoc, dict) else None
        op = item.get("operation_type") or {}
        not_writable = bool(op) and op.get("api_create") is False and op.get("api_update") is False
        picklist = [
            str(v.get("actual_value", v.get("display_value")))
            for v in item.get("pick_list_values") or []
            if isinstance(v, dict) and v.get("type", "used") != "unused"
        ]
        return cls(
            api_name=str(item["api_name"]),
            data_type=str(item.get("data_type") or "text"),
            json_type=item.get("json_type"),
            length=item.get("length"),
            decimal_place=item.get("decimal_place"),
            mandatory=bool(item.get("system_mandatory")),
            read_only=bool(item.get("read_only")) or not_writable,
            unique=bool(item.get("unique")),
            external=bool(item.get("external")),
            lookup_module=lookup_module,
            picklist_values=picklist,
            subform_module=subform_module,
            label=item.get("field_label") or item.get("display_label"),
            raw=item,
        )


@dataclass
class ModuleInfo:
    """A Zoho module as the loader sees it: its fields and the keys records can be matched on."""

    api_name: str
    singular: str = ""
    plural: str = ""
    generated_type: str = "default"
    fields: dict[str, FieldMeta] = field(default_factory=dict)
    system_duplicate_fields: list[str] = field(default_factory=list)

    @property
    def unique_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.unique and not f.external]

    @property
    def external_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.external]

    @property
    def mandatory_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.mandatory]

    @property
    def line_items_field(self) -> str | None:
        """The inventory line-items field (Product_Details in v2, Quoted_Items ... later), if any."""
        for name in ("Product_Details", "Quoted_Items", "Ordered_Items", "Purchase_Items", "Invoiced_Items"):
            if name in self.fields:
                return name
        return None


USERS = "users"  # pseudo module: owners and user lookups resolve against GET /users


@dataclass(frozen=True, slots=True)
class LookupRef:
    """A lookup value still to resolve: the related `module`, the field to match (None: the related
    module's name field) and the value; `api_name`/`json_path` locate it in the record for errors."""

    module: str
    field: str | None
    value: str
    api_name: str
    json_path: str
