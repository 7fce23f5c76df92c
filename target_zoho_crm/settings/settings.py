"""The run's settings and per-stream options, parsed once from the config and checked once.

Defaults come only from the settings schema (settings/schema.py's `CONFIG_SCHEMA`, the source of
`--about`, meltano.yml and the README); the data-centre table is zoho/regions.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.names import loose, stream_name_forms
from target_zoho_crm.settings.schema import (
    API_TYPES,
    CATCH_ALL_STREAM,
    CONFIG_SCHEMA,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    OPERATIONS,
)
from target_zoho_crm.zoho.regions import ZohoUrls, normalize_environment, normalize_region, resolve_urls
from target_zoho_crm.zoho.versions import api_version

# --------------------------------------------------------------------------------------------------
# Data centres (reference §1.1; Zoho "Multi DC Support" page
# https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html and the official SDKs' dc/*_data_center.py)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Per-stream options and run-wide settings
# --------------------------------------------------------------------------------------------------


def _default(key: str) -> Any:
    """The default of a setting, as CONFIG_SCHEMA states it (None when it has none)."""
    return CONFIG_SCHEMA["properties"][key].get("default")


def _setting(config: Mapping[str, Any], key: str) -> Any:
    """A setting's value, or its default."""
    value = config.get(key)
    return _default(key) if value is None else value


def check_timezone(name: str) -> None:
    """An IANA time zone name, checked at start rather than on the first date-time."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"`timezone` {name!r} is not a known time zone: use an IANA name such as 'Europe/Paris' or 'UTC'."
        ) from None


def stream_key(streams: Mapping[str, Any], stream_name: str) -> str | None:
    """The `streams` key configuring `stream_name` (None: only the catch-all "*" or nothing): the exact
    name, else the same name ignoring case/separators, then without a tap's schema prefix ("public-leads"
    configured as "leads"); the most specific form that matches wins."""
    if stream_name in streams:
        return stream_name
    for form in stream_name_forms(stream_name):
        matches = [key for key in streams if key != CATCH_ALL_STREAM and loose(key) == loose(form)]
        if len(matches) > 1:
            raise ConfigError(f"`streams` has several keys matching stream {stream_name!r}: {matches}.")
        if matches:
            return matches[0]
    return None


@dataclass
class StreamOptions:
    """Options for one stream, with the global `operation`/`api_type` already folded in."""

    module: str | None = None
    operation: str = _default("operation")
    duplicate_check_fields: list[str] | None = None
    external_id_field: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)
    api_type: str = _default("api_type")
    allow_keyless_inserts: bool = False  # an upsert with no value to match on is inserted, not rejected

    @classmethod
    def from_config(cls, config: Mapping[str, Any], stream_name: str) -> StreamOptions:
        """Exact `streams` key first; else a key equal to the stream name ignoring case/separators;
        else the catch-all key "*"."""
        streams: Mapping[str, Any] = config.get("streams") or {}
        key = stream_key(streams, stream_name)
        raw = streams.get(key) if key is not None else streams.get(CATCH_ALL_STREAM)
        raw = raw or {}
        operation = raw.get("operation") or _setting(config, "operation")
        api_type = raw.get("api_type") or _setting(config, "api_type")
        if operation not in OPERATIONS:
            raise ConfigError(f"streams.{stream_name}.operation {operation!r}: use one of {OPERATIONS}.")
        if api_type not in API_TYPES:
            raise ConfigError(f"streams.{stream_name}.api_type {api_type!r}: use one of {API_TYPES}.")
        dup = raw.get("duplicate_check_fields")
        return cls(
            module=raw.get("module") or None,
            operation=operation,
            duplicate_check_fields=list(dup) if dup else None,
            external_id_field=raw.get("external_id_field") or None,
            field_map=dict(raw.get("field_map") or {}),
            api_type=api_type,
            allow_keyless_inserts=raw.get("allow_keyless_inserts") is True,
        )


@dataclass(frozen=True)
class TargetSettings:
    """The run-wide settings, normalised and defaulted, as the sink and writers consume them."""

    urls: ZohoUrls
    region: str
    environment: str
    api_version: str
    api_type: str
    use_coql: bool
    operation: str
    trigger: list[str] | None
    max_concurrency: int
    rejects_path: str | None
    rejects_include_unmapped: bool
    max_rejects: int | None
    max_credits: int | None
    progress_interval: float
    report_path: str | None
    dry_run: bool
    timezone: str
    request_timeout: float
    max_retries: int
    bulk_poll_max_interval: float
    bulk_max_jobs_in_flight: int
    batch_size_rows: int | None
    bulk_job_timeout: float
    state_flush_seconds: float
    check_ambiguous_keys: bool
    skip_unchanged: bool
    existing_read: str
    hard_delete: bool
    plan_path: str | None
    unmatched_streams: str
    token_cache_path: str | None  # None: the default file; "off" or "": no cache (zoho/token_cache.py)
    token_wait_seconds: float
    streams: dict[str, Any]  # `streams`: per-stream options, by name

    def stream_options(self, stream_name: str) -> StreamOptions:
        """The options of `stream_name` (see StreamOptions.from_config), from the config parsed once."""
        return StreamOptions.from_config(
            {"streams": self.streams, "operation": self.operation, "api_type": self.api_type}, stream_name
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        version = api_version(_setting(config, "api_version")).name
        token_wait = float(_setting(config, "token_wait_seconds"))
        if token_wait < 0:
            raise ConfigError("`token_wait_seconds` must be 0 or more (0: stop at once on Access Denied).")
        has_refresh = all(config.get(k) for k in ("client_id", "client_secret", "refresh_token"))
        if not has_refresh and not config.get("access_token"):
            raise ConfigError(
                "No Zoho credentials: set client_id, client_secret and refresh_token (or access_token "
                "for a short run)."
            )
        trigger = config.get("trigger")
        max_concurrency = int(_setting(config, "max_concurrency"))
        if not MIN_CONCURRENCY <= max_concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"`max_concurrency` {max_concurrency} is out of range: use {MIN_CONCURRENCY} to "
                f"{MAX_CONCURRENCY} (Zoho allows 5 to 25 calls in flight by edition; the default is "
                f"{_default('max_concurrency')})."
            )
        max_rejects = config.get("max_rejects")
        max_credits = config.get("max_credits")
        if max_credits is not None and int(max_credits) < 1:
            raise ConfigError("`max_credits` must be at least 1 (leave it unset for no limit).")
        progress_interval = float(_setting(config, "progress_interval"))
        if progress_interval < 0:
            raise ConfigError("`progress_interval` must be 0 (off) or a number of seconds.")
        for key in ("request_timeout", "bulk_poll_max_interval", "bulk_job_timeout", "state_flush_seconds"):
            if float(_setting(config, key)) <= 0:
                raise ConfigError(f"`{key}` must be more than 0 seconds (default {_default(key)}).")
        if int(_setting(config, "bulk_max_jobs_in_flight")) < 1:
            raise ConfigError("`bulk_max_jobs_in_flight` must be at least 1 (default 2).")
        if int(_setting(config, "max_retries")) < 0:
            raise ConfigError("`max_retries` must be 0 or more (default 8).")
        if max_rejects is not None and int(max_rejects) < 0:
            raise ConfigError("`max_rejects` must be 0 or more (unset: no limit).")
        check_timezone(str(_setting(config, "timezone")))
        return cls(
            urls=resolve_urls(config),
            region=normalize_region(_setting(config, "region")),
            environment=normalize_environment(_setting(config, "environment")),
            api_version=version,
            api_type=str(_setting(config, "api_type")),
            use_coql=bool(_setting(config, "use_coql")),
            operation=str(_setting(config, "operation")),
            trigger=None if trigger is None else list(trigger),
            max_concurrency=max_concurrency,
            rejects_path=config.get("rejects_path") or None,
            rejects_include_unmapped=bool(_setting(config, "rejects_include_unmapped")),
            max_rejects=None if max_rejects is None else int(max_rejects),
            max_credits=None if max_credits is None else int(max_credits),
            progress_interval=progress_interval,
            report_path=config.get("report_path") or None,
            dry_run=bool(_setting(config, "dry_run")),
            timezone=str(_setting(config, "timezone")),
            request_timeout=float(_setting(config, "request_timeout")),
            max_retries=int(_setting(config, "max_retries")),
            bulk_poll_max_interval=float(_setting(config, "bulk_poll_max_interval")),
            bulk_max_jobs_in_flight=int(_setting(config, "bulk_max_jobs_in_flight")),
            batch_size_rows=config.get("batch_size_rows"),
            bulk_job_timeout=float(_setting(config, "bulk_job_timeout")),
            state_flush_seconds=float(_setting(config, "state_flush_seconds")),
            check_ambiguous_keys=bool(_setting(config, "check_ambiguous_keys")),
            skip_unchanged=bool(_setting(config, "skip_unchanged")),
            existing_read=str(_setting(config, "existing_read")),
            hard_delete=bool(_setting(config, "hard_delete")),
            plan_path=config.get("plan_path") or None,
            unmatched_streams=str(_setting(config, "unmatched_streams")),
            token_cache_path=None
            if config.get("token_cache_path") is None
            else str(config["token_cache_path"]),
            token_wait_seconds=token_wait,
            streams=dict(config.get("streams") or {}),
        )
