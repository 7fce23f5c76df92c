"""Search API (`GET /crm/{v}/{module}/search`): criteria, email, phone and word searches.

Follows Zoho's "Search Records" page (v2-v8): `criteria=((Field:operator:value)and(...))` with at most
10 criteria; `(`, `)` and `,` inside a value are escaped with `\\`; a comma separates the values of
`in`/`between` (and, for `equals`, alternative values); `email=` / `phone=` search every email / phone
field; `word=` searches every text field. The core app pages the result and answers 204 when it is empty.

Choices where Zoho's docs are silent: `equals` on text is an exact, case-insensitive match; phone
numbers compare on their digits only; `and`/`or` may not be mixed at one parenthesis level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .coql import NUMBER_TYPES, type_family

MAX_CRITERIA = 10
_JOIN_RE = re.compile(r"(?:and|or)(?=[\s(])", re.IGNORECASE)

TEXT_TYPES = {"text", "email", "phone", "website", "picklist", "autonumber", "textarea", "formula"}
OPERATORS = {
    "text": {"equals", "not_equal", "starts_with", "in"},
    "number": {"equals", "not_equal", "greater_than", "greater_equal", "less_than", "less_equal", "between", "in"},
    "lookup": {"equals", "not_equal", "in"},
    "boolean": {"equals", "not_equal"},
    "multiselect": {"equals", "not_equal", "starts_with", "in"},
}  # fmt: skip


class SearchError(Exception):
    """A Search API error in Zoho's shape: HTTP status, `code`, `message`, `details`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def _invalid(reason: str, **details: Any) -> SearchError:
    return SearchError("INVALID_QUERY", "invalid query formed", {"reason": reason, **details})


@dataclass
class Criterion:
    field: str
    operator: str
    values: list[str]


@dataclass
class Group:
    op: str  # and | or
    items: list[Criterion | Group]


# --- parsing --------------------------------------------------------------------------------------------
class _CriteriaParser:
    def __init__(self, text: str) -> None:
        self.s = text.strip()
        self.i = 0
        self.count = 0

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def parse(self) -> Criterion | Group:
        node = self.expr()
        self.skip_ws()
        if self.i != len(self.s):
            raise _invalid("unexpected text after the criteria", near=self.s[self.i : self.i + 20])
        return node

    def expr(self) -> Criterion | Group:
        items = [self.group()]
        op: str | None = None
        while True:
            self.skip_ws()
            m = _JOIN_RE.match(self.s, self.i)
            if not m:
                break
            word = m.group(0).lower()
            if op is not None and word != op:
                raise _invalid("and/or must not be mixed without parentheses")
            op = word
            self.i = m.end()
            items.append(self.group())
        return items[0] if len(items) == 1 else Group(op or "and", items)

    def group(self) -> Criterion | Group:
        self.skip_ws()
        if self.i >= len(self.s) or self.s[self.i] != "(":
            raise _invalid("criteria must be enclosed in parentheses", near=self.s[self.i : self.i + 20])
        self.i += 1
        self.skip_ws()
        nested = self.i < len(self.s) and self.s[self.i] == "("
        node = self.expr() if nested else self.criterion()
        self.skip_ws()
        if self.i >= len(self.s) or self.s[self.i] != ")":
            raise _invalid("missing closing parenthesis")
        self.i += 1
        return node

    def criterion(self) -> Criterion:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] != ")":
            self.i += 2 if self.s[self.i] == "\\" else 1
        raw = self.s[start : self.i]
        parts = raw.split(":", 2)
        if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
            raise _invalid("criteria must be (field:operator:value)", near=raw)
        self.count += 1
        if self.count > MAX_CRITERIA:
            raise SearchError(
                "LIMIT_EXCEEDED",
                f"a maximum of {MAX_CRITERIA} criteria is allowed",
                {"limit": MAX_CRITERIA, "param": "criteria"},
            )
        return Criterion(parts[0].strip(), parts[1].strip().lower(), split_values(parts[2]))


def split_values(raw: str) -> list[str]:
    """Split on unescaped commas and drop the escapes of `(`, `)`, `,` and `\\`."""
    values: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            current.append(raw[i + 1])
            i += 2
            continue
        if ch == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    values.append("".join(current))
    return [v.strip() for v in values]


def parse_criteria(criteria: str) -> Criterion | Group:
    if not criteria or not criteria.strip():
        raise _invalid("criteria is empty")
    return _CriteriaParser(criteria).parse()


# --- matching -------------------------------------------------------------------------------------------


def _norm(value: Any, data_type: str) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    if data_type == "phone":
        return re.sub(r"\D", "", text)
    return text.casefold()


def _number(value: Any) -> int | float | None:
    """Whole numbers stay ints so 19-digit ids and bigints compare exactly."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        text = str(value).strip()
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except (TypeError, ValueError):
        return None


def _ordered(value: Any, literal: str, data_type: str) -> tuple[Any, Any] | None:
    if data_type in NUMBER_TYPES:
        a, b = _number(value), _number(literal)
        return None if a is None or b is None else (a, b)
    return (str(value), literal)  # ISO dates/datetimes compare as text within one offset


class _Matcher:
    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self.meta = {str(f.get("api_name")): f for f in fields}

    def check(self, node: Criterion | Group) -> None:
        if isinstance(node, Group):
            for item in node.items:
                self.check(item)
            return
        meta = self.meta.get(node.field)
        if node.field == "id":
            meta = {"api_name": "id", "data_type": "bigint"}
        if meta is None:
            raise _invalid("invalid field", api_name=node.field)
        if meta.get("searchable") is False:
            raise _invalid("the field is not available for search", api_name=node.field)
        family = type_family(str(meta.get("data_type") or "text"))
        if node.operator not in OPERATORS[family]:
            raise _invalid("invalid operator found", api_name=node.field, operator=node.operator)
        if node.operator == "between" and len(node.values) != 2:
            raise _invalid("between expects two values", api_name=node.field)
        if family == "number" and str(meta.get("data_type")) in NUMBER_TYPES:
            for v in node.values:
                if _number(v) is None:
                    raise _invalid("invalid value for the field", api_name=node.field, value=v)

    def matches(self, record: dict[str, Any], node: Criterion | Group) -> bool:
        if isinstance(node, Group):
            results = (self.matches(record, item) for item in node.items)
            return all(results) if node.op == "and" else any(results)
        data_type = "bigint" if node.field == "id" else str(self.meta[node.field].get("data_type") or "text")
        value = record.get(node.field)
        op = node.operator
        if op == "not_equal":
            return not self._equals(value, node.values, data_type)
        if value is None or value == "" or value == []:
            return False
        if op in ("equals", "in"):
            return self._equals(value, node.values, data_type)
        if op == "starts_with":
            items = value if isinstance(value, list) else [value]
            return any(
                _norm(v, data_type).startswith(_norm(p, data_type)) for v in items for p in node.values
            )
        if op == "between":
            low, high = _ordered(value, node.values[0], data_type), _ordered(value, node.values[1], data_type)
            return low is not None and high is not None and low[0] >= low[1] and high[0] <= high[1]
        pair = _ordered(value, node.values[0], data_type)
        if pair is None:
            return False
        a, b = pair
        return {"greater_than": a > b, "greater_equal": a >= b, "less_than": a < b, "less_equal": a <= b}[op]

    @staticmethod
    def _equals(value: Any, literals: list[str], data_type: str) -> bool:
        if value is None or value == "":
            return False
        items = value if isinstance(value, list) else [value]
        if data_type in NUMBER_TYPES:
            nums = {_number(v) for v in items}
            return any(_number(lit) in nums for lit in literals)
        have = {_norm(v, data_type) for v in items}
        return any(_norm(lit, data_type) in have for lit in literals)


def _fields_of(fields: list[dict[str, Any]], types: set[str]) -> list[str]:
    return [str(f["api_name"]) for f in fields if f.get("data_type") in types and f.get("api_name")]


def run_search(
    fields: list[dict[str, Any]],
    records: Iterable[dict[str, Any]],
    *,
    criteria: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    word: str | None = None,
) -> list[dict[str, Any]]:
    """Records matching the search (criteria first, then email, phone, word), in stored order."""
    matcher = _Matcher(fields)
    if criteria:
        node = parse_criteria(criteria)
        matcher.check(node)
        return [r for r in records if matcher.matches(r, node)]
    if email:
        names = _fields_of(fields, {"email"})
        wanted = email.strip().casefold()
        return [r for r in records if any(_norm(r.get(n), "email") == wanted for n in names)]
    if phone:
        names = _fields_of(fields, {"phone"})
        digits = re.sub(r"\D", "", phone)
        if not digits:
            raise _invalid("invalid phone number", param="phone")
        return [r for r in records if any(_norm(r.get(n), "phone") == digits for n in names)]
    if word:
        term = word.strip().casefold()
        if len(term) < 2:
            raise _invalid("the word must have at least 2 characters", param="word")
        names = _fields_of(fields, TEXT_TYPES)
        return [r for r in records if any(term in _norm(r.get(n), "text") for n in names)]
    raise SearchError(
        "REQUIRED_PARAM_MISSING",
        "One of the expected parameter is missing",
        {"param_name": "criteria", "param": "criteria"},
    )
