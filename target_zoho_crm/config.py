"""Settings schema, data centres → URLs, and per-stream options.

Everything the target reads from its config goes through this module so the names, defaults and the
region table live in one place (`--about`, meltano.yml and the README are generated from / checked
against `CONFIG_SCHEMA`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

# --------------------------------------------------------------------------------------------------
# Data centres (reference §1.1; Zoho "Multi DC Support" page
# https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html and the official SDKs' dc/*_data_center.py)
# --------------------------------------------------------------------------------------------------

ENVIRONMENTS = ("production", "sandbox", "developer")
_ENV_HOST_PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


@dataclass(frozen=True)
class Region:
    """One Zoho data centre: its accounts server, API domain suffix and file-upload host."""

    accounts: str  # OAuth server; token URL is accounts + "/oauth/v2/token"
    api_host_tld: str  # "zohoapis.com" → www./sandbox./developer.zohoapis.com
    upload: str  # bulk-write upload host (the SDKs' getFileUploadUrl)
    verified: bool = True

    def api_url(self, environment: str = "production") -> str:
        return f"https://{_ENV_HOST_PREFIX[environment]}.{self.api_host_tld}"


REGIONS: dict[str, Region] = {
    "US": Region("https://accounts.zoho.com", "zohoapis.com", "https://content.zohoapis.com"),
    "EU": Region("https://accounts.zoho.eu", "zohoapis.eu", "https://content.zohoapis.eu"),
    "IN": Region("https://accounts.zoho.in", "zohoapis.in", "https://content.zohoapis.in"),
    "AU": Region("https://accounts.zoho.com.au", "zohoapis.com.au", "https://content.zohoapis.com.au"),
    "CN": Region("https://accounts.zoho.com.cn", "zohoapis.com.cn", "https://content.zohoapis.com.cn"),
    "JP": Region("https://accounts.zoho.jp", "zohoapis.jp", "https://content.zohoapis.jp"),
    # Canada: accounts and upload live on zohocloud.ca, the API on zohoapis.ca (SDK CADataCenter).
    "CA": Region("https://accounts.zohocloud.ca", "zohoapis.ca", "https://upload.zohocloud.ca"),
    # Saudi Arabia: in the v8 SDKs (SADataCenter) and Zoho Accounts' DC list, not on the CRM multi-DC page.
    "SA": Region("https://accounts.zoho.sa", "zohoapis.sa", "https://files.zoho.sa"),
    # UNVERIFIED for CRM: Zoho Accounts lists a UK server; no CRM doc or SDK confirms the API/upload hosts.
    "UK": Region("https://accounts.zoho.uk", "zohoapis.uk", "https://content.zohoapis.uk", verified=False),
    # UNVERIFIED for CRM: zohoapis.ae appears in WorkDrive docs only; upload host follows WorkDrive (files.).
    "AE": Region("https://accounts.zoho.ae", "zohoapis.ae", "https://files.zoho.ae", verified=False),
}

API_VERSIONS = ("v4", "v2.1", "v2")
API_TYPES = ("rest", "bulk", "auto")
OPERATIONS = ("upsert", "insert", "update")
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")
SECRET_KEYS = ("client_secret", "refresh_token", "access_token")

# Defaults the sink and writers read through TargetSettings.
DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_REQUEST_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 8
DEFAULT_BULK_POLL_MAX_INTERVAL = 30.0
DEFAULT_BULK_JOB_TIMEOUT = 4 * 3600.0
DEFAULT_BULK_MAX_JOBS_IN_FLIGHT = 2
DEFAULT_STATE_FLUSH_SECONDS = 2.0
CATCH_ALL_STREAM = "*"


class ConfigError(ValueError):
    """A setting is invalid; the message says which one and how to fix it."""


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------

_region_values = [*REGIONS, *(r.lower() for r in REGIONS)]

_STREAM_OPTIONS = th.ObjectType(
    th.Property(
        "module",
        th.StringType,
        description="Zoho module API name to load this stream into (default: matched from the stream name).",
    ),
    th.Property(
        "operation",
        th.StringType,
        allowed_values=list(OPERATIONS),
        description="Overrides the global `operation` for this stream.",
    ),
    th.Property(
        "duplicate_check_fields",
        th.ArrayType(th.StringType),
        description="Upsert matching fields, in order (Zoho `duplicate_check_fields`): system duplicate "
        "fields or unique fields of the module.",
    ),
    th.Property(
        "external_id_field",
        th.StringType,
        description="API name of the module's External ID field to match records on (update/upsert).",
    ),
    th.Property(
        "field_map",
        th.ObjectType(additional_properties=th.StringType),
        description="Stream property → Zoho field API name. Wins over the automatic name matching.",
    ),
    th.Property(
        "api_type",
        th.StringType,
        allowed_values=list(API_TYPES),
        description="Overrides the global `api_type` for this stream.",
    ),
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "client_id",
        th.StringType,
        description="OAuth client ID from the Zoho API console (self client or server-based client).",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="OAuth client secret of `client_id`.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        description="OAuth refresh token (access_type=offline) issued by the region's accounts server; "
        "the target refreshes access tokens with it.",
    ),
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        description="A ready access token for short runs (expires after 1 hour; cannot be refreshed). "
        "Used instead of client_id/client_secret/refresh_token.",
    ),
    th.Property(
        "region",
        th.StringType,
        default="US",
        allowed_values=_region_values,
        description="Zoho data centre of the CRM org: US, EU, IN, AU, CN, JP, CA or SA (UK and AE are "
        "accepted but their CRM hosts are unverified). Case-insensitive.",
    ),
    th.Property(
        "environment",
        th.StringType,
        default="production",
        allowed_values=list(ENVIRONMENTS),
        description="CRM environment: production (www.zohoapis.*), sandbox or developer.",
    ),
    th.Property(
        "accounts_url",
        th.StringType,
        description="Overrides the region's accounts server (OAuth), e.g. a proxy or the bundled "
        "emulator. http:// only for loopback addresses.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        description="Overrides the API domain (e.g. https://www.zohoapis.com, or the emulator). "
        "http:// only for loopback addresses.",
    ),
    th.Property(
        "upload_url",
        th.StringType,
        description="Overrides the Bulk Write file-upload host. http:// only for loopback addresses.",
    ),
    th.Property(
        "api_version",
        th.StringType,
        default="v4",
        allowed_values=list(API_VERSIONS),
        description="Zoho CRM API version; decides module names and the data model (e.g. v2 line items "
        "are Product_Details).",
    ),
    th.Property(
        "api_type",
        th.StringType,
        default="rest",
        allowed_values=list(API_TYPES),
        description="rest: ≤100 records per call; bulk: Bulk Write jobs; auto: per batch, whichever "
        "costs fewer API credits.",
    ),
    th.Property(
        "use_coql",
        th.BooleanType,
        default=True,
        description="Read existing IDs and lookups with COQL (batched `in` queries); false uses the "
        "Search API.",
    ),
    th.Property(
        "operation",
        th.StringType,
        default="upsert",
        allowed_values=list(OPERATIONS),
        description="Default write operation: upsert (match on duplicate check / External ID fields), "
        "insert, or update (by id or External ID).",
    ),
    th.Property(
        "streams",
        th.ObjectType(additional_properties=_STREAM_OPTIONS),
        description="Per-stream options keyed by stream name: module, operation, duplicate_check_fields, "
        'external_id_field, field_map, api_type. The key "*" applies to every stream without an entry '
        "of its own.",
    ),
    th.Property(
        "trigger",
        th.ArrayType(th.StringType(allowed_values=list(TRIGGERS))),
        description="Automations Zoho runs on write (workflow, approval, blueprint). Unset: Zoho's "
        "default (all); [] runs none.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=DEFAULT_MAX_CONCURRENCY,
        description="Maximum API calls in flight at once (Zoho's concurrency limit per edition: 5 to 25).",
    ),
    th.Property(
        "rejects_path",
        th.StringType,
        description="JSON Lines file receiving every record Zoho or the local checks refused, with the "
        "reason.",
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        description="The run ends with exit code 3 when more records than this were rejected (every "
        "record is still handled). Unset: no limit.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Resolve modules, map and validate records, but write nothing to Zoho.",
    ),
    th.Property(
        "timezone",
        th.StringType,
        default="UTC",
        description="IANA time zone for date-times that carry no offset.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=DEFAULT_REQUEST_TIMEOUT,
        description="Seconds to wait for a Zoho response before the call is retried (or reconciled).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULT_MAX_RETRIES,
        description="Attempts per call on 429, 5xx, timeouts and dropped connections (exponential "
        "backoff with jitter).",
    ),
    th.Property(
        "state_flush_seconds",
        th.NumberType,
        default=DEFAULT_STATE_FLUSH_SECONDS,
        description="When the tap has sent a STATE, records buffered longer than this are written at once "
        "so that the STATE can be echoed (REST streams; Bulk streams wait at least 30 s to keep jobs "
        "large). Bounds how much a crash can cost.",
    ),
    th.Property(
        "check_ambiguous_keys",
        th.BooleanType,
        default=True,
        description="Before an upsert into a module that already held records, read the matching keys "
        "(COQL, 1 credit per 50 keys) and reject records whose key matches several Zoho records instead "
        "of letting Zoho update an arbitrary one.",
    ),
    th.Property(
        "bulk_poll_max_interval",
        th.NumberType,
        default=DEFAULT_BULK_POLL_MAX_INTERVAL,
        description="Ceiling in seconds of the growing interval between Bulk Write job status polls.",
    ),
    th.Property(
        "bulk_max_jobs_in_flight",
        th.IntegerType,
        default=DEFAULT_BULK_MAX_JOBS_IN_FLIGHT,
        description="Bulk Write jobs per stream that may run at once while the target keeps reading.",
    ),
    th.Property(
        "bulk_job_timeout",
        th.NumberType,
        default=DEFAULT_BULK_JOB_TIMEOUT,
        description="Seconds a Bulk Write job may stay in progress before the run stops waiting for it: "
        "its records are then rejected with BULK_JOB_FAILED, status TIMED_OUT (Zoho may still finish the job: check it "
        "before loading them again).",
    ),
).to_dict()


# --------------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZohoUrls:
    """Base URLs without a trailing slash."""

    accounts_url: str
    api_url: str
    upload_url: str

    @property
    def token_url(self) -> str:
        return f"{self.accounts_url}/oauth/v2/token"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (the only hosts plain http:// may name)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, setting: str) -> str:
    """Validate one base URL: https anywhere, http only on loopback; returns it without trailing '/'."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"`{setting}` must be an absolute https:// URL, got {url!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"`{setting}` uses plain http:// for {parts.hostname}: only loopback addresses "
            "(localhost, 127.0.0.0/8, ::1) may skip TLS. Use https://."
        )
    return url.strip().rstrip("/")


def normalize_region(value: Any) -> str:
    region = str(value or "US").strip().upper()
    if region not in REGIONS:
        raise ConfigError(f"Unknown `region` {value!r}: use one of {', '.join(REGIONS)}.")
    return region


def normalize_environment(value: Any) -> str:
    env = str(value or "production").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"Unknown `environment` {value!r}: use one of {', '.join(ENVIRONMENTS)}.")
    return env


def resolve_urls(config: Mapping[str, Any]) -> ZohoUrls:
    """Region + environment → URLs; `accounts_url`/`api_url`/`upload_url` override them."""
    region = REGIONS[normalize_region(config.get("region"))]
    env = normalize_environment(config.get("environment"))
    return ZohoUrls(
        accounts_url=check_url(config.get("accounts_url") or region.accounts, "accounts_url"),
        api_url=check_url(config.get("api_url") or region.api_url(env), "api_url"),
        upload_url=check_url(config.get("upload_url") or region.upload, "upload_url"),
    )


# --------------------------------------------------------------------------------------------------
# Per-stream options and run-wide settings
# --------------------------------------------------------------------------------------------------


def _get(config: Mapping[str, Any], key: str, default: Any) -> Any:
    value = config.get(key)
    return default if value is None else value


def _loose(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass
class StreamOptions:
    """Options for one stream, with the global `operation`/`api_type` already folded in."""

    module: str | None = None
    operation: str = "upsert"
    duplicate_check_fields: list[str] | None = None
    external_id_field: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)
    api_type: str = "rest"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], stream_name: str) -> StreamOptions:
        """Exact `streams` key first; else a key equal to the stream name ignoring case/separators;
        else the catch-all key "*"."""
        streams: Mapping[str, Any] = config.get("streams") or {}
        raw = streams.get(stream_name)
        if raw is None:
            # Same name ignoring case/separators, then without a tap's schema prefix ("public-leads"
            # configured as "leads"); the most specific form that matches wins.
            from target_zoho_crm.catalog import stream_name_forms

            for form in stream_name_forms(stream_name):
                loose = [key for key in streams if _loose(key) == _loose(form)]
                if len(loose) > 1:
                    raise ConfigError(f"`streams` has several keys matching stream {stream_name!r}: {loose}.")
                if loose:
                    raw = streams[loose[0]]
                    break
        if raw is None:
            raw = streams.get(CATCH_ALL_STREAM)
        raw = raw or {}
        operation = raw.get("operation") or config.get("operation") or "upsert"
        api_type = raw.get("api_type") or config.get("api_type") or "rest"
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
    max_rejects: int | None
    dry_run: bool
    timezone: str
    request_timeout: float
    max_retries: int
    bulk_poll_max_interval: float
    bulk_max_jobs_in_flight: int
    batch_size_rows: int | None
    bulk_job_timeout: float = DEFAULT_BULK_JOB_TIMEOUT
    state_flush_seconds: float = DEFAULT_STATE_FLUSH_SECONDS
    check_ambiguous_keys: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        version = str(config.get("api_version") or "v4")
        if version not in API_VERSIONS:
            raise ConfigError(f"`api_version` {version!r}: use one of {', '.join(API_VERSIONS)}.")
        has_refresh = all(config.get(k) for k in ("client_id", "client_secret", "refresh_token"))
        if not has_refresh and not config.get("access_token"):
            raise ConfigError(
                "No Zoho credentials: set client_id, client_secret and refresh_token (or access_token "
                "for a short run)."
            )
        trigger = config.get("trigger")
        max_concurrency = int(_get(config, "max_concurrency", DEFAULT_MAX_CONCURRENCY))
        if max_concurrency < 1:
            raise ConfigError("`max_concurrency` must be at least 1.")
        max_rejects = config.get("max_rejects")
        return cls(
            urls=resolve_urls(config),
            region=normalize_region(config.get("region")),
            environment=normalize_environment(config.get("environment")),
            api_version=version,
            api_type=str(config.get("api_type") or "rest"),
            use_coql=bool(config.get("use_coql", True)),
            operation=str(config.get("operation") or "upsert"),
            trigger=None if trigger is None else list(trigger),
            max_concurrency=max_concurrency,
            rejects_path=config.get("rejects_path") or None,
            max_rejects=None if max_rejects is None else int(max_rejects),
            dry_run=bool(config.get("dry_run", False)),
            timezone=str(config.get("timezone") or "UTC"),
            request_timeout=float(_get(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT)),
            max_retries=int(_get(config, "max_retries", DEFAULT_MAX_RETRIES)),
            bulk_poll_max_interval=float(
                _get(config, "bulk_poll_max_interval", DEFAULT_BULK_POLL_MAX_INTERVAL)
            ),
            bulk_max_jobs_in_flight=int(
                _get(config, "bulk_max_jobs_in_flight", DEFAULT_BULK_MAX_JOBS_IN_FLIGHT)
            ),
            batch_size_rows=config.get("batch_size_rows"),
            bulk_job_timeout=float(_get(config, "bulk_job_timeout", DEFAULT_BULK_JOB_TIMEOUT)),
            state_flush_seconds=float(_get(config, "state_flush_seconds", DEFAULT_STATE_FLUSH_SECONDS)),
            check_ambiguous_keys=bool(config.get("check_ambiguous_keys", True)),
        )
