"""Module catalog: which Zoho modules exist (`/settings/modules`), their fields (`/settings/fields`), and
which module a stream loads into.

Both metadata calls cost a credit each (reference §9.1), so they are made once per run and cached, and
the module list only when it is needed: a standard module (Leads, Accounts, ... whose API names Zoho
never changes, and whose duplicate-check fields are known) is found by its fields alone, so a load into
it costs one metadata credit, not two. Modules API:
https://www.zoho.com/crm/developer/docs/api/v4/modules-api.html; fields API:
https://www.zoho.com/crm/developer/docs/api/v4/field-meta.html.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from target_zoho_crm.errors import UnknownStreamError, UnmatchedStreamError, ZohoAPIError
from target_zoho_crm.model import FieldMeta, ModuleInfo
from target_zoho_crm.names import closest, normalize, stream_name_forms
from target_zoho_crm.zoho.client import ZohoClient

# System-defined duplicate check fields (upsert page "How does the duplicate check work?",
# https://www.zoho.com/crm/developer/docs/api/v4/upsert-records.html; reference §3). Custom modules: Name.
SYSTEM_DUPLICATE_FIELDS: dict[str, list[str]] = {
    "Leads": ["Email"],
    "Contacts": ["Email"],
    "Accounts": ["Account_Name"],
    "Deals": ["Deal_Name"],
    "Campaigns": ["Campaign_Name"],
    "Cases": ["Subject"],
    "Solutions": ["Solution_Title"],
    "Products": ["Product_Name"],
    "Vendors": ["Vendor_Name"],
    "Price_Books": ["Price_Book_Name"],
    "Quotes": ["Subject"],
    "Sales_Orders": ["Subject"],
    "Purchase_Orders": ["Subject"],
    "Invoices": ["Subject"],
}


def _module_keys(module: dict[str, Any]) -> set[str]:
    """What a stream name may spell: the API name and the singular and plural labels (current and
    original), not the internal `module_name` ("CustomModule1")."""
    names = [
        module.get("api_name"),
        module.get("singular_label"),
        module.get("plural_label"),
        module.get("actual_singular_label"),
        module.get("actual_plural_label"),
    ]
    return {normalize(str(n)) for n in names if n}


def is_target_module(module: dict[str, Any]) -> bool:
    """Only modules the API can create records in are load targets (not subforms, reports, ...)."""
    return bool(module.get("api_supported", True)) and bool(module.get("creatable", False))


class ModuleCatalog:
    """The org's modules and fields for one API version, fetched once and shared by every sink."""

    def __init__(self, client: ZohoClient, api_version: str) -> None:
        self.client = client
        self.api_version = api_version
        self._lock = threading.Lock()
        self._modules: list[dict[str, Any]] | None = None
        self._infos: dict[str, ModuleInfo] = {}
        self._module_locks: dict[str, threading.Lock] = {}

    # ----------------------------------------------------------------------------------------------

    def modules_raw(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._modules is None:
                body = self.client.get_json("/settings/modules") or {}
                self._modules = [m for m in body.get("modules") or [] if isinstance(m, dict)]
            return self._modules

    def module_names(self) -> list[str]:
        """API names of the modules records can be written to."""
        return [str(m["api_name"]) for m in self.modules_raw() if is_target_module(m) and m.get("api_name")]

    def _raw(self, api_name: str) -> dict[str, Any] | None:
        for m in self.modules_raw():
            if m.get("api_name") == api_name:
                return m
        return None

    # ----------------------------------------------------------------------------------------------

    def resolve(self, stream_name: str, explicit: str | None = None) -> ModuleInfo:
        """The module a stream loads into: `explicit` (streams.<name>.module) or matched by name."""
        standard = _standard_module(explicit) if explicit else _standard_module(stream_name)
        if standard is not None:
            try:
                return self.module(standard)
            except ZohoAPIError as exc:
                if exc.status != 400:
                    raise
                # Not a module of this org (INVALID_MODULE): the module list explains, with candidates.
        targets = [m for m in self.modules_raw() if is_target_module(m) and m.get("api_name")]
        if explicit:
            api_name = self._match_explicit(stream_name, explicit, targets)
        else:
            api_name = self._match_stream(stream_name, targets)
        return self.module(api_name)

    def _match_explicit(self, stream_name: str, explicit: str, targets: list[dict[str, Any]]) -> str:
        names = [str(m["api_name"]) for m in targets]
        if explicit in names:
            return explicit
        loose = [m for m in targets if normalize(explicit) in _module_keys(m)]
        if len(loose) == 1:
            return str(loose[0]["api_name"])
        raw = self._raw(explicit)
        why = "does not accept records through the API" if raw else "is not a module of this org"
        raise UnknownStreamError(
            stream_name,
            f"streams.{stream_name}.module {explicit!r} {why} (API {self.api_version}). "
            f"{self._suggest(explicit, targets)}",
            self._closest(explicit, targets),
        )

    def _match_stream(self, stream_name: str, targets: list[dict[str, Any]]) -> str:
        """Strict: the module's API name, or its singular or plural label, ignoring case and separators,
        for the stream's name or that name without a tap's schema prefix. Nothing looser."""
        api_keys = {str(m["api_name"]): normalize(str(m["api_name"])) for m in targets}
        all_keys = {str(m["api_name"]): _module_keys(m) for m in targets}
        for form in stream_name_forms(stream_name):
            if form in api_keys:  # exact API name
                return form
            norm = normalize(form)
            tiers: list[list[str]] = [
                [name for name, key in api_keys.items() if key == norm],
                [name for name, keys in all_keys.items() if norm in keys],
            ]
            for hits in tiers:
                if len(hits) == 1:
                    return hits[0]
                if len(hits) > 1:
                    raise UnknownStreamError(
                        stream_name,
                        f"Stream {stream_name!r} matches several Zoho modules ({', '.join(sorted(hits))}): "
                        f"set streams.{stream_name}.module to one of them.",
                        sorted(hits),
                    )
        raise UnmatchedStreamError(
            stream_name,
            f"Stream {stream_name!r} matches no Zoho CRM module that accepts records (API "
            f"{self.api_version}). {self._suggest(stream_name, targets)} Set "
            f"streams.{stream_name}.module to load it into a module of another name, or "
            "`unmatched_streams: skip` to leave such streams out.",
            self._closest(stream_name, targets),
        )

    def _closest(self, name: str, targets: list[dict[str, Any]]) -> list[str]:
        """Modules whose API name or label is really like `name` (or its unprefixed form), best first."""
        by_label: dict[str, str] = {}
        for m in targets:
            for key in _module_keys(m):
                by_label.setdefault(key, str(m["api_name"]))
        found: list[str] = []
        for form in reversed(stream_name_forms(name)):  # the bare table name says most
            for key in closest(normalize(form), list(by_label), n=5):
                if by_label[key] not in found:
                    found.append(by_label[key])
        return found[:3]

    def _suggest(self, name: str, targets: list[dict[str, Any]]) -> str:
        found = self._closest(name, targets)
        if found:
            return f"Did you mean: {', '.join(found)}?"
        return f"Modules: {', '.join(sorted(str(m['api_name']) for m in targets))}."

    # ----------------------------------------------------------------------------------------------

    def module(self, api_name: str) -> ModuleInfo:
        """Module info with its fields (fetched once per module and cached)."""
        with self._lock:
            info = self._infos.get(api_name)
            if info is not None:
                return info
            lock = self._module_locks.setdefault(api_name, threading.Lock())
        with lock:
            with self._lock:
                if api_name in self._infos:
                    return self._infos[api_name]
            info = self._build(api_name)
            with self._lock:
                self._infos[api_name] = info
            return info

    def find(self, api_name: str) -> ModuleInfo | None:
        """Module info, or None when Zoho answers that the org has no such module (400 on its fields).

        Any other failure (network, credentials, scope, Zoho failing after every retry) is raised: it
        says nothing about the module, and must never be reported as "no such module"."""
        try:
            return self.module(api_name)
        except ZohoAPIError as exc:
            if exc.status == 400:
                return None
            raise

    def _build(self, api_name: str) -> ModuleInfo:
        # A standard module needs nothing from the module list (generated_type "default", known
        # duplicate-check fields): its fields are fetched without it.
        raw = (self._raw(api_name) if api_name not in SYSTEM_DUPLICATE_FIELDS else None) or {}
        body = self.client.get_json("/settings/fields", params={"module": api_name}) or {}
        fields = build_fields(body.get("fields") or [])
        generated = str(raw.get("generated_type") or "default")
        return ModuleInfo(
            api_name=api_name,
            singular=str(raw.get("singular_label") or api_name),
            plural=str(raw.get("plural_label") or api_name),
            generated_type=generated,
            fields=fields,
            system_duplicate_fields=system_duplicate_fields(api_name, generated, fields),
        )


def _standard_module(name: str) -> str | None:
    """The standard module `name` spells, exactly or in another case or separators ("sales_orders")."""
    key = normalize(name)
    return next((api for api in SYSTEM_DUPLICATE_FIELDS if normalize(api) == key), None)


def build_fields(items: Iterable[Any]) -> dict[str, FieldMeta]:
    fields: dict[str, FieldMeta] = {}
    for item in items:
        if isinstance(item, dict) and item.get("api_name"):
            meta = FieldMeta.from_zoho(item)
            fields[meta.api_name] = meta
    return fields


def system_duplicate_fields(api_name: str, generated_type: str, fields: dict[str, FieldMeta]) -> list[str]:
    """§3 table; custom modules use `Name`; kept only when the org really has the field."""
    names = SYSTEM_DUPLICATE_FIELDS.get(api_name)
    if names is None:
        names = ["Name"] if generated_type == "custom" else []
    if fields:
        names = [n for n in names if n in fields]
    return list(names)
