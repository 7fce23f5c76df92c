"""The settings schema (`CONFIG_SCHEMA`): the source of `--about`, meltano.yml, the Hub file and the
README's settings table.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from target_zoho_crm.zoho.auth import DENIED_WAIT
from target_zoho_crm.zoho.regions import ENVIRONMENTS, REGIONS
from target_zoho_crm.zoho.versions import DEFAULT_API_VERSION, SUPPORTED_VERSIONS

API_VERSIONS = SUPPORTED_VERSIONS


API_TYPES = ("rest", "bulk", "auto")


OPERATIONS = ("upsert", "insert", "update")


TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")


SECRET_KEYS = ("client_secret", "refresh_token", "access_token")


# Defaults the sink and writers read through TargetSettings.
DEFAULT_MAX_CONCURRENCY = 10
# Zoho's concurrency limit is 5 (free) to 25 (ultimate) calls in flight: more only earns 429s.
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 25


UNMATCHED_STREAMS = ("fail", "skip")


DEFAULT_REQUEST_TIMEOUT = 60.0


DEFAULT_MAX_RETRIES = 8


DEFAULT_PROGRESS_INTERVAL = 15.0


DEFAULT_BULK_POLL_MAX_INTERVAL = 30.0


DEFAULT_BULK_JOB_TIMEOUT = 4 * 3600.0


DEFAULT_BULK_MAX_JOBS_IN_FLIGHT = 2


DEFAULT_STATE_FLUSH_SECONDS = 2.0


CATCH_ALL_STREAM = "*"


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
    th.Property(
        "allow_keyless_inserts",
        th.BooleanType,
        default=False,
        description="Upsert only: a record with no value in any field Zoho matches on (key empty, null or "
        "only spaces) is inserted as a new record instead of being rejected with MISSING_KEY. Off by "
        "default: such a record would be inserted again on every run.",
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
        "token_cache_path",
        th.StringType,
        description="File where access tokens are kept between runs and shared by parallel runs (Zoho "
        "issues only 10 per refresh token in 10 minutes). Holds no refresh token or client secret; mode "
        "0600, locked while in use. Unset: $XDG_CACHE_HOME/target-zoho-crm/tokens.json (else "
        '~/.cache/target-zoho-crm/tokens.json). "off" (or an empty string) turns the cache off.',
    ),
    th.Property(
        "token_wait_seconds",
        th.NumberType,
        default=DENIED_WAIT,
        description="How long a run waits, asking again every 30 s, when Zoho answers Access Denied "
        "(too many access tokens from one refresh token in 10 minutes) and no cached token is still "
        "valid. 0 stops the run at once.",
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
        default=DEFAULT_API_VERSION,
        allowed_values=list(API_VERSIONS),
        description="Zoho CRM API version: v2, v2.1, v3, v4, v5, v6, v7 or v8. Decides the paths, the "
        "data model (v2 line items are Product_Details, later versions per-module subforms) and the "
        "limits the target keeps to (COQL: 50 `in` values through v6, 100 from v7).",
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
        'external_id_field, field_map, api_type, allow_keyless_inserts. The key "*" applies to every stream without an entry '
        "of its own.",
    ),
    th.Property(
        "unmatched_streams",
        th.StringType,
        default="fail",
        allowed_values=list(UNMATCHED_STREAMS),
        description="A stream whose name matches no module (and has no `streams.<name>.module`): fail "
        "stops the run before writing, naming every such stream; skip logs each once and loads the "
        "others. `stream_maps: {<stream>: __NULL__}` drops one stream before matching.",
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
        description="Maximum API calls in flight at once, 1 to 25 (Zoho's concurrency limit per edition: "
        "5 to 25).",
    ),
    th.Property(
        "rejects_path",
        th.StringType,
        description="JSON Lines file receiving every record Zoho or the local checks refused, with the "
        "reason.",
    ),
    th.Property(
        "rejects_include_unmapped",
        th.BooleanType,
        default=False,
        description="Copy a rejected record whole into the rejects file. Default: only the properties "
        "the stream maps to Zoho fields and its key properties (a column that is not loaded, such as a "
        "password hash, is never copied).",
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        description="The run ends with exit code 3 when more records than this were rejected (every "
        "record is still handled). Unset: no limit.",
    ),
    th.Property(
        "max_credits",
        th.IntegerType,
        description="The run's own budget of Zoho API credits (Zoho's published prices): a call that "
        "would pass it is never sent, and the run ends with exit code 1, STATE behind what was written. "
        "Unset: no limit but Zoho's daily one.",
    ),
    th.Property(
        "progress_interval",
        th.NumberType,
        default=DEFAULT_PROGRESS_INTERVAL,
        description="Seconds between progress lines in the log (one per stream: read, written, rejected, "
        "rate, credits; Bulk jobs' status). 0 turns them off.",
    ),
    th.Property(
        "report_path",
        th.StringType,
        description="JSON file written at the end of every run with the summary (per-stream counts, "
        "credits, wall time, why the run stopped, records read but not written), for orchestrators.",
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
        "skip_unchanged",
        th.BooleanType,
        default=True,
        description="Before an upsert or update, read what Zoho holds for the batch's keys (COQL) and do "
        "not send a record equal field by field to it: no credit, no Modified_Time change, no workflow. "
        "Counted as `unchanged` in the summary.",
    ),
    th.Property(
        "existing_read",
        th.StringType(allowed_values=["auto", "in", "scan"]),
        default="auto",
        description="How what Zoho holds is read: `in` (COQL `in` queries per batch, 1 credit per 50 "
        "keys, 100 from v7), `scan` (one keyset scan of the module per stream, 3 credits per 2,000 "
        "records), or `auto` (the cheaper of the two as the stream grows; see docs/credits.md).",
    ),
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        description="A record whose `_sdc_deleted_at` is set deletes the Zoho record with its key (to "
        "Zoho's recycle bin); false: `_sdc_deleted_at` is an ordinary property.",
    ),
    th.Property(
        "plan_path",
        th.StringType,
        description="With dry_run: a JSON Lines file with one line per input record: stream, module, "
        "key, action (insert / update / unchanged / delete / reject) and, for an update, the fields that "
        "would change.",
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
        description="Bulk Write jobs per stream that may run at once while the target keeps reading: a "
        "batch's job starts while earlier ones run when they share no key (a batch that updates a key of "
        "a running job waits for it).",
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
