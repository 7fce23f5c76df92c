"""Matching keys: how Zoho compares key values, the fields an upsert matches on (in Zoho's order),
and the check of a stream's configured keys against its module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.model import ModuleInfo
from target_zoho_crm.names import match_name


def fold_key(value: Any) -> str:
    """A key value as Zoho compares it (unique checks ignore case and surrounding spaces)."""
    return str(value).strip().casefold()


def upsert_match_order(module: ModuleInfo, duplicate_check_fields: Sequence[str] | None = None) -> list[str]:
    """The fields Zoho's upsert matches on, in its order (upsert-records.html, "How does the duplicate
    check work?"): the given `duplicate_check_fields` (else the system duplicate-check fields), then
    the remaining user-defined unique fields; External ID fields are unique and take part too."""
    first = list(duplicate_check_fields or module.system_duplicate_fields)
    rest = [f for f in (*module.unique_fields, *module.external_fields) if f not in first]
    return first + rest


def check_stream_keys(
    module: ModuleInfo, duplicate_check_fields: list[str] | None, external_id_field: str | None
) -> tuple[list[str] | None, str | None]:
    """Validate a stream's matching keys against the module, at SCHEMA time rather than per record.

    Zoho accepts in `duplicate_check_fields` only system duplicate-check fields and fields marked unique
    (upsert page, "How does the duplicate check work?"); External ID fields are unique by definition.
    Names are matched forgivingly ('email' → 'Email'); returns the API names.
    """

    allowed = [*module.system_duplicate_fields, *module.unique_fields, *module.external_fields]
    resolved: list[str] | None = None
    if duplicate_check_fields:
        resolved = []
        for name in duplicate_check_fields:
            api_name = match_name(name, allowed)
            if api_name is None:
                raise ConfigError(
                    f"duplicate_check_fields names {name!r}, which is not a duplicate-check, unique or "
                    f"External ID field of {module.api_name}; use one of: {', '.join(allowed) or 'none'}."
                )
            resolved.append(api_name)
    external = None
    if external_id_field:
        external = match_name(external_id_field, module.external_fields)
        if external is None:
            raise ConfigError(
                f"external_id_field {external_id_field!r} is not an External ID field of "
                f"{module.api_name} (External ID fields: {', '.join(module.external_fields) or 'none'})."
            )
    return resolved, external
