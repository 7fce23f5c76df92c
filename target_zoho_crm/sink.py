"""ZohoSink: one Singer stream loaded into one Zoho module.

The main thread only validates a record against its stream's schema (a compiled fastjsonschema
validator) and buffers it with its sequence number; everything that costs time — conversion to Zoho's
formats, lookups, the API calls, classifying the results — runs on the stream's lane in the background
(see pipeline.py), so stdin keeps flowing while Zoho works. Each batch ends with every one of its records
either in Zoho or in the rejects file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

import fastjsonschema
from singer_sdk import BatchSink, Target
from singer_sdk.exceptions import InvalidJSONSchema

from target_zoho_crm.load.keys import fold_key, upsert_match_order
from target_zoho_crm.load.ordering import BatchProgress
from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import ModuleInfo, Outcome, PreparedRecord, RecordSource, ZohoError, unpack
from target_zoho_crm.run import Services, services_of
from target_zoho_crm.settings.settings import StreamOptions
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.zoho.credits import choose_api
from target_zoho_crm.zoho.rest import MAX_RECORDS_PER_CALL, RestWriter

INVALID_MARK = "__target_zoho_crm_invalid__"
SEQ_MARK = "__target_zoho_crm_seq__"
REST_BATCH_SIZE = 1000  # ten calls of 100 records: one full wave at Zoho's write concurrency of 10
BULK_BATCH_SIZE = 25_000  # Zoho's maximum rows per Bulk Write job
FENCE_PRUNE_AT = 50_000
# Field types whose values may need resolving to Zoho ids (lookups, owners, subform and line-item rows).
LOOKUP_TYPES = frozenset(
    {"lookup", "ownerlookup", "userlookup", "multiselectlookup", "multiuserlookup", "subform"}
)  # keys remembered by the REST key fence before finished chunks are dropped


class ZohoSink(BatchSink):
    """Loads one stream into one Zoho module (REST or Bulk Write, per configuration and batch size)."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self._fast_validator: Any = None
        super().__init__(target, stream_name, schema, key_properties)
        self.services: Services = services_of(target)
        settings = self.services.settings
        self.options = StreamOptions.from_config(dict(target.config), stream_name)
        self.module: ModuleInfo = self.services.catalog.resolve(stream_name, self.options.module)
        self.operation: str = self.options.operation or settings.operation
        self.api_type: str = self.options.api_type or settings.api_type
        # An upsert configured with an External ID field matches on it first (Zoho's own order would
        # try the system duplicate-check field first).
        self.duplicate_check_fields: list[str] | None = self.options.duplicate_check_fields or (
            [self.options.external_id_field] if self.options.external_id_field else None
        )
        self.mapper = FieldMapper(
            self.module,
            schema.get("properties") or {},
            self.options.field_map or {},
            operation=self.operation,
        )
        for prop, reason in self.mapper.ignored.items():
            self.logger.warning("Stream '%s': property '%s' is not loaded: %s", stream_name, prop, reason)
        self.converter = RecordConverter(
            self.module,
            self.mapper,
            timezone=settings.timezone,
            operation=self.operation,
            api_version=settings.api_version,
            key_fields=upsert_match_order(self.module, self.duplicate_check_fields),
        )
        self.key_field = self._matching_key()
        mapped = {meta.api_name for meta in self.mapper.mapping.values()}
        unique = (
            *self.module.system_duplicate_fields,
            *self.module.unique_fields,
            *self.module.external_fields,
        )
        # What a lost insert is looked up by before it is resent (Zoho keeps these fields unique).
        self.reconcile_field = self.key_field or next((f for f in unique if f in mapped), None)
        self.related_modules = self._related_modules()
        self.has_rows = any(
            meta.data_type == "subform" or meta.api_name == self.module.line_items_field
            for meta in self.mapper.mapping.values()
        )
        self._warned_rows = False
        self.has_lookups = any(
            meta.data_type in LOOKUP_TYPES or meta.api_name == self.module.line_items_field
            for meta in self.mapper.mapping.values()
        )
        self.lane = self.services.keeper.lane(stream_name)
        if self.api_type != "rest":
            self.lane.max_queued = 2  # batches of up to 25,000 records: keep few of them in memory
        # A REST batch (1,000 records) stays in memory; a Bulk batch (25,000) is spooled to disk.
        self._spooled = self.api_type != "rest"
        self._buffer: list[dict[str, Any]] | RecordSpool = self._new_buffer()
        self._first_seq = 0
        self._max_size = int(
            settings.batch_size_rows or (REST_BATCH_SIZE if self.api_type == "rest" else BULK_BATCH_SIZE)
        )
        self._oldest_at = 0.0
        stats = self.services.summary.stream(stream_name)
        stats.module, stats.operation = self.module.api_name, self.operation
        self.logger.info(
            "Stream '%s' → module %s (%s, matched on %s, %s API)",
            stream_name,
            self.module.api_name,
            self.operation,
            self.key_field or "nothing: every record is new",
            self.api_type,
        )
        self.services.sinks[stream_name] = self  # replaces the sink of the stream's previous SCHEMA

    # -- sizes ---------------------------------------------------------------------------------------------
    @property
    def max_size(self) -> int:
        """Read on every record (singer-sdk's `is_full`): computed once, in `__init__`."""
        return self._max_size

    # -- validation (main thread; must stay cheap) ----------------------------------------------------------
    def get_validator(self) -> None:
        """Validation is done by `_validate_and_parse` with a compiled validator that rejects, not aborts."""
        if self.config.get("validate_records", True):
            try:
                self._fast_validator = fastjsonschema.compile(_strip_formats(self.schema))
            except fastjsonschema.JsonSchemaDefinitionException as exc:
                raise InvalidJSONSchema(f"Stream '{self.stream_name}': invalid JSON schema: {exc}") from exc
        return None

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._fast_validator is not None:
            try:
                self._fast_validator(record)
            except fastjsonschema.JsonSchemaValueException as exc:
                record[INVALID_MARK] = exc.message
        return record

    # -- buffering (main thread) ------------------------------------------------------------------------------
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        seq = self.services.keeper.next_seq()
        record[SEQ_MARK] = seq
        if not self._buffer:
            self.lane.buffer_min_seq = self._first_seq = seq
            self._oldest_at = time.monotonic()
        self._buffer.append(record)

    def _new_buffer(self) -> list[dict[str, Any]] | RecordSpool:
        return RecordSpool() if self._spooled else []

    @property
    def current_size(self) -> int:
        """What is buffered now (flushes outside singer-sdk's drains must reset `is_full` too)."""
        return len(self._buffer)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def buffer_age(self) -> float:
        return time.monotonic() - self._oldest_at if self._buffer else 0.0

    def process_batch(self, context: dict[str, Any]) -> None:
        self.flush()

    def flush(self) -> BatchProgress | None:
        """Hand the buffered records to the lane; returns at once (the lane bounds what is unfinished)."""
        if not self._buffer:
            return None
        batch, self._buffer = self._buffer, self._new_buffer()
        if isinstance(batch, RecordSpool):
            batch.seal()
        deps = self.services.parents_of(self)
        progress = self.lane.submit(self._first_seq, lambda p: self._write_batch(batch, deps, p))
        if isinstance(batch, RecordSpool):
            progress.done.add_done_callback(partial(_close_when_done, batch))
        self.lane.buffer_min_seq = None
        return progress

    # -- the background work of one batch (on the stream's lane) ------------------------------------------------
    def _write_batch(
        self, batch: list[dict[str, Any]] | RecordSpool, deps: list[Future[Any]], progress: BatchProgress
    ) -> None:
        """Start the batch's writes; `progress.done` resolves when every record is in Zoho or rejected,
        and not before the stream's previous batch is done (so `lane.previous` covers every earlier one)."""
        self.services.keeper.raise_if_failed()  # the run is stopping: queued batches must not write
        stats = self.services.summary
        stats.add(self.stream_name, read=len(batch))
        prepared = self._convert(batch)
        prepared, merged = self._dedupe(prepared)
        if merged:
            stats.add(self.stream_name, merged=merged)
        for dep in deps:  # parents first: lookups may point at records of an earlier batch of another stream
            dep.exception()
        api = self._api_for(len(prepared))
        stats.used_api(self.stream_name, api)
        previous = self.lane.previous
        if api == "bulk":
            work = self._write_bulk(prepared, progress, previous)
        else:
            work = self._write_rest(prepared, progress)
        progress.finish_when([*work, *([previous] if previous is not None else [])])
        self.lane.previous, self.lane.previous_api = progress.done, api

    def _api_for(self, size: int) -> str:
        if self.api_type == "rest":
            return "rest"
        if self.has_rows:
            # Line items and subforms need parent/child CSVs, which this target does not write: such
            # records go through REST (it carries them), never to the rejects file for the API's sake.
            if self.api_type == "bulk" and not self._warned_rows:
                self._warned_rows = True
                self.logger.warning(
                    "Stream '%s' maps line items or subforms, which Bulk Write cannot take in one CSV: "
                    "it is loaded through REST.",
                    self.stream_name,
                )
            return "rest"
        if self.api_type == "auto":
            return choose_api(size, self.operation)
        return self.api_type

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
        for item in records:
            record = unpack(item)
            index = record[SEQ_MARK]
            invalid = record.get(INVALID_MARK)
            if invalid is not None:
                self._reject(
                    record,
                    ZohoError("INVALID_RECORD", f"record does not match its stream's schema: {invalid}"),
                )
                continue
            payload, errors = self.converter.convert(record)
            if errors:
                self._reject(record, errors[0], more=errors[1:])
                continue
            key = payload.get(self.key_field) if self.key_field else None
            prepared.append(
                PreparedRecord(
                    index=index,
                    source=item,
                    payload=payload,
                    key=None if key is None or key == "" else str(key),
                )
            )
        return prepared

    def _write_rest(self, prepared: list[PreparedRecord], progress: BatchProgress) -> list[Future[Any]]:
        """Chunks of 100 go to the shared pool at once, where their lookups are resolved and they are
        sent; the lane goes on to the next batch meanwhile, so Zoho's concurrency stays filled across
        batch boundaries and the pool threads only wait on the network.

        Order per key still holds: a chunk waits for the earlier chunks of this stream that carry one of
        its keys (the key fence), and for a Bulk job of the previous batch, if any."""
        writer = self.services.rest_writer(self)
        chunks = [
            prepared[i : i + MAX_RECORDS_PER_CALL] for i in range(0, len(prepared), MAX_RECORDS_PER_CALL)
        ]
        progress.start([chunk[0].index for chunk in chunks])
        after_bulk = self.lane.previous if self.lane.previous_api == "bulk" else None
        if after_bulk is not None:
            after_bulk.exception()  # on the lane, not on a pool thread: a Bulk job can take minutes
        futures: list[Future[Any]] = []
        for number, chunk in enumerate(chunks):
            keys = [fold_key(r.key) for r in chunk if r.key is not None]
            waits = {f for k in keys if (f := self.lane.fence.get(k)) is not None and not f.done()}
            future = self.services.pool.submit(self._rest_chunk, writer, chunk, progress, number, waits)
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
        self.services.keeper.raise_if_failed()
        prepared = self.services.resolve_lookups(self, converted) if converted else []
        if prepared and self.services.settings.dry_run:
            self.services.summary.add(self.stream_name, would_write=len(prepared))
        elif prepared:
            outcomes = writer.write_chunk(prepared)
            self.services.summary.add(self.stream_name, api_calls=1, credits=-(-len(prepared) // 10))
            self._record_outcomes(prepared, outcomes, api="rest")
        progress.chunk_done(number)

    def _write_bulk(
        self, converted: list[PreparedRecord], progress: BatchProgress, previous: Future[None] | None
    ) -> list[Future[Any]]:
        """This batch was converted while the previous batch's writes ran; its lookups and keys are
        resolved, and its job submitted, once those writes are done (they may have created the records
        it refers to). The lane then moves on; the batch counts as unfinished for STATE until its job's
        results are recorded."""
        if previous is not None:
            previous.result()  # the previous batch of this stream must be done (and not have failed)
        prepared = self.services.resolve_lookups(self, converted) if converted else []
        if not prepared or self.services.settings.dry_run:
            self.services.summary.add(self.stream_name, would_write=len(prepared) if prepared else 0)
            return []
        progress.start([prepared[0].index])
        job = self.services.bulk_writer(self).submit(prepared)
        # While Zoho runs the job (minutes), keep only what its results need: the spooled source for
        # rejects, and the payload only when written records are cached for lookups.
        remembers = self.services.remembers(self.module)
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
        return [recorded]

    def _record_outcomes(self, prepared: list[PreparedRecord], outcomes: list[Outcome], *, api: str) -> None:
        by_index = {p.index: p for p in prepared}
        remembers = self.services.remembers(self.module)
        inserted = updated = 0
        for outcome in outcomes:
            record = by_index[outcome.index]
            if outcome.status == "rejected":
                self._reject(
                    record.source, outcome.error or ZohoError("REJECTED", "rejected by Zoho"), api=api
                )
            else:
                if outcome.status == "inserted":
                    inserted += 1
                else:
                    updated += 1
                if outcome.record_id and remembers:
                    self.services.lookups.remember_record(self.module, record.payload, outcome.record_id)
        self.services.summary.add(self.stream_name, inserted=inserted, updated=updated)

    def _reject(
        self,
        record: RecordSource,
        error: ZohoError,
        *,
        more: Sequence[ZohoError] = (),
        api: str | None = None,
    ) -> None:
        source = {k: v for k, v in unpack(record).items() if k not in (SEQ_MARK, INVALID_MARK)}
        extra = {"more_errors": [e.as_dict() for e in more]} if more else None
        self.services.rejects.write(
            stream=self.stream_name,
            module=self.module.api_name,
            record=source,
            error=error,
            api=api,
            extra=extra,
        )
        self.services.summary.add(self.stream_name, rejected=1)

    # -- matching key ---------------------------------------------------------------------------------------
    def _related_modules(self) -> frozenset[str]:
        """Modules this stream's values may be looked up in: lookups, multi-select lookups (their
        connected module) and the products and price books of line items."""
        related: set[str] = set()
        for meta in self.mapper.mapping.values():
            if meta.lookup_module:
                related.add(meta.lookup_module)
            if meta.data_type == "multiselectlookup":
                connected = (meta.raw.get("multiselectlookup") or {}).get("connected_module")
                name = connected.get("api_name") if isinstance(connected, dict) else connected
                if name:
                    related.add(str(name))
            if meta.api_name == self.module.line_items_field:
                related.update(("Products", "Price_Books"))
        return frozenset(related)

    def _matching_key(self) -> str | None:
        """The field a record is matched on (and de-duplicated by) in Zoho: None for an insert."""
        if self.operation == "update":
            candidates = [self.options.external_id_field or "id"]
        elif self.operation == "upsert":
            candidates = list(self.converter.key_fields)
        else:
            return None
        mapped = {meta.api_name for meta in self.mapper.mapping.values()}
        return next((field for field in candidates if field in mapped), None)


def _close_when_done(spool: RecordSpool, done: Future[None]) -> None:
    """A batch that succeeded has recorded every outcome: its spool is read no more. A failed batch is
    marked done at its first failure while its other chunks may still reject records (reading the spool):
    its file is left to be freed with the last reference to it (the run is stopping anyway)."""
    if not done.cancelled() and done.exception() is None:
        spool.close()


def _strip_formats(schema: Any) -> Any:
    """Drop `format` keywords: Zoho-side formats are checked by the converter, with Zoho's own errors."""
    if isinstance(schema, dict):
        return {k: _strip_formats(v) for k, v in schema.items() if not (k == "format" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_formats(v) for v in schema]
    return schema
