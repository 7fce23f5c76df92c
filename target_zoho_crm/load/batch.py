"""BatchLoader: one stream's batches from buffered tap records to outcomes, on the stream's lane.

convert (CPU only) → de-duplicate on the matching key → resolve lookups → write (REST chunks on the
shared pool, or one Bulk job) → outcomes: every record ends in Zoho or in the rejects file. The sink
hands it full buffers and never waits for Zoho (see load/ordering.py for the STATE frontier).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from target_zoho_crm.errors import LookupQueryError
from target_zoho_crm.load.existing import Existing, ExistingReader, Held
from target_zoho_crm.load.keys import (
    Versions,
    fold_key,
    has_key_value,
    lowest_index,
    merge_versions,
    next_versions,
)
from target_zoho_crm.load.lookups import AMBIGUOUS_KEY, LookupResolver
from target_zoho_crm.load.ordering import BatchProgress, Lane, StateKeeper
from target_zoho_crm.load.plan import StreamPlan
from target_zoho_crm.load.policy import LoadPolicy
from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import (
    Outcome,
    PreparedRecord,
    RecordSource,
    ZohoError,
    is_empty,
    is_key_value,
    unpack,
)
from target_zoho_crm.report.plan import PlanWriter
from target_zoho_crm.report.progress import ProgressReporter
from target_zoho_crm.report.rejects import RejectSource, RejectsWriter
from target_zoho_crm.report.summary import RunSummary
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.transform.compare import RecordComparer
from target_zoho_crm.zoho.bulk import BulkWriter
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import REST_RECORDS_PER_CALL, choose_api
from target_zoho_crm.zoho.rest import RestWriter, delete_records

# Marks the sink puts on a buffered tap record: its sequence number, and why it failed its schema.
INVALID_MARK = "__target_zoho_crm_invalid__"
SEQ_MARK = "__target_zoho_crm_seq__"
DELETED_AT = "_sdc_deleted_at"  # singer-sdk's soft-delete column (hard_delete)
PARKED_RETRY_SECONDS = 5.0  # parents first: the shortest interval between two retries of a stream
FENCE_PRUNE_AT = 50_000  # keys remembered by the REST key fence before finished chunks are dropped

Batch = list[dict[str, Any]] | RecordSpool
LOGGER = logging.getLogger("target_zoho_crm.load")


@dataclass(frozen=True)
class Parked:
    """A record whose lookups matched nothing yet (parents first): converted, its source in memory,
    the errors it would be rejected with, and the lookup cache's generation when it was parked."""

    record: PreparedRecord
    errors: list[ZohoError]
    generation: int


@dataclass(frozen=True)
class LoadParts:
    """The run's shared parts a loader uses (built once by run.py)."""

    settings: TargetSettings
    client: ZohoClient
    lookups: LookupResolver
    policy: LoadPolicy
    keeper: StateKeeper
    pool: ThreadPoolExecutor
    summary: RunSummary
    rejects: RejectsWriter
    close_at_end: Callable[[Any], None]  # writers whose threads outlive a sink (Bulk job pollers)
    plan: PlanWriter | None = None  # the dry run's plan file (dry_run with plan_path)
    progress: ProgressReporter | None = None  # told each Bulk job's status while it runs


class BatchLoader:
    """Loads the batches of one stream under one SCHEMA (a SCHEMA change brings a new loader, with its
    own plan and writers, on the same lane)."""

    def __init__(
        self, plan: StreamPlan, parts: LoadParts, lane: Lane, source: RejectSource | None = None
    ) -> None:
        self.plan = plan
        self.source = parts.rejects.register(source) if source is not None else None
        self.parts = parts
        self.lane = lane
        self.stream_name = plan.stream_name
        self._warned_rows = False
        self._lock = threading.Lock()
        self._rest: RestWriter | None = None
        self._bulk: BulkWriter | None = None
        self._deleting: set[int] = set()  # indexes of this loader's records that delete (hard_delete)
        self._keys = _key_fields(plan)
        self._existing: ExistingReader | None = None
        self._read_failed = False
        self._parked_generation: int | None = None  # the oldest parked record's cache generation
        self.last_retry_at = 0.0  # when parked records were last queued again on their own

    # -- the main thread -----------------------------------------------------------------------------------
    def submit(self, batch: Batch, first_seq: int, deps: list[Future[Any]]) -> BatchProgress:
        """Queue `batch` on the lane (blocks while the lane has too many unfinished batches)."""
        # Counted as read when handed over: a run that stops before a queued batch runs still says
        # that its records were read (and not written).
        self.parts.summary.add(self.stream_name, read=len(batch))
        progress = self.lane.submit(first_seq, lambda p: self._write_batch(batch, deps, p))
        if isinstance(batch, RecordSpool):
            progress.done.add_done_callback(partial(_close_when_done, batch))
        return progress

    def retry_parked(self) -> bool:
        """Queue the parked records again, on their own, if a parent was written since they were
        parked (at the end of the input: their stream may send no batch any more). False: nothing to do."""
        if not self._retry_due():
            return False
        first = self.lane.parked_min(self)
        if first is None:
            return False
        self.last_retry_at = time.monotonic()
        self.lane.submit(first, lambda p: self._write_batch([], [], p))
        return True

    def reject_parked(self) -> None:
        """The end: records whose parent never came (or matched nothing) go to the rejects file."""
        taken: list[Parked] = self.lane.take_parked(self)
        with self._lock:
            self._parked_generation = None
        for parked in taken:
            errors = parked.errors
            self.reject(parked.record.source, errors[0], more=errors[1:])
        self.lane.release_retrying([p.record.index for p in taken])

    def _retry_due(self) -> bool:
        with self._lock:
            oldest = self._parked_generation
        return oldest is not None and self.parts.lookups.cache.generation > oldest

    def _take_parked(self) -> list[PreparedRecord]:
        """Parked records to retry with this batch (only once a parent was written since), in input
        order, ahead of the batch's own: a newer version of the same key in the batch wins the merge."""
        if not self._retry_due():
            return []
        with self._lock:
            self._parked_generation = None
        return [p.record for p in self.lane.take_parked(self)]

    def _park(self, record: PreparedRecord, errors: list[ZohoError], generation: int) -> None:
        """Parents first: hold `record` (and the STATE after it) for a retry after later writes."""
        source = unpack(record.source)  # a Bulk batch's spool is closed when the batch is done
        kept = PreparedRecord(record.index, source, record.payload, record.key)
        with self._lock:
            if self._parked_generation is None or generation < self._parked_generation:
                self._parked_generation = generation
        self.lane.park(record.index, self, Parked(kept, list(errors), generation))

    # -- the background work of one batch (on the stream's lane) --------------------------------------------
    def _write_batch(self, batch: Batch, deps: list[Future[Any]], progress: BatchProgress) -> None:
        """Start the batch's writes; `progress.done` resolves when every record is in Zoho or rejected,
        and not before the stream's previous batch is done (so `lane.previous` covers every earlier one)."""
        parts = self.parts
        parts.keeper.raise_if_failed()  # the run is stopping: queued batches must not write
        stats = parts.summary
        prepared = self._convert(batch)
        for dep in deps:  # parents first: lookups may point at records of an earlier batch of another stream
            dep.exception()
        retried = self._take_parked()  # after the parents' writes: they may be what the parked wait for
        if retried:
            prepared = [*retried, *prepared]
        # The last version of a key wins; the earlier ones wait behind it (they are done when it is, and
        # the latest of them is written instead if it is rejected).
        prepared, earlier = merge_versions(prepared)
        deleting, self._deleting = self._deleting, set()  # this batch's (the lane converts one at a time)
        deletes = [r for r in prepared if r.index in deleting]
        if deletes:
            prepared = [r for r in prepared if r.index not in deleting]
        resolved = False
        existing = self._read_existing(prepared, deletes)
        if deletes:
            self._delete(deletes, existing)
            self._next_versions([r.index for r in deletes], {r.index for r in deletes}, earlier)
        if existing is not None and prepared:
            prepared = self._resolve_with(prepared, earlier, existing)
            resolved = True
        api = self._api_for(len(prepared))
        stats.used_api(self.stream_name, api)
        previous = self.lane.previous
        if api == "bulk":
            work = self._write_bulk(prepared, earlier, progress, previous, resolved=resolved)
        else:
            work = self._write_rest(prepared, earlier, progress, resolved=resolved)
        # The retried records are now held by the batch's chunks (or were rejected, or merged).
        self.lane.release_retrying([r.index for r in retried])
        progress.finish_when([*work, *([previous] if previous is not None else [])])
        self.lane.previous, self.lane.previous_api = progress.done, api

    def _api_for(self, size: int) -> str:
        plan = self.plan
        if plan.api_type == "rest":
            return "rest"
        if plan.has_rows:
            # Line items and subforms need parent/child CSVs, which this target does not write: such
            # records go through REST (it carries them), never to the rejects file for the API's sake.
            if plan.api_type == "bulk" and not self._warned_rows:
                self._warned_rows = True
                LOGGER.warning(
                    "Stream '%s' maps line items or subforms, which Bulk Write cannot take in one CSV: "
                    "it is loaded through REST.",
                    self.stream_name,
                )
            return "rest"
        if plan.api_type == "auto":
            return choose_api(size, plan.operation)
        return plan.api_type

    def _next_versions(
        self, attempted: list[int], landed: set[int], earlier: Versions
    ) -> list[PreparedRecord]:
        retry, superseded = next_versions(attempted, landed, earlier)
        if superseded:
            self.parts.summary.add(self.stream_name, merged=superseded)
        return retry

    def _convert(self, records: Iterable[RecordSource]) -> list[PreparedRecord]:
        """Convert to Zoho's formats and check locally (CPU only: done on the lane thread). A spooled
        record stays on disk as the PreparedRecord's source (only the rejects file reads it again)."""
        prepared: list[PreparedRecord] = []
        converter = self.plan.converter
        key_field = self.plan.key_field
        hard_delete = self.parts.settings.hard_delete
        # An upsert must carry a value in one of the fields Zoho matches on (else it is a blind insert).
        keyless_check = self.plan.operation == "upsert" and not self.plan.options.allow_keyless_inserts
        mapped = {meta.api_name for meta in self.plan.mapper.mapping.values()}
        match_fields = [f for f in converter.key_fields if f in mapped]
        for item in records:
            record = unpack(item)
            index = record[SEQ_MARK]
            invalid = record.get(INVALID_MARK)
            if invalid is not None:
                self.reject(
                    record,
                    ZohoError("INVALID_RECORD", f"record does not match its stream's schema: {invalid}"),
                )
                continue
            deleting = hard_delete and not is_empty(record.get(DELETED_AT))
            if deleting:
                record = {k: v for k, v in record.items() if k != DELETED_AT}
            payload, errors = converter.convert(record)
            if deleting:
                # Only the key is needed to find what to delete: a deleted row may lack mandatory fields.
                payload = {k: payload[k] for k in self._keys if is_key_value(payload.get(k))}
                if not payload:
                    self.reject(
                        record,
                        ZohoError(
                            "MISSING_KEY",
                            f"a deleted record ({DELETED_AT} is set) needs a value in one of "
                            f"{', '.join(self._keys) or 'its key fields'} to find the Zoho record to delete",
                        ),
                    )
                    continue
                self._deleting.add(index)
            elif errors:
                self.reject(record, errors[0], more=errors[1:])
                continue
            key = payload.get(key_field) if key_field else None
            if deleting and key is None:  # an insert stream's delete: found by its reconcile field
                key = next(iter(payload.values()))
            if (
                not deleting
                and keyless_check
                and not any(has_key_value(payload.get(f)) for f in match_fields)
            ):
                self.reject(record, self._missing_key(match_fields))
                continue
            prepared.append(
                PreparedRecord(
                    index=index,
                    source=item,
                    payload=payload,
                    key=str(key) if has_key_value(key) else None,
                )
            )
        return prepared

    def _missing_key(self, match_fields: list[str]) -> ZohoError:
        """An upsert with nothing to match on would be a new Zoho record on every run (issue 13)."""
        fields = ", ".join(match_fields) or "none are mapped"
        return ZohoError(
            "MISSING_KEY",
            f"upsert record has no value to match on (fields Zoho matches {self.plan.module.api_name} on: "
            f"{fields}): it would be inserted again on every run. Give it a value in one of them, or set "
            f"streams.{self.stream_name}.allow_keyless_inserts to true to insert such records.",
            {"match_fields": match_fields},
        )

    def _write_rest(
        self,
        prepared: list[PreparedRecord],
        earlier: Versions,
        progress: BatchProgress,
        *,
        resolved: bool = False,
    ) -> list[Future[Any]]:
        """Chunks of 100 go to the shared pool at once, where their lookups are resolved and they are
        sent; the lane goes on to the next batch meanwhile, so Zoho's concurrency stays filled across
        batch boundaries and the pool threads only wait on the network.

        Order per key still holds: a chunk waits for the earlier chunks of this stream that carry one of
        its keys (the key fence), and for a Bulk job of the previous batch, if any. A chunk covers the
        sequence numbers of the records merged into its own (STATE must not pass them before it is done)."""
        writer = self.rest_writer()
        size = REST_RECORDS_PER_CALL
        chunks = [prepared[i : i + size] for i in range(0, len(prepared), size)]
        versions = [{r.index: earlier[r.index] for r in chunk if r.index in earlier} for chunk in chunks]
        progress.start([lowest_index(chunk, older) for chunk, older in zip(chunks, versions, strict=True)])
        after_bulk = self.lane.previous if self.lane.previous_api == "bulk" else None
        if after_bulk is not None:
            after_bulk.exception()  # on the lane, not on a pool thread: a Bulk job can take minutes
        futures: list[Future[Any]] = []
        for number, chunk in enumerate(chunks):
            keys = [fold_key(r.key) for r in chunk if r.key is not None]
            waits = {f for k in keys if (f := self.lane.fence.get(k)) is not None and not f.done()}
            future = self.parts.pool.submit(
                self._rest_chunk, writer, chunk, versions[number], progress, number, waits, resolved
            )
            for key in keys:
                self.lane.fence[key] = future
            futures.append(future)
        if len(self.lane.fence) > FENCE_PRUNE_AT:
            self.lane.fence = {k: f for k, f in self.lane.fence.items() if not f.done()}
        return futures

    def _rest_chunk(
        self,
        writer: RestWriter,
        converted: list[PreparedRecord],
        earlier: Versions,
        progress: BatchProgress,
        number: int,
        waits: set[Future[Any]],
        resolved: bool = False,
    ) -> None:
        for fence in waits:
            fence.result()  # an earlier write of one of these keys failed: this one must not overtake it
        self.parts.keeper.raise_if_failed()
        self._write_versions(converted, earlier, writer, resolved=resolved)
        progress.chunk_done(number)

    def _write_versions(
        self,
        records: list[PreparedRecord],
        earlier: Versions,
        writer: RestWriter,
        *,
        resolved: bool = False,
    ) -> None:
        """Write `records` through REST, then the earlier versions of those that were rejected, until
        each key has landed or run out of versions. `resolved`: the first records' lookups were already
        resolved on the lane (with the read of what Zoho holds); earlier versions are resolved here."""
        while records:
            landed = self._rest_write(writer, records, resolved=resolved)
            records = self._next_versions([r.index for r in records], landed, earlier)
            resolved = False

    def _rest_write(
        self, writer: RestWriter, converted: list[PreparedRecord], *, resolved: bool = False
    ) -> set[int]:
        """Resolve and write one REST call's records; the indices that landed (or would, in a dry run)."""
        parts = self.parts
        prepared = converted if resolved else self._resolve(converted)
        if not prepared:
            return set()
        if parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared))
            if not resolved:
                self._plan_unread(prepared)
            return {p.index for p in prepared}
        outcomes = writer.write_chunk(prepared)
        parts.summary.add(self.stream_name, api_calls=1)
        return self._record_outcomes(prepared, outcomes, api="rest")

    def _write_bulk(
        self,
        converted: list[PreparedRecord],
        earlier: Versions,
        progress: BatchProgress,
        previous: Future[None] | None,
        *,
        resolved: bool = False,
    ) -> list[Future[Any]]:
        """This batch was converted while the previous batch's writes ran; its lookups and keys are
        resolved, and its job submitted, once those writes are done (they may have created the records
        it refers to). The lane then moves on; the batch counts as unfinished for STATE until its job's
        results are recorded. Earlier versions of keys whose record was rejected go through REST (few)."""
        keys = self._wait_for_earlier_writes(converted, previous)
        parts = self.parts
        if self.plan.operation == "upsert" and self.plan.key_field:
            # A Bulk job matches on its one `find_by` field; a record without a value there but with one
            # in another field Zoho matches on goes through REST, whose upsert tries them all (few).
            by_rest = [r for r in converted if r.key is None]
            if by_rest:
                converted = [r for r in converted if r.key is not None]
                self._write_versions(by_rest, earlier, self.rest_writer(), resolved=resolved)
        prepared = converted if resolved else self._resolve(converted)
        if not prepared or parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared) if prepared else 0)
            if prepared and not resolved:
                self._plan_unread(prepared)
            landed = {p.index for p in prepared} if parts.settings.dry_run else set()
            retry = self._next_versions(list(earlier), landed, earlier)
            self._write_versions(retry, earlier, self.rest_writer())
            return []
        progress.start([lowest_index(prepared, earlier)])
        job = self.bulk_writer().submit(prepared)
        # While Zoho runs the job (minutes), keep only what its results need: the spooled source for
        # rejects, and the payload only when written records are cached for lookups.
        remembers = parts.policy.remembers(self.plan.module)
        waiting = [PreparedRecord(r.index, r.source, r.payload if remembers else {}, r.key) for r in prepared]
        del prepared, converted
        recorded: Future[None] = Future()

        def record(finished: Future[list[Outcome]]) -> None:
            try:
                landed = self._record_outcomes(waiting, finished.result(), api="bulk")
                retry = self._next_versions(list(earlier), landed, earlier)
                if retry:  # on the job's thread: its batch is not done before these are
                    self._write_versions(retry, earlier, self.rest_writer())
                progress.chunk_done(0)
                recorded.set_result(None)
            except BaseException as exc:
                recorded.set_exception(exc)

        job.add_done_callback(record)
        for key in keys:  # a later batch carrying one of these keys waits for this job (key fence)
            self.lane.fence[key] = recorded
        return [recorded]

    def _wait_for_earlier_writes(
        self, converted: list[PreparedRecord], previous: Future[None] | None
    ) -> set[str]:
        """Before a Bulk batch resolves its lookups and keys and submits its job: wait for the earlier
        writes of this stream it depends on. Jobs of one stream overlap (up to `bulk_max_jobs_in_flight`)
        when they share no key: per-key order holds through the key fence, as for REST chunks. The whole
        previous batch is awaited after a REST batch, when the stream looks up into its own module (a
        parent may be in the previous job), or when some record has no key (Zoho may match it on
        another field). Returns the batch's folded keys."""
        keys = {fold_key(r.key) for r in converted if r.key is not None}
        if previous is None:
            return keys
        independent = (
            self.lane.previous_api == "bulk"
            and self.plan.module.api_name not in self.plan.related_modules
            and all(r.key is not None for r in converted)
        )
        if not independent:
            previous.result()  # the previous batch of this stream must be done (and not have failed)
            return keys
        for earlier in {f for k in keys if (f := self.lane.fence.get(k)) is not None and not f.done()}:
            earlier.result()  # an earlier job with one of these keys failed: this one must not overtake it
        self.parts.keeper.raise_if_failed()
        if len(self.lane.fence) > FENCE_PRUNE_AT:
            self.lane.fence = {k: f for k, f in self.lane.fence.items() if not f.done()}
        return keys

    def _resolve_with(
        self, prepared: list[PreparedRecord], earlier: Versions, existing: Existing
    ) -> list[PreparedRecord]:
        """On the lane, with the read of what Zoho holds: resolve lookups and keys, fall back to the
        earlier version of a key whose winner was rejected (or parked), and drop what is unchanged (its
        earlier versions are superseded by a record that is in Zoho as sent)."""
        resolved: list[PreparedRecord] = []
        records = prepared
        while records:
            kept = self._resolve(records, find=existing.ids)
            kept_indices = {r.index for r in kept}
            resolved.extend(kept)
            failed = [r.index for r in records if r.index not in kept_indices]
            records = self._next_versions(failed, set(), earlier)
        keep = self._drop_unchanged(resolved, existing)
        kept_indices = {r.index for r in keep}
        unchanged = [r.index for r in resolved if r.index not in kept_indices]
        self._next_versions(unchanged, set(unchanged), earlier)
        return keep

    def _resolve(self, converted: list[PreparedRecord], *, find: Any = None) -> list[PreparedRecord]:
        if not converted:
            return []
        generation = self.parts.lookups.cache.generation  # before the lookups: a later parent retries
        return self.parts.policy.resolve_lookups(
            self.plan,
            converted,
            lambda record, errors: self.reject(record.source, errors[0], more=errors[1:]),
            lambda record, errors: self._park(record, errors, generation),
            find=find,
        )

    # -- what Zoho holds: one read for ids, ambiguous keys, skip_unchanged and deletes ---------------------
    def _read_existing(
        self, prepared: list[PreparedRecord], deletes: list[PreparedRecord]
    ) -> Existing | None:
        """One read of what Zoho holds for this batch's keys, or None when no purpose needs it: no key to
        match on, `skip_unchanged` off and no dry-run plan, or (without deletes) a module that was empty
        when the run began (nothing to compare with: an initial load pays nothing for the check)."""
        settings = self.parts.settings
        if not self._keys or self._read_failed or not (prepared or deletes):
            return None
        compares = settings.skip_unchanged or (settings.dry_run and self.parts.plan is not None)
        if not deletes and not (compares and self.plan.operation in ("upsert", "update")):
            return None
        if not deletes and self.parts.policy.was_empty(self.plan.module.api_name):
            return None
        records = [*prepared, *deletes]
        self._wait_before_read(records)
        reader = self.existing_reader()
        before = reader.credits
        try:
            existing = reader.read(records)
        except LookupQueryError as exc:
            # Zoho refused the query (a key field COQL cannot filter on): write as if unread.
            self._read_failed = True
            LOGGER.warning(
                "Stream '%s': what Zoho holds cannot be read (%s); every record is written.",
                self.stream_name,
                exc,
            )
            return None
        self.parts.summary.add(self.stream_name, read_credits=reader.credits - before)
        return existing

    def _wait_before_read(self, records: Sequence[PreparedRecord]) -> None:
        """A read must see the writes of this stream's earlier chunks or job carrying these keys (and,
        when the stream's lookups point into its own module, all of its earlier writes: the lookups
        are resolved with this read)."""
        into_itself = self.plan.module.api_name in self.plan.related_modules
        if (self.lane.previous_api == "bulk" or into_itself) and self.lane.previous is not None:
            self.lane.previous.exception()
        for record in records:
            if record.key is not None:
                earlier = self.lane.fence.get(fold_key(record.key))
                if earlier is not None:
                    earlier.exception()

    def _wait_for_previous_batch(self) -> None:
        """Before a scan: every earlier write of this stream has landed (a batch completes only after
        the previous one), so the scan's picture holds no key that is still being written."""
        previous = self.lane.previous
        if previous is not None:
            previous.exception()

    def _drop_unchanged(self, prepared: list[PreparedRecord], existing: Existing) -> list[PreparedRecord]:
        """The records a write would change (skip_unchanged); the dry run's plan rows for each."""
        settings = self.parts.settings
        reader = self.existing_reader()
        plan = self.parts.plan if settings.dry_run else None
        keep: list[PreparedRecord] = []
        unchanged: list[PreparedRecord] = []
        explain: list[tuple[PreparedRecord, Held]] = []  # dry run: changed records known by digest only
        for record in prepared:
            held = existing.match(record.payload, self._keys)
            if len(held) != 1:
                keep.append(record)
                if plan is not None:
                    self._plan_unmatched(plan, record)
                continue
            changes = reader.changes(record.payload, held[0])
            if changes == () and settings.skip_unchanged:
                unchanged.append(record)
            else:
                keep.append(record)
            if plan is not None:
                if changes is None:
                    explain.append((record, held[0]))
                else:
                    unchanged_here = not changes and settings.skip_unchanged
                    self._plan_row(record, "unchanged" if unchanged_here else "update", changes)
        if explain and plan is not None:
            rows = reader.read_rows([r for r, _ in explain])
            for record, _held in explain:
                found = rows.match(record.payload, self._keys)
                changes = reader.changes(record.payload, found[0]) if len(found) == 1 else None
                self._plan_row(record, "update", changes or ())
        if unchanged:
            self.parts.summary.add(self.stream_name, unchanged=len(unchanged))
            if self.parts.policy.remembers(self.plan.module):
                for record in unchanged:
                    held = existing.match(record.payload, self._keys)
                    self.parts.lookups.remember_record(self.plan.module, record.payload, held[0].id)
        reader.written(r.payload for r in keep)
        return keep

    def _plan_unmatched(self, plan: PlanWriter, record: PreparedRecord) -> None:
        if self.plan.operation == "update":
            self._plan_row(record, "reject", None, reason="no Zoho record has this key: an update fails")
        else:
            self._plan_row(record, "insert", None)

    def _plan_unread(self, prepared: Sequence[PreparedRecord]) -> None:
        """Plan rows for records written without a read (an insert, or a module empty at the start)."""
        plan = self.parts.plan
        if plan is None:
            return
        for record in prepared:
            if self.plan.operation == "update":
                self._plan_row(record, "update", None)
            else:
                self._plan_row(record, "insert", None)

    def _plan_row(
        self,
        record: PreparedRecord,
        action: str,
        changes: Sequence[Any] | None,
        *,
        reason: str | None = None,
    ) -> None:
        plan = self.parts.plan
        if plan is None:
            return
        plan.write(
            stream=self.stream_name,
            module=self.plan.module.api_name,
            key=record.key,
            action=action,
            changes=None if changes is None else [c.as_dict() for c in changes],
            reason=reason,
        )

    def _delete(self, deletes: list[PreparedRecord], existing: Existing | None) -> None:
        """hard_delete: each record's Zoho match goes to the recycle bin (≤ 100 ids a call); a key that
        matches nothing is counted, one that matches several records is rejected (AMBIGUOUS_KEY)."""
        parts = self.parts
        targets: dict[str, PreparedRecord] = {}
        missing = 0
        for record in deletes:
            held = existing.match(record.payload, self._keys) if existing is not None else []
            if not held:
                missing += 1
                self._plan_row(record, "delete", None, reason="no Zoho record has this key")
            elif len(held) > 1:
                self.reject(
                    record.source,
                    ZohoError(
                        AMBIGUOUS_KEY,
                        f"{len(held)} {self.plan.module.api_name} records have this key; "
                        "nothing is deleted on a guess",
                        {"module": self.plan.module.api_name, "matched_ids": [h.id for h in held]},
                    ),
                )
            else:
                targets.setdefault(held[0].id, record)
                self._plan_row(record, "delete", None)
        if self._existing is not None:
            self._existing.written(r.payload for r in deletes)
        deleted = 0
        if targets and not parts.settings.dry_run:
            trigger = parts.settings.trigger
            answers = delete_records(
                parts.client,
                self.plan.module.api_name,
                list(targets),
                wf_trigger=trigger is None or "workflow" in trigger,
                account=self.stream_name,
            )
            for rid, error in answers.items():
                if error is None:
                    deleted += 1
                elif error.code == "INVALID_DATA":  # gone since the read: nothing left to delete
                    missing += 1
                else:
                    self.reject(targets[rid].source, error, api="rest")
            parts.summary.add(self.stream_name, api_calls=-(-len(targets) // 100))
        elif targets:
            parts.summary.add(self.stream_name, would_delete=len(targets))
        parts.summary.add(self.stream_name, deleted=deleted, delete_missing=missing)

    def existing_reader(self) -> ExistingReader:
        with self._lock:
            if self._existing is None:
                plan = self.plan
                comparer = RecordComparer.for_module(plan.module, plan.mapper.mapping.values())
                self._existing = ExistingReader(
                    self.parts.client,
                    plan.module,
                    comparer,
                    self._keys,
                    mode=self.parts.settings.existing_read,
                    settle=self._wait_for_previous_batch,
                )
            return self._existing

    def _record_outcomes(
        self, prepared: list[PreparedRecord], outcomes: list[Outcome], *, api: str
    ) -> set[int]:
        """Rejects to the file, counts to the summary; answers the indices that landed in Zoho."""
        landed: set[int] = set()
        by_index = {p.index: p for p in prepared}
        parts = self.parts
        module = self.plan.module
        remembers = parts.policy.remembers(module)
        inserted = updated = 0
        for outcome in outcomes:
            record = by_index[outcome.index]
            if outcome.status == "rejected":
                self.reject(
                    record.source, outcome.error or ZohoError("REJECTED", "rejected by Zoho"), api=api
                )
            else:
                landed.add(outcome.index)
                if outcome.status == "inserted":
                    inserted += 1
                else:
                    updated += 1
                if outcome.record_id and remembers:
                    parts.lookups.remember_record(module, record.payload, outcome.record_id)
        parts.summary.add(self.stream_name, inserted=inserted, updated=updated)
        return landed

    def reject(
        self,
        record: RecordSource,
        error: ZohoError,
        *,
        more: Sequence[ZohoError] = (),
        api: str | None = None,
    ) -> None:
        """Write one tap record to the rejects file with its reason (the target's marks removed)."""
        source = {k: v for k, v in unpack(record).items() if k not in (SEQ_MARK, INVALID_MARK)}
        extra = {"more_errors": [e.as_dict() for e in more]} if more else None
        self.parts.rejects.write(
            stream=self.stream_name,
            module=self.plan.module.api_name,
            record=source,
            error=error,
            api=api,
            extra=extra,
            source=self.source,
        )
        self.parts.summary.add(self.stream_name, rejected=1)
        if self.parts.plan is not None:
            prop = next(
                (p for p, meta in self.plan.mapper.mapping.items() if meta.api_name == self.plan.key_field),
                None,
            )
            key = source.get(prop) if prop is not None else None
            self.parts.plan.write(
                stream=self.stream_name,
                module=self.plan.module.api_name,
                key=key,
                action="reject",
                reason=f"{error.code}: {error.message}",
            )

    # -- writers (one per loader: a SCHEMA change brings a new mapping) ----------------------------------------
    def rest_writer(self) -> RestWriter:
        with self._lock:
            if self._rest is None:
                plan, parts = self.plan, self.parts
                self._rest = RestWriter(
                    parts.client,
                    plan.module,
                    operation=plan.operation,
                    duplicate_check_fields=plan.duplicate_check_fields
                    if plan.operation == "upsert"
                    else None,
                    external_id_field=plan.options.external_id_field,
                    external_lookups=parts.lookups.external_headers(plan.module, plan.mapper),
                    trigger=parts.settings.trigger,
                    reconcile=partial(parts.lookups.reconcile, plan.module, plan.reconcile_field),
                    account=self.stream_name,
                )
            return self._rest

    def bulk_writer(self) -> BulkWriter:
        with self._lock:
            if self._bulk is None:
                plan, parts = self.plan, self.parts
                settings = parts.settings
                writer = BulkWriter(
                    parts.client,
                    plan.module,
                    operation=plan.operation,
                    duplicate_check_fields=plan.duplicate_check_fields,
                    external_id_field=plan.options.external_id_field,
                    max_jobs_in_flight=settings.bulk_max_jobs_in_flight,
                    poll_max_interval=settings.bulk_poll_max_interval,
                    name_field=parts.lookups.name_field,
                    job_timeout=settings.bulk_job_timeout,
                    key_field=plan.key_field,
                    account=self.stream_name,
                )
                keeper = parts.keeper
                writer.should_stop = lambda: keeper.failure is not None
                reporter, stream = parts.progress, self.stream_name
                if reporter is not None:
                    writer.on_poll = lambda job_id, details: reporter.job_status(stream, job_id, details)
                parts.close_at_end(writer)  # its job threads outlive the sink until the end
                self._bulk = writer
            return self._bulk


def _key_fields(plan: StreamPlan) -> list[str]:
    """The fields a record is found by in Zoho, in Zoho's matching order: an upsert's duplicate-check
    fields, an update's id or External ID, else (an insert's deletes) the reconcile field."""
    if plan.operation == "upsert":
        return list(plan.converter.key_fields)
    field = plan.key_field or plan.reconcile_field
    return [field] if field else []


def retry_due_parked(keeper: StateKeeper) -> None:
    """While the input flows and a STATE waits: retry the parked records a parent may have cured, at
    most every `PARKED_RETRY_SECONDS` per stream (each retry re-reads the lookup cache for all of them),
    so that STATE need not wait for the end of the input or the child stream's next batch."""
    now = time.monotonic()
    for lane in list(keeper.lanes.values()):
        for owner in lane.parked_owners():
            if now - owner.last_retry_at >= PARKED_RETRY_SECONDS:
                owner.retry_parked()


def settle_parked(keeper: StateKeeper, policy: LoadPolicy) -> None:
    """At the end of the input, after every batch: retry parked records while parents keep being
    written, then reject what still matches nothing (every record ends in Zoho or the rejects file)."""
    policy.input_ended = True
    while True:
        keeper.join_all()
        owners = [o for lane in list(keeper.lanes.values()) for o in lane.parked_owners()]
        if not owners:
            return
        retried = [owner.retry_parked() for owner in owners]
        if not any(retried):
            for owner in owners:
                owner.reject_parked()
            keeper.join_all()
            return


def _close_when_done(spool: RecordSpool, done: Future[None]) -> None:
    """A batch that succeeded has recorded every outcome: its spool is read no more. A failed batch is
    marked done at its first failure while its other chunks may still reject records (reading the spool):
    its file is left to be freed with the last reference to it (the run is stopping anyway)."""
    if not done.cancelled() and done.exception() is None:
        spool.close()
