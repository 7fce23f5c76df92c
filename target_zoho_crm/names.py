"""The forgiving-name rules: how a stream, property or option name is matched to Zoho's names."""

from __future__ import annotations

import re
from collections.abc import Iterable


def loose(name: str) -> str:
    """'first_name', 'First Name', 'firstName', 'First_Name' → 'firstname'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def match_name(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate equal to `name` exactly, else ignoring case/separators (None if none or ambiguous).

    Used for field API names and for the keys inside subform / line-item rows.
    """
    names = list(candidates)
    if name in names:
        return name
    lower = [c for c in names if c.lower() == name.lower()]
    if len(lower) == 1:
        return lower[0]
    hits = [c for c in names if loose(c) == loose(name)]
    return hits[0] if len(hits) == 1 else None


# Prefixes taps put before a table name: "public-leads" (tap-postgres), "dbo-leads", "db.schema.leads".
_PREFIX_SEPARATORS = re.compile(r"[-.]")


def normalize(name: str) -> str:
    """Lower-case, without separators or Zoho's `__s` system suffix: 'Sales_Orders' → 'salesorders'."""
    return loose(re.sub(r"__s$", "", name.strip()))


def singular_forms(key: str) -> set[str]:
    """`key` plus the singular forms an English plural could come from (s / es / ies)."""
    forms = {key}
    if key.endswith("ies") and len(key) > 4:
        forms.add(key[:-3] + "y")
    if key.endswith("es") and len(key) > 3:
        forms.add(key[:-2])
    if key.endswith("s") and len(key) > 2:
        forms.add(key[:-1])
    return forms


def stream_name_forms(stream_name: str) -> list[str]:
    """Names to try for a stream, most specific first: the full name, then without a schema prefix."""
    forms = [stream_name]
    parts = [p for p in _PREFIX_SEPARATORS.split(stream_name) if p]
    if len(parts) > 1:
        forms.append(parts[-1])
    tokens = [t for t in parts[-1].split("_") if t] if parts else []
    for i in range(1, len(tokens)):
        forms.append("_".join(tokens[i:]))  # "dbo_leads" → "leads"
    return forms
