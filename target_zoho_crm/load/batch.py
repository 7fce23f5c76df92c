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

from target_zoho_crm.load.keys import fold_key
from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.load.ordering import BatchProgress, Lane, StateKeeper
from target_zoho_crm.load.plan import StreamPlan
from target_zoho_crm.load.policy import LoadPolicy
from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import Outcome, PreparedRecord, RecordSource, ZohoError, is_empty, unpack
from target_zoho_crm.report.progress import ProgressReporter
from target_zoho_crm.report.rejects import RejectSource, RejectsWriter
from target_zoho_crm.report.summary import RunSummary
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.bulk import BulkWriter
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import REST_RECORDS_PER_CALL, choose_api
from target_zoho_crm.zoho.rest import RestWriter

# Marks the sink puts on a buffered tap record: its sequence number, and why it failed its schema.
INVALID_MARK = "__target_zoho_crm_invalid__"
SEQ_MARK = "__target_zoho_crm_seq__"
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
        prepared, merged = self._dedupe(prepared)
        if merged:
            stats.add(self.stream_name, merged=merged)
        api = self._api_for(len(prepared))
        stats.used_api(self.stream_name, api)
        previous = self.lane.previous
        if api == "bulk":
            work = self._write_bulk(prepared, progress, previous)
        else:
            work = self._write_rest(prepared, progress)
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

    def _dedupe(self, prepared: list[PreparedRecord]) -> tuple[list[PreparedRecord], int]:
        """The last valid record wins per matching key: Zoho must not see one key twice in a batch, and
        an older record must not land after a newer one. Records rejected by the checks never win."""
        latest: dict[str, int] = {}
        for position, record in enumerate(prepared):
            if record.key is not None:
                latest[fold_key(record.key)] = position
        if len(latest) == len(prepared):
            return prepared, 0
        keep = set(latest.values())
        kept = [r for i, r in enumerate(prepared) if r.key is None or i in keep]
        return kept, len(prepared) - len(kept)

    def _convert(self, records: Iterable[RecordSource]) -> list[PreparedRecord]:
        """Convert to Zoho's formats and check locally (CPU only: done on the lane thread). A spooled
        record stays on disk as the PreparedRecord's source (only the rejects file reads it again)."""
        prepared: list[PreparedRecord] = []
        converter = self.plan.converter
        key_field = self.plan.key_field
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
            payload, errors = converter.convert(record)
            if errors:
                self.reject(record, errors[0], more=errors[1:])
                continue
            key = payload.get(key_field) if key_field else None
            prepared.append(
                PreparedRecord(
                    index=index,
                    source=item,
                    payload=payload,
                    key=None if is_empty(key) else str(key),
                )
            )
        return prepared

    def _write_rest(self, prepared: list[PreparedRecord], progress: BatchProgress) -> list[Future[Any]]:
        """Chunks of 100 go to the shared pool at once, where their lookups are resolved and they are
        sent; the lane goes on to the next batch meanwhile, so Zoho's concurrency stays filled across
        batch boundaries and the pool threads only wait on the network.

        Order per key still holds: a chunk waits for the earlier chunks of this stream that carry one of
        its keys (the key fence), and for a Bulk job of the previous batch, if any."""
        writer = self.rest_writer()
        size = REST_RECORDS_PER_CALL
        chunks = [prepared[i : i + size] for i in range(0, len(prepared), size)]
        progress.start([chunk[0].index for chunk in chunks])
        after_bulk = self.lane.previous if self.lane.previous_api == "bulk" else None
        if after_bulk is not None:
            after_bulk.exception()  # on the lane, not on a pool thread: a Bulk job can take minutes
        futures: list[Future[Any]] = []
        for number, chunk in enumerate(chunks):
            keys = [fold_key(r.key) for r in chunk if r.key is not None]
            waits = {f for k in keys if (f := self.lane.fence.get(k)) is not None and not f.done()}
            future = self.parts.pool.submit(self._rest_chunk, writer, chunk, progress, number, waits)
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
        progress: BatchProgress,
        number: int,
        waits: set[Future[Any]],
    ) -> None:
        for earlier in waits:
            earlier.result()  # an earlier write of one of these keys failed: this one must not overtake it
        parts = self.parts
        parts.keeper.raise_if_failed()
        prepared = self._resolve(converted)
        if prepared and parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared))
        elif prepared:
            outcomes = writer.write_chunk(prepared)
            parts.summary.add(self.stream_name, api_calls=1)
            self._record_outcomes(prepared, outcomes, api="rest")
        progress.chunk_done(number)

    def _write_bulk(
        self, converted: list[PreparedRecord], progress: BatchProgress, previous: Future[None] | None
    ) -> list[Future[Any]]:
        """This batch was converted while the previous batch's writes ran; its lookups and keys are
        resolved, and its job submitted, once those writes are done (they may have created the records
        it refers to). The lane then moves on; the batch counts as unfinished for STATE until its job's
        results are recorded."""
        keys = self._wait_for_earlier_writes(converted, previous)
        parts = self.parts
        prepared = self._resolve(converted)
        if not prepared or parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared) if prepared else 0)
            return []
        progress.start([prepared[0].index])
        job = self.bulk_writer().submit(prepared)
        # While Zoho runs the job (minutes), keep only what its results need: the spooled source for
        # rejects, and the payload only when written records are cached for lookups.
        remembers = parts.policy.remembers(self.plan.module)
        waiting = [PreparedRecord(r.index, r.source, r.payload if remembers else {}, r.key) for r in prepared]
        del prepared, converted
        recorded: Future[None] = Future()

        def record(finished: Future[list[Outcome]]) -> None:
            try:
                self._record_outcomes(waiting, finished.result(), api="bulk")
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

    def _resolve(self, converted: list[PreparedRecord]) -> list[PreparedRecord]:
        if not converted:
            return []
        generation = self.parts.lookups.cache.generation  # before the lookups: a later parent retries
        return self.parts.policy.resolve_lookups(
            self.plan,
            converted,
            lambda record, errors: self.reject(record.source, errors[0], more=errors[1:]),
            lambda record, errors: self._park(record, errors, generation),
        )

    def _record_outcomes(self, prepared: list[PreparedRecord], outcomes: list[Outcome], *, api: str) -> None:
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
                if outcome.status == "inserted":
                    inserted += 1
                else:
                    updated += 1
                if outcome.record_id and remembers:
                    parts.lookups.remember_record(module, record.payload, outcome.record_id)
        parts.summary.add(self.stream_name, inserted=inserted, updated=updated)

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
