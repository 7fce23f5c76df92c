"""StreamPlan: everything a stream's load is decided by, worked out once per SCHEMA.

`plan_stream` is a function of (catalog, settings, stream options, schema) with no effect on the run:
the module the stream loads into, the operation and API, the property → field mapping and the record
converter, the key records are matched and de-duplicated on, what a lost insert is reconciled by, the
modules its lookups point into, and the batch size. It is also the one place where a stream's
configuration is checked (`check_plan`), before the first write credit is spent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from target_zoho_crm.errors import ConfigError, FieldMapError
from target_zoho_crm.load.keys import check_stream_keys, upsert_match_order
from target_zoho_crm.model import ModuleInfo
from target_zoho_crm.names import did_you_mean, match_name
from target_zoho_crm.settings.settings import StreamOptions, TargetSettings
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.zoho.credits import BULK_RECORDS_PER_JOB, REST_CALLS_PER_WAVE, REST_RECORDS_PER_CALL

# A REST batch is one full wave of calls at Zoho's write concurrency of 10; a Bulk batch one job.
REST_BATCH_SIZE = REST_CALLS_PER_WAVE * REST_RECORDS_PER_CALL
BULK_BATCH_SIZE = BULK_RECORDS_PER_JOB
# Field types whose values may need resolving to Zoho ids (lookups, owners, subform and line-item rows).
LOOKUP_TYPES = frozenset(
    {"lookup", "ownerlookup", "userlookup", "multiselectlookup", "multiuserlookup", "subform"}
)


class ModuleResolver(Protocol):
    """What planning needs of the module catalog (zoho/metadata.py's ModuleCatalog)."""

    def resolve(self, stream_name: str, explicit: str | None = None) -> ModuleInfo: ...


@dataclass(frozen=True)
class StreamPlan:
    """How one stream (under one SCHEMA) is loaded; see the module docstring."""

    stream_name: str
    options: StreamOptions
    module: ModuleInfo
    operation: str
    api_type: str
    # An upsert configured with an External ID field matches on it first (Zoho's own order would try
    # the system duplicate-check field first).
    duplicate_check_fields: list[str] | None
    mapper: FieldMapper
    converter: RecordConverter
    key_field: str | None  # what a record is matched and de-duplicated on in Zoho; None for inserts
    reconcile_field: str | None  # what a lost insert is looked up by before it is resent
    related_modules: frozenset[str]  # modules this stream's lookups point into (parents first)
    has_rows: bool  # maps line items or subforms (Bulk Write cannot carry them)
    has_lookups: bool
    batch_size: int
    spooled: bool  # Bulk-sized batches wait on disk, REST batches in memory
    max_queued_batches: int  # unfinished batches the stream's lane keeps (memory bound)

    @property
    def ignored(self) -> dict[str, str]:
        """Properties that are not loaded, with the reason (logged once per SCHEMA)."""
        return dict(self.mapper.ignored)


def plan_stream(
    stream_name: str,
    schema: dict[str, Any],
    *,
    catalog: ModuleResolver,
    settings: TargetSettings,
    options: StreamOptions,
) -> StreamPlan:
    """The plan of `stream_name` under `schema`; raises the configuration's mistakes (see `check_plan`)."""
    module = catalog.resolve(stream_name, options.module)
    operation = options.operation or settings.operation
    api_type = options.api_type or settings.api_type
    options = check_options(stream_name, module, options)
    duplicate_check_fields = duplicate_checks(module, options)
    mapper = FieldMapper(module, schema.get("properties") or {}, options.field_map or {}, operation=operation)
    converter = RecordConverter(
        module,
        mapper,
        timezone=settings.timezone,
        operation=operation,
        api_version=settings.api_version,
        key_fields=upsert_match_order(module, duplicate_check_fields),
    )
    mapped = [meta for meta in mapper.mapping.values()]
    mapped_names = {meta.api_name for meta in mapped}
    key_field = _matching_key(operation, options, converter, mapped_names)
    unique = (*module.system_duplicate_fields, *module.unique_fields, *module.external_fields)
    line_items = module.line_items_field
    rest = api_type == "rest"
    plan = StreamPlan(
        stream_name=stream_name,
        options=options,
        module=module,
        operation=operation,
        api_type=api_type,
        duplicate_check_fields=duplicate_check_fields,
        mapper=mapper,
        converter=converter,
        key_field=key_field,
        reconcile_field=key_field or next((f for f in unique if f in mapped_names), None),
        related_modules=_related_modules(mapper, line_items),
        has_rows=any(m.data_type == "subform" or m.api_name == line_items for m in mapped),
        has_lookups=any(m.data_type in LOOKUP_TYPES or m.api_name == line_items for m in mapped),
        batch_size=int(settings.batch_size_rows or (REST_BATCH_SIZE if rest else BULK_BATCH_SIZE)),
        spooled=not rest,
        max_queued_batches=3 if rest else 2,  # batches of up to 25,000 records: keep few in memory
    )
    check_plan(plan)
    return plan


def duplicate_checks(module: ModuleInfo, options: StreamOptions) -> list[str] | None:
    """The `duplicate_check_fields` an upsert sends: the configured ones; else, with an External ID
    field, that field first and the module's system duplicate-check fields still beside it (without
    them a record Zoho already holds under, say, its Email but without an External ID yet would be a
    DUPLICATE_DATA); else None (Zoho's own order)."""
    if options.duplicate_check_fields is not None or not options.external_id_field:
        return options.duplicate_check_fields
    external = options.external_id_field
    return [external, *(f for f in module.system_duplicate_fields if f != external)]


def check_options(stream_name: str, module: ModuleInfo, options: StreamOptions) -> StreamOptions:
    """The stream's key fields and `field_map` targets against the module's fields, before the mapper
    and converter are built on them: returns the options with Zoho's API names."""
    duplicate_check_fields, external_id_field = check_stream_keys(
        module, options.duplicate_check_fields, options.external_id_field
    )
    for prop, target in options.field_map.items():
        if not target or target == "id":
            continue
        api_name = match_name(str(target), module.fields)
        if api_name is None:
            raise FieldMapError(
                f"streams.{stream_name}.field_map maps {prop!r} to {target!r}, which is not a field of "
                f"{module.api_name}{did_you_mean(str(target), module.fields)}."
            )
        if module.fields[api_name].read_only:
            writable = [f.api_name for f in module.fields.values() if not f.read_only]
            raise FieldMapError(
                f"streams.{stream_name}.field_map maps {prop!r} to {api_name}, a read-only field of "
                f"{module.api_name} that Zoho never writes{did_you_mean(str(target), writable)}."
            )
    return replace(
        options, duplicate_check_fields=duplicate_check_fields, external_id_field=external_id_field
    )


def check_plan(plan: StreamPlan) -> None:
    """The one place a stream's plan is checked, at SCHEMA time, before any write credit (REST, Bulk
    and dry runs alike). The options were checked against the module by `check_options`; this checks
    what needs the mapping: an update must have something to match records on."""
    if plan.operation == "update" and plan.key_field is None:
        key = plan.options.external_id_field or "id"
        raise ConfigError(
            f"Stream {plan.stream_name!r} updates {plan.module.api_name} but no property of its schema "
            f"is mapped to {key!r}, so no record could be matched: map the Zoho record id "
            f'(streams.{plan.stream_name}.field_map: {{"<property>": "id"}}) or set external_id_field '
            "to an External ID field the stream carries."
        )


def _matching_key(
    operation: str, options: StreamOptions, converter: RecordConverter, mapped: set[str]
) -> str | None:
    """The field a record is matched on (and de-duplicated by) in Zoho: None for an insert."""
    if operation == "update":
        candidates = [options.external_id_field or "id"]
    elif operation == "upsert":
        candidates = list(converter.key_fields)
    else:
        return None
    return next((field for field in candidates if field in mapped), None)


def _related_modules(mapper: FieldMapper, line_items: str | None) -> frozenset[str]:
    """Modules this stream's values may be looked up in: lookups, multi-select lookups (their
    connected module) and the products and price books of line items."""
    related: set[str] = set()
    for meta in mapper.mapping.values():
        if meta.lookup_module:
            related.add(meta.lookup_module)
        if meta.data_type == "multiselectlookup":
            connected = (meta.raw.get("multiselectlookup") or {}).get("connected_module")
            name = connected.get("api_name") if isinstance(connected, dict) else connected
            if name:
                related.add(str(name))
        if meta.api_name == line_items:
            related.update(("Products", "Price_Books"))
    return frozenset(related)
