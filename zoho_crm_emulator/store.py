"""Stored records per module, in memory, optionally written through to a SQLite file.

Records live in insertion-ordered dicts (id → record) so reads are cheap; value indexes (field →
normalised value → ids) are built on first use per field and kept up to date on every write, so the
duplicate checks and key lookups of a 100k-record load never scan a module. With a SQLite path every
write is also stored there (one transaction per `flush`), and the file is read back on start so records
survive restarts.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def index_key(value: Any, case_sensitive: bool = False) -> str | None:
    """The key a value is indexed under: lookups by their id, text stripped and (by default) casefolded."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("id")
        if value is None:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    if not text:
        return None
    return text if case_sensitive else text.casefold()


class ModuleRecords:
    """One module's records and value indexes. Callers hold the store lock."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self._indexes: dict[tuple[str, bool], dict[str, list[str]]] = {}

    def index(self, field: str, case_sensitive: bool = False) -> dict[str, list[str]]:
        key = (field, case_sensitive)
        idx = self._indexes.get(key)
        if idx is None:
            idx = {}
            for rid, rec in self.by_id.items():
                k = index_key(rec.get(field), case_sensitive)
                if k is not None:
                    idx.setdefault(k, []).append(rid)
            self._indexes[key] = idx
        return idx

    def find(self, field: str, value: Any, case_sensitive: bool = False) -> list[str]:
        """Ids of records whose `field` equals `value` (oldest first)."""
        k = index_key(value, case_sensitive)
        if k is None:
            return []
        if field == "id":
            return [k] if k in self.by_id else []
        return list(self.index(field, case_sensitive).get(k, ()))

    def _unindex(self, rid: str, rec: dict[str, Any]) -> None:
        for (field, cs), idx in self._indexes.items():
            k = index_key(rec.get(field), cs)
            if k is not None and k in idx:
                ids = idx[k]
                if rid in ids:
                    ids.remove(rid)
                if not ids:
                    del idx[k]

    def put(self, rec: dict[str, Any]) -> None:
        rid = rec["id"]
        old = self.by_id.get(rid)
        if old is not None:
            self._unindex(rid, old)
        self.by_id[rid] = rec
        for (field, cs), idx in self._indexes.items():
            k = index_key(rec.get(field), cs)
            if k is not None:
                idx.setdefault(k, []).append(rid)

    def delete(self, rid: str) -> dict[str, Any] | None:
        old = self.by_id.pop(rid, None)
        if old is not None:
            self._unindex(rid, old)
        return old


class RecordStore:
    """All modules' records; thread-safe through one re-entrant lock (`with store.locked():`)."""

    def __init__(self, db_path: str | None = None) -> None:
        self._lock = threading.RLock()
        self._modules: dict[str, ModuleRecords] = {}
        self._db: sqlite3.Connection | None = None
        self._seq = 0
        if db_path:
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level="DEFERRED")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records (module TEXT NOT NULL, id TEXT NOT NULL, "
                "seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (module, id))"
            )
            self._db.commit()
            for module, data, seq in self._db.execute("SELECT module, data, seq FROM records ORDER BY seq"):
                self.module(module).put(json.loads(data))
                self._seq = max(self._seq, seq)

    @contextmanager
    def locked(self) -> Iterator[RecordStore]:
        with self._lock:
            yield self

    def module(self, name: str) -> ModuleRecords:
        mod = self._modules.get(name)  # lock-free when it exists: a dict read is atomic
        if mod is not None:
            return mod
        with self._lock:
            mod = self._modules.get(name)
            if mod is None:
                mod = self._modules[name] = ModuleRecords()
            return mod

    def modules(self) -> list[str]:
        with self._lock:
            return [m for m, recs in self._modules.items() if recs.by_id]

    def counts(self) -> dict[str, int]:
        """Records stored per module (modules never written to are absent)."""
        with self._lock:
            return {m: len(recs.by_id) for m, recs in self._modules.items() if recs.by_id}

    def get(self, module: str, rid: str) -> dict[str, Any] | None:
        with self._lock:
            return self.module(module).by_id.get(rid)

    def put(self, module: str, rec: dict[str, Any]) -> None:
        with self._lock:
            mod = self.module(module)
            is_new = rec["id"] not in mod.by_id
            mod.put(rec)
            if self._db is not None:
                if is_new:
                    self._seq += 1
                    self._db.execute(
                        "INSERT OR REPLACE INTO records (module, id, seq, data) VALUES (?, ?, ?, ?)",
                        (module, rec["id"], self._seq, json.dumps(rec)),
                    )
                else:
                    self._db.execute(
                        "UPDATE records SET data = ? WHERE module = ? AND id = ?",
                        (json.dumps(rec), module, rec["id"]),
                    )

    def delete(self, module: str, rid: str) -> dict[str, Any] | None:
        with self._lock:
            old = self.module(module).delete(rid)
            if old is not None and self._db is not None:
                self._db.execute("DELETE FROM records WHERE module = ? AND id = ?", (module, rid))
            return old

    def flush(self) -> None:
        """Commit pending SQLite writes (no-op in memory)."""
        with self._lock:
            if self._db is not None:
                self._db.commit()

    def records(self, module: str) -> list[dict[str, Any]]:
        """Copies of a module's records, insertion order."""
        with self._lock:
            return [copy.deepcopy(r) for r in self.module(module).by_id.values()]

    def iter_records(self, module: str) -> list[dict[str, Any]]:
        """The module's stored records themselves (a snapshot list; do not mutate them)."""
        with self._lock:
            return list(self.module(module).by_id.values())

    def find_records(self, module: str, field: str, values: list[Any]) -> list[dict[str, Any]]:
        """Stored records whose `field` equals one of `values` (index keys: trimmed, casefolded)."""
        with self._lock:
            mod = self.module(module)
            ids = dict.fromkeys(rid for value in values for rid in mod.find(field, value))
            return [mod.by_id[rid] for rid in ids]

    def all_ids(self) -> Iterator[str]:
        with self._lock:
            ids = [rid for mod in self._modules.values() for rid in mod.by_id]
        return iter(ids)

    def clear(self) -> None:
        with self._lock:
            self._modules.clear()
            if self._db is not None:
                self._db.execute("DELETE FROM records")
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.commit()
                self._db.close()
                self._db = None
