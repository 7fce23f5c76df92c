"""TargetZohoCRM: the Singer target (CLI, message handling, STATE safety, summary, exit codes).

Exit codes: 0 — every record is in Zoho or in the rejects file (and rejects ≤ `max_rejects` when set);
1 — the run stopped (bad config or credentials, unknown stream, invalid SCHEMA, RECORD before SCHEMA,
missing key property, Zoho unreachable after retries, a failure no record survives, Zoho's daily
credits spent, `max_credits` reached); STATE was echoed only up to the last record that was handled;
3 — the run finished but more records than `max_rejects` were rejected.

The end of a run, whatever ends it: the writers are stopped and waited for first (a failed run sends
no new call), then the rejects file is closed, and only then is the summary logged — once — and
written to `report_path`; a run that stopped ends with one ERROR line saying why and what to do.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any, ClassVar

import click
from jsonschema import ValidationError
from singer_sdk import Sink, Target
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.mapper import RemoveRecordTransform, SameRecordTransform
from singer_sdk.singerlib.json import serialize_json
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults
from typing_extensions import override

from target_zoho_crm.create_test import create_and_test, schemas_from_file
from target_zoho_crm.errors import (
    AuthError,
    CreditBudgetError,
    CreditsExhaustedError,
    MissingKeyError,
    OutOfCredits,
    RunStopped,
    TargetZohoCRMError,
    UnmatchedStreamError,
)
from target_zoho_crm.load.batch import retry_due_parked, settle_parked
from target_zoho_crm.load.ordering import StateKeeper
from target_zoho_crm.model import ZohoError
from target_zoho_crm.reader import TolerantReader, schema_problem
from target_zoho_crm.report.redact import REDACTOR
from target_zoho_crm.report.summary import RunTotals, were
from target_zoho_crm.run import RunContext
from target_zoho_crm.settings.check import check_rejects_path, unknown_settings, unused_stream_keys
from target_zoho_crm.settings.schema import CONFIG_SCHEMA, SECRET_KEYS
from target_zoho_crm.settings.settings import TargetSettings, stream_key
from target_zoho_crm.sink import ZohoSink

EXIT_TOO_MANY_REJECTS = 3
CONFIG_VALIDATOR = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)  # singer-sdk's own
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


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _validation_message(error: ValidationError, secrets: Sequence[str]) -> str:
    """singer-sdk's wording for a config validation error, without any secret's value: an error about a
    secret setting names its type only, and any message that would quote a secret is replaced."""
    path = list(error.path)
    where = f" in config[{']['.join(repr(p) for p in path)}]" if path else ""
    if path and path[0] in SECRET_KEYS:
        return (
            f"`{path[0]}` must be text, not {_type_name(error.instance)} (the value is not shown): "
            "copy it as a quoted string."
        )
    message = f"{error.message}{where}"
    if any(secret and secret in message for secret in secrets):
        return f"config{where or ''} is invalid ({error.validator}); the message would quote a secret."
    return message


def _secret_texts(config: dict[str, Any]) -> list[str]:
    """Every way a secret of `config` could be printed (its text, and the repr of a non-text value)."""
    texts: list[str] = []
    for key in SECRET_KEYS:
        value = config.get(key)
        if value in (None, ""):
            continue
        texts += [str(value), repr(value)]
        if isinstance(value, (dict, list)):
            texts += [str(v) for v in (value.values() if isinstance(value, dict) else value)]
    return [t for t in texts if len(t) >= 3]


def _plain_message(exc: BaseException) -> str:
    """What a user reads for a plain error: the target's own message, or a sentence for a file error."""
    if isinstance(exc, TargetZohoCRMError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        if exc.filename is None:  # singer-sdk's own "File at '…' was not found."
            return f"{exc} Check the path given to --config."
        return f"File not found: {exc.filename}. Check the path given to --config or --input."
    if isinstance(exc, RuntimeError) and "was not found" in str(exc):
        return f"{exc} Check the path given to --config."
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    if isinstance(exc, ValueError) and hasattr(exc, "lineno") and hasattr(exc, "colno"):  # json, simplejson
        return (
            f"The config file is not valid JSON ({getattr(exc, 'msg', exc)}, line {exc.lineno} column "
            f"{exc.colno}): check quotes and commas, or validate it with `python -m json.tool FILE`."
        )
    return str(exc)


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
    # hard_delete: a record whose `_sdc_deleted_at` is set deletes its Zoho match (load/batch.py)
    capabilities: ClassVar[list[Any]] = [*Target.capabilities, TargetCapabilities.HARD_DELETE]
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
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """singer-sdk's validation, with messages that never quote a secret (whatever its type)."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        secrets = _secret_texts(dict(self._config))
        # singer-sdk's validator fills the schema's defaults into the config it checks: check the real one.
        validator = CONFIG_VALIDATOR(schema)
        errors = [_validation_message(e, secrets) for e in validator.iter_errors(self._config)]
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=schema)
        return errors

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        config = dict(self.config)
        self.redactor = REDACTOR
        self.redactor.add_config(config)
        self.redactor.install()
        for warning in unknown_settings(config, self.config_jsonschema["properties"]):
            self.logger.warning("%s", warning)
        self.settings = TargetSettings.from_config(config)
        check_rejects_path(self.settings.rejects_path)
        self.keeper = StateKeeper(self._emit_state, before_emit=lambda: self.run.rejects.sync())
        self.run = RunContext(config, self.settings, self.redactor, self.keeper)
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.on_bad_line = self._reject_input_line
        self._next_housekeeping = 0.0
        self._plain_sinks: dict[str, ZohoSink] = {}
        self._housekeeper: threading.Thread | None = None
        self._finished = False
        self._state_lock = threading.Lock()
        self._stopped: BaseException | None = None
        # Streams not loaded: dropped by a `__NULL__` stream map, or matching no module (`skip`); with
        # `unmatched_streams: fail` the first unmatched stream stops the writing and the rest of the
        # input is only read to name every other one before the run stops.
        self._skipped: set[str] = set()
        self._unmatched: dict[str, str] = {}
        self._streams_seen: list[str] = []
        self._stream_keys_used: set[str] = set()
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
        if isinstance(stream, str):
            self._note_stream(stream)
        self.run.connect()
        if self._unmatched:
            self._only_match(message_dict)
            return
        self._start_housekeeper()
        try:
            problem = schema_problem(message_dict)
            if problem is not None:
                raise RunStopped(f"input line {self._line_number()}: {problem}")
            super()._process_schema_message(message_dict)
        except Exception as exc:
            self._settle_before_stop(exc)
            raise
        if isinstance(stream, str):
            self._register_plain_sink(stream)

    def _note_stream(self, stream: str) -> None:
        if stream not in self._streams_seen:
            self._streams_seen.append(stream)
            key = stream_key(self.settings.streams, stream)
            if key is not None:
                self._stream_keys_used.add(key)

    def _only_match(self, message_dict: dict[str, Any]) -> None:
        """After an unmatched stream (`unmatched_streams: fail`): no more writing; a SCHEMA is only
        matched to its module, so that the run can name every unmatched stream at once."""
        stream = message_dict.get("stream")
        if not isinstance(stream, str) or stream in self._unmatched:
            return
        schema = message_dict.get("schema")
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            self.mapper.register_raw_stream_schema(stream, schema, message_dict.get("key_properties"))
        if self._dropped_by_map(stream):
            return
        try:
            self.run.catalog.resolve(stream, self.settings.stream_options(stream).module)
        except UnmatchedStreamError as exc:
            self._unmatched[stream] = str(exc)
            self.logger.error("%s", exc)

    def _dropped_by_map(self, stream: str) -> bool:
        """True when every stream map of `stream` is singer-sdk's `__NULL__` (RemoveRecordTransform)."""
        maps = [m for ms in self.mapper.stream_maps.values() for m in ms if m.stream_alias == stream]
        if not maps:
            maps = list(self.mapper.stream_maps.get(stream) or [])
        return bool(maps) and all(isinstance(m, RemoveRecordTransform) for m in maps)

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """singer-sdk's sink lookup; at a SCHEMA, a stream dropped by `__NULL__` or left out by
        `unmatched_streams` gets no sink (its records are dropped before they reach one)."""
        if schema is None:
            return super().get_sink(stream_name, record=record)
        if self._dropped_by_map(stream_name):
            if stream_name not in self._skipped:
                self.logger.info("Stream '%s' is dropped by stream_maps (__NULL__): not loaded.", stream_name)
            self._skipped.add(stream_name)
            return None  # type: ignore[return-value]  # singer-sdk ignores the sink of a SCHEMA
        try:
            return super().get_sink(stream_name, schema=schema, key_properties=key_properties)
        except UnmatchedStreamError as exc:
            if self.settings.unmatched_streams == "skip":
                if stream_name not in self._skipped:
                    self.logger.warning("%s Skipped (unmatched_streams: skip): not loaded.", exc)
                self._skipped.add(stream_name)
                return None  # type: ignore[return-value]
            self.logger.error("%s", exc)
            self._unmatched[stream_name] = str(exc)
            self._settle_before_stop()  # what was read before it is written, and its STATE echoed
            return None  # type: ignore[return-value]

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        if self._unmatched or message_dict.get("stream") in self._skipped:
            return  # not loaded: see get_sink
        try:
            sink = self._plain_sinks.get(message_dict.get("stream"))  # type: ignore[arg-type]
            record = message_dict.get("record")
            if sink is not None and isinstance(record, dict):
                self._process_plain_record(sink, record)
            else:
                super()._process_record_message(message_dict)
        except RecordsWithoutSchemaException as exc:
            self._settle_before_stop(exc)
            raise
        except MissingKeyPropertiesError as exc:
            missing = self._missing_key(message_dict)
            self._settle_before_stop(missing)
            raise missing from exc
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
        if self._unmatched:
            return  # the run stops: no STATE past the records of an unmatched stream
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
            retry_due_parked(self.keeper)  # parents first: a STATE may wait on records parked mid-run
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
    def _settle_before_stop(self, error: BaseException | None = None) -> None:
        """Before a fatal input error stops the run: finish what was read, and echo the STATE it earned."""
        try:
            for sink in self._sinks():
                sink.flush()
            self.keeper.join_all()
        except Exception as exc:  # the original error is the one to report
            self.logger.error("While stopping: a batch failed as well: %s", exc)
        finally:
            self._finish(stopped=error)

    @classmethod
    @override
    def invoke(cls, *, test: bool = False, **kwargs: Any) -> None:
        """The command line: a process of its own, so the garbage collector and GIL are tuned for a load.

        A plain configuration, credential or connection error is one message naming the fix, and exit
        code 1: the traceback is logged at debug level only."""
        try:
            if test:
                cls.create_and_test(kwargs.get("config"), kwargs.get("file_input"))
                return
            _tune_process()
            super().invoke(**kwargs)
        except (TargetZohoCRMError, OSError, ValueError) as exc:
            if isinstance(exc, ConfigValidationError):
                raise  # singer-sdk's command prints each (secret-free) message and exits 1
            if isinstance(exc, AuthError):
                # Zoho refused to issue a token (credentials, data centre, Access Denied): one plain line.
                print(f"target-zoho-crm: {REDACTOR.redact(str(exc))}", file=sys.stderr, flush=True)
            else:
                cls.logger.error("%s", REDACTOR.redact(_plain_message(exc)))
            cls.logger.debug("Traceback of the error above", exc_info=True)
            raise SystemExit(1) from None

    @classmethod
    def create_and_test(cls, config_input: Any, file_input: Any = None) -> None:
        """`--test`: prove the configuration against Zoho without writing anything; exit 0 when a load
        could start, else 1 with every problem listed."""
        target = cls(
            config=getattr(config_input, "config", None) or None,
            validate_config=True,
            parse_env_config=bool(getattr(config_input, "parse_env", False)),
        )
        schemas = schemas_from_file(file_input) if file_input is not None else None
        report = create_and_test(target.config, target.settings, schemas=schemas)
        for line in report.lines:
            click.echo(REDACTOR.redact(line))
        if not report.ok:
            click.echo(f"Create & Test: {len(report.problems)} problem(s); a load would not start.")
            raise SystemExit(1)
        click.echo("Create & Test: OK, a load could start (nothing was written).")

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """singer-sdk reads the --config files here, before `invoke`: a missing or malformed file is one
        message and exit code 1, not a traceback."""
        try:
            return super().cb_config(ctx, param, value)
        except (OSError, ValueError, RuntimeError) as exc:
            cls.logger.error("%s", _plain_message(exc))
            cls.logger.debug("Traceback of the error above", exc_info=True)
            ctx.exit(1)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """singer-sdk's command, plus `--test` (Create & Test)."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--test"],
                is_flag=True,
                help="Create & Test: check authentication, the org, scopes and every configured stream "
                "against Zoho's metadata; writes nothing. With --input, the tap's SCHEMA messages too.",
            )
        )
        return command

    @override  # type: ignore[misc]  # final in singer-sdk's reader base; the target must wrap it
    def listen(self, file_input: Any = None) -> None:
        """singer-sdk's loop, plus the summary and a clean stop of the writers whatever ends the run. A
        run the target stopped (its own errors) ends with one message and exit code 1, no traceback."""
        try:
            super().listen(file_input)
        except TargetZohoCRMError as exc:
            self._finish(stopped=exc)
            if isinstance(exc, AuthError):
                raise  # `invoke` says it in one line (no token: nothing was read or written)
            self.logger.error("%s", self._stop_message(exc))
            raise SystemExit(1) from None
        except BaseException as exc:
            self._finish(stopped=None if isinstance(exc, SystemExit) else exc)
            raise
        finally:
            self._finish()

    @override
    def process_endofpipe(self) -> None:
        if self._unmatched:
            names = ", ".join(repr(n) for n in self._unmatched)
            raise RunStopped(
                f"{len(self._unmatched)} stream(s) match no Zoho CRM module: {names}. Nothing after the "
                "first of them was written. For each, set streams.<name>.module, drop it with "
                'stream_maps: {"<name>": "__NULL__"}, or set `unmatched_streams: skip` to load the others.'
            )
        reader = self.message_reader
        busy = reader.busy if isinstance(reader, TolerantReader) else contextlib.nullcontext()
        try:
            with busy:  # the housekeeper must not flush while the final drain does
                super().process_endofpipe()
                if self.run.connected:
                    settle_parked(self.keeper, self.run.parts.policy)  # parents first: last retries
                self.keeper.join_all()
                self._check_every_record_handled()
        except BaseException as exc:
            self._finish(stopped=exc)
            raise
        finally:
            self._finish()
        limit = self.settings.max_rejects
        rejected = self.run.summary.total_rejected
        if limit is not None and rejected > int(limit):
            self.logger.error("%s rejected, more than max_rejects=%s", were(rejected, "record"), limit)
            raise SystemExit(EXIT_TOO_MANY_REJECTS)

    def _check_every_record_handled(self) -> None:
        """The last guard of "nothing lost": at the end of input every record read must be in Zoho or
        in the rejects file (the frontier passed them all). If not, the run did not succeed."""
        keeper = self.keeper
        frontier = keeper.frontier()
        if frontier <= keeper.seq:
            raise RunStopped(
                f"{were(keeper.seq - frontier + 1, 'record')} read but not handled at the end of input "
                "(from the first record still open on); the last STATE echoed is behind them: run again "
                "from it."
            )

    def _finish(self, *, stopped: BaseException | None = None) -> None:
        """Stop and wait for the writers, close the rejects file, then log the summary (once) and write
        `report_path`: the counts are final only when no call or job can still change them."""
        if self._finished:
            return
        self._finished = True
        self._stopped = stopped or self.keeper.failure
        run = self.run
        try:
            self.keeper.shutdown()
            run.stop_writers()
        finally:
            try:
                run.rejects.close()
            finally:
                self._log_summary()
                run.close()

    def _log_summary(self) -> None:
        run = self.run
        meter = run.client.meter if run.client is not None else None
        stopped = self._stopped
        totals = RunTotals(
            credits_used=meter.total if meter is not None else None,
            stream_credits=dict(meter.by_account) if meter is not None else {},
            stream_calls=(
                {name: meter.calls_by_account.get(name, 0) for name in run.summary.streams}
                if meter is not None
                else {}
            ),
            credits_left=meter.zoho_remaining if meter is not None else None,
            stopped=_short_reason(stopped) if stopped is not None else None,
            dry_run=self.settings.dry_run,
        )
        if run.summary.streams or run.summary.input_errors or run.rejects.total:
            for line in run.summary.lines(totals):  # not for a run that never started (config, token)
                self.logger.info("%s", line)
        for warning in (
            []
            if not self._streams_seen or self._unmatched  # stopping early: the input is not all read
            else unused_stream_keys(self.settings.streams, self._stream_keys_used, self._streams_seen)
        ):
            self.logger.warning("%s", warning)
        total = run.rejects.total
        if total == 1:
            self.logger.warning("1 rejected record is in %s", run.rejects.path)
        elif total:
            self.logger.warning("%d rejected records are in %s", total, run.rejects.path)
        path = self.settings.report_path
        if path:
            try:
                run.summary.write_report(path, totals)
            except OSError as exc:
                self.logger.error("The run report could not be written to %s: %s", path, exc)

    def _stop_message(self, error: BaseException) -> str:
        """The one ERROR line of a stopped run: what happened, what it left, what to do."""
        unwritten = self.run.summary.unwritten
        left = (
            f" {were(unwritten, 'record')} read but not written; the last STATE echoed is behind them."
            if unwritten
            else " The last STATE echoed is behind every record not written."
        )
        if isinstance(error, CreditsExhaustedError):
            return (
                f"{error}. The run stopped at once: Zoho refuses every call until credits come back."
                f"{left} Options: wait until credits free up (the window is rolling: credits spent at a "
                "time come back 24 hours later); load large volumes with api_type: bulk (500 credits per "
                "25,000 records instead of 2,500 through REST); buy add-on credits from Zoho; then run "
                "again: it resumes from the saved STATE (Meltano does so by itself; with upsert, records "
                "written twice are updated, not duplicated)."
            )
        if isinstance(error, CreditBudgetError):
            return (
                f"{error}. The run stopped.{left} Raise max_credits (or unset it), or run again: it resumes "
                "from the saved STATE with a budget of its own. api_type: bulk spends fewer credits on "
                "large loads (500 per 25,000 records)."
            )
        if isinstance(error, OutOfCredits | RunStopped):
            return f"{error}{'' if str(error).endswith('.') else '.'}{left if unwritten else ''}"
        return f"{error}. The run stopped.{left if unwritten else ''}"

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Stop reading at the next line boundary; the normal end of input then writes what was read
        and echoes the STATE it earned. Nothing is done inside the handler itself: it may have
        interrupted a flush or a STATE write, which must not be re-entered."""
        self.logger.info("Received signal %d: finishing the records already read, then stopping", signum)
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.stop()


def _short_reason(error: BaseException) -> str:
    """Why the run stopped, in a few words for the summary and the report (the ERROR line says more)."""
    if isinstance(error, CreditsExhaustedError):
        return "Zoho's API credits for the rolling 24 hours are spent (429 TOO_MANY_REQUESTS)"
    if isinstance(error, CreditBudgetError):
        return f"max_credits={error.budget} reached"
    return str(error) or type(error).__name__


if __name__ == "__main__":
    TargetZohoCRM.cli()
