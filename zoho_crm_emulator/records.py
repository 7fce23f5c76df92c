"""Record writes as Zoho performs them: RecordService (shared by REST and Bulk Write) and REST handlers.

Each record of a call is processed on its own, in input order, and gets one result in Zoho's shape.
Sources (v8 pages; the same rules are documented from v2): insert-records.html, update-records.html,
upsert-records.html ("How does the duplicate check work?"), delete-records.html, get-records.html,
insert/update/upsert-records-ext.html (`X-EXTERNAL`), all under
https://www.zoho.com/crm/developer/docs/api/v8/.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from .external import ExternalSpec, LookupExternal, parse_external
from .responses import error, json_response, request_error
from .state import EmulatorState
from .validation import (
    INVENTORY_LINE_ITEMS,
    LOOKUP_TYPES,
    ModuleSchema,
    check_record,
    invalid,
    missing,
)

Operation = Literal["insert", "update", "upsert"]
LINE_ITEM_PRODUCT_KEYS = ("Product_Name", "product")


def write_status(results: list[dict[str, Any]], success_status: int) -> int:
    """All ok → 201 (insert) / 200; mixed → 207; all failed → 400 (reference §2.7)."""
    ok = sum(1 for r in results if r.get("status") == "success")
    if ok == len(results):
        return success_status
    return 207 if ok else 400


class RecordService:
    """Stores and validates records; `write` never raises for record-level errors."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._schemas: dict[tuple[str, str], ModuleSchema] = {}
        self._lock = threading.Lock()

    # --- metadata ---------------------------------------------------------------------------------------
    def module_meta(self, version: str, module: str) -> dict[str, Any] | None:
        return self.state.catalog(version).module(module)

    def schema(self, version: str, module: str) -> ModuleSchema:
        key = (version, module)
        with self._lock:
            schema = self._schemas.get(key)
        if schema is None:
            cat = self.state.catalog(version)
            schema = ModuleSchema.build(module, cat.fields(module), cat.system_duplicate_fields(module))
            with self._lock:
                self._schemas[key] = schema
        return schema

    def _user(self, version: str, user_id: str | None = None) -> dict[str, Any] | None:
        users = self.state.catalog(version).users
        if user_id is None:
            return self.state.primary_user(version)
        return next((u for u in users if str(u.get("id")) == str(user_id)), None)

    @staticmethod
    def _user_ref(user: dict[str, Any], with_email: bool = False) -> dict[str, Any]:
        ref = {"name": user.get("full_name") or user.get("name"), "id": str(user.get("id"))}
        if with_email:
            ref["email"] = user.get("email")
        return ref

    # --- reads ------------------------------------------------------------------------------------------
    def records(self, module: str) -> list[dict[str, Any]]:
        """Stored records of a module (copies), insertion order."""
        return self.state.store.records(module)

    def get(self, module: str, record_id: str) -> dict[str, Any] | None:
        rec = self.state.store.get(module, record_id)
        return copy.deepcopy(rec) if rec is not None else None

    def find(self, version: str, module: str, field: str, value: Any) -> list[str]:
        """Ids of records whose `field` equals `value` (indexed; oldest first)."""
        spec = self.schema(version, module).fields.get(field)
        cs = bool(spec and spec.case_sensitive)
        with self.state.store.locked() as store:
            return store.module(module).find(field, value, cs)

    # --- seeding ----------------------------------------------------------------------------------------
    def add_record(self, module: str, record: dict[str, Any], version: str = "v8") -> str:
        """Store a record as given (no validation, no credits), filling id, times, Owner and users."""
        now = self.state.now(version)
        user = self._user_ref(self.state.primary_user(version))
        rec = copy.deepcopy(record)
        rec["id"] = str(rec.get("id") or self.state.new_id())
        rec.setdefault("Owner", self._user_ref(self.state.primary_user(version), with_email=True))
        rec.setdefault("Created_Time", now)
        rec.setdefault("Modified_Time", now)
        rec.setdefault("Created_By", user)
        rec.setdefault("Modified_By", user)
        with self.state.store.locked() as store:
            store.put(module, rec)
            store.flush()
        return str(rec["id"])

    # --- writes -----------------------------------------------------------------------------------------
    def write(
        self,
        version: str,
        module: str,
        operation: Operation,
        records: list[dict[str, Any]],
        *,
        duplicate_check_fields: list[str] | None = None,
        external: str | None = None,
        trigger: list[str] | None = None,
        find_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """One Zoho per-record result per input, same order (`trigger` is accepted and ignored)."""
        schema = self.schema(version, module)
        ext = parse_external(external, module)
        results: list[dict[str, Any]] = []
        ctx = _CallContext(
            version=version,
            now=self.state.now(version),
            user=self._user_ref(self.state.primary_user(version)),
            owner=self._user_ref(self.state.primary_user(version), with_email=True),
            key_order=self._key_order(schema, duplicate_check_fields, ext, find_by),
        )
        with self.state.store.locked() as store:
            for i, rec in enumerate(records):
                if not isinstance(rec, dict):
                    results.append(invalid("data", f"$.data[{i}]", expected_data_type="jsonobject"))
                    continue
                results.append(self._write_one(ctx, schema, operation, i, rec, ext, find_by))
            store.flush()
        return results

    def _key_order(
        self, schema: ModuleSchema, dcf: list[str] | None, ext: ExternalSpec, find_by: str | None
    ) -> list[str]:
        """Upsert matching order (reference §3): listed fields (or the system duplicate field), then
        user-defined unique fields; external fields take part as unique fields; `find_by` alone in bulk."""
        if find_by:
            return [find_by]
        order: list[str] = [ext.own] if ext.own else []
        first = [f for f in dcf if f in schema.fields or f == "id"] if dcf else schema.system_duplicate_fields
        for name in [*first, *schema.unique_fields, *schema.external_fields]:
            if name not in order:
                order.append(name)
        return order

    def _write_one(
        self,
        ctx: _CallContext,
        schema: ModuleSchema,
        operation: Operation,
        i: int,
        rec: dict[str, Any],
        ext: ExternalSpec,
        find_by: str | None,
    ) -> dict[str, Any]:
        version = ctx.version
        store = self.state.store
        mod = store.module(schema.api_name)
        path = f"$.data[{i}]"
        target: str | None = None
        duplicate_field: str | None = None
        if operation == "update":
            key = ext.own or find_by or "id"
            value = rec.get(key)
            if value in (None, ""):
                return missing(key, f"{path}.{key}")
            ids = mod.find(key, value, self._case_sensitive(schema, key))
            if not ids:
                if key == "id":
                    return error("INVALID_DATA", "the id given seems to be invalid", _field(key, path))
                return error("INVALID_DATA", "the value of the external field is invalid", _field(key, path))
            target = ids[0]
        elif operation == "upsert":
            for key in ctx.key_order:
                ids = mod.find(key, rec.get(key), self._case_sensitive(schema, key))
                if ids:
                    # Several records share the value: Zoho's docs do not say which one is updated;
                    # the emulator updates the oldest (see README, "Not established").
                    target, duplicate_field = ids[0], key
                    break
        elif find_by:  # bulk insert with find_by: existing records are skipped
            ids = mod.find(find_by, rec.get(find_by), self._case_sensitive(schema, find_by))
            if ids:
                return self._duplicate(schema, version, find_by, path, ids)

        # `id` is not writable, so check_record leaves it out of `clean` (no copy of `rec` needed).
        clean, err = check_record(schema, rec, i, for_insert=target is None)
        if err is None:
            err = self._check_unique(schema, version, clean, path, target, duplicate_field)
        if err is None:
            err = self._resolve_lookups(schema, version, clean, rec, path, ext)
        if err is not None:
            return err

        now, user = ctx.now, ctx.user
        if target is None:
            stored = {"id": self.state.new_id(), **clean}
            if not stored.get("Owner"):
                stored["Owner"] = dict(ctx.owner)
            stored.update(Created_Time=now, Modified_Time=now, Created_By=dict(user), Modified_By=dict(user))
            message = "record added"
        else:
            existing = store.get(schema.api_name, target) or {}
            stored = {**existing, **clean, "Modified_Time": now, "Modified_By": dict(user)}
            message = "record updated"
        store.put(schema.api_name, stored)

        details: dict[str, Any] = {
            "Modified_Time": stored["Modified_Time"],
            "Modified_By": stored.get("Modified_By"),
            "Created_Time": stored.get("Created_Time"),
            "id": stored["id"],
            "Created_By": stored.get("Created_By"),
        }
        for name in schema.external_fields:
            if stored.get(name) not in (None, ""):
                details[name] = stored[name]
        result: dict[str, Any] = {"code": "SUCCESS"}
        if operation == "upsert":
            result["duplicate_field"] = duplicate_field
            result["action"] = "insert" if target is None else "update"
        result.update(details=details, message=message, status="success")
        return result

    @staticmethod
    def _case_sensitive(schema: ModuleSchema, field: str) -> bool:
        spec = schema.fields.get(field)
        return bool(spec and spec.case_sensitive)

    def _duplicate(
        self, schema: ModuleSchema, version: str, field: str, path: str, ids: list[str]
    ) -> dict[str, Any]:
        first = self.state.store.get(schema.api_name, ids[0]) or {}
        owner = first.get("Owner") if isinstance(first.get("Owner"), dict) else {}
        module_meta = self.module_meta(version, schema.api_name) or {}
        details = {
            "api_name": field,
            "json_path": f"{path}.{field}",
            "duplicate_record": {
                "id": ids[0],
                "module": {"api_name": schema.api_name, "id": str(module_meta.get("id", ""))},
                "Owner": {
                    "name": (owner or {}).get("name"),
                    "id": (owner or {}).get("id"),
                    "zuid": self._zuid(version, (owner or {}).get("id")),
                },
            },
            "more_records": len(ids) > 1,
        }
        return error("DUPLICATE_DATA", "duplicate data", details)

    def _zuid(self, version: str, user_id: Any) -> str | None:
        user = self._user(version, str(user_id)) if user_id else None
        return str(user.get("zuid")) if user and user.get("zuid") else None

    def _check_unique(
        self,
        schema: ModuleSchema,
        version: str,
        clean: dict[str, Any],
        path: str,
        target: str | None,
        matched_on: str | None = None,
    ) -> dict[str, Any] | None:
        """DUPLICATE_DATA for each unique field whose value another record holds (several → MULTIPLE).

        The field an upsert matched on is not checked again: other records sharing that value (only
        possible in data seeded around the checks) do not block the update of the matched one."""
        mod = self.state.store.module(schema.api_name)
        errors = []
        for name in schema.all_unique_fields:
            if name == matched_on or clean.get(name) in (None, ""):
                continue
            others = [
                x for x in mod.find(name, clean[name], self._case_sensitive(schema, name)) if x != target
            ]
            if others:
                errors.append(self._duplicate(schema, version, name, path, others))
        if len(errors) > 1:
            return error("MULTIPLE_OR_MULTI_ERRORS", "Multiple errors in the request", {"errors": errors})
        return errors[0] if errors else None

    def _display_name(self, version: str, module: str, rec: dict[str, Any]) -> Any:
        if module == "Users":
            return rec.get("full_name") or rec.get("name")
        try:
            display = self.schema(version, module).display_field
        except Exception:
            display = None
        return rec.get(display) if display else rec.get("Name")

    def _lookup_target(
        self, version: str, module: str | None, value: dict[str, Any], ext: LookupExternal | None
    ) -> tuple[str | None, dict[str, Any] | None]:
        """(error message, referenced record) for one lookup value; users are looked up in the org."""
        if module is None:
            return None, None  # multi-module lookup without $se_module: nothing to check against
        if ext is not None and value.get(ext.field) not in (None, ""):
            if module == "Users":
                return "the value of the external field is invalid", None
            ids = self.state.store.module(module).find(ext.field, value[ext.field])
            if not ids:
                return "the value of the external field is invalid", None
            return None, self.state.store.get(module, ids[0])
        rid = value.get("id")
        if rid in (None, ""):
            return "invalid data", None
        if module == "Users":
            user = self._user(version, str(rid))
            return (None, user) if user else ("invalid data", None)
        found = self.state.store.get(module, str(rid))
        return (None, found) if found else ("invalid data", None)

    def _resolve_lookups(
        self,
        schema: ModuleSchema,
        version: str,
        clean: dict[str, Any],
        rec: dict[str, Any],
        path: str,
        ext: ExternalSpec,
    ) -> dict[str, Any] | None:
        """Lookups must point at existing records (INVALID_DATA); stored as `{"id", "name"}`."""
        resolved = schema.resolved_fields
        if resolved.isdisjoint(clean):
            return None  # the common case: nothing to look up
        for name, value in list(clean.items()):
            if name not in resolved:
                continue
            spec = schema.fields[name]
            if spec.data_type in LOOKUP_TYPES and isinstance(value, dict) and spec.data_type != "layout":
                lookup_ext = ext.lookups.get(name)
                module = (lookup_ext.module if lookup_ext else None) or spec.lookup_module
                if module is None and isinstance(rec.get("$se_module"), str):
                    module = rec["$se_module"]
                message, found = self._lookup_target(version, module, value, lookup_ext)
                if message:
                    return error("INVALID_DATA", message, _field(name, path))
                if found is not None and module is not None:
                    ref = {"name": self._display_name(version, module, found), "id": str(found["id"])}
                    if spec.data_type == "ownerlookup":
                        ref["email"] = found.get("email")
                    clean[name] = ref
            elif name in INVENTORY_LINE_ITEMS and isinstance(value, list):
                err = self._resolve_line_items(version, name, value, path, ext)
                if err:
                    return err
        return None

    def _resolve_line_items(
        self, version: str, field: str, rows: list[Any], path: str, ext: ExternalSpec
    ) -> dict[str, Any] | None:
        """Line items' products must exist (by id, or by external value with `X-EXTERNAL`)."""
        for j, row in enumerate(rows):
            if not isinstance(row, dict):
                return invalid(field, f"{path}.{field}[{j}]", expected_data_type="jsonobject")
            for key in LINE_ITEM_PRODUCT_KEYS:
                value = row.get(key)
                if value is None:
                    continue
                if not isinstance(value, dict):
                    value = {"id": str(value)}
                message, found = self._lookup_target(version, "Products", value, ext.nested.get((field, key)))
                if message:
                    return error("INVALID_DATA", message, _field(key, f"{path}.{field}[{j}]"))
                if found is not None:
                    row[key] = {"name": found.get("Product_Name"), "id": str(found["id"])}
        return None

    # --- deletes ----------------------------------------------------------------------------------------
    def delete(self, module: str, ids: list[str], external: str | None = None) -> list[dict[str, Any]]:
        ext = parse_external(external, module)
        results = []
        with self.state.store.locked() as store:
            for value in ids:
                rid: str | None = value
                if ext.own:
                    found = store.module(module).find(ext.own, value)
                    rid = found[0] if found else None
                if rid is not None and store.delete(module, rid) is not None:
                    results.append(
                        {
                            "code": "SUCCESS",
                            "details": {"id": rid},
                            "message": "record deleted",
                            "status": "success",
                        }
                    )
                else:
                    results.append(error("INVALID_DATA", "record not deleted", {"id": value}))
            store.flush()
        return results


@dataclass(frozen=True)
class _CallContext:
    """What is the same for every record of one write call."""

    version: str
    now: str
    user: dict[str, Any]
    owner: dict[str, Any]
    key_order: list[str]


def _field(api_name: str, path: str) -> dict[str, Any]:
    return {"api_name": api_name, "json_path": f"{path}.{api_name}"}


class RecordHandlers:
    """The REST record endpoints; the app has already authenticated, limited and parsed the body."""

    def __init__(self, service: RecordService) -> None:
        self.service = service

    def write(
        self,
        request: Request,
        body: Any,
        version: str,
        module: str,
        operation: Operation,
        record_id: str | None,
    ) -> Response:
        if not isinstance(body, dict) or "data" not in body:
            return request_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "data", "param": "data"},
            )
        data = body["data"]
        if not isinstance(data, list) or not data:
            return request_error(
                400, "INVALID_DATA", "invalid data", {"api_name": "data", "json_path": "$.data"}
            )
        dcf = body.get("duplicate_check_fields")
        if operation == "upsert" and dcf is not None:
            err = self._check_dcf(version, module, dcf)
            if err is not None:
                return err
        external = request.headers.get("X-EXTERNAL")
        if record_id is not None and isinstance(data[0], dict):  # PUT /{module}/{id or ext value}
            spec = parse_external(external, module)
            data = [{**data[0], (spec.own or "id"): record_id}]
        results = self.service.write(
            version,
            module,
            operation,
            data,
            duplicate_check_fields=dcf if operation == "upsert" else None,
            external=external,
            trigger=body.get("trigger"),
        )
        return json_response({"data": results}, write_status(results, 201 if operation == "insert" else 200))

    def _check_dcf(self, version: str, module: str, dcf: Any) -> Response | None:
        """Only system duplicate fields, user-defined unique and external fields may be listed."""
        schema = self.service.schema(version, module)
        allowed = set(schema.all_unique_fields)
        if not isinstance(dcf, list):
            return request_error(
                400,
                "INVALID_DATA",
                "invalid data",
                {"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"},
            )
        for j, name in enumerate(dcf):
            if name not in allowed:
                return request_error(
                    400,
                    "INVALID_DATA",
                    "invalid data",
                    {"api_name": str(name), "json_path": f"$.duplicate_check_fields[{j}]"},
                )
        return None

    def delete(self, request: Request, module: str, record_id: str | None) -> Response:
        if record_id is not None:
            ids = [record_id]
        else:
            raw = request.args.get("ids")
            if not raw:
                return request_error(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "ids", "param": "ids"},
                )
            ids = [x.strip() for x in raw.split(",") if x.strip()]
        results = self.service.delete(module, ids, request.headers.get("X-EXTERNAL"))
        return json_response({"data": results}, write_status(results, 200))

    def get_one(self, request: Request, version: str, module: str, record_id: str) -> Response:
        spec = parse_external(request.headers.get("X-EXTERNAL"), module)
        rid: str | None = record_id
        if spec.own:
            ids = self.service.find(version, module, spec.own, record_id)
            rid = ids[0] if ids else None
        rec = self.service.get(module, rid) if rid else None
        if rec is None:
            return json_response(None, 204)
        return json_response({"data": [_select(rec, request.args.get("fields"))]})

    def count(self, module: str) -> Response:
        """`GET /{module}/actions/count`: the module's record count (get-record-count.html)."""
        return json_response({"count": len(self.service.state.store.iter_records(module))})

    def list(self, request: Request, module: str) -> Response:
        """`GET /{module}`: stored records, `page`/`per_page` (≤ 200), 204 when there are none."""
        try:
            page = max(1, int(request.args.get("page", 1)))
            per_page = min(200, max(1, int(request.args.get("per_page", 200))))
        except ValueError:
            return request_error(400, "INVALID_DATA", "invalid data", {"param_name": "page"})
        recs = self.service.state.store.iter_records(module)
        start = (page - 1) * per_page
        chunk = recs[start : start + per_page]
        if not chunk:
            return json_response(None, 204)
        fields = request.args.get("fields")
        data = [_select(copy.deepcopy(r), fields) for r in chunk]
        info = {
            "per_page": per_page,
            "count": len(data),
            "page": page,
            "more_records": start + per_page < len(recs),
        }
        return json_response({"data": data, "info": info})


def _select(rec: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return rec
    wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id"}
    return {k: v for k, v in rec.items() if k in wanted}
