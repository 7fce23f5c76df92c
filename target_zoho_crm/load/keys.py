"""Matching keys: how Zoho compares key values, the fields an upsert matches on (in Zoho's order),
and the check of a stream's configured keys against its module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.model import ModuleInfo
from target_zoho_crm.names import did_you_mean, match_name


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
    Names are matched forgivingly ('email' → 'Email'); returns the API names. A mistake names the field
    and the nearest real ones.
    """

    allowed = [*module.system_duplicate_fields, *module.unique_fields, *module.external_fields]
    usable = ", ".join(allowed) or "none"
    resolved: list[str] | None = None
    if duplicate_check_fields:
        resolved = []
        for name in duplicate_check_fields:
            api_name = match_name(str(name), allowed)
            if api_name is None:
                field = match_name(str(name), module.fields)
                if field is not None:
                    raise ConfigError(
                        f"duplicate_check_fields names {name!r}: {field} is a field of {module.api_name} "
                        "but not a duplicate-check, unique or External ID field, so Zoho cannot match "
                        f"on it; use one of: {usable}."
                    )
                raise ConfigError(
                    f"duplicate_check_fields names {name!r}, which is not a field of {module.api_name}"
                    f"{did_you_mean(str(name), module.fields)}; duplicate-check, unique or External ID "
                    f"fields: {usable}."
                )
            resolved.append(api_name)
    external = None
    if external_id_field:
        external = match_name(str(external_id_field), module.external_fields)
        if external is None:
            near = did_you_mean(str(external_id_field), module.fields)
            raise ConfigError(
                f"external_id_field {external_id_field!r} is not an External ID field of "
                f"{module.api_name}{near} (External ID fields: {', '.join(module.external_fields) or 'none'}"
                "; mark a unique custom field as External ID in Zoho's field settings)."
            )
    return resolved, external
