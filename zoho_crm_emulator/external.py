"""Parsing the `X-EXTERNAL` header (reference §4).

Follows https://www.zoho.com/crm/developer/docs/api/v8/insert-records-ext.html and
.../update-records-ext.html / upsert-records-ext.html: a comma-separated list of paths, each one of
`Module.External_Field` (the record's own external field), `Module.Lookup.External_Field` (a lookup
resolved by the looked-up module's external field), `Module.Subform.Lookup.External_Field` (a lookup
inside a subform or line items) and `Module.Lookup->Target_Module.External_Field` (multi-module lookups
such as `What_Id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LookupExternal:
    """A lookup resolved by external value: the module to look in (None: the field's own) and field."""

    module: str | None
    field: str


@dataclass
class ExternalSpec:
    """What one `X-EXTERNAL` header asks for, for one module."""

    own: str | None = None
    lookups: dict[str, LookupExternal] = field(default_factory=dict)
    nested: dict[tuple[str, str], LookupExternal] = field(default_factory=dict)


def parse_external(header: str | None, module: str) -> ExternalSpec:
    """Entries for other modules are ignored; blank or absent header → an empty spec."""
    spec = ExternalSpec()
    for raw in (header or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        target: str | None = None
        if "->" in entry:
            entry, _, rest = entry.partition("->")
            target, _, ext_field = rest.strip().partition(".")
            parts = entry.strip().split(".")
            parts.append(ext_field)
        else:
            parts = entry.split(".")
        parts = [p.strip() for p in parts]
        if len(parts) < 2 or parts[0] != module or not all(parts):
            continue
        if len(parts) == 2 and target is None:
            spec.own = parts[1]
        elif len(parts) == 3:
            spec.lookups[parts[1]] = LookupExternal(target, parts[2])
        elif len(parts) == 4:
            spec.nested[(parts[1], parts[2])] = LookupExternal(target, parts[3])
    return spec
