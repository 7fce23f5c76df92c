"""The forgiving-name rules: how a stream, property or option name is matched to Zoho's names."""

from __future__ import annotations

import difflib
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


# Prefixes taps put before a table name: "public-leads" (tap-postgres), "dbo.leads", "db.schema.leads".
# An underscore is not a prefix separator: "user_accounts" is a table of its own, not Accounts.
_PREFIX_SEPARATORS = re.compile(r"[-.]")


def normalize(name: str) -> str:
    """Lower-case, without separators or Zoho's `__s` system suffix: 'Sales_Orders' → 'salesorders'."""
    return loose(re.sub(r"__s$", "", name.strip()))


def stream_name_forms(stream_name: str) -> list[str]:
    """Names to try for a stream: the full name, then without a tap's schema prefix ("public-leads",
    "dbo.leads", "db.public.leads" → "leads"). Nothing looser: no suffix, no substring."""
    forms = [stream_name]
    parts = [p for p in _PREFIX_SEPARATORS.split(stream_name) if p]
    if len(parts) > 1:
        forms.append(parts[-1])
    return forms


def closest(name: str, candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.7) -> list[str]:
    """The candidates most like `name` (ignoring case and separators), best first, for a did-you-mean;
    only real neighbours (similarity ≥ `cutoff`), never a filler list."""
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(loose(candidate), candidate)
    keys = difflib.get_close_matches(loose(name), list(by_key), n=n, cutoff=cutoff)
    return [by_key[key] for key in keys]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean A or B?)', or '' when nothing is close."""
    found = closest(name, candidates)
    return f" (did you mean {' or '.join(found)}?)" if found else ""
