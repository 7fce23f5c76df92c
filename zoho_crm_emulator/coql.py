"""COQL (`POST /crm/{v}/coql`): the subset a loader needs, evaluated over the emulator's records.

Follows Zoho's "Query API" pages (COQL Overview / Limitations / Get Records through a COQL Query, v2-v8):
`SELECT cols FROM Module WHERE criteria [ORDER BY col [ASC|DESC], ...] [LIMIT n [OFFSET m] | LIMIT m, n]
[OFFSET m]`, keywords case-insensitive, `id` always returned, default order `id` ascending, default LIMIT 200.

Choices where Zoho's docs are silent or vague:
- Parenthesisation is enforced strictly: one parenthesis level may hold at most two criteria joined by
  one `and`/`or` ("If WHERE has more than two criteria such as A, B, and C, use them as (A and (B and C))
  or ((A and B) and C)"); `A and B and C` is a SYNTAX_ERROR.
- Text comparisons (`=`, `!=`, `in`, `like`) ignore case, as Zoho's criteria matching does.
- Per call: 200 rows (v2-v3), 2000 (v4+). Reachable with OFFSET: 10,000 (v2-v6), 100,000 (v7+); an
  OFFSET at or past that is LIMIT_EXCEEDED, and rows past it are never returned.
- Lookups come back as `{"id": ...}`; from v7 with `name` too (v7 changelog: display names in SELECT).
- An unknown module is INVALID_QUERY "column given seems to be invalid" (what integrators report Zoho
  answering for an unknown module or field).
- GROUP BY, aggregates and `->` multi-module joins are not supported (SYNTAX_ERROR).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .metadata.build import version_index

MAX_IN_VALUES = 50  # v2-v6 (COQL-Limitations.html: "in (up to 50 values)")
MAX_IN_VALUES_V7 = 100  # v7 and later
MAX_CRITERIA = 25
MAX_SELECT_COLUMNS = 50
MAX_RELATIONS = 2
DEFAULT_LIMIT = 200

NUMBER_TYPES = {"integer", "bigint", "double", "currency", "percent"}
DATE_TYPES = {"date", "datetime"}
LOOKUP_TYPES = {"lookup", "ownerlookup", "userlookup", "multi_module_lookup"}
USER_TYPES = {"ownerlookup", "userlookup"}
USER_FIELDS = {"id", "full_name", "first_name", "last_name", "email", "status", "role", "profile", "name"}


class CatalogLike(Protocol):
    users: list[dict[str, Any]]

    def module(self, api_name: str) -> dict[str, Any] | None: ...
    def fields(self, api_name: str) -> list[dict[str, Any]]: ...


def _field(catalog: CatalogLike, module: str, name: str) -> dict[str, Any] | None:
    """Field meta by exact API name (only `fields()` is required of the catalog)."""
    for meta in catalog.fields(module):
        if meta.get("api_name") == name:
            return meta
    return None


class CoqlError(Exception):
    """A COQL error in Zoho's shape: HTTP status, `code`, `message`, `details`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def max_in_values(version: str) -> int:
    """Values an `in` / `not in` may list: 50 up to v6, 100 from v7."""
    return MAX_IN_VALUES_V7 if version_index(version) >= version_index("v7") else MAX_IN_VALUES


def row_limits(version: str) -> tuple[int, int]:
    """(max rows per call, max rows reachable with LIMIT/OFFSET) for an API version (§8 table)."""
    v = version_index(version)
    per_call = 2000 if v >= version_index("v4") else 200
    total = 100_000 if v >= version_index("v7") else 10_000
    return per_call, total


# --- tokens ---------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<str>'(?:\\.|[^'\\])*')
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op>>=|<=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "is", "null", "between", "limit",
            "offset", "order", "by", "asc", "desc", "true", "false", "group", "having"}  # fmt: skip


@dataclass
class Tok:
    kind: str  # str | num | op | punct | word | kw | end
    value: str
    pos: int


def tokenize(query: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    query = query.rstrip().rstrip(";")
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None or m.end() == pos:
            break
        kind = m.lastgroup or "bad"
        text = m.group(kind)
        start = m.start(kind)
        pos = m.end()
        if kind == "bad":
            if text == "'":
                raise _syntax("unterminated string", text, start)
            raise _syntax("invalid character", text, start)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif kind == "word" and text.lower() in KEYWORDS:
            kind, text = "kw", text.lower()
        toks.append(Tok(kind, text, start))
    toks.append(Tok("end", "", len(query)))
    return toks


def _syntax(message: str, near: str, pos: int, clause: str | None = None) -> CoqlError:
    details: dict[str, Any] = {"line": 1, "column": pos + 1, "near": near}
    if clause:
        details["clause"] = clause
    return CoqlError("SYNTAX_ERROR", message, details)


# --- AST ------------------------------------------------------------------------------------------------
@dataclass
class Cond:
    column: str
    op: str  # = != > < >= <= like "not like" in "not in" "is null" "is not null" between "not between"
    values: list[Any]
    pos: int


@dataclass
class BoolOp:
    op: str  # and | or
    left: Cond | BoolOp
    right: Cond | BoolOp


@dataclass
class Query:
    columns: list[str]
    module: str
    where: Cond | BoolOp | None
    order: list[tuple[str, bool]]  # (column, descending)
    limit: int
    offset: int


class _Parser:
    def __init__(self, query: str) -> None:
        self.toks = tokenize(query)
        self.i = 0
        self.criteria = 0

    def peek(self, ahead: int = 0) -> Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def is_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "kw" and tok.value in words

    def expect_kw(self, word: str, clause: str) -> Tok:
        tok = self.take()
        if tok.kind != "kw" or tok.value != word:
            raise _syntax(f"expected {word.upper()}", tok.value, tok.pos, clause)
        return tok

    def column(self, clause: str) -> Tok:
        tok = self.take()
        if tok.kind != "word":
            raise _syntax("column name expected", tok.value, tok.pos, clause)
        return tok

    def parse(self) -> Query:
        self.expect_kw("select", "select")
        columns: list[str] = []
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.value == "*":
                raise _syntax("select * is not supported; list the columns", "*", tok.pos, "select")
            if tok.kind == "word" and self.peek(1).kind == "punct" and self.peek(1).value == "(":
                raise _syntax("functions and aggregates are not supported", tok.value, tok.pos, "select")
            columns.append(self.column("select").value)
            if self.peek().kind == "punct" and self.peek().value == ",":
                self.take()
                continue
            break
        self.expect_kw("from", "from")
        module_tok = self.take()
        if module_tok.kind != "word" or "." in module_tok.value:
            raise _syntax("module name expected", module_tok.value, module_tok.pos, "from")
        if not self.is_kw("where"):
            # COQL-Limitations / the COQL page's errors: a query without WHERE is a SYNTAX_ERROR (v7, v8).
            tok = self.peek()
            raise _syntax("where clause is missing", tok.value, tok.pos, "where")
        self.take()
        where: Cond | BoolOp = self.expr(0)
        order: list[tuple[str, bool]] = []
        limit: int | None = None
        offset: int | None = None
        while self.peek().kind != "end":
            tok = self.peek()
            if self.is_kw("order"):
                self.take()
                self.expect_kw("by", "order by")
                while True:
                    col = self.column("order by").value
                    desc = False
                    if self.is_kw("asc", "desc"):
                        desc = self.take().value == "desc"
                    order.append((col, desc))
                    if self.peek().kind == "punct" and self.peek().value == ",":
                        self.take()
                        continue
                    break
            elif self.is_kw("limit") and limit is None:
                self.take()
                first = self.number("limit")
                if self.peek().kind == "punct" and self.peek().value == ",":
                    self.take()
                    offset, limit = first, self.number("limit")
                else:
                    limit = first
            elif self.is_kw("offset") and offset is None:
                self.take()
                offset = self.number("offset")
            elif self.is_kw("group", "having"):
                raise _syntax("GROUP BY is not supported by the emulator", tok.value, tok.pos, tok.value)
            else:
                raise _syntax("unexpected token", tok.value, tok.pos)
        return Query(
            columns=columns,
            module=module_tok.value,
            where=where,
            order=order,
            limit=DEFAULT_LIMIT if limit is None else limit,
            offset=offset or 0,
        )

    def number(self, clause: str) -> int:
        tok = self.take()
        if tok.kind != "num" or not tok.value.isdigit():
            raise _syntax(f"{clause.upper()} expects a non-negative whole number", tok.value, tok.pos, clause)
        return int(tok.value)

    def expr(self, depth: int) -> Cond | BoolOp:
        """At most two criteria per parenthesis level (Zoho's bracketing rule)."""
        left = self.operand(depth)
        if not self.is_kw("and", "or"):
            return left
        op = self.take().value
        right = self.operand(depth)
        if self.is_kw("and", "or"):
            tok = self.peek()
            raise _syntax(
                "more than two criteria must be enclosed in parentheses, e.g. ((A and B) and C)",
                tok.value,
                tok.pos,
                "where",
            )
        return BoolOp(op, left, right)

    def operand(self, depth: int) -> Cond | BoolOp:
        tok = self.peek()
        if tok.kind == "punct" and tok.value == "(":
            self.take()
            inner = self.expr(depth + 1)
            close = self.take()
            if close.kind != "punct" or close.value != ")":
                raise _syntax("missing closing parenthesis", close.value, close.pos, "where")
            return inner
        return self.condition()

    def condition(self) -> Cond:
        col = self.column("where")
        self.criteria += 1
        if self.criteria > MAX_CRITERIA:
            raise CoqlError("LIMIT_EXCEEDED", f"maximum of {MAX_CRITERIA} criteria allowed in where clause",
                            {"limit": MAX_CRITERIA, "clause": "where"})  # fmt: skip
        tok = self.take()
        if tok.kind == "op":
            op = "!=" if tok.value == "<>" else tok.value
            return Cond(col.value, op, [self.value()], col.pos)
        negate = False
        if tok.kind == "kw" and tok.value == "not":
            negate = True
            tok = self.take()
        if tok.kind == "kw" and tok.value == "is" and not negate:
            if self.is_kw("not"):
                self.take()
                self.expect_kw("null", "where")
                return Cond(col.value, "is not null", [], col.pos)
            self.expect_kw("null", "where")
            return Cond(col.value, "is null", [], col.pos)
        if tok.kind == "kw" and tok.value == "like":
            value = self.value()
            return Cond(col.value, "not like" if negate else "like", [value], col.pos)
        if tok.kind == "kw" and tok.value == "in":
            return Cond(col.value, "not in" if negate else "in", self.value_list(), col.pos)
        if tok.kind == "kw" and tok.value == "between":
            low = self.value()
            self.expect_kw("and", "where")
            high = self.value()
            return Cond(col.value, "not between" if negate else "between", [low, high], col.pos)
        raise _syntax("comparator expected", tok.value, tok.pos, "where")

    def value(self) -> Any:
        tok = self.take()
        if tok.kind == "str":
            return tok.value
        if tok.kind == "num":
            return float(tok.value) if "." in tok.value else int(tok.value)
        if tok.kind == "kw" and tok.value in ("true", "false"):
            return tok.value == "true"
        if tok.kind == "kw" and tok.value == "null":
            return None
        raise _syntax("value expected (strings go in single quotes)", tok.value, tok.pos, "where")

    def value_list(self) -> list[Any]:
        open_ = self.take()
        if open_.kind != "punct" or open_.value != "(":
            raise _syntax("'(' expected after IN", open_.value, open_.pos, "where")
        values = [self.value()]
        while self.peek().kind == "punct" and self.peek().value == ",":
            self.take()
            values.append(self.value())
        close = self.take()
        if close.kind != "punct" or close.value != ")":
            raise _syntax("')' expected to close the IN list", close.value, close.pos, "where")
        return values


def parse(query: str) -> Query:
    """Parse a select query; raises CoqlError (SYNTAX_ERROR / LIMIT_EXCEEDED) for what Zoho rejects."""
    if not isinstance(query, str) or not query.strip():
        raise CoqlError("SYNTAX_ERROR", "select_query is empty", {"clause": "select"})
    return _Parser(query).parse()


# --- column resolution ----------------------------------------------------------------------------------
@dataclass
class Column:
    """A selected/filtered column: a field path resolved against the catalog."""

    name: str
    path: list[tuple[str, str]]  # (module, field api name) per hop; last hop is the value
    data_type: str
    places: int | None = None  # decimal places of a double / currency / percent field


def _invalid_column(name: str, clause: str) -> CoqlError:
    return CoqlError(
        "INVALID_QUERY", "column given seems to be invalid", {"column_name": name, "clause": clause}
    )


def resolve_column(catalog: CatalogLike, module: str, name: str, clause: str) -> Column:
    parts = name.split(".")
    if len(parts) - 1 > MAX_RELATIONS:
        raise CoqlError("LIMIT_EXCEEDED", f"maximum of {MAX_RELATIONS} relations allowed",
                        {"limit": MAX_RELATIONS, "column_name": name})  # fmt: skip
    path: list[tuple[str, str]] = []
    current = module
    data_type = "bigint"
    places: Any = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if current == "users":
            if part not in USER_FIELDS or not last:
                raise _invalid_column(name, clause)
            path.append(("users", part))
            data_type = "bigint" if part == "id" else "text"
            break
        if part == "id":
            if not last:
                raise _invalid_column(name, clause)
            path.append((current, "id"))
            data_type = "bigint"
            break
        meta = _field(catalog, current, part)
        if meta is None:
            raise _invalid_column(name, clause)
        data_type = str(meta.get("data_type") or "text")
        places = meta.get("decimal_place")
        if places is None and data_type == "currency":
            precision = (meta.get("currency") or {}).get("precision")
            places = precision if isinstance(precision, int) else 2
        path.append((current, part))
        if not last:
            if data_type in ("ownerlookup", "userlookup"):
                current = "users"
            elif data_type == "lookup":
                target = (meta.get("lookup") or {}).get("module")
                # v2/v2.1 field metadata name the module as a string, later versions as an object.
                current = str((target.get("api_name") if isinstance(target, dict) else target) or "")
                if not current or catalog.module(current) is None:
                    raise _invalid_column(name, clause)
            else:
                raise _invalid_column(name, clause)
    return Column(name, path, data_type, places if isinstance(places, int) else None)


class _Resolver:
    """Reads column values from records, following lookups into related modules' records by id."""

    def __init__(self, rows: Callable[[str], Iterable[dict[str, Any]]], users: list[dict[str, Any]]):
        self.rows = rows
        self.by_id: dict[str, dict[str, dict[str, Any]]] = {"users": {str(u["id"]): u for u in users}}

    def related(self, module: str, rid: Any) -> dict[str, Any] | None:
        if module not in self.by_id:
            self.by_id[module] = {str(r.get("id")): r for r in self.rows(module)}
        return self.by_id[module].get(str(rid))

    def value(self, record: dict[str, Any], col: Column) -> Any:
        if len(col.path) == 1:
            return record.get(col.path[0][1])
        current: dict[str, Any] | None = record
        for i, (_module, field) in enumerate(col.path):
            if current is None:
                return None
            value = current.get(field)
            if i == len(col.path) - 1:
                return value
            rid = value.get("id") if isinstance(value, dict) else value
            if rid in (None, ""):
                return None
            next_module = col.path[i + 1][0]
            current = self.related(next_module, rid)
        return None


# --- evaluation -----------------------------------------------------------------------------------------
def _is_null(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).casefold()


def _exact(value: Any) -> int | float:
    """Whole numbers stay ints: 19-digit ids and bigints must not lose precision as floats."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _number(value: Any, col: Column) -> int | float:
    try:
        return _exact(value)
    except (TypeError, ValueError):
        raise CoqlError(
            "INVALID_QUERY",
            "value given seems to be invalid for the column",
            {"column_name": col.name, "value": value},
        ) from None


def _moment(value: Any, col: Column, strict: bool) -> Any:
    text = str(value)
    try:
        if col.data_type == "datetime":
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            # naive and aware datetimes cannot be compared; a missing offset is read as UTC
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return datetime.fromisoformat(text[:10]).date()
    except ValueError:
        if strict:
            raise CoqlError(
                "INVALID_QUERY",
                "value given seems to be invalid for the column",
                {"column_name": col.name, "value": value},
            ) from None
        return None


def _like(pattern: str, value: Any) -> bool:
    pat = _text(pattern)
    text = _text(value)
    if pat.startswith("%") and pat.endswith("%") and len(pat) >= 2:
        return pat[1:-1] in text
    if pat.endswith("%"):
        return text.startswith(pat[:-1])
    if pat.startswith("%"):
        return text.endswith(pat[1:])
    return text == pat


ALLOWED_OPS = {
    "text": {"=", "!=", "like", "not like", "in", "not in", "is null", "is not null"},
    "number": {"=", "!=", ">", "<", ">=", "<=", "between", "not between", "in", "not in", "is null", "is not null"},
    "lookup": {"=", "!=", "in", "not in", "is null", "is not null"},
    "boolean": {"="},
    "multiselect": {"=", "!=", "like", "not like", "in", "not in", "is null", "is not null"},
}  # fmt: skip


def type_family(data_type: str) -> str:
    """The family of operators a field type takes in COQL and in Search criteria alike."""
    if data_type in NUMBER_TYPES or data_type in DATE_TYPES:
        return "number"
    if data_type in LOOKUP_TYPES:
        return "lookup"
    if data_type == "boolean":
        return "boolean"
    if data_type == "multiselectpicklist":
        return "multiselect"
    return "text"


class _Evaluator:
    def __init__(self, module: str, catalog: CatalogLike, resolver: _Resolver, version: str = "v8") -> None:
        self.module = module
        self.max_in = max_in_values(version)
        self.catalog = catalog
        self.resolver = resolver
        self.columns: dict[str, Column] = {}
        self.wanted: dict[
            int, set[Any]
        ] = {}  # id(Cond) → normalised `=`/`in` literals (one set lookup a row)
        self.positive: dict[int, Cond] = {}  # id(negated Cond) → its positive form
        self.fast: dict[int, Callable[[dict[str, Any]], bool]] = {}

    def prepare(self, node: Cond | BoolOp) -> None:
        """Resolve columns and check operators/values once, before scanning records."""
        if isinstance(node, BoolOp):
            self.prepare(node.left)
            self.prepare(node.right)
            return
        col = self.columns.get(node.column) or resolve_column(self.catalog, self.module, node.column, "where")
        self.columns[node.column] = col
        if col.data_type == "textarea":
            # COQL-Limitations.html: "You cannot use multi-line fields such as Description, Terms and
            # Conditions, Comments etc., in criteria."
            raise CoqlError(
                "INVALID_QUERY",
                "data type not supported",
                {"column_name": node.column, "data_type": col.data_type, "clause": "where"},
            )
        if node.op in ("in", "not in") and len(node.values) > self.max_in:
            raise CoqlError(
                "LIMIT_EXCEEDED",
                f"maximum of {self.max_in} values allowed for in/not in",
                {"limit": self.max_in, "clause": "where", "operator": node.op},
            )
        family = type_family(col.data_type)
        if node.op not in ALLOWED_OPS[family]:
            raise CoqlError(
                "INVALID_QUERY",
                "the comparator is not supported for the column's data type",
                {"column_name": node.column, "operator": node.op, "data_type": col.data_type},
            )
        for value in node.values:
            if value is None:
                continue
            if col.data_type in NUMBER_TYPES:
                _number(value, col)
            elif col.data_type in DATE_TYPES:
                _moment(value, col, strict=True)
            elif col.data_type == "boolean" and str(value).lower() not in ("true", "false"):
                raise CoqlError(
                    "INVALID_QUERY",
                    "value given seems to be invalid for the column",
                    {"column_name": node.column, "value": value},
                )
        self._index_literals(node, col)

    def _index_literals(self, node: Cond, col: Column) -> None:
        """Text, lookup, boolean and number `=`/`in` literals as a set; dates keep the compare path."""
        if (
            node.op not in ("=", "in")
            or col.data_type in DATE_TYPES
            or col.data_type == "multiselectpicklist"
        ):
            return
        if col.data_type in NUMBER_TYPES:
            self.wanted[id(node)] = {_number(v, col) for v in node.values if v is not None}
            return
        literals = {_text(v) for v in node.values if v is not None} - {""}
        self.wanted[id(node)] = literals
        if len(col.path) == 1:  # the key-lookup case: one dict read and one set lookup per record
            name = col.path[0][1]
            self.fast[id(node)] = lambda record: _text(record.get(name)) in literals

    def matches(self, record: dict[str, Any], node: Cond | BoolOp) -> bool:
        if isinstance(node, BoolOp):
            if node.op == "and":
                return self.matches(record, node.left) and self.matches(record, node.right)
            return self.matches(record, node.left) or self.matches(record, node.right)
        fast = self.fast.get(id(node))
        if fast is not None:
            return fast(record)
        col = self.columns[node.column]
        value = self.resolver.value(record, col)
        op = node.op
        if op == "is null":
            return _is_null(value)
        if op == "is not null":
            return not _is_null(value)
        if op.startswith("not ") or op == "!=":
            positive = self.positive.get(id(node))
            if positive is None:
                positive = self.positive[id(node)] = Cond(
                    node.column, "=" if op == "!=" else op[4:], node.values, node.pos
                )
                self._index_literals(positive, col)
            return not _is_null(value) and not self.matches(record, positive)
        if _is_null(value):
            return False
        if col.data_type == "multiselectpicklist":
            chosen = {_text(v) for v in (value if isinstance(value, list) else str(value).split(";"))}
            if op == "like":
                return any(_like(node.values[0], v) for v in chosen)
            wanted = [{_text(p) for p in str(v).split(";")} for v in node.values]
            return any(w == chosen for w in wanted) if op == "=" else any(w & chosen for w in wanted)
        if op == "like":
            return _like(node.values[0], value)
        if op in ("=", "in"):
            literal_set = self.wanted.get(id(node))
            if literal_set is not None:
                try:
                    key: Any = _exact(value) if col.data_type in NUMBER_TYPES else _text(value)
                except (TypeError, ValueError):
                    return False
                return key in literal_set
            return any(self.compare(value, v, col) == 0 for v in node.values if v is not None)
        if op == "between":
            return (
                self.compare(value, node.values[0], col) >= 0
                and self.compare(value, node.values[1], col) <= 0
            )
        cmp = self.compare(value, node.values[0], col)
        return {">": cmp > 0, "<": cmp < 0, ">=": cmp >= 0, "<=": cmp <= 0}[op]

    @staticmethod
    def compare(value: Any, literal: Any, col: Column) -> int:
        if col.data_type in NUMBER_TYPES or (col.data_type == "bigint"):
            try:
                a, b = _exact(value), _number(literal, col)
            except (TypeError, ValueError):
                return -2
            return (a > b) - (a < b)
        if col.data_type in DATE_TYPES:
            x, y = _moment(value, col, strict=False), _moment(literal, col, strict=True)
            if x is None:
                return -2
            return (x > y) - (x < y)
        a_text, b_text = _text(value), _text(literal)
        return 0 if a_text == b_text else (1 if a_text > b_text else -1)


def _id_key(record: dict[str, Any]) -> tuple[int, str]:
    rid = str(record.get("id") or "")
    return (int(rid), rid) if rid.isdigit() else (0, rid)


def _sort_key(value: Any) -> tuple[int, Any]:
    if _is_null(value):
        return (0, "")
    if isinstance(value, dict):
        value = value.get("name") or value.get("id")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value).casefold())


DECIMAL_TYPES = {"double", "currency", "percent", "decimal"}


def _output(
    value: Any, col: Column, version: str, users: dict[str, dict[str, Any]], org_tz: Any = timezone.utc
) -> Any:
    """A value in the shape COQL answers it (Get-Records-through-COQL-Query.html): an empty field as
    `null`; a datetime in the org's time zone (`2024-06-05T02:04:09-07:00`), whatever offset it was
    written with; a decimal, currency or percent as a number at the field's decimal places; lookups as
    `{"id"}`, plus `name` from v7 (v7 changelog: display names in SELECT); a user (Owner, Created_By, …)
    is named by the user's last name only, as COQL shows it."""
    if value == "":
        return None
    if col.data_type == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(org_tz).replace(microsecond=0).isoformat()
    if col.data_type in DECIMAL_TYPES and isinstance(value, (int, float)) and not isinstance(value, bool):
        if col.places is None:
            return value
        rounded = round(float(value), col.places)
        return int(rounded) if col.places == 0 else rounded
    if isinstance(value, dict) and "id" in value:
        out = {"id": value["id"]}
        if version_index(version) >= version_index("v7") and "name" in value:
            user = users.get(str(value["id"])) if col.data_type in USER_TYPES else None
            out["name"] = user.get("last_name", value["name"]) if user else value["name"]
        return out
    return value


def _org_zone(catalog: CatalogLike) -> Any:
    """The org's time zone (GET /org `time_zone`), in which Zoho answers datetimes."""
    name = (getattr(catalog, "org", None) or {}).get("time_zone") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


IndexLookup = Callable[[str, str, list[Any]], list[dict[str, Any]]]
"""(module, field, values) → the records whose field equals one of the values (case-insensitively)."""

UNINDEXED_TYPES = NUMBER_TYPES | DATE_TYPES | {"multiselectpicklist", "boolean"}


def indexed_condition(node: Cond | BoolOp, columns: dict[str, Column]) -> tuple[str, list[Any]] | None:
    """An `=`/`in` on a plain text-like, lookup or `id` column that every matching record satisfies.

    Only conditions joined by `and` from the top qualify (an `or` branch does not bound the matches).
    The store's index is case-insensitive and trimmed, so what it returns is a superset of the matches;
    the full condition is still evaluated on each candidate.
    """
    if isinstance(node, BoolOp):
        if node.op != "and":
            return None
        return indexed_condition(node.left, columns) or indexed_condition(node.right, columns)
    col = columns.get(node.column)
    if node.op not in ("=", "in") or col is None or len(col.path) != 1:
        return None
    field = col.path[0][1]
    values = [v for v in node.values if v is not None]
    if not values:
        return None
    if field == "id":
        try:
            return field, [str(int(str(v).strip())) for v in values]
        except ValueError:
            return None
    if col.data_type in UNINDEXED_TYPES:
        return None
    return field, values


def run_query(
    select_query: str,
    *,
    version: str,
    catalog: CatalogLike,
    rows: Callable[[str], Iterable[dict[str, Any]]],
    lookup: IndexLookup | None = None,
    may_read: Callable[[str], bool] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Evaluate a COQL select; returns (rows as Zoho returns them, more_records). Raises CoqlError.

    With `lookup`, a WHERE that pins a plain column with `=`/`in` reads only the records the store's
    value index gives for it instead of scanning the module (key lookups over 100k records).
    `may_read(module)` says whether the token holds the module's READ scope: COQL needs it as well as
    `ZohoCRM.coql.READ` (Get-Records-through-COQL-Query.html, "Scope"), else 401 OAUTH_SCOPE_MISMATCH.
    """
    query = parse(select_query)
    if catalog.module(query.module) is None:
        raise CoqlError(
            "INVALID_QUERY",
            "column given seems to be invalid",
            {"column_name": query.module, "clause": "from", "reason": "invalid module"},
        )
    if may_read is not None and not may_read(query.module):
        raise CoqlError("OAUTH_SCOPE_MISMATCH", "Unauthorized", status=401)
    if len(query.columns) > MAX_SELECT_COLUMNS:
        raise CoqlError("LIMIT_EXCEEDED", f"maximum of {MAX_SELECT_COLUMNS} columns allowed in select",
                        {"limit": MAX_SELECT_COLUMNS, "clause": "select"})  # fmt: skip
    seen: set[str] = set()
    for name in query.columns:
        if name in seen:
            raise CoqlError("DUPLICATE_DATA", "duplicate column given in select", {"column_name": name})
        seen.add(name)
    per_call, total = row_limits(version)
    if query.limit == 0:
        # LIMIT 0 is INVALID_DATA at Zoho, not LIMIT_EXCEEDED (project reference, audit corrections).
        raise CoqlError("INVALID_DATA", "invalid data", {"clause": "limit", "value": 0})
    if query.limit > per_call:
        raise CoqlError(
            "LIMIT_EXCEEDED",
            f"limit must be between 1 and {per_call}",
            {"limit": per_call, "clause": "limit", "value": query.limit},
        )
    if query.offset >= total:
        raise CoqlError(
            "LIMIT_EXCEEDED",
            f"a maximum of {total} records can be fetched with limit and offset",
            {"limit": total, "clause": "offset", "value": query.offset},
        )
    resolver = _Resolver(rows, list(catalog.users))
    select_cols = [resolve_column(catalog, query.module, name, "select") for name in query.columns]
    order_cols = [(resolve_column(catalog, query.module, c, "order by"), desc) for c, desc in query.order]
    evaluator = _Evaluator(query.module, catalog, resolver, version)
    if query.where is not None:
        evaluator.prepare(query.where)

    source: Iterable[dict[str, Any]] | None = None
    if query.where is not None and lookup is not None:
        hit = indexed_condition(query.where, evaluator.columns)
        if hit is not None:
            source = lookup(query.module, *hit)
    if source is None:
        source = rows(query.module)
    matched = [r for r in source if query.where is None or evaluator.matches(r, query.where)]
    matched.sort(key=_id_key)
    for col, desc in reversed(order_cols):
        matched.sort(key=lambda r, c=col: _sort_key(resolver.value(r, c)), reverse=desc)  # type: ignore[misc]
    reachable = matched[:total]
    page = reachable[query.offset : query.offset + query.limit]
    more = len(matched) > query.offset + query.limit
    org_tz = _org_zone(catalog)
    out = []
    for record in page:
        row = {
            col.name: _output(resolver.value(record, col), col, version, resolver.by_id["users"], org_tz)
            for col in select_cols
        }
        row["id"] = record.get("id")
        out.append(row)
    return out, more
