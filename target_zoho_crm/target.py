"""TargetZohoCRM: the Singer target (CLI, message handling, STATE safety, summary, exit codes).

Exit codes: 0 — every record is in Zoho or in the rejects file (and rejects ≤ `max_rejects` when set);
1 — the run stopped (bad config or credentials, unknown stream, invalid SCHEMA, RECORD before SCHEMA,
missing key property, Zoho unreachable after retries, a failure no record survives); STATE was echoed
only up to the last record that was handled; 3 — the run finished but more records than `max_rejects`
were rejected.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from types import FrameType
from typing import Any, ClassVar

from singer_sdk import Target
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.json import serialize_json
from typing_extensions import override

from target_zoho_crm.errors import MissingKeyError, RunStopped
from target_zoho_crm.load.ordering import StateKeeper
from target_zoho_crm.model import ZohoError
from target_zoho_crm.reader import TolerantReader, schema_problem
from target_zoho_crm.report.redact import REDACTOR
from target_zoho_crm.run import RunContext
from target_zoho_crm.settings.schema import CONFIG_SCHEMA
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.sink import ZohoSink

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


class TargetZohoCRM(Target):
    """Loads records from any Singer tap into Zoho CRM through the REST or Bulk Write API."""

    name = "target-zoho-crm"
    package_name = "target-zoho-crm"
    config_jsonschema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    default_sink_class = ZohoSink
    message_reader_class = TolerantReader
    _MAX_RECORD_AGE_IN_MINUTES = float("inf")  # STATE is echoed by the StateKeeper, not by age drains

    @classproperty
    @override
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
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """singer-sdk's built-ins minus those this target does not honour: `load_method` (the target's
        `operation` says how records are written) and `add_record_metadata` (Zoho has no column for it)."""
        super().append_builtin_config(config_jsonschema)
        for name in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(name, None)

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        config = dict(self.config)
        self.redactor = REDACTOR
        self.redactor.add_config(config)
        self.redactor.install()
        self.settings = TargetSettings.from_config(config)
        self.keeper = StateKeeper(self._emit_state, before_emit=lambda: self.run.rejects.sync())
        self.run = RunContext(config, self.settings, self.redactor, self.keeper)
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

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Called by singer-sdk's drain_all once every sink was handed its records: wait, then echo."""
        self.keeper.join_all()

    # -- message handlers -----------------------------------------------------------------------------------
    @override
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
                old = self.run.streams.get(stream_map.stream_alias)
                if isinstance(old, ZohoSink) and old.buffered:
                    old.flush()
        self.run.connect()
        self._start_housekeeper()
        try:
            problem = schema_problem(message_dict)
            if problem is not None:
                raise RunStopped(f"input line {self._line_number()}: {problem}")
            super()._process_schema_message(message_dict)
        except Exception:
            self._settle_before_stop()
            raise
        if isinstance(stream, str):
            self._register_plain_sink(stream)

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        try:
            sink = self._plain_sinks.get(message_dict.get("stream"))  # type: ignore[arg-type]
            record = message_dict.get("record")
            if sink is not None and isinstance(record, dict):
                self._process_plain_record(sink, record)
            else:
                super()._process_record_message(message_dict)
        except RecordsWithoutSchemaException:
            self._settle_before_stop()
            raise
        except MissingKeyPropertiesError as exc:
            self._settle_before_stop()
            raise self._missing_key(message_dict) from exc
        now = time.monotonic()
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_SECONDS
            self._housekeeping()

    def _line_number(self) -> int | str:
        reader = self.message_reader
        return reader.line_number if isinstance(reader, TolerantReader) else "?"

    def _missing_key(self, message: dict[str, Any]) -> MissingKeyError:
        stream = message.get("stream")
        record = message.get("record") or {}
        sink = self.run.streams.get(stream) if isinstance(stream, str) else None
        keys = list(getattr(sink, "key_properties", None) or [])
        missing = [k for k in keys if k not in record] or keys
        return MissingKeyError(
            f"input line {self._line_number()}: RECORD of stream {stream!r} has no key property "
            f"{', '.join(repr(k) for k in missing)} (key_properties: {keys}); a record without its key "
            "cannot be matched or replayed safely, so the run stops here. Fix the tap's output, or drop "
            "the key from the SCHEMA's key_properties."
        )

    def _process_plain_record(self, sink: ZohoSink, record: dict[str, Any]) -> None:
        """singer-sdk's record pipeline for a stream with no stream map and no flattening, minus what
        is a no-op there (copy, identity transform, per-record context, metadata pops): the same checks
        in the same order — schema validation, key properties — at a fraction of the cost per record."""
        sink.validate(record)
        sink.check_key_properties(record)
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
        sink = self.run.streams.get(maps[0].stream_alias)
        if (
            isinstance(sink, ZohoSink)
            and maps[0].stream_alias == stream
            and not sink.include_sdc_metadata_properties
        ):
            self._plain_sinks[stream] = sink

    @override
    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        super()._process_state_message(message_dict)
        self.keeper.on_state(message_dict["value"])
        self._housekeeping()

    @override
    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        self.logger.info(
            "ACTIVATE_VERSION for stream '%s' ignored: the target never deletes Zoho records.",
            message_dict.get("stream"),
        )

    @override
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
            for sink in self._sinks():
                if sink.buffered:
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
        self.run.rejects.write(
            stream=None,
            module=None,
            record=line[:10_000],
            error=ZohoError("INVALID_INPUT_LINE", reason, {"line_number": number}),
        )
        self.run.summary.input_errors += 1

    def _sinks(self) -> list[ZohoSink]:
        """The current sink of every stream."""
        return [s for s in self.run.streams.current() if isinstance(s, ZohoSink)]

    # -- end of run ------------------------------------------------------------------------------------------
    def _settle_before_stop(self) -> None:
        """Before a fatal input error stops the run: finish what was read, and echo the STATE it earned."""
        try:
            for sink in self._sinks():
                sink.flush()
            self.keeper.join_all()
        except Exception:  # the original error is the one to report
            self.logger.exception("While stopping: a batch failed as well")
        finally:
            self._finish(log_only=True)

    @classmethod
    @override
    def invoke(cls, **kwargs: Any) -> None:
        """The command line: a process of its own, so the garbage collector and GIL are tuned for a load."""
        _tune_process()
        super().invoke(**kwargs)

    @override  # type: ignore[misc]  # final in singer-sdk's reader base; the target must wrap it
    def listen(self, file_input: Any = None) -> None:
        """singer-sdk's loop, plus the summary and a clean stop of the writers whatever ends the run."""
        try:
            super().listen(file_input)
        finally:
            self._finish()

    @override
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
        rejected = self.run.summary.total_rejected
        if limit is not None and rejected > int(limit):
            self.logger.error("%d records were rejected, more than max_rejects=%s", rejected, limit)
            raise SystemExit(EXIT_TOO_MANY_REJECTS)

    def _finish(self, *, log_only: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        run = self.run
        try:
            run.rejects.close()
        finally:
            meter = run.client.meter if run.client is not None else None
            lines = run.summary.lines(
                credits_used=meter.total if meter is not None else None,
                stream_credits=dict(meter.by_account) if meter is not None else {},
                dry_run=self.settings.dry_run,
            )
            for line in lines:
                self.logger.info("%s", line)
            if run.rejects.total:
                self.logger.warning("%d rejected records are in %s", run.rejects.total, run.rejects.path)
            if not log_only:
                self.keeper.shutdown()
                run.close()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Stop reading at the next line boundary; the normal end of input then writes what was read
        and echoes the STATE it earned. Nothing is done inside the handler itself: it may have
        interrupted a flush or a STATE write, which must not be re-entered."""
        self.logger.info("Received signal %d: finishing the records already read, then stopping", signum)
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.stop()


if __name__ == "__main__":
    TargetZohoCRM.cli()
