"""BatchLoader: one stream's batches from buffered tap records to outcomes, on the stream's lane.

convert (CPU only) → de-duplicate on the matching key → resolve lookups → write (REST chunks on the
shared pool, or one Bulk job) → outcomes: every record ends in Zoho or in the rejects file. The sink
hands it full buffers and never waits for Zoho (see load/ordering.py for the STATE frontier).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from target_zoho_crm.load.keys import (
    Versions,
    fold_key,
    has_key_value,
    lowest_index,
    merge_versions,
    next_versions,
)
from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.load.ordering import BatchProgress, Lane, StateKeeper
from target_zoho_crm.load.plan import StreamPlan
from target_zoho_crm.load.policy import LoadPolicy
from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import Outcome, PreparedRecord, RecordSource, ZohoError, unpack
from target_zoho_crm.report.rejects import RejectsWriter
from target_zoho_crm.report.summary import RunSummary
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.bulk import BulkWriter
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import REST_RECORDS_PER_CALL, choose_api
from target_zoho_crm.zoho.rest import RestWriter

# Marks the sink puts on a buffered tap record: its sequence number, and why it failed its schema.
INVALID_MARK = "__target_zoho_crm_invalid__"
SEQ_MARK = "__target_zoho_crm_seq__"
FENCE_PRUNE_AT = 50_000  # keys remembered by the REST key fence before finished chunks are dropped

Batch = list[dict[str, Any]] | RecordSpool
LOGGER = logging.getLogger("target_zoho_crm.load")


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


class BatchLoader:
    """Loads the batches of one stream under one SCHEMA (a SCHEMA change brings a new loader, with its
    own plan and writers, on the same lane)."""

    def __init__(self, plan: StreamPlan, parts: LoadParts, lane: Lane) -> None:
        self.plan = plan
        self.parts = parts
        self.lane = lane
        self.stream_name = plan.stream_name
        self._warned_rows = False
        self._lock = threading.Lock()
        self._rest: RestWriter | None = None
        self._bulk: BulkWriter | None = None

    # -- the main thread -----------------------------------------------------------------------------------
    def submit(self, batch: Batch, first_seq: int, deps: list[Future[Any]]) -> BatchProgress:
        """Queue `batch` on the lane (blocks while the lane has too many unfinished batches)."""
        progress = self.lane.submit(first_seq, lambda p: self._write_batch(batch, deps, p))
        if isinstance(batch, RecordSpool):
            progress.done.add_done_callback(partial(_close_when_done, batch))
        return progress

    # -- the background work of one batch (on the stream's lane) --------------------------------------------
    def _write_batch(self, batch: Batch, deps: list[Future[Any]], progress: BatchProgress) -> None:
        """Start the batch's writes; `progress.done` resolves when every record is in Zoho or rejected,
        and not before the stream's previous batch is done (so `lane.previous` covers every earlier one)."""
        parts = self.parts
        parts.keeper.raise_if_failed()  # the run is stopping: queued batches must not write
        stats = parts.summary
        stats.add(self.stream_name, read=len(batch))
        prepared, earlier = merge_versions(self._convert(batch))
        for dep in deps:  # parents first: lookups may point at records of an earlier batch of another stream
            dep.exception()
        api = self._api_for(len(prepared))
        stats.used_api(self.stream_name, api)
        previous = self.lane.previous
        if api == "bulk":
            work = self._write_bulk(prepared, earlier, progress, previous)
        else:
            work = self._write_rest(prepared, earlier, progress)
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
            payload, errors = converter.convert(record)
            if errors:
                self.reject(record, errors[0], more=errors[1:])
                continue
            key = payload.get(key_field) if key_field else None
            if keyless_check and not any(has_key_value(payload.get(f)) for f in match_fields):
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
        self, prepared: list[PreparedRecord], earlier: Versions, progress: BatchProgress
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
                self._rest_chunk, writer, chunk, versions[number], progress, number, waits
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
    ) -> None:
        for fence in waits:
            fence.result()  # an earlier write of one of these keys failed: this one must not overtake it
        self.parts.keeper.raise_if_failed()
        self._write_versions(converted, earlier, partial(self._rest_write, writer))
        progress.chunk_done(number)

    def _write_versions(
        self,
        records: list[PreparedRecord],
        earlier: Versions,
        write: Callable[[list[PreparedRecord]], set[int]],
    ) -> None:
        """Write `records`, then the earlier versions of those that were rejected, until each key has
        landed or run out of versions (`write` answers the indices that landed)."""
        while records:
            landed = write(records)
            records = self._next_versions([r.index for r in records], landed, earlier)

    def _rest_write(self, writer: RestWriter, converted: list[PreparedRecord]) -> set[int]:
        """Resolve and write one REST call's records; the indices that landed (or would, in a dry run)."""
        parts = self.parts
        prepared = self._resolve(converted)
        if not prepared:
            return set()
        if parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared))
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
    ) -> list[Future[Any]]:
        """This batch was converted while the previous batch's writes ran; its lookups and keys are
        resolved, and its job submitted, once those writes are done (they may have created the records
        it refers to). The lane then moves on; the batch counts as unfinished for STATE until its job's
        results are recorded. Earlier versions of keys whose record was rejected go through REST (few)."""
        if previous is not None:
            previous.result()  # the previous batch of this stream must be done (and not have failed)
        parts = self.parts
        if self.plan.operation == "upsert" and self.plan.key_field:
            # A Bulk job matches on its one `find_by` field; a record without a value there but with one
            # in another field Zoho matches on goes through REST, whose upsert tries them all (few).
            by_rest = [r for r in converted if r.key is None]
            if by_rest:
                converted = [r for r in converted if r.key is not None]
                self._write_versions(by_rest, earlier, partial(self._rest_write, self.rest_writer()))
        prepared = self._resolve(converted)
        if not prepared or parts.settings.dry_run:
            parts.summary.add(self.stream_name, would_write=len(prepared) if prepared else 0)
            landed = {p.index for p in prepared} if parts.settings.dry_run else set()
            retry = self._next_versions(list(earlier), landed, earlier)
            self._write_versions(retry, earlier, partial(self._rest_write, self.rest_writer()))
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
                    self._write_versions(retry, earlier, partial(self._rest_write, self.rest_writer()))
                progress.chunk_done(0)
                recorded.set_result(None)
            except BaseException as exc:
                recorded.set_exception(exc)

        job.add_done_callback(record)
        return [recorded]

    def _resolve(self, converted: list[PreparedRecord]) -> list[PreparedRecord]:
        if not converted:
            return []
        return self.parts.policy.resolve_lookups(
            self.plan,
            converted,
            lambda record, errors: self.reject(record.source, errors[0], more=errors[1:]),
        )

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
                parts.close_at_end(writer)  # its job threads outlive the sink until the end
                self._bulk = writer
            return self._bulk


def _close_when_done(spool: RecordSpool, done: Future[None]) -> None:
    """A batch that succeeded has recorded every outcome: its spool is read no more. A failed batch is
    marked done at its first failure while its other chunks may still reject records (reading the spool):
    its file is left to be freed with the last reference to it (the run is stopping anyway)."""
    if not done.cancelled() and done.exception() is None:
        spool.close()
