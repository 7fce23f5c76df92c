"""Create & Test (`target-zoho-crm --config c.json --test`): prove a configuration before any data moves.

It writes nothing — no record, no file: it obtains a token, reads the org (GET /org) and the metadata of
every configured stream's module, and checks each stream's module, operation, key fields and
`field_map` targets the way a load would (load/plan.py), so that every problem is listed at once. The
scopes a load needs are compared with those Zoho lists for the token when it lists them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from target_zoho_crm.errors import TargetZohoCRMError, ZohoAPIError
from target_zoho_crm.load.keys import upsert_match_order
from target_zoho_crm.load.plan import check_options, duplicate_checks, plan_stream
from target_zoho_crm.model import ModuleInfo
from target_zoho_crm.run import connect_client
from target_zoho_crm.settings.schema import CATCH_ALL_STREAM
from target_zoho_crm.settings.settings import StreamOptions, TargetSettings, stream_key
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.scopes import missing_scopes, module_scope, parse_scopes

METADATA_SCOPES = ("ZohoCRM.settings.modules.READ", "ZohoCRM.settings.fields.READ")
COQL_SCOPE = "ZohoCRM.coql.READ"
USERS_SCOPE = "ZohoCRM.users.READ"
BULK_SCOPES = ("ZohoCRM.bulk.CREATE", "ZohoFiles.files.ALL", "ZohoCRM.org.READ")


@dataclass
class TestReport:
    """What Create & Test found: lines to show, and the problems that would stop a load."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    needed_scopes: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append(f"  PROBLEM: {text}")

    @property
    def ok(self) -> bool:
        return not self.problems


def schemas_from_file(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The SCHEMA messages of a tap's output, by stream (the last one wins); other lines are skipped."""
    schemas: dict[str, dict[str, Any]] = {}
    for line in lines:
        if '"SCHEMA"' not in line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(message, dict)
            and message.get("type") == "SCHEMA"
            and isinstance(message.get("stream"), str)
        ):
            schema = message.get("schema")
            schemas[message["stream"]] = schema if isinstance(schema, dict) else {}
    return schemas


def create_and_test(
    config: Mapping[str, Any],
    settings: TargetSettings,
    *,
    schemas: Mapping[str, dict[str, Any]] | None = None,
    client_factory: Callable[..., ZohoClient] = connect_client,
) -> TestReport:
    """Run every check; the report lists what was found and every problem (none: a load could start)."""
    report = TestReport()
    client = client_factory(config, settings=settings)
    try:
        if not _authenticate(client, settings, report):
            return report
        _org(client, report)
        catalog = ModuleCatalog(client, settings.api_version)
        streams = _streams_to_check(settings, schemas or {})
        if not streams:
            report.say(
                "Streams: none configured (`streams`) and no --input SCHEMA: modules are matched "
                "by stream name when data arrives."
            )
        needed = [*METADATA_SCOPES]
        for name, schema in streams.items():
            needed += _check_stream(catalog, settings, name, schema, report)
        if settings.use_coql:
            needed.append(COQL_SCOPE)
        needed.append(USERS_SCOPE)
        if settings.api_type != "rest" or any(settings.stream_options(n).api_type != "rest" for n in streams):
            needed += BULK_SCOPES
        _scopes(client, list(dict.fromkeys(needed)), report)
    finally:
        client.close()
    return report


def _authenticate(client: ZohoClient, settings: TargetSettings, report: TestReport) -> bool:
    urls = settings.urls
    try:
        client.tokens.token()
    except TargetZohoCRMError as exc:
        report.say(f"Authentication: FAILED at {urls.accounts_url}")
        report.problem(str(exc))
        return False
    report.say(
        f"Authentication: OK at {urls.accounts_url} (data centre {settings.region}, {settings.environment}"
        f"; API {urls.api_url}, {settings.api_version})"
    )
    domain = client.tokens.api_domain
    if domain and domain.rstrip("/") != urls.api_url.rstrip("/"):
        report.say(f"  note: the accounts server names {domain} as this token's API domain")
    return True


def _org(client: ZohoClient, report: TestReport) -> None:
    try:
        body = client.get_json("/org") or {}
    except ZohoAPIError as exc:
        report.problem(f"GET /org failed: {exc}")
        return
    orgs = body.get("org") if isinstance(body, dict) else None
    org: dict[str, Any] = orgs[0] if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict) else {}
    raw_license = org.get("license_details")
    license_details: dict[str, Any] = raw_license if isinstance(raw_license, dict) else {}
    edition = license_details.get("paid_type") or ("paid" if license_details.get("paid") else "free")
    report.say(
        f"Org: {org.get('company_name') or '?'} (id {org.get('zgid') or org.get('id') or '?'}), edition "
        f"{edition}, time zone {org.get('time_zone') or '?'}, currency {org.get('iso_code') or '?'}"
    )


def _streams_to_check(settings: TargetSettings, schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Every stream of the --input SCHEMAs, and every configured `streams` key no SCHEMA stands for."""
    streams: dict[str, Any] = dict(schemas)
    covered = {stream_key(settings.streams, name) for name in schemas}
    for key in settings.streams:
        if key != CATCH_ALL_STREAM and key not in covered:
            streams[key] = None
    return streams


def _check_stream(
    catalog: ModuleCatalog,
    settings: TargetSettings,
    name: str,
    schema: dict[str, Any] | None,
    report: TestReport,
) -> list[str]:
    """One stream's lines (and problems); returns the scopes its load needs."""
    try:
        options = settings.stream_options(name)
        if schema is not None:
            plan = plan_stream(name, schema, catalog=catalog, settings=settings, options=options)
            module, operation, opts = plan.module, plan.operation, plan.options
            keys = list(plan.converter.key_fields) if operation == "upsert" else [plan.key_field or "-"]
            targets = {prop: meta.api_name for prop, meta in plan.mapper.mapping.items()}
        else:
            module = catalog.resolve(name, options.module)
            operation = options.operation
            opts = check_options(name, module, options)
            keys = _keys(module, operation, opts)
            targets = {prop: target for prop, target in opts.field_map.items() if target}
    except TargetZohoCRMError as exc:
        report.say(f"Stream {name!r}:")
        report.problem(str(exc))
        return []
    report.say(f"Stream {name!r} → module {module.api_name}: {operation} via {opts.api_type}")
    report.say(f"  matched on: {', '.join(keys) if keys else 'nothing: every record is new'}")
    for prop, target in targets.items():
        report.say(f"  {prop} → {target}")
    return [module_scope(module.api_name, module.generated_type, operation)]


def _keys(module: ModuleInfo, operation: str, options: StreamOptions) -> list[str]:
    if operation == "upsert":
        return upsert_match_order(module, duplicate_checks(module, options))
    if operation == "update":
        return [options.external_id_field or "id"]
    return []


def _scopes(client: ZohoClient, needed: list[str], report: TestReport) -> None:
    report.needed_scopes = needed
    granted = parse_scopes(client.tokens.scopes)
    report.say(f"Scopes needed: {', '.join(needed)}")
    if not granted:
        report.say(
            "  Zoho did not list this token's scopes: the calls above proved the metadata and org scopes;"
            " a missing write scope shows as OAUTH_SCOPE_MISMATCH at the first write."
        )
        return
    missing = missing_scopes(granted, needed)
    if missing:
        report.problem(
            f"the token lacks {', '.join(missing)} (granted: {', '.join(sorted(granted))}): generate a new "
            "grant code with the scopes needed and exchange it for a new refresh token."
        )
    else:
        report.say(f"  granted: {', '.join(sorted(granted))}: OK")
