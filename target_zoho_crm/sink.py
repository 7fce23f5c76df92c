"""ZohoSink: one Singer stream loaded into one Zoho module.

The main thread only validates a record against its stream's schema (a compiled fastjsonschema
validator) and buffers it with its sequence number; everything that costs time — conversion to Zoho's
formats, lookups, the API calls, classifying the results — runs on the stream's lane in the background
(see pipeline.py), so stdin keeps flowing while Zoho works. Each batch ends with every one of its records
either in Zoho or in the rejects file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import fastjsonschema
from singer_sdk import BatchSink
from singer_sdk.exceptions import InvalidJSONSchema

from target_zoho_crm.config import StreamOptions
from target_zoho_crm.convert import RecordConverter
from target_zoho_crm.fields import FieldMapper
from target_zoho_crm.lookups import upsert_match_order
from target_zoho_crm.pipeline import BatchProgress
from target_zoho_crm.rest_writer import MAX_RECORDS_PER_CALL, RestWriter
from target_zoho_crm.types import ModuleInfo, Outcome, PreparedRecord, ZohoError

if TYPE_CHECKING:
    from target_zoho_crm.target import Services, TargetZohoCRM

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
        target: TargetZohoCRM,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self._fast_validator: Any = None
        super().__init__(target, stream_name, schema, key_properties)
        self.services: Services = target.services
        settings = self.services.settings
        self.options = StreamOptions.from_config(dict(target.config), stream_name)
        self.module: ModuleInfo = self.services.catalog.resolve(stream_name, self.options.module)
        self.operation: str = self.options.operation or settings.operation
        self.api_type: str = self.options.api_type or settings.api_type
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
            key_fields=upsert_match_order(self.module, self.options.duplicate_check_fields),
        )
        self.key_field, self.key_property = self._matching_key()
        self.has_lookups = any(
            meta.data_type in LOOKUP_TYPES or meta.api_name == self.module.line_items_field
            for meta in self.mapper.mapping.values()
        )
        self.lane = self.services.keeper.lane(stream_name)
        self._buffer: list[dict[str, Any]] = []
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

    # -- sizes ---------------------------------------------------------------------------------------------
    @property
    def max_size(self) -> int:
        configured = self.config.get("batch_size_rows")
        if configured:
            return int(configured)
        return REST_BATCH_SIZE if self.api_type == "rest" else BULK_BATCH_SIZE

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
            self.lane.buffer_min_seq = seq
            self._oldest_at = time.monotonic()
        self._buffer.append(record)

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
        batch, self._buffer = self._buffer, []
        deps = self.services.parents_of(self)
        progress = self.lane.submit(batch[0][SEQ_MARK], lambda p: self._write_batch(batch, deps, p))
        self.lane.buffer_min_seq = None
        return progress

    # -- the background work of one batch (on the stream's lane) ------------------------------------------------
    def _write_batch(
        self, batch: list[dict[str, Any]], deps: list[Future[Any]], progress: BatchProgress
    ) -> None:
        """Start the batch's writes; `progress.done` resolves when every record is in Zoho or rejected."""
        for dep in deps:  # parents first: lookups may point at records of an earlier batch of another stream
            dep.exception()
        stats = self.services.summary
        stats.add(self.stream_name, read=len(batch))
        batch, merged = self._dedupe(batch)
        if merged:
            stats.add(self.stream_name, merged=merged)
        api = self._api_for(len(batch))
        stats.used_api(self.stream_name, api)
        if api == "bulk":
            self._write_bulk(batch, progress)
        else:
            self._write_rest(batch, progress)
        self.lane.previous, self.lane.previous_api = progress.done, api

    def _api_for(self, size: int) -> str:
        if self.api_type == "auto":
            from target_zoho_crm.api_choice import choose_api

            return choose_api(size, self.operation)
        return self.api_type

    def _dedupe(self, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """Last record wins per matching key: Zoho must not see the same key twice in one batch."""
        prop = self.key_property
        if prop is None:
            return batch, 0
        latest: dict[Any, int] = {}
        for position, record in enumerate(batch):
            value = record.get(prop)
            if value is not None and value != "" and INVALID_MARK not in record:
                latest[str(value).strip().lower()] = position
        if len(latest) == len(batch):
            return batch, 0
        keep = set(latest.values())
        kept = [r for i, r in enumerate(batch) if i in keep or r.get(prop) in (None, "") or INVALID_MARK in r]
        return kept, len(batch) - len(kept)

    def _prepare(self, records: list[dict[str, Any]]) -> list[PreparedRecord]:
        """Convert to Zoho's formats and check locally; what Zoho would refuse is rejected here, for free."""
        prepared: list[PreparedRecord] = []
        for record in records:
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
                    index=index, source=record, payload=payload, key=None if key is None else str(key)
                )
            )
        return self.services.resolve_lookups(self, prepared)

    def _write_rest(self, batch: list[dict[str, Any]], progress: BatchProgress) -> None:
        """Chunks of 100 go to the shared pool at once and are converted and sent there; the lane moves
        on to the next batch meanwhile, so Zoho's concurrency stays filled across batch boundaries.

        Order per key still holds: a chunk waits for the earlier chunks of this stream that carry one of
        its keys (the key fence), and for a Bulk job of the previous batch, if any."""
        writer = self.services.rest_writer(self)
        chunks = [batch[i : i + MAX_RECORDS_PER_CALL] for i in range(0, len(batch), MAX_RECORDS_PER_CALL)]
        progress.start([chunk[0][SEQ_MARK] for chunk in chunks])
        after_bulk = self.lane.previous if self.lane.previous_api == "bulk" else None
        futures = []
        for number, chunk in enumerate(chunks):
            keys = self._keys(chunk)
            waits = {f for k in keys if (f := self.lane.fence.get(k)) is not None and not f.done()}
            if after_bulk is not None:
                waits.add(after_bulk)
            future = self.services.pool.submit(self._rest_chunk, writer, chunk, progress, number, waits)
            for key in keys:
                self.lane.fence[key] = future
            futures.append(future)
        if len(self.lane.fence) > FENCE_PRUNE_AT:
            self.lane.fence = {k: f for k, f in self.lane.fence.items() if not f.done()}
        progress.finish_when(futures)

    def _keys(self, chunk: list[dict[str, Any]]) -> list[str]:
        prop = self.key_property
        if prop is None:
            return []
        return [str(v).strip().lower() for r in chunk if (v := r.get(prop)) is not None and v != ""]

    def _rest_chunk(
        self,
        writer: RestWriter,
        chunk: list[dict[str, Any]],
        progress: BatchProgress,
        number: int,
        waits: set[Future[Any]],
    ) -> None:
        for earlier in waits:
            earlier.result()  # an earlier write of one of these keys failed: this one must not overtake it
        prepared = self._prepare(chunk)
        if prepared and self.services.settings.dry_run:
            self.services.summary.add(self.stream_name, would_write=len(prepared))
        elif prepared:
            outcomes = writer.write_chunk(prepared)
            self.services.summary.add(self.stream_name, api_calls=1, credits=-(-len(prepared) // 10))
            self._record_outcomes(prepared, outcomes, api="rest")
        progress.chunk_done(number)

    def _write_bulk(self, batch: list[dict[str, Any]], progress: BatchProgress) -> None:
        """Prepare this batch's file while the previous batch's writes run; submit it once they are done.

        The lane moves on as soon as the job is submitted, so the next batch is converted while Zoho
        works; a stream's jobs still run one after the other (a later value never lands first), and the
        batch counts as unfinished for STATE until its job's results are recorded."""
        prepared = self._prepare(batch)
        if self.services.settings.dry_run:
            self.services.summary.add(self.stream_name, would_write=len(prepared))
            progress.finish()
            return
        if self.lane.previous is not None:
            self.lane.previous.result()  # the previous batch of this stream must be done (and not have failed)
        if not prepared:
            progress.finish()
            return
        progress.start([batch[0][SEQ_MARK]])
        job = self.services.bulk_writer(self).submit(prepared)

        def record(finished: Future[list[Outcome]]) -> None:
            try:
                self._record_outcomes(prepared, finished.result(), api="bulk")
                progress.chunk_done(0)
                progress.finish()
            except BaseException as exc:
                progress.finish(exc)

        job.add_done_callback(record)

    def _record_outcomes(self, prepared: list[PreparedRecord], outcomes: list[Outcome], *, api: str) -> None:
        by_index = {p.index: p for p in prepared}
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
                if outcome.record_id:
                    self.services.remember(self.module, record.payload, outcome.record_id)
        self.services.summary.add(self.stream_name, inserted=inserted, updated=updated)

    def _reject(
        self,
        record: dict[str, Any],
        error: ZohoError,
        *,
        more: Sequence[ZohoError] = (),
        api: str | None = None,
    ) -> None:
        source = {k: v for k, v in record.items() if k not in (SEQ_MARK, INVALID_MARK)}
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
    def _matching_key(self) -> tuple[str | None, str | None]:
        """The field a record is matched on (and de-duplicated by), and the stream property that feeds it."""
        if self.operation == "update":
            candidates = [self.options.external_id_field or "id"]
        elif self.operation == "upsert":
            candidates = [
                *(self.options.duplicate_check_fields or []),
                *([self.options.external_id_field] if self.options.external_id_field else []),
                *self.module.system_duplicate_fields,
                *self.module.external_fields,
                *self.module.unique_fields,
            ]
        else:
            return None, None
        reverse = {meta.api_name: prop for prop, meta in self.mapper.mapping.items()}
        for field in candidates:
            if field in reverse:
                return field, reverse[field]
            if field == "id":
                for prop in self.schema.get("properties", {}):
                    if prop.lower() == "id":
                        return "id", prop
        return None, None

    def clean_up(self) -> None:
        super().clean_up()


def _strip_formats(schema: Any) -> Any:
    """Drop `format` keywords: Zoho-side formats are checked by the converter, with Zoho's own errors."""
    if isinstance(schema, dict):
        return {k: _strip_formats(v) for k, v in schema.items() if not (k == "format" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_formats(v) for v in schema]
    return schema
