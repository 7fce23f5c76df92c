"""Matching keys: how Zoho compares key values, the fields an upsert matches on (in Zoho's order),
the merge of a batch's versions of one key, and the check of a stream's configured keys against its
module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.model import ModuleInfo, PreparedRecord, is_key_value
from target_zoho_crm.names import did_you_mean, match_name

# The earlier versions of a key merged into its batch's last record, by that record's index (oldest first).
Versions = dict[int, list[PreparedRecord]]


def fold_key(value: Any) -> str:
    """A key value as Zoho compares it (unique checks ignore case and surrounding spaces)."""
    return str(value).strip().casefold()


def has_key_value(value: Any) -> bool:
    """A value Zoho can match a record on: a scalar that is not empty once spaces are stripped ("", null
    and "   " match nothing: an upsert carrying only those would insert a new record every time)."""
    return is_key_value(value) and (not isinstance(value, str) or bool(value.strip()))


def merge_versions(prepared: list[PreparedRecord]) -> tuple[list[PreparedRecord], Versions]:
    """The last record wins per matching key (Zoho must not see one key twice in a call or job, and an
    older version must not land after a newer one); records without a key are all kept.

    The earlier versions are returned by the winner's index: a merged record is done only when the one
    that replaced it is (`lowest_index`), and if the winner is rejected its latest earlier version is
    written instead (`next_versions`), so that no valid record vanishes behind a rejected one."""
    latest: dict[str, int] = {}
    keyed = 0
    for position, record in enumerate(prepared):
        if record.key is not None:
            keyed += 1
            latest[fold_key(record.key)] = position
    if len(latest) == keyed:
        return prepared, {}
    keep = set(latest.values())
    kept: list[PreparedRecord] = []
    pending: dict[str, list[PreparedRecord]] = {}
    earlier: Versions = {}
    for position, record in enumerate(prepared):
        if record.key is None:
            kept.append(record)
            continue
        folded = fold_key(record.key)
        if position in keep:
            kept.append(record)
            if folded in pending:
                earlier[record.index] = pending.pop(folded)
        else:
            pending.setdefault(folded, []).append(record)
    return kept, earlier


def lowest_index(records: list[PreparedRecord], earlier: Versions) -> int:
    """The smallest sequence number a write of `records` stands for, the versions merged into them
    included: STATE must not pass a merged record before the record that replaced it is done."""
    return min([min(r.index for r in records), *(older[0].index for older in earlier.values() if older)])


def next_versions(
    attempted: list[int], landed: set[int], earlier: Versions
) -> tuple[list[PreparedRecord], int]:
    """After a write of the records `attempted` (indices): one that `landed` supersedes its earlier
    versions; one that was rejected (and is in the rejects file) hands its key to its latest earlier
    version, to be written next. Returns those versions and how many were superseded; `earlier` is
    updated in place."""
    retry: list[PreparedRecord] = []
    superseded = 0
    for index in attempted:
        older = earlier.pop(index, None)
        if not older:
            continue
        if index in landed:
            superseded += len(older)
            continue
        previous = older.pop()
        if older:
            earlier[previous.index] = older
        retry.append(previous)
    return retry, superseded


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
