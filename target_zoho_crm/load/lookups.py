"""Lookup and owner resolution: from what a source knows (a name, a code, an external ID, an email) to
Zoho record IDs, with batched COQL `in` queries (or the Search API), and a run-wide cache.

Why COQL rather than `X-EXTERNAL` for external IDs: one COQL call resolves up to 50 values (100
from v7) for one credit (Get-Records-through-COQL-Query.html, COQL-Limitations.html), the answer is cached for the whole
run, works the same for the REST and the Bulk Write paths (Bulk Write has no `X-EXTERNAL`), lets an
unknown value be rejected before the write spends credits, and keeps a record's lookups independent of
the header every other record of the same call would have to share (insert-records-ext.html: "the
external value wins over any id" once the header names the field).

Errors (in the rejects file):
- no record matches: `INVALID_DATA` with Zoho's `{api_name, json_path}` details, as Zoho answers for a
  lookup value it cannot resolve (insert-records-ext.html, "Possible Errors");
- more than one record matches: Zoho has no code for this (it links an arbitrary one), so the code is
  this target's own `AMBIGUOUS_LOOKUP` (lookups) / `AMBIGUOUS_KEY` (upsert keys), details
  `{api_name, json_path, module, field, matched_ids}`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from target_zoho_crm.errors import LookupQueryError, ZohoAPIError
from target_zoho_crm.load.keys import fold_key
from target_zoho_crm.model import USERS, LookupRef, ModuleInfo, PreparedRecord, ZohoError, is_key_value
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import COQL_IN_MAX, COQL_PAGE, RECORDS_PER_PAGE, SEARCH_CRITERIA_MAX
from target_zoho_crm.zoho.query import COQL_NUMERIC_TYPES, coql_in_conditions, coql_quote

__all__ = [
    "AMBIGUOUS_KEY",
    "AMBIGUOUS_LOOKUP",
    "COQL_IN_MAX",
    "SEARCH_CRITERIA_MAX",
    "KeyFinder",
    "KeyMatch",
    "KeyMatcher",
    "LookupCache",
    "LookupResolver",
    "coql_quote",
    "is_no_match",
    "search_escape",
]

AMBIGUOUS_LOOKUP = "AMBIGUOUS_LOOKUP"
AMBIGUOUS_KEY = "AMBIGUOUS_KEY"
NO_MATCH_MESSAGE = "the value given for the lookup field seems to be invalid"


def is_no_match(error: ZohoError) -> bool:
    """Whether `error` says a lookup value matched no record (and nothing else: not ambiguous, not
    "could not be checked") — the one failure a parent written later in the run can cure."""
    return error.code == "INVALID_DATA" and error.message.startswith(NO_MATCH_MESSAGE)


# The field a bare value (a name) is matched on when the related module's duplicate-check field is not
# the obvious one: people are named by their full name (or their email when the value has an "@").
_PEOPLE = frozenset({"Leads", "Contacts"})


class _Catalog(Protocol):
    def find(self, api_name: str) -> ModuleInfo | None: ...


def search_escape(value: str) -> str:
    """A Search API criteria value: `(`, `)`, `,` and `\\` escaped with a backslash (search-records.html)."""
    out = value.replace("\\", "\\\\")
    for ch in "(),":
        out = out.replace(ch, "\\" + ch)
    return out


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _rows(response: Any) -> tuple[list[dict[str, Any]], bool]:
    """(rows, more_records) from a COQL / Search / Users response; 204 means no rows."""
    if response is None or response.status_code == 204 or not response.content:
        return [], False
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise LookupQueryError(
            f"Zoho answered {response.status_code} {body.get('code', '')}: {body.get('message', '')}".strip()
        )
    body = response.json()
    rows = body.get("data") or body.get("users") or []
    info = body.get("info") or {}
    return list(rows), bool(info.get("more_records"))


def _cell(row: Mapping[str, Any], field: str) -> Any:
    value = row.get(field)
    if isinstance(value, Mapping):  # a lookup column comes back as {"id": ..., "name": ...}
        return value.get("name") or value.get("id")
    return value


class LookupCache:
    """Run-wide, thread-safe `(module, field, value) → ids`; `remember` makes parents written earlier in
    the run visible to their children without a query."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self.generation = 0  # grows with every id `remember` adds: a parked child may now match

    def get(self, module: str, field: str, value: Any) -> tuple[str, ...] | None:
        with self._lock:
            return self._ids.get((module, field, fold_key(value)))

    def put(self, module: str, field: str, value: Any, ids: Iterable[str]) -> None:
        """Store a query's answer, keeping any id `remember` added while the query was in flight."""
        key = (module, field, fold_key(value))
        with self._lock:
            known = self._ids.get(key) or ()
            self._ids[key] = tuple(dict.fromkeys((*known, *(str(i) for i in ids))))

    def remember(self, module: str, field: str, value: Any, record_id: str) -> None:
        """Record that `module` has a record `record_id` whose `field` is `value` (written this run)."""
        if value is None or value == "":
            return
        key = (module, field, fold_key(value))
        with self._lock:
            known = self._ids.get(key) or ()
            if str(record_id) not in known:
                self._ids[key] = (*known, str(record_id))
                self.generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


class LookupResolver:
    """Resolves `LookupRef`s in payloads to `{"id": ...}` with batched queries and a run-wide cache."""

    def __init__(
        self,
        client: ZohoClient,
        catalog: _Catalog,
        *,
        use_coql: bool = True,
        cache: LookupCache | None = None,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.use_coql = use_coql
        self.cache = cache if cache is not None else LookupCache()  # an empty cache is falsy
        self._lock = threading.Lock()
        self._users: list[dict[str, Any]] | None = None

    # -- the sink's entry points ------------------------------------------------------------------
    def remember_record(self, module: ModuleInfo, payload: Mapping[str, Any], record_id: str) -> None:
        """Remember a record just written: its name field, unique fields and external fields."""
        fields = {*module.system_duplicate_fields, *module.unique_fields, *module.external_fields}
        name = self.name_field(module.api_name)
        if name:
            fields.add(name)
        for field in fields:
            value = payload.get(field)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                self.cache.remember(module.api_name, field, value, record_id)

    def resolve_records(
        self,
        module: ModuleInfo,
        records: Sequence[PreparedRecord],
        *,
        operation: str | None = None,
        key_fields: Sequence[str] | None = None,
        converter: Any = None,
        find: KeyFinder | None = None,
    ) -> tuple[list[PreparedRecord], list[tuple[PreparedRecord, list[ZohoError]]]]:
        """What the sink calls once per batch, after `RecordConverter.convert`: resolves every lookup
        (rejecting records whose values match no record or several), then, for an upsert given its
        `key_fields`, rejects records whose key matches several Zoho records (`AMBIGUOUS_KEY`) and
        checks mandatory fields (`converter.missing_mandatory`) of the records that will insert.
        `find` answers the key question from a read already made (load/existing.py), so that it is
        not read twice. Each rejected record comes with every error found for it, the first one first."""
        kept: list[PreparedRecord] = []
        rejected: list[tuple[PreparedRecord, list[ZohoError]]] = []
        for record, errors in zip(records, self.resolve_payloads([r.payload for r in records]), strict=True):
            if errors:
                rejected.append((record, errors))
            else:
                kept.append(record)
        if operation == "upsert" and key_fields and kept:
            matcher = KeyMatcher(self.client, module, use_coql=self.use_coql, cache=self.cache)
            matches = matcher.match(kept, key_fields, find=find)
            still: list[PreparedRecord] = []
            for record in kept:
                match = matches[record.index]
                if match.error is not None:
                    rejected.append((record, [match.error]))
                    continue
                if match.action == "insert" and converter is not None:
                    missing = converter.missing_mandatory(record.payload)
                    if missing:
                        rejected.append((record, missing))
                        continue
                still.append(record)
            kept = still
        return kept, rejected

    def external_headers(self, module: ModuleInfo, mapper: Any = None) -> list[str]:
        """`X-EXTERNAL` lookup paths the writer must send: none, since this resolver turns external
        IDs into record IDs with COQL before the write (see the module docstring for why)."""
        return []

    def reconcile(
        self, module: ModuleInfo, key_field: str | None, chunk: Sequence[PreparedRecord]
    ) -> tuple[dict[int, str], set[int]]:
        """After a write whose answer was lost: which records of `chunk` now exist in Zoho, found by
        `key_field` with a fresh query (never the cache). Returns (index → id for the records found
        exactly once, indexes that cannot be checked: no key value, or a key several records share)."""
        unknown: set[int] = set()
        values: dict[int, str] = {}
        for record in chunk:
            value = record.payload.get(key_field) if key_field else None
            if not is_key_value(value):
                unknown.add(record.index)
            else:
                values[record.index] = str(value)
        found: dict[int, str] = {}
        if values and key_field:
            ids = self.find(module.api_name, key_field, sorted(set(values.values())))
            for index, value in values.items():
                matched = ids.get(fold_key(value), [])
                if len(matched) == 1:
                    found[index] = matched[0]
                elif len(matched) > 1:
                    unknown.add(index)
        return found, unknown

    def resolve_payloads(self, payloads: Sequence[dict[str, Any]]) -> list[list[ZohoError]]:
        """Replace every LookupRef in `payloads` (in place) by `{"id": ...}`; per payload, the errors
        for values that matched no record or more than one (those refs are left unresolved)."""
        found: list[list[tuple[Any, Any, LookupRef]]] = [list(_find_refs(p)) for p in payloads]
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for refs in found:
            for _parent, _key, ref in refs:
                wanted[(ref.module, self._field(ref))].add(ref.value)
        answers: dict[tuple[str, str], dict[str, str | ZohoError]] = {}
        for (module, field), values in wanted.items():
            answers[(module, field)] = self.resolve(module, field, sorted(values))
        errors: list[list[ZohoError]] = []
        for refs in found:
            record_errors: list[ZohoError] = []
            for parent, key, ref in refs:
                answer = answers[(ref.module, self._field(ref))][ref.value]
                if isinstance(answer, ZohoError):
                    details = {**answer.details, "api_name": ref.api_name, "json_path": ref.json_path}
                    record_errors.append(ZohoError(answer.code, answer.message, details))
                else:
                    parent[key] = {"id": answer}
            errors.append(record_errors)
        return errors

    def resolve(self, module: str, field: str, values: Sequence[str]) -> dict[str, str | ZohoError]:
        """`value → id`, or a ZohoError when no record or more than one record has that value."""
        pending = [v for v in dict.fromkeys(values) if self.cache.get(module, field, v) is None]
        result: dict[str, str | ZohoError] = {}
        if pending and (not module or field == "id"):  # no related module / no field to match on
            for value in pending:
                self.cache.put(module, field, value, [])
        elif pending:
            try:
                self._store(module, field, pending, self.find(module, field, pending))
            except LookupQueryError as exc:  # e.g. a field COQL cannot filter on: these values fail
                for value in pending:
                    result[value] = ZohoError(
                        "INVALID_DATA",
                        f"the lookup value could not be checked: {exc}",
                        {"module": module, "field": field},
                    )
        for value in values:
            if value in result:
                continue
            ids = self.cache.get(module, field, value) or ()
            if len(ids) == 1:
                result[value] = ids[0]
            elif not ids:
                result[value] = ZohoError(
                    "INVALID_DATA",
                    f"{NO_MATCH_MESSAGE}: no {module} record has {field} = {value!r}",
                    {"module": module, "field": field},
                )
            else:
                result[value] = ZohoError(
                    AMBIGUOUS_LOOKUP,
                    f"{len(ids)} {module} records have {field} = {value!r}; nothing is linked to a guess",
                    {"module": module, "field": field, "matched_ids": list(ids)},
                )
        return result

    def name_field(self, module: str) -> str | None:
        """The field a bare lookup value is matched on: the related module's duplicate-check field."""
        if module == USERS:
            return "email"
        if module in _PEOPLE:
            return "Full_Name"
        info = self.catalog.find(module)
        if info is None:  # not a module of this org: the caller reports the value as not found
            return None
        if info.system_duplicate_fields:
            return info.system_duplicate_fields[0]
        for candidate in ("Name", f"{info.singular}_Name".replace(" ", "_")):
            if candidate in info.fields:
                return candidate
        return info.unique_fields[0] if info.unique_fields else None

    # -- queries ----------------------------------------------------------------------------------
    def _field(self, ref: LookupRef) -> str:
        if ref.field:
            return ref.field
        if ref.module in _PEOPLE and "@" in ref.value:
            return "Email"
        return self.name_field(ref.module) or "id"

    def _store(self, module: str, field: str, values: Sequence[str], found: Mapping[str, list[str]]) -> None:
        for value in values:
            self.cache.put(module, field, value, found.get(fold_key(value), []))

    def find(self, module: str, field: str, values: Sequence[str]) -> dict[str, list[str]]:
        """Ask Zoho (no cache): folded value → ids of the `module` records whose `field` equals it."""
        if module == USERS:
            rows = self._users_list()
        elif self.use_coql:
            rows = self._query_coql(module, field, values)
        else:
            rows = self._query_search(module, field, values)
        wanted = {fold_key(v) for v in values}
        found: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            cell = _cell(row, field)
            if cell is None or row.get("id") is None:
                continue
            folded = fold_key(cell)
            if folded in wanted and str(row["id"]) not in found[folded]:
                found[folded].append(str(row["id"]))
        return found

    def _query_coql(self, module: str, field: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """`select id, F from M where F in (...)`, as many values a call as the API version takes (50
        through v6, 100 from v7), paged by OFFSET."""
        rows: list[dict[str, Any]] = []
        numeric = self._data_type(module, field) in COQL_NUMERIC_TYPES
        per_call = self.client.version.coql_in_values
        for where in coql_in_conditions(field, values, numeric=numeric, per_call=per_call):
            offset = 0
            while True:
                query = f"select id, {field} from {module} where {where} limit {COQL_PAGE}"
                if offset:
                    query += f" offset {offset}"
                page, more = _rows(self._call("POST", "/coql", json={"select_query": query}))
                rows.extend(page)
                if not more or not page:
                    break
                offset += len(page)
        return rows

    def _data_type(self, module: str, field: str) -> str | None:
        info = self.catalog.find(module)
        meta = info.fields.get(field) if info is not None else None
        return meta.data_type if meta is not None else None

    def _query_search(self, module: str, field: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """Search API, ≤ 10 `equals` criteria a call; `equals` may match more loosely than equality
        (search-records.html), so `find` keeps only rows whose value is equal."""
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(values, SEARCH_CRITERIA_MAX):
            parts = [f"({field}:equals:{search_escape(v)})" for v in chunk]
            criteria = parts[0] if len(parts) == 1 else "(" + "or".join(parts) + ")"
            page = 1
            while True:
                params = {"criteria": criteria, "page": page, "per_page": RECORDS_PER_PAGE}
                batch, more = _rows(self._call("GET", f"/{module}/search", params=params))
                rows.extend(batch)
                if not more or not batch:
                    break
                page += 1
        return rows

    def _users_list(self) -> list[dict[str, Any]]:
        """Owners: every active user, fetched once per run (GET /users?type=ActiveUsers, paged)."""
        with self._lock:
            if self._users is None:
                users: list[dict[str, Any]] = []
                page = 1
                while True:
                    params = {"type": "ActiveUsers", "page": page, "per_page": RECORDS_PER_PAGE}
                    batch, more = _rows(self._call("GET", "/users", params=params))
                    users.extend(batch)
                    if not more or not batch:
                        break
                    page += 1
                self._users = users
            return self._users

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.client.request(method, path, **kwargs)
        except ZohoAPIError as exc:
            # Zoho refused this query itself (a field COQL cannot filter on, too many values): these
            # values cannot be checked. Anything else (network, credentials, Zoho down) stops the batch.
            if exc.code in ("INVALID_QUERY", "SYNTAX_ERROR", "LIMIT_EXCEEDED", "INVALID_DATA"):
                raise LookupQueryError(f"{path}: {exc}") from exc
            raise


def _find_refs(node: Any) -> Iterator[tuple[Any, Any, LookupRef]]:
    """(container, key, ref) for every LookupRef inside a payload (lookups, line items, subforms)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, LookupRef):
                yield node, key, value
            elif isinstance(value, (dict, list)):
                yield from _find_refs(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, LookupRef):
                yield node, i, value
            elif isinstance(value, (dict, list)):
                yield from _find_refs(value)


KeyFinder = Callable[[str, Sequence[str]], Mapping[str, tuple[str, ...]]]
"""(field, values) → value → ids of the records whose `field` equals it."""


@dataclass
class KeyMatch:
    """What an upsert would do with one record: the field that matches, the existing id(s)."""

    action: str  # "insert" | "update" | "ambiguous"
    field: str | None = None
    record_id: str | None = None
    error: ZohoError | None = None


class KeyMatcher:
    """Finds, before an upsert, which records match an existing Zoho record and on which field, in
    Zoho's order (upsert-records.html "How does the duplicate check work?"): the first field whose
    value matches decides. A value that matches more than one record is reported (`AMBIGUOUS_KEY`)
    rather than letting Zoho update an arbitrary one."""

    def __init__(
        self,
        client: ZohoClient,
        module: ModuleInfo,
        *,
        use_coql: bool = True,
        cache: LookupCache | None = None,
    ) -> None:
        self.module = module
        self._resolver = LookupResolver(client, _OneModule(module), use_coql=use_coql, cache=cache)

    def find(self, field: str, values: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """`value → ids` of the existing records whose `field` equals the value."""
        name = self.module.api_name
        self._resolver.resolve(name, field, values)
        return {v: self._resolver.cache.get(name, field, v) or () for v in values}

    def match(
        self,
        records: Sequence[PreparedRecord],
        key_fields: Sequence[str],
        *,
        find: KeyFinder | None = None,
    ) -> dict[int, KeyMatch]:
        """PreparedRecord.index → KeyMatch, checking `key_fields` in order as Zoho does; `find` (by
        default a query of this matcher's own) says which ids hold each value."""
        find = find or self.find
        result: dict[int, KeyMatch] = {}
        undecided = list(records)
        for field in key_fields:
            values = [str(r.payload[field]) for r in undecided if is_key_value(r.payload.get(field))]
            found = find(field, sorted(set(values))) if values else {}
            still: list[PreparedRecord] = []
            for record in undecided:
                value = record.payload.get(field)
                ids = found.get(str(value), ()) if is_key_value(value) else ()
                if len(ids) == 1:
                    result[record.index] = KeyMatch("update", field, ids[0])
                elif len(ids) > 1:
                    error = ZohoError(
                        AMBIGUOUS_KEY,
                        f"{len(ids)} {self.module.api_name} records have {field} = {value!r}; "
                        "an upsert would update an arbitrary one",
                        {
                            "api_name": field,
                            "json_path": f"$.data[0].{field}",
                            "module": self.module.api_name,
                            "matched_ids": list(ids),
                        },
                    )
                    result[record.index] = KeyMatch("ambiguous", field, None, error)
                else:
                    still.append(record)
            undecided = still
        for record in undecided:
            result[record.index] = KeyMatch("insert")
        return result


class _OneModule:
    def __init__(self, module: ModuleInfo) -> None:
        self._module = module

    def find(self, api_name: str) -> ModuleInfo | None:
        return self._module
