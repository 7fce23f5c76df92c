"""The run-wide rules every batch follows: parents before children, which upsert keys are checked for
ambiguity (and when that check can be skipped), and which written records are remembered for lookups.

They need to see every stream of the run, so they live here, once, rather than in each sink; the sinks
register with the `StreamRegistry` and ask the `LoadPolicy`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from target_zoho_crm.load.lookups import LookupResolver, is_no_match
from target_zoho_crm.load.ordering import Lane
from target_zoho_crm.load.plan import StreamPlan
from target_zoho_crm.model import ModuleInfo, PreparedRecord, ZohoError
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.query import module_is_empty

Reject = Callable[[PreparedRecord, list[ZohoError]], None]


class Stream(Protocol):
    """What the policy needs of a stream being loaded (a ZohoSink)."""

    @property
    def plan(self) -> StreamPlan: ...

    @property
    def lane(self) -> Lane: ...

    def flush(self) -> Any: ...


class StreamRegistry:
    """The run's current stream per name (a SCHEMA change replaces it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, Stream] = {}
        self._looked_up: frozenset[str] | None = None

    def register(self, name: str, stream: Stream) -> None:
        with self._lock:
            self._streams[name] = stream
            self._looked_up = None  # recomputed after each SCHEMA, not per record

    def get(self, name: str) -> Stream | None:
        with self._lock:
            return self._streams.get(name)

    def current(self) -> list[Stream]:
        with self._lock:
            return list(self._streams.values())

    def looked_up_modules(self) -> frozenset[str]:
        """Modules the current streams look up into."""
        with self._lock:
            if self._looked_up is None:
                self._looked_up = frozenset(
                    module for s in self._streams.values() for module in s.plan.related_modules
                )
            return self._looked_up


class LoadPolicy:
    """See the module docstring."""

    def __init__(
        self,
        settings: TargetSettings,
        client: ZohoClient,
        lookups: LookupResolver,
        streams: StreamRegistry,
    ) -> None:
        self.settings = settings
        self.client = client
        self.lookups = lookups
        self.streams = streams
        self._empty_at_start: dict[str, bool] = {}
        self._probe_lock = threading.Lock()
        # Parents first: until the input ends, a stream that loads the missing parent may still come
        # (a tap sends a stream's SCHEMA when it starts that stream), so any "no match" may be cured.
        self.input_ended = False

    def may_park(self, errors: list[ZohoError]) -> bool:
        """Whether a record rejected with `errors` should wait for a parent written later in this run
        rather than go to the rejects file now: every error is a lookup that matched nothing, into a
        module that a stream of this run loads (or may still load, before the input ends)."""
        if not errors or not all(is_no_match(e) for e in errors):
            return False
        if not self.input_ended:
            return True
        loaded = {s.plan.module.api_name for s in self.streams.current()}
        return all(e.details.get("module") in loaded for e in errors)

    def parents_of(self, stream: Stream) -> list[Future[Any]]:
        """Flush the streams this one looks up into, and return their latest batches to wait for."""
        wanted = set(stream.plan.related_modules) - {stream.plan.module.api_name}
        deps: list[Future[Any]] = []
        if not wanted:
            return deps
        for other in self.streams.current():
            if other is not stream and other.plan.module.api_name in wanted:
                other.flush()
                if other.lane.last is not None:
                    deps.append(other.lane.last)
        return deps

    def resolve_lookups(
        self,
        plan: StreamPlan,
        prepared: list[PreparedRecord],
        reject: Reject,
        park: Reject | None = None,
    ) -> list[PreparedRecord]:
        """Lookups to ids; for upserts into a module that held records before the run, reject keys that
        match several Zoho records (an upsert would update an arbitrary one). A record whose lookups
        only matched nothing goes to `park` instead when `may_park` says a parent may still come."""
        key_fields = None
        upsert = plan.operation == "upsert"
        empty_at_start = (
            upsert
            and (self.settings.check_ambiguous_keys or self.settings.dry_run)
            and self.was_empty(plan.module.api_name)
        )
        if upsert and not empty_at_start and self.settings.check_ambiguous_keys:
            key_fields = list(plan.converter.key_fields)
        if key_fields or plan.has_lookups:
            resolved, rejected = self.lookups.resolve_records(
                plan.module,
                prepared,
                operation=plan.operation,
                key_fields=key_fields,
                converter=plan.converter,
            )
        else:
            resolved, rejected = prepared, []
        if empty_at_start and self.settings.dry_run:
            # Nothing is written in a dry run, so into a module empty at the start every upsert would
            # insert: the mandatory fields apply (a real run lets Zoho decide insert or update).
            kept = []
            for record in resolved:
                missing = plan.converter.missing_mandatory(record.payload)
                if missing:
                    rejected.append((record, missing))
                else:
                    kept.append(record)
            resolved = kept
        for record, errors in rejected:
            if park is not None and self.may_park(errors):
                park(record, errors)
            else:
                reject(record, errors)
        return list(resolved)

    def was_empty(self, module: str) -> bool:
        """Whether `module` held no record when this run first wrote to it (one COQL call per module,
        however many chunks ask at once).

        Then no key can match two records that existed before the run, and the per-batch ambiguity
        check (a COQL read per 50 keys, +20% credits on an initial load) is skipped."""
        with self._probe_lock:
            known = self._empty_at_start.get(module)
            if known is None:
                known = module_is_empty(self.client, module, use_coql=self.settings.use_coql)
                self._empty_at_start[module] = known
            return known

    def remembers(self, module: ModuleInfo) -> bool:
        """Whether written records of `module` are cached for the lookups of child streams (parents
        before children): only for modules some stream looks up into, or whose keys are matched against
        Zoho (that cache holds "no such key" answers, so a key written since must be known as written).
        The cache holds a few hundred bytes per record: filling it for every load would make memory grow
        with the input."""
        name = module.api_name
        key_matched = self.settings.check_ambiguous_keys and self._empty_at_start.get(name) is False
        return key_matched or name in self.streams.looked_up_modules()
