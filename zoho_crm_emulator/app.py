"""The emulator's WSGI app: who answers each request, and the handlers of the CRM calls.

One base URL serves every role: `/oauth/v2/token` (accounts), `/crm/{v}/...` (API and upload host),
`/crm/bulk/{v}/...` (bulk), `/__emulator__/...` (introspection and the inspector page, outside Zoho's
paths). A CRM call goes through the checks of `pipeline.py` (faults, token, URL, module, scope, body,
limits, credits, concurrency) before its handler here runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from . import oauth, pipeline
from .bulk import BulkService
from .coql import CoqlError, run_query
from .introspect import Introspection
from .pipeline import Call, apply_fault, log
from .records import RecordHandlers, RecordService
from .responses import (
    from_exception,
    invalid_module,
    json_response,
    request_error,
    with_count,
)
from .scopes import needed_scope
from .search import SearchError, run_search
from .state import EmulatorState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# WSGI environ key: when the server read the request line (time.monotonic); latency counts from there.
ARRIVED_KEY = "emulator.arrived"


class EmulatorApp:
    """The WSGI application. Construct with an `EmulatorState`; serve with any WSGI server."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.records = RecordService(state)
        self.handlers = RecordHandlers(self.records)
        self.bulk = BulkService(state, self.records)
        self.introspection = Introspection(state, self.records, self.bulk.jobs_summary)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # A Zoho call's latency counts from its arrival (header parsing and body reading included).
        arrived = environ.get(ARRIVED_KEY) or time.monotonic()
        request = Request(environ)
        request.get_data()  # drain the body first: the connection is kept alive for the next request
        path = request.path
        if path.startswith("/__emulator__"):
            response = self.introspection.handle(request)
        elif path.startswith("/oauth/v2/token"):
            response = self.token_call(request, environ, arrived)
        else:
            response = self.zoho_call(request, environ, arrived)
        return response(environ, start_response)

    # --- accounts server ------------------------------------------------------------------------------
    def token_call(
        self, request: Request, environ: WSGIEnvironment, arrived: float | None = None
    ) -> Response:
        state, path = self.state, request.path
        call = _new_call(request, environ, arrived)
        if state.faults.take_token_outage():
            return log(state, call.entry, json_response({"error": "temporarily_unavailable"}, 503), "503")
        fault = call.fault = state.faults.next_fault(request.method, path, token_call=True)
        if fault is not None and not fault.after_write:
            early = apply_fault(state, fault, call)
            if early is not None:
                return log(state, call.entry, early, fault.describe())
        if request.method != "POST":
            return log(state, call.entry, json_response({"error": "invalid_request"}, 405))
        if path == "/oauth/v2/token":
            status, body = oauth.token_response(state, request)
        elif path == "/oauth/v2/token/revoke":
            status, body = oauth.revoke_response(state, request)
        else:
            return log(state, call.entry, json_response({"error": "invalid_request"}, 404))
        response = json_response(body, status)
        if fault is not None and fault.after_write:
            response = apply_fault(state, fault, call, performed=True) or response
        return log(state, call.entry, response, fault.describe() if fault else None)

    # --- CRM API --------------------------------------------------------------------------------------
    def zoho_call(self, request: Request, environ: WSGIEnvironment, arrived: float | None = None) -> Response:
        return pipeline.run(self.state, _new_call(request, environ, arrived), self.handle)

    def handle(self, call: Call) -> Response:
        route, request, body = call.route, call.request, call.body
        kind, v, module = route.kind, route.version, route.module
        h = self.handlers
        if kind in ("insert", "update", "upsert", "update_one"):
            assert module is not None
            op = "update" if kind == "update_one" else kind
            return h.write(request, body, v, module, op, route.record_id)  # type: ignore[arg-type]
        if kind in ("delete", "delete_one"):
            assert module is not None
            return h.delete(request, module, route.record_id)
        if kind == "get_one":
            assert module is not None and route.record_id is not None
            return h.get_one(request, v, module, route.record_id)
        if kind == "list":
            assert module is not None
            return h.list(request, module)
        if kind == "count":
            assert module is not None
            return h.count(module)
        if kind.startswith("meta_"):
            return self._metadata(call)
        if kind == "coql":
            return self._coql(call)
        if kind == "search":
            assert module is not None
            return self._search(request, v, module)
        return self._bulk(call)

    # --- metadata -------------------------------------------------------------------------------------
    def _metadata(self, call: Call) -> Response:
        route, request = call.route, call.request
        cat = self.state.catalog(route.version)
        if route.kind == "meta_modules":
            if route.module is None:
                return json_response({"modules": cat.modules()})
            meta = cat.module(route.module)
            return json_response({"modules": [meta]}) if meta else invalid_module()
        if route.kind == "meta_org":
            return json_response({"org": [cat.org]})
        if route.kind == "meta_users":
            users = cat.users
            info = {"per_page": 200, "count": len(users), "page": 1, "more_records": False}
            return json_response({"users": users, "info": info})
        module = request.args.get("module")
        if not module:
            return request_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "module", "param": "module"},
            )
        if cat.module(module) is None:
            return request_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
            )
        if route.kind == "meta_fields":
            return json_response({"fields": cat.fields(module)})
        return json_response({"layouts": cat.layouts(module)})

    # --- query APIs -----------------------------------------------------------------------------------
    def _coql(self, call: Call) -> Response:
        version, body = call.route.version, call.body
        query = body.get("select_query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            return request_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "select_query", "param": "select_query"},
            )
        catalog = self.state.catalog(version)
        store = self.state.store

        def may_read(module: str) -> bool:
            """COQL needs the module's READ scope as well as `ZohoCRM.coql.READ` (COQL page, Scope)."""
            generated = (catalog.module(module) or {}).get("generated_type")
            return pipeline.scopes_cover(call.granted, needed_scope("list", module, generated))

        try:
            rows, more = run_query(
                query,
                version=version,
                catalog=catalog,
                rows=store.iter_records,
                lookup=store.find_records,
                may_read=may_read,
            )
        except CoqlError as exc:
            return from_exception(exc)
        if not rows:
            return with_count(json_response(None, 204), 0)
        body_out = {"data": rows, "info": {"count": len(rows), "more_records": bool(more)}}
        return with_count(json_response(body_out), len(rows))

    def _search(self, request: Request, version: str, module: str) -> Response:
        args = request.args
        params = {k: args.get(k) for k in ("criteria", "email", "phone", "word")}
        if not any(params.values()):
            return request_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "criteria", "param": "criteria"},
            )
        try:
            page = max(1, int(args.get("page", 1)))
            per_page = min(200, max(1, int(args.get("per_page", 200))))
        except ValueError:
            return request_error(400, "INVALID_DATA", "invalid data", {"param_name": "per_page"})
        fields = self.state.catalog(version).fields(module)
        try:
            rows = list(run_search(fields, self.state.store.iter_records(module), **params))
        except SearchError as exc:
            return from_exception(exc)
        start = (page - 1) * per_page
        chunk = rows[start : start + per_page]
        if not chunk:
            return with_count(json_response(None, 204), 0)
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page,
            "more_records": start + per_page < len(rows),
        }
        return with_count(json_response({"data": chunk, "info": info}), len(chunk))

    # --- bulk write -----------------------------------------------------------------------------------
    def _bulk(self, call: Call) -> Response:
        route, request = call.route, call.request
        if route.kind == "bulk_upload":
            return self.bulk.upload(request, route.version)
        if route.kind == "bulk_create":
            return self.bulk.create_job(request, route.version)
        if route.kind == "bulk_status":
            return self.bulk.job_status(request, route.version, route.job_id)
        return self.bulk.download(request, route.job_id)


def _new_call(request: Request, environ: WSGIEnvironment, arrived: float | None) -> Call:
    entry: dict[str, Any] = {"method": request.method, "path": request.path, "records": 0, "credits": 0}
    return Call(request, environ, arrived if arrived is not None else time.monotonic(), entry)
