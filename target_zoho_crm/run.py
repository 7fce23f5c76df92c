"""The run's wiring: its shared parts, built at the first SCHEMA and closed at the end — one token and
HTTP client, one module catalog, one lookup resolver, one call pool, the rejects file, the summary and
the STATE keeper. No rule of the load lives here (those are load/'s); this only builds and closes."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from target_zoho_crm.load.batch import LoadParts
from target_zoho_crm.load.lookups import LookupResolver
from target_zoho_crm.load.ordering import StateKeeper
from target_zoho_crm.load.policy import LoadPolicy, StreamRegistry
from target_zoho_crm.report.redact import REDACTOR, Redactor
from target_zoho_crm.report.rejects import RejectsWriter
from target_zoho_crm.report.summary import RunSummary
from target_zoho_crm.settings.settings import TargetSettings
from target_zoho_crm.zoho.auth import TokenManager
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.token_cache import open_token_cache


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
        cache=open_token_cache(settings.token_cache_path),
        denied_wait=settings.token_wait_seconds,
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


class RunContext:
    """What every sink shares. Built with the target; connected (token, client, catalog) at the first
    SCHEMA so bad credentials fail before any data; closed once at the end of the run."""

    def __init__(
        self,
        config: Mapping[str, Any],
        settings: TargetSettings,
        redactor: Redactor,
        keeper: StateKeeper,
    ) -> None:
        self.config = dict(config)
        self.settings = settings
        self.redactor = redactor
        self.keeper = keeper
        self.rejects = RejectsWriter(settings.rejects_path, scrub=redactor.redact)
        self.summary = RunSummary()
        self.streams = StreamRegistry()
        self._to_close: list[Any] = []
        self._parts: LoadParts | None = None
        self._catalog: ModuleCatalog | None = None
        self._client: ZohoClient | None = None

    def connect(self) -> None:
        """Token, HTTP client, catalog, lookups and the call pool (once)."""
        if self._parts is not None:
            return
        settings = self.settings
        client = connect_client(self.config, redactor=self.redactor, settings=settings)
        self._client = client
        self._catalog = ModuleCatalog(client, settings.api_version)
        lookups = LookupResolver(client, self._catalog, use_coql=settings.use_coql)
        # The pool runs REST chunks; two more threads than calls allowed in flight keep the gate fed.
        pool = ThreadPoolExecutor(max_workers=settings.max_concurrency + 2, thread_name_prefix="zoho-call")
        self._parts = LoadParts(
            settings=settings,
            client=client,
            lookups=lookups,
            policy=LoadPolicy(settings, client, lookups, self.streams),
            keeper=self.keeper,
            pool=pool,
            summary=self.summary,
            rejects=self.rejects,
            close_at_end=self._to_close.append,
        )

    @property
    def parts(self) -> LoadParts:
        if self._parts is None:
            raise RuntimeError("the run is not connected yet (connect() runs at the first SCHEMA)")
        return self._parts

    @property
    def catalog(self) -> ModuleCatalog:
        self.parts  # noqa: B018 - raises when not connected
        assert self._catalog is not None
        return self._catalog

    @property
    def client(self) -> ZohoClient | None:
        """The run's client, once connected (None before the first SCHEMA)."""
        return self._client

    def close(self) -> None:
        for writer in self._to_close:
            writer.close()
        if self._parts is not None:
            self._parts.pool.shutdown(wait=True)


def run_context_of(target: Any) -> RunContext:
    """The run's shared parts, from the target that owns them (singer-sdk hands a sink only its target)."""
    run = getattr(target, "run", None)
    if not isinstance(run, RunContext):
        raise TypeError(f"{type(target).__name__} has no RunContext: a ZohoSink needs TargetZohoCRM")
    return run
