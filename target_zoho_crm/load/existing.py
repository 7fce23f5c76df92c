"""What Zoho holds for a batch's keys, read once: the existing ids per key, the ambiguous-key answer
(several records for one key) and the rows `skip_unchanged` compares, all from the same COQL read.

Two ways to read, chosen by credits as `api_type: auto` chooses the write API (docs/credits.md):
- per-key `in` queries: `select <fields_to_read> from M where K in (...)`, up to `coql_in_max` keys a
  call (50 through v6, 100 from v7), LIMIT 200, so 1 credit per call;
- a keyset scan of the module once per stream: `... where id > last order by id limit 2000` (3 credits
  a page from v4; 200 rows for 1 credit in v2/v3). It keeps, per record, its id and a 16-byte digest of
  the compared values (never the row), indexed by each key field: memory grows with the module's size,
  not with its rows' width. A payload whose digest equals the record's is unchanged.
`auto` reads with `in` queries and switches to the scan as soon as the `in` queries spent (counting the
batch at hand) reach half of what the scan costs (module size from one `/{module}/actions/count` call,
1 credit): a small stream against a large module never pays for the scan, a large one pays it once.

The scan starts once the stream's earlier writes have landed (`settle`). A key written by this run after
the scan is no longer known from it: such keys, and payloads that lack a compared field (their digest
cannot be made), are read with `in` queries, after the writes of those keys finished (the caller waits
on its key fence first).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from target_zoho_crm.errors import LookupQueryError, ZohoAPIError
from target_zoho_crm.load.keys import fold_key
from target_zoho_crm.model import ModuleInfo, PreparedRecord, is_key_value
from target_zoho_crm.transform.compare import COQL_SELECT_MAX, RecordComparer
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import COQL_BANDS, COQL_PAGE, coql_credits, coql_in_max, coql_rows_max
from target_zoho_crm.zoho.query import COQL_NUMERIC_TYPES, coql_in_conditions

__all__ = ["READ_MODES", "SCAN_SHARE", "Existing", "ExistingReader", "Held", "scan_credits", "scan_page"]

READ_MODES = ("auto", "in", "scan")
SCAN_SHARE = 0.5  # `auto` scans once the `in` queries would have spent half of the scan's cost


@dataclass(frozen=True, slots=True)
class Held:
    """One record Zoho holds: its id, and either its COQL row (an `in` read) or the digest of its
    compared values (a scan)."""

    id: str
    row: Mapping[str, Any] | None = None
    digest: bytes | None = None


Index = dict[str, dict[str, list[Held]]]  # key field → folded key value → the records holding it


class Existing:
    """The answer of one read for one batch."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def held(self, field: str, value: Any) -> list[Held]:
        if not is_key_value(value):
            return []
        return self._index.get(field, {}).get(fold_key(value), [])

    def ids(self, field: str, values: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """`value → ids` in the shape KeyMatcher asks for."""
        return {v: tuple(h.id for h in self.held(field, v)) for v in values}

    def match(self, payload: Mapping[str, Any], key_fields: Sequence[str]) -> list[Held]:
        """The records an upsert (or update, or delete) of `payload` would hit, in Zoho's order: the
        first key field whose value matches decides (several records: ambiguous)."""
        for field in key_fields:
            found = self.held(field, payload.get(field))
            if found:
                return found
        return []


def scan_page(module_size: int | None, api_version: str) -> int:
    """The LIMIT of a scan's pages: the smallest COQL price band that holds a small module in one page
    (200 rows: 1 credit, 1,000: 2), else the most a call returns (2,000 rows: 3 credits)."""
    most = coql_rows_max(api_version)
    if module_size is None:
        return most
    return next((rows for rows, _cost in COQL_BANDS if module_size <= rows and rows <= most), most)


def scan_credits(module_size: int, api_version: str) -> int:
    """Credits one keyset scan of a module of `module_size` records costs."""
    rows = scan_page(module_size, api_version)
    pages = max(1, math.ceil(module_size / rows))
    return pages * coql_credits(api_version, rows)


class ExistingReader:
    """Reads what Zoho holds for one stream's batches (one reader per loader; thread-safe)."""

    def __init__(
        self,
        client: ZohoClient,
        module: ModuleInfo,
        comparer: RecordComparer,
        key_fields: Sequence[str],
        *,
        mode: str = "auto",
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.module = module
        self.comparer = comparer
        self.key_fields = list(key_fields)
        self.mode = mode
        self.settle = settle or (lambda: None)  # waits for the stream's writes in flight (before a scan)
        self.credits = 0  # what this reader's reads cost (the dry run's summary reports it)
        wanted = comparer.fields_to_read(self.key_fields)
        self.columns = wanted[:COQL_SELECT_MAX]
        self.unread = frozenset(wanted[COQL_SELECT_MAX:])  # a payload carrying one counts as changed
        self.compared = tuple(c for c in self.columns if c != "id")
        self.api_version = client.api_version
        self.in_max = coql_in_max(self.api_version)
        self._lock = threading.Lock()
        self._snapshot: Index | None = None
        self._dirty: set[str] = set()  # folded key values written by this run since the scan
        self._in_spent = 0
        self._module_size: int | None = None
        self.scanned = False

    # -- the loader's entry points --------------------------------------------------------------------
    def read(self, records: Sequence[PreparedRecord]) -> Existing:
        """What Zoho holds for the keys of `records` (every key field, in Zoho's matching order)."""
        if not records or not self.key_fields:
            return Existing({})
        with self._lock:
            if self._snapshot is None and self._should_scan(records):
                self.settle()
                self._snapshot = self._scan()
                self.scanned = True
            snapshot = self._snapshot
            dirty = set(self._dirty)
        if snapshot is None:
            return Existing(self._read_in(records))
        index: Index = {}
        fresh: list[PreparedRecord] = []
        for record in records:
            keys = [fold_key(v) for f in self.key_fields if is_key_value(v := record.payload.get(f))]
            if any(k in dirty for k in keys) or self.digest(record.payload) is None:
                fresh.append(record)
                continue
            for field in self.key_fields:
                value = record.payload.get(field)
                if is_key_value(value):
                    found = snapshot.get(field, {}).get(fold_key(value))
                    if found:
                        index.setdefault(field, {})[fold_key(value)] = found
        if fresh:
            for field, values in self._read_in(fresh).items():
                index.setdefault(field, {}).update(values)
        return Existing(index)

    def read_rows(self, records: Sequence[PreparedRecord]) -> Existing:
        """A fresh `in` read of these records' rows (a dry run explains changes a digest only flagged)."""
        return Existing(self._read_in(records))

    def written(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Keys this run is writing (or deleting): the scan no longer tells what Zoho holds for them."""
        with self._lock:
            if self._snapshot is None:
                return
            for payload in payloads:
                for field in self.key_fields:
                    value = payload.get(field)
                    if is_key_value(value):
                        self._dirty.add(fold_key(value))

    def digest(self, payload: Mapping[str, Any]) -> bytes | None:
        return self.comparer.digest(payload, self.compared)

    def changes(self, payload: Mapping[str, Any], held: Held) -> tuple[Any, ...] | None:
        """The fields a write of `payload` would change in `held` (FieldChange tuples; empty when it is
        unchanged), or None when only "changed" is known (a scanned record whose digest differs)."""
        if self.unread and any(name in self.unread for name in payload):
            return None
        if held.row is not None:
            return self.comparer.compare(payload, held.row)
        mine = self.digest(payload)
        if mine is not None and mine == held.digest:
            return ()
        return None

    # -- the choice -------------------------------------------------------------------------------------
    def _should_scan(self, records: Sequence[PreparedRecord]) -> bool:
        if self.mode != "auto":
            return self.mode == "scan"
        batch_in = math.ceil(len(records) / self.in_max)
        if self._module_size is None:
            self._module_size = self._count()
        scan = scan_credits(self._module_size, self.api_version)
        return self._in_spent + batch_in >= SCAN_SHARE * scan

    def _count(self) -> int:
        """The module's record count (GET /{module}/actions/count, 1 credit)."""
        body = self._call("GET", f"/{self.module.api_name}/actions/count") or {}
        self.credits += 1
        count = body.get("count") if isinstance(body, Mapping) else None
        return int(count) if isinstance(count, int) else 0

    # -- the reads ---------------------------------------------------------------------------------------
    def _scan(self) -> Index:
        """Every record of the module, by id order, kept as (id, digest) per key value."""
        index: Index = defaultdict(lambda: defaultdict(list))
        rows_max = scan_page(self._module_size, self.api_version)
        columns = ", ".join(self.columns)
        last = "0"
        while True:
            query = (
                f"select {columns} from {self.module.api_name} where id > {last} "
                f"order by id asc limit {rows_max}"
            )
            page, more = self._coql(query)
            self.credits += coql_credits(self.api_version, rows_max)
            for row in page:
                rid = row.get("id")
                if rid is None:
                    continue
                held = Held(str(rid), None, self.comparer.digest(row, self.compared))
                for field in self.key_fields:
                    cell = _cell(row, field)
                    if is_key_value(cell):
                        index[field][fold_key(cell)].append(held)
                last = str(rid)
            if not more or not page:
                break
        return {field: dict(values) for field, values in index.items()}

    def _read_in(self, records: Sequence[PreparedRecord]) -> Index:
        """`in` queries per key field, in Zoho's order: a record matched on an earlier field is not
        asked about a later one."""
        index: Index = {}
        undecided = list(records)
        for field in self.key_fields:
            values = sorted({str(v) for r in undecided if is_key_value(v := r.payload.get(field))})
            if not values:
                continue
            found = self._read_field(field, values)
            index[field] = found
            undecided = [r for r in undecided if not found.get(fold_key(r.payload.get(field) or ""))]
            if not undecided:
                break
        return index

    def _read_field(self, field: str, values: Sequence[str]) -> dict[str, list[Held]]:
        meta = self.module.fields.get(field)
        numeric = field == "id" or (meta is not None and meta.data_type in COQL_NUMERIC_TYPES)
        wanted = {fold_key(v) for v in values}
        found: dict[str, list[Held]] = defaultdict(list)
        columns = ", ".join(self.columns)
        for where in coql_in_conditions(field, values, numeric=numeric, per_call=self.in_max):
            offset = 0
            while True:
                query = f"select {columns} from {self.module.api_name} where {where} limit {COQL_PAGE}"
                if offset:
                    query += f" offset {offset}"
                page, more = self._coql(query)
                with self._lock:
                    self._in_spent += 1
                    self.credits += coql_credits(self.api_version, COQL_PAGE)
                for row in page:
                    cell = _cell(row, field)
                    rid = row.get("id")
                    if rid is None or not is_key_value(cell) or fold_key(cell) not in wanted:
                        continue
                    held_list = found[fold_key(cell)]
                    if all(h.id != str(rid) for h in held_list):
                        held_list.append(Held(str(rid), row, None))
                if not more or not page:
                    break
                offset += len(page)
        return dict(found)

    def _coql(self, query: str) -> tuple[list[dict[str, Any]], bool]:
        body = self._call("POST", "/coql", json={"select_query": query})
        if not body:
            return [], False
        info = body.get("info") or {}
        return list(body.get("data") or []), bool(info.get("more_records"))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.client.get_json(path, method=method, **kwargs)
        except ZohoAPIError as exc:
            if exc.code in ("INVALID_QUERY", "SYNTAX_ERROR", "LIMIT_EXCEEDED", "INVALID_DATA"):
                raise LookupQueryError(f"{path}: {exc}") from exc
            raise


def _cell(row: Mapping[str, Any], field: str) -> Any:
    value = row.get(field)
    if isinstance(value, Mapping):  # a lookup key column comes back as {"id": ...}
        return value.get("id")
    return value
