"""TargetZohoCRM: the Singer target (CLI, message handling, STATE safety, summary, exit codes).

Exit codes: 0 — every record is in Zoho or in the rejects file (and rejects ≤ `max_rejects` when set);
1 — the run stopped (bad config or credentials, unknown stream, invalid SCHEMA, RECORD before SCHEMA,
missing key property, Zoho unreachable after retries, a failure no record survives); STATE was echoed
only up to the last record that was handled; 3 — the run finished but more records than `max_rejects`
were rejected.
"""

from __future__ import annotations

import contextlib
import decimal
import gc
import sys
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from types import FrameType
from typing import Any, ClassVar

import msgspec
import msgspec.json
from singer_sdk import Target
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.json import serialize_json

from target_zoho_crm.config import CONFIG_SCHEMA, TargetSettings
from target_zoho_crm.rejects import RejectsWriter
from target_zoho_crm.sink import ZohoSink
from target_zoho_crm.summary import RunSummary
from target_zoho_crm.types import ZohoError

EXIT_TOO_MANY_REJECTS = 3
# Bulk jobs cost 500 credits each, and `auto` only saves credits on large batches: for those streams a
# waiting STATE may not cut a batch short before this (REST streams use `state_flush_seconds`).
BULK_STATE_FLUSH_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 0.2


# Records are freed by reference counting; the cyclic collector only needs to run now and then. At
# Python's default (700 allocations) it ran every few records, and each full pass walked every buffered
# record: measured -22% CPU and no more 50 ms stalls of the write threads with these.
GC_THRESHOLDS = (50_000, 20, 100)
# GIL switch interval. A call's answer, and the next call's turn, wait for the GIL behind the threads that
# read and convert records; at Python's 5 ms that cost ~7 ms of idle slot per 200 ms call (94.8% of Zoho's
# ceiling, mean of 4 runs); at 0.5 ms ~5.5 ms (95.6%). The price is CPU when calls answer at once (a
# zero-latency emulator: ~+10%); against real latencies it was not measurable.
SWITCH_INTERVAL_S = 0.0005


def _tune_process() -> None:
    """Freeze what start-up loaded (modules, metadata), collect cycles less often during the load, and
    hand the GIL to a thread whose answer has arrived sooner."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class RunStopped(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


class _StopReading(Exception):
    """Raised by the signal handler into a read that is blocked waiting for the tap."""


class TolerantReader(GenericSingerReader[str]):
    """Singer reader on msgspec; a line that is not a Singer message is reported and skipped, not fatal.

    The records around a malformed line are kept; the line goes to the rejects file and the run's
    summary counts it.
    """

    default_input = sys.stdin
    _decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)

    def __init__(self) -> None:
        super().__init__()
        self.on_bad_line: Callable[[int, str, str], None] | None = None
        self.stop_requested = False  # set by a termination signal: stop reading, finish what was read
        self.waiting_for_input = False  # True only while blocked reading the next line
        # Held while a message is handled, free while waiting for the tap: the housekeeper thread may
        # then flush buffers that a waiting STATE depends on, even when the tap has gone quiet.
        self.busy = threading.Lock()

    def stop(self) -> None:
        """Called from a signal handler: end the read loop at a line boundary, never mid-message."""
        self.stop_requested = True
        if self.waiting_for_input:
            raise _StopReading

    def deserialize_json(self, line: str) -> dict[str, Any]:
        return self._decoder.decode(line)  # type: ignore[no-any-return,unused-ignore]

    def process_lines(
        self, file_input: Any, callbacks: dict[str, Callable[[dict[str, Any]], None]]
    ) -> Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        lines = iter(file_input or self.default_input)
        number = 0
        while not self.stop_requested:
            self.waiting_for_input = True
            try:
                line = next(lines)
            except (StopIteration, _StopReading):
                break
            finally:
                self.waiting_for_input = False
            number += 1
            if not line.strip():
                continue
            try:
                message = self.deserialize_json(line)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                self._bad(number, line, f"not valid JSON ({exc})")
                continue
            if not isinstance(message, dict) or "type" not in message:
                self._bad(number, line, "not a Singer message (no 'type')")
                continue
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                self._bad(number, line, f"unknown Singer message type {kind!r}")
                continue
            with self.busy:
                callback(message)
            stats[kind] += 1
        return Counter(**stats)

    def _bad(self, number: int, line: str, reason: str) -> None:
        if self.on_bad_line is None:
            raise RunStopped(f"input line {number}: {reason}")
        self.on_bad_line(number, line, reason)


@dataclass
class Services:
    """What every sink shares: one token, one HTTP client and pool, one catalog, rejects file, summary."""

    target: TargetZohoCRM
    settings: TargetSettings
    rejects: RejectsWriter
    summary: RunSummary
    keeper: Any
    _connected: bool = False
    # One writer per sink object (a SCHEMA change brings a new sink, with its own mapping); keyed weakly
    # on the sink itself, not on id(sink), which Python reuses once a sink is freed.
    _rest_writers: weakref.WeakKeyDictionary[Any, Any] = field(default_factory=weakref.WeakKeyDictionary)
    _bulk_writers: weakref.WeakKeyDictionary[Any, Any] = field(default_factory=weakref.WeakKeyDictionary)
    _to_close: list[Any] = field(default_factory=list)
    _empty_at_start: dict[str, bool] = field(default_factory=dict)
    _probe_lock: threading.Lock = field(default_factory=threading.Lock)
    _looked_up: set[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> None:
        """Token, HTTP client, catalog: done at the first SCHEMA so bad credentials fail before any data."""
        if self._connected:
            return
        from target_zoho_crm.catalog import ModuleCatalog
        from target_zoho_crm.http import ZohoClient
        from target_zoho_crm.lookups import LookupResolver

        config = dict(self.target.config)
        self.client = ZohoClient.from_config(config, redactor=self.target.redactor, settings=self.settings)
        self.catalog = ModuleCatalog(self.client, self.settings.api_version)
        self.lookups = LookupResolver(self.client, self.catalog, use_coql=self.settings.use_coql)
        self.pool = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency + 2, thread_name_prefix="zoho-call"
        )
        self._connected = True

    # -- per-sink helpers ---------------------------------------------------------------------------------
    def parents_of(self, sink: ZohoSink) -> list[Future[Any]]:
        """Flush the streams this one looks up into, and return their latest batches to wait for."""
        wanted = set(sink.related_modules) - {sink.module.api_name}
        deps: list[Future[Any]] = []
        if not wanted:
            return deps
        for other in list(self.target._sinks_active.values()):
            if isinstance(other, ZohoSink) and other is not sink and other.module.api_name in wanted:
                other.flush()
                if other.lane.last is not None:
                    deps.append(other.lane.last)
        return deps

    def resolve_lookups(self, sink: ZohoSink, prepared: list[Any]) -> list[Any]:
        """Lookups to ids; for upserts into a module that held records before the run, reject keys that
        match several Zoho records (an upsert would update an arbitrary one)."""
        key_fields = None
        empty_at_start = (
            sink.operation == "upsert"
            and (self.settings.check_ambiguous_keys or self.settings.dry_run)
            and self.was_empty(sink.module.api_name)
        )
        if sink.operation == "upsert" and not empty_at_start and self.settings.check_ambiguous_keys:
            key_fields = list(sink.converter.key_fields)
        if key_fields or sink.has_lookups:
            resolved, rejected = self.lookups.resolve_records(
                sink.module,
                prepared,
                operation=sink.operation,
                key_fields=key_fields,
                converter=sink.converter,
            )
        else:
            resolved, rejected = prepared, []
        if empty_at_start and self.settings.dry_run:
            # Nothing is written in a dry run, so into a module empty at the start every upsert would
            # insert: the mandatory fields apply (a real run lets Zoho decide insert or update).
            kept = []
            for record in resolved:
                missing = sink.converter.missing_mandatory(record.payload)
                if missing:
                    rejected.append((record, missing))
                else:
                    kept.append(record)
            resolved = kept
        for record, errors in rejected:
            sink._reject(record.source, errors[0], more=errors[1:])
        return list(resolved)

    def was_empty(self, module: str) -> bool:
        """Whether `module` held no record when this run first wrote to it (one COQL call per module,
        however many chunks ask at once).

        Then no key can match two records that existed before the run, and the per-batch ambiguity
        check (a COQL read per 50 keys, +20% credits on an initial load) is skipped."""
        with self._probe_lock:
            known = self._empty_at_start.get(module)
            if known is None:
                if self.settings.use_coql:
                    query = f"select id from {module} where id is not null limit 1"
                    rows = self.client.get_json("/coql", method="POST", json={"select_query": query})
                else:
                    rows = self.client.get_json(f"/{module}", params={"fields": "id", "per_page": 1})
                known = self._empty_at_start[module] = not (rows or {}).get("data")
            return known

    def remembers(self, module: Any) -> bool:
        """Whether written records of `module` are cached for the lookups of child streams (parents
        before children): only for modules some stream looks up into, or whose keys are matched against
        Zoho (that cache holds "no such key" answers, so a key written since must be known as written).
        The cache holds a few hundred bytes per record: filling it for every load would make memory grow
        with the input."""
        name = module.api_name
        key_matched = self.settings.check_ambiguous_keys and self._empty_at_start.get(name) is False
        return key_matched or name in self.looked_up_modules()

    def looked_up_modules(self) -> set[str]:
        """Modules the current streams look up into (recomputed after each SCHEMA, not per record)."""
        looked_up = self._looked_up
        if looked_up is None:
            sinks = [s for s in list(self.target._sinks_active.values()) if isinstance(s, ZohoSink)]
            looked_up = {module for s in sinks for module in s.related_modules}
            self._looked_up = looked_up
        return looked_up

    def rest_writer(self, sink: ZohoSink) -> Any:
        with self._lock:
            writer = self._rest_writers.get(sink)
            if writer is None:
                from target_zoho_crm.rest_writer import RestWriter

                writer = self._rest_writers[sink] = RestWriter(
                    self.client,
                    sink.module,
                    operation=sink.operation,
                    duplicate_check_fields=sink.duplicate_check_fields
                    if sink.operation == "upsert"
                    else None,
                    external_id_field=sink.options.external_id_field,
                    external_lookups=self.lookups.external_headers(sink.module, sink.mapper),
                    trigger=self.settings.trigger,
                    reconcile=partial(self.lookups.reconcile, sink.module, sink.reconcile_field),
                )
            return writer

    def bulk_writer(self, sink: ZohoSink) -> Any:
        with self._lock:
            writer = self._bulk_writers.get(sink)
            if writer is None:
                from target_zoho_crm.bulk_writer import BulkWriter

                writer = self._bulk_writers[sink] = BulkWriter.for_sink(self, sink)
                writer.should_stop = lambda: self.keeper.failure is not None
                self._to_close.append(writer)  # its job threads outlive the sink until the end
            return writer

    def close(self) -> None:
        for writer in self._to_close:
            writer.close()
        if self._connected:
            self.pool.shutdown(wait=True)


class TargetZohoCRM(Target):
    """Loads records from any Singer tap into Zoho CRM through the REST or Bulk Write API."""

    name = "target-zoho-crm"
    package_name = "target-zoho-crm"
    config_jsonschema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    default_sink_class = ZohoSink
    message_reader_class = TolerantReader
    _MAX_RECORD_AGE_IN_MINUTES = float("inf")  # STATE is echoed by the StateKeeper, not by age drains

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:
        """singer-sdk 0.54.9 leaves `number` settings read from the environment as strings
        (`TARGET_ZOHO_CRM_REQUEST_TIMEOUT=10` would fail validation): read them as numbers."""
        config = parse_environment_config(cls.config_jsonschema, cls._env_var_prefix)
        for key, value in list(config.items()):
            types = cls.config_jsonschema["properties"].get(key, {}).get("type")
            if isinstance(value, str) and "number" in (types if isinstance(types, list) else [types]):
                with contextlib.suppress(ValueError):  # else config validation names the bad value
                    config[key] = float(value)
        return config

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """singer-sdk's built-ins minus those this target does not honour: `load_method` (the target's
        `operation` says how records are written) and `add_record_metadata` (Zoho has no column for it)."""
        super().append_builtin_config(config_jsonschema)
        for name in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(name, None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from target_zoho_crm.pipeline import StateKeeper
        from target_zoho_crm.redact import REDACTOR

        config = dict(self.config)
        self.redactor = REDACTOR
        self.redactor.add_config(config)
        self.redactor.install()
        self.settings = TargetSettings.from_config(config)
        self.keeper = StateKeeper(self._emit_state, before_emit=lambda: self.services.rejects.sync())
        self.services = Services(
            target=self,
            settings=self.settings,
            rejects=RejectsWriter(self.settings.rejects_path, scrub=self.redactor.redact),
            summary=RunSummary(),
            keeper=self.keeper,
        )
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.on_bad_line = self._reject_input_line
        self._next_housekeeping = 0.0
        self._plain_sinks: dict[str, ZohoSink] = {}
        self._housekeeper: threading.Thread | None = None
        self._finished = False
        self._state_lock = threading.Lock()
        self.max_parallelism = 1  # drain_all only hands batches to lanes; the lanes do the work

    # -- STATE -----------------------------------------------------------------------------------------------
    def _emit_state(self, state: dict[str, Any]) -> None:
        with self._state_lock:
            sys.stdout.write(serialize_json(state) + "\n")
            sys.stdout.flush()

    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Called by singer-sdk's drain_all once every sink was handed its records: wait, then echo."""
        self.keeper.join_all()

    # -- message handlers -----------------------------------------------------------------------------------
    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        stream = message_dict.get("stream")
        maps = self.mapper.stream_maps.get(stream) if isinstance(stream, str) else None
        if maps and (
            maps[0].raw_schema != message_dict.get("schema")
            or maps[0].raw_key_properties != message_dict.get("key_properties")
        ):
            # The sinks of the old schema go first, in order (singer-sdk would write them last); an
            # identical SCHEMA repeated by the tap changes nothing and flushes nothing.
            for stream_map in maps:
                old = self._sinks_active.get(stream_map.stream_alias)
                if isinstance(old, ZohoSink) and old.buffered:
                    old.flush()
        self.services.connect()
        self._start_housekeeper()
        try:
            super()._process_schema_message(message_dict)
        except Exception:
            self._settle_before_stop()
            raise
        if isinstance(stream, str):
            self._register_plain_sink(stream)
        self.services._looked_up = None

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        try:
            sink = self._plain_sinks.get(message_dict.get("stream"))  # type: ignore[arg-type]
            record = message_dict.get("record")
            if sink is not None and isinstance(record, dict):
                self._process_plain_record(sink, record)
            else:
                super()._process_record_message(message_dict)
        except (RecordsWithoutSchemaException, MissingKeyPropertiesError):
            self._settle_before_stop()
            raise
        now = time.monotonic()
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_SECONDS
            self._housekeeping()

    def _process_plain_record(self, sink: ZohoSink, record: dict[str, Any]) -> None:
        """singer-sdk's record pipeline for a stream with no stream map and no flattening, minus what
        is a no-op there (copy, identity transform, per-record context, metadata pops): the same checks
        in the same order — schema validation, key properties — at a fraction of the cost per record."""
        sink._validate_and_parse(record)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        sink.process_record(record, {})
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.drain_one(sink)

    def _register_plain_sink(self, stream: str) -> None:
        """Remember `stream`'s sink for the fast path when its only map is singer-sdk's identity."""
        self._plain_sinks.pop(stream, None)
        maps = self.mapper.stream_maps.get(stream) or []
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or maps[0].flattening_enabled:
            return
        sink = self._sinks_active.get(maps[0].stream_alias)
        if (
            isinstance(sink, ZohoSink)
            and maps[0].stream_alias == stream
            and not sink.include_sdc_metadata_properties
        ):
            self._plain_sinks[stream] = sink

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        super()._process_state_message(message_dict)
        self.keeper.on_state(message_dict["value"])
        self._housekeeping()

    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        self.logger.info(
            "ACTIVATE_VERSION for stream '%s' ignored: the target never deletes Zoho records.",
            message_dict.get("stream"),
        )

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        raise RunStopped(
            "BATCH messages are not supported: records must arrive as RECORD messages so that each one is"
            " mapped, validated and accounted for. Turn off the tap's batch mode."
        )

    def _start_housekeeper(self) -> None:
        """A quiet tap must not hold a STATE back: every half second, while no message is being handled,
        flush the buffers a waiting STATE depends on."""
        reader = self.message_reader
        if self._housekeeper is not None or not isinstance(reader, TolerantReader):
            return

        def run() -> None:
            while not self._finished:
                time.sleep(HOUSEKEEPING_SECONDS * 2.5)
                if self.keeper.has_pending and self.keeper.failure is None:
                    with reader.busy:
                        if not self._finished:
                            self._flush_for_state()

        self._housekeeper = threading.Thread(target=run, name="zoho-housekeeper", daemon=True)
        self._housekeeper.start()

    def _housekeeping(self) -> None:
        """Surface a failed batch, and cut buffers short when a STATE waits on them (bounded STATE latency)."""
        self.keeper.raise_if_failed()
        self._flush_for_state()

    def _flush_for_state(self) -> None:
        if self.keeper.has_pending:
            for sink in list(self._sinks_active.values()):
                if isinstance(sink, ZohoSink) and sink.buffered:
                    limit = (
                        BULK_STATE_FLUSH_SECONDS
                        if sink.api_type in ("bulk", "auto")
                        else self.settings.state_flush_seconds
                    )
                    if sink.buffer_age >= limit:
                        sink.flush()
        self.keeper.try_emit()

    def _reject_input_line(self, number: int, line: str, reason: str) -> None:
        self.logger.error("Input line %d skipped: %s (the line is in the rejects file)", number, reason)
        self.services.rejects.write(
            stream=None,
            module=None,
            record=line[:10_000],
            error=ZohoError("INVALID_INPUT_LINE", reason, {"line_number": number}),
        )
        self.services.summary.input_errors += 1

    # -- end of run ------------------------------------------------------------------------------------------
    def _settle_before_stop(self) -> None:
        """Before a fatal input error stops the run: finish what was read, and echo the STATE it earned."""
        try:
            for sink in list(self._sinks_active.values()) + list(self._sinks_to_clear):
                if isinstance(sink, ZohoSink):
                    sink.flush()
            self.keeper.join_all()
        except Exception:  # the original error is the one to report
            self.logger.exception("While stopping: a batch failed as well")
        finally:
            self._finish(log_only=True)

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """The command line: a process of its own, so the garbage collector and GIL are tuned for a load."""
        _tune_process()
        super().invoke(**kwargs)

    def listen(self, file_input: Any = None) -> None:  # type: ignore[misc]
        """singer-sdk's loop, plus the summary and a clean stop of the writers whatever ends the run."""
        try:
            super().listen(file_input)
        finally:
            self._finish()

    def process_endofpipe(self) -> None:
        reader = self.message_reader
        busy = reader.busy if isinstance(reader, TolerantReader) else contextlib.nullcontext()
        try:
            with busy:  # the housekeeper must not flush while the final drain does
                super().process_endofpipe()
                self.keeper.join_all()
        finally:
            self._finish()
        limit = self.settings.max_rejects
        rejected = self.services.summary.total_rejected
        if limit is not None and rejected > int(limit):
            self.logger.error("%d records were rejected, more than max_rejects=%s", rejected, limit)
            raise SystemExit(EXIT_TOO_MANY_REJECTS)

    def _finish(self, *, log_only: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        services = self.services
        try:
            services.rejects.close()
        finally:
            client = getattr(services, "client", None)
            credits = getattr(client, "credits_used", None)
            for line in services.summary.lines(credits_used=credits, dry_run=self.settings.dry_run):
                self.logger.info("%s", line)
            if services.rejects.total:
                self.logger.warning(
                    "%d rejected records are in %s", services.rejects.total, services.rejects.path
                )
            if not log_only:
                self.keeper.shutdown()
                services.close()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Stop reading at the next line boundary; the normal end of input then writes what was read
        and echoes the STATE it earned. Nothing is done inside the handler itself: it may have
        interrupted a flush or a STATE write, which must not be re-entered."""
        self.logger.info("Received signal %d: finishing the records already read, then stopping", signum)
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.stop()


if __name__ == "__main__":
    TargetZohoCRM.cli()
