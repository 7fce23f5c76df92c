"""ZohoSink: one Singer stream loaded into one Zoho module — the singer-sdk face of a stream.

The main thread only validates a record against its stream's schema (a compiled fastjsonschema
validator) and buffers it with its sequence number; everything that costs time — conversion to Zoho's
formats, lookups, the API calls, classifying the results — is the stream's `BatchLoader`'s, on the
stream's lane in the background (load/), so stdin keeps flowing while Zoho works. What the stream is
loaded into, and how, is its `StreamPlan`, worked out once per SCHEMA (load/plan.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import fastjsonschema
from singer_sdk import BatchSink, Target
from singer_sdk.exceptions import InvalidJSONSchema
from typing_extensions import override

from target_zoho_crm.load.batch import DELETED_AT, INVALID_MARK, SEQ_MARK, BatchLoader
from target_zoho_crm.load.ordering import BatchProgress, Lane
from target_zoho_crm.load.plan import StreamPlan, plan_stream
from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import ModuleInfo
from target_zoho_crm.report.rejects import RejectSource, kept_properties
from target_zoho_crm.run import RunContext, run_context_of

_ABSENT = object()


class ZohoSink(BatchSink):
    """Loads one stream into one Zoho module (REST or Bulk Write, per configuration and batch size)."""

    @override
    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self._fast_validator: Any = None
        super().__init__(target, stream_name, schema, key_properties)
        self.run: RunContext = run_context_of(target)
        parts = self.run.parts
        self.plan: StreamPlan = plan_stream(
            stream_name,
            schema,
            catalog=self.run.catalog,
            settings=self.run.settings,
            options=self.run.settings.stream_options(stream_name),
        )
        plan = self.plan
        for prop, reason in plan.ignored.items():
            if prop.startswith("_sdc_"):
                # singer-sdk's metadata columns are expected and never loaded: said once per run.
                self.logger.debug("Stream '%s': property '%s' is not loaded: %s", stream_name, prop, reason)
                self.run.note_sdc_properties(self.logger)
                continue
            self.logger.warning("Stream '%s': property '%s' is not loaded: %s", stream_name, prop, reason)
        self.lane: Lane = parts.keeper.lane(stream_name)
        self.lane.max_queued = plan.max_queued_batches
        self.loader = BatchLoader(plan, parts, self.lane, self._reject_source())
        # Read on every record: bound once here rather than looked up through the run's parts.
        self._next_seq = parts.keeper.next_seq
        self._max_size = plan.batch_size
        self._buffer: list[dict[str, Any]] | RecordSpool = self._new_buffer()
        self._first_seq = 0
        self._oldest_at = 0.0
        stats = parts.summary.stream(stream_name)
        stats.module, stats.operation = plan.module.api_name, plan.operation
        self.logger.info(
            "Stream '%s' → module %s (%s, matched on %s, %s API)",
            stream_name,
            plan.module.api_name,
            plan.operation,
            plan.key_field or "nothing: every record is new",
            plan.api_type,
        )
        self.run.streams.register(stream_name, self)  # replaces the sink of the stream's previous SCHEMA

    # -- singer-sdk's metadata columns: `_sdc_deleted_at` is kept --------------------------------------------
    # singer-sdk drops it with the other `_sdc_` columns unless add_record_metadata is set; this target
    # needs it: with hard_delete it deletes the record's Zoho match, without it is an ordinary property
    # that a field_map may name.
    @override
    def _remove_sdc_metadata_from_schema(self) -> None:
        kept = (self.schema.get("properties") or {}).get(DELETED_AT)
        super()._remove_sdc_metadata_from_schema()
        if kept is not None:
            self.schema["properties"][DELETED_AT] = kept

    @override
    def _remove_sdc_metadata_from_record(self, record: dict[str, Any]) -> None:
        kept = record.get(DELETED_AT, _ABSENT)
        super()._remove_sdc_metadata_from_record(record)
        if kept is not _ABSENT:
            record[DELETED_AT] = kept

    def _reject_source(self) -> RejectSource:
        """What the rejects file keeps of this stream: its schema and keys (for a replay), and, unless
        `rejects_include_unmapped`, only the properties that are loaded and the key properties."""
        keys = list(self.key_properties or [])
        kept = None
        if not self.run.settings.rejects_include_unmapped:
            kept = kept_properties(self.plan.mapper.mapping, keys)
        return RejectSource(self.stream_name, self.schema, keys, kept)

    # -- what the rest of the target reads ------------------------------------------------------------------
    @property
    def module(self) -> ModuleInfo:
        return self.plan.module

    @property
    def api_type(self) -> str:
        return self.plan.api_type

    @property
    @override
    def max_size(self) -> int:
        """Read on every record (singer-sdk's `is_full`): worked out once, in the plan."""
        return self._max_size

    # -- validation (main thread; must stay cheap) ----------------------------------------------------------
    @override
    def get_validator(self) -> None:
        """Validation is done by `validate` with a compiled validator that rejects, not aborts."""
        if self.config.get("validate_records", True):
            try:
                self._fast_validator = fastjsonschema.compile(_strip_formats(self.schema))
            except fastjsonschema.JsonSchemaDefinitionException as exc:
                raise InvalidJSONSchema(f"Stream '{self.stream_name}': invalid JSON schema: {exc}") from exc
        return None

    def validate(self, record: dict[str, Any]) -> dict[str, Any]:
        """Check `record` against the stream's schema; a mismatch marks it for the rejects file (the
        loader rejects it with the reason) instead of stopping the run."""
        if self._fast_validator is not None:
            try:
                self._fast_validator(record)
            except fastjsonschema.JsonSchemaValueException as exc:
                record[INVALID_MARK] = exc.message
        return record

    @override
    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.validate(record)

    def check_key_properties(self, record: dict[str, Any]) -> None:
        """singer-sdk's check that `record` carries the stream's key properties (it raises
        MissingKeyPropertiesError), for the target's fast record path."""
        self._singer_validate_message(record)

    # -- buffering (main thread) ------------------------------------------------------------------------------
    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        seq = self._next_seq()
        record[SEQ_MARK] = seq
        if not self._buffer:
            self.lane.buffer_min_seq = self._first_seq = seq
            self._oldest_at = time.monotonic()
        self._buffer.append(record)

    def _new_buffer(self) -> list[dict[str, Any]] | RecordSpool:
        # A REST batch (1,000 records) stays in memory; a Bulk batch (25,000) is spooled to disk.
        return RecordSpool() if self.plan.spooled else []

    @property
    @override
    def current_size(self) -> int:
        """What is buffered now (flushes outside singer-sdk's drains must reset `is_full` too)."""
        return len(self._buffer)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def buffer_age(self) -> float:
        return time.monotonic() - self._oldest_at if self._buffer else 0.0

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        self.flush()

    def flush(self) -> BatchProgress | None:
        """Hand the buffered records to the loader; returns at once (the lane bounds what is unfinished)."""
        if not self._buffer:
            return None
        batch, self._buffer = self._buffer, self._new_buffer()
        if isinstance(batch, RecordSpool):
            batch.seal()
        deps = self.run.parts.policy.parents_of(self)
        progress = self.loader.submit(batch, self._first_seq, deps)
        self.lane.buffer_min_seq = None
        return progress


def _strip_formats(schema: Any) -> Any:
    """Drop `format` keywords: Zoho-side formats are checked by the converter, with Zoho's own errors."""
    if isinstance(schema, dict):
        return {k: _strip_formats(v) for k, v in schema.items() if not (k == "format" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_formats(v) for v in schema]
    return schema
