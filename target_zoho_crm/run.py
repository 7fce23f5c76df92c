"""The run's shared parts, built at the first SCHEMA and closed at the end: one token and HTTP client,
one module catalog, one lookup resolver, one call pool, the rejects file and the summary."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.report.redact import REDACTOR, Redactor
from target_zoho_crm.report.rejects import RejectsWriter
from target_zoho_crm.report.summary import RunSummary
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.auth import TokenManager
from target_zoho_crm.zoho.bulk import BulkWriter
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.rest import RestWriter


def connect_client(
    config: Mapping[str, Any],
    *,
    settings: TargetSettings | None = None,
    redactor: Redactor | None = None,
    **kwargs: Any,
) -> ZohoClient:
    """Build the run's TokenManager + ZohoClient from the target config (and its parsed settings,
    when the caller has them already)."""
    settings = settings or TargetSettings.from_config(config)
    session = requests.Session()
    redactor = redactor or REDACTOR
    redactor.add_config(config)
    tokens = TokenManager(
        settings.urls.accounts_url,
        client_id=config.get("client_id"),
        client_secret=config.get("client_secret"),
        refresh_token=config.get("refresh_token"),
        access_token=config.get("access_token"),
        session=session,
        timeout=min(settings.request_timeout, 30.0),
        redactor=redactor,
    )
    return ZohoClient(
        settings.urls,
        settings.api_version,
        tokens,
        max_concurrency=settings.max_concurrency,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        session=session,
        redactor=redactor,
        **kwargs,
    )


@dataclass
class Services:
    """What every sink shares: one token, one HTTP client and pool, one catalog, rejects file, summary."""

    config: dict[str, Any]
    settings: TargetSettings
    redactor: Redactor
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
    # The run's current sink per stream (a SCHEMA change replaces it): what parents-first ordering and
    # the lookup cache policy look at.
    sinks: dict[str, Any] = field(default_factory=dict)

    def connect(self) -> None:
        """Token, HTTP client, catalog: done at the first SCHEMA so bad credentials fail before any data."""
        if self._connected:
            return
        self.client = connect_client(self.config, redactor=self.redactor, settings=self.settings)
        self.catalog = ModuleCatalog(self.client, self.settings.api_version)
        self.lookups = LookupResolver(self.client, self.catalog, use_coql=self.settings.use_coql)
        self.pool = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency + 2, thread_name_prefix="zoho-call"
        )
        self._connected = True

    # -- per-sink helpers ---------------------------------------------------------------------------------
    def parents_of(self, sink: Any) -> list[Future[Any]]:
        """Flush the streams this one looks up into, and return their latest batches to wait for."""
        wanted = set(sink.related_modules) - {sink.module.api_name}
        deps: list[Future[Any]] = []
        if not wanted:
            return deps
        for other in list(self.sinks.values()):
            if other is not sink and other.module.api_name in wanted:
                other.flush()
                if other.lane.last is not None:
                    deps.append(other.lane.last)
        return deps

    def resolve_lookups(self, sink: Any, prepared: list[Any]) -> list[Any]:
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
            looked_up = {module for s in list(self.sinks.values()) for module in s.related_modules}
            self._looked_up = looked_up
        return looked_up

    def rest_writer(self, sink: Any) -> Any:
        with self._lock:
            writer = self._rest_writers.get(sink)
            if writer is None:
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

    def bulk_writer(self, sink: Any) -> Any:
        with self._lock:
            writer = self._bulk_writers.get(sink)
            if writer is None:
                writer = self._bulk_writers[sink] = self._new_bulk_writer(sink)
                writer.should_stop = lambda: self.keeper.failure is not None
                self._to_close.append(writer)  # its job threads outlive the sink until the end
            return writer

    def _new_bulk_writer(self, sink: Any) -> BulkWriter:
        """The writer for one sink, from the run's shared client and the stream's options."""
        settings = self.settings
        summary = self.summary
        stream = sink.stream_name

        def on_job(credits: int) -> None:
            summary.add(stream, credits=credits)

        return BulkWriter(
            self.client,
            sink.module,
            operation=sink.operation,
            duplicate_check_fields=sink.duplicate_check_fields,
            external_id_field=sink.options.external_id_field,
            max_jobs_in_flight=settings.bulk_max_jobs_in_flight,
            poll_max_interval=settings.bulk_poll_max_interval,
            name_field=self.lookups.name_field,
            job_timeout=settings.bulk_job_timeout,
            on_job=on_job,
            key_field=sink.key_field,
        )

    def close(self) -> None:
        for writer in self._to_close:
            writer.close()
        if self._connected:
            self.pool.shutdown(wait=True)


def services_of(target: Any) -> Services:
    """The run's shared parts, from the target that owns them (singer-sdk hands a sink only its target)."""
    services = getattr(target, "services", None)
    if not isinstance(services, Services):
        raise TypeError(f"{type(target).__name__} has no run services: a ZohoSink needs TargetZohoCRM")
    return services
