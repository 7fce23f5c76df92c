"""The emulator's WSGI app: routing, auth, limits, latency, faults and the call log around each call.

Every Zoho call goes through one pipeline, in this order: fault plan (a scripted/random fault may answer
first) → `Authorization: Zoho-oauthtoken` check (401) → URL and module (404 / `INVALID_MODULE`) → body
and `LIMIT_EXCEEDED` (> 100 records) → daily credits (429) → concurrency (429, never queued) →
latency, while the call counts as in flight → the handler → an `after_write` fault, if any → credits
charged, `X-API-CREDITS-REMAINING` once half the budget is used, and one call-log entry.
One base URL serves every role: `/oauth/v2/token` (accounts), `/crm/{v}/...` (API and upload host),
`/crm/bulk/{v}/...` (bulk), and `/__emulator__/...` (introspection, outside Zoho's paths).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from . import jsonio, oauth
from .faults import Fault
from .introspect import Introspection
from .limits import (
    BULK_JOB_CREDITS,
    HEAVY_WRITE_THRESHOLD,
    MAX_RECORDS_PER_WRITE,
    coql_credits,
    write_credits,
)
from .records import RecordHandlers, RecordService, invalid_module, json_response, request_error
from .scopes import allowed as scopes_allowed
from .scopes import needed_scope
from .state import VERSIONS, EmulatorState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

LOGGER = logging.getLogger("zoho_crm_emulator")
# WSGI environ key: when the server read the request line (time.monotonic); latency counts from there.
ARRIVED_KEY = "emulator.arrived"
WRITE_KINDS = frozenset({"insert", "update", "upsert", "update_one"})
# Module metadata flag a write needs (subform modules, e.g. Quoted_Items, have them false).
WRITE_FLAGS = {
    "insert": "creatable",
    "upsert": "creatable",
    "update": "editable",
    "update_one": "editable",
    "delete": "deletable",
    "delete_one": "deletable",
}
SPECIAL_SEGMENTS = frozenset({"settings", "org", "users", "coql", "upload"})
FAULT_BODIES = {
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("INTERNAL_ERROR", "Internal Server Error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}


@dataclass
class Route:
    """A recognised Zoho URL."""

    kind: str
    version: str
    module: str | None = None
    record_id: str | None = None
    job_id: str | None = None


class DroppedConnection(ConnectionAbortedError):
    """Raised after shutting the client socket; werkzeug then writes nothing back."""


def _drop(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise DroppedConnection("emulator fault: connection dropped")


@functools.lru_cache(maxsize=1024)
def _scopes_allow(granted: frozenset[str], needed: str | None) -> bool:
    """`scopes.allowed`, memoised: a token asks for the same few scopes on every call."""
    return scopes_allowed(granted, needed)


def parse_route(method: str, path: str) -> Route | None:
    """Map a `/crm/...` path to a Route (None → `INVALID_URL_PATTERN`)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] != "crm":
        return None
    if parts[1] == "bulk":
        if len(parts) >= 4 and parts[2] in VERSIONS and parts[3] == "write":
            if len(parts) == 4:
                return Route("bulk_create", parts[2])
            if len(parts) == 5:
                return Route("bulk_status", parts[2], job_id=parts[4])
            if len(parts) == 6 and parts[5] == "result":
                return Route("bulk_download", parts[2], job_id=parts[4])
        return None
    version, rest = parts[1], parts[2:]
    if version not in VERSIONS:
        return None
    head = rest[0]
    if head == "settings" and len(rest) >= 2:
        if rest[1] == "modules" and len(rest) <= 3:
            return Route("meta_modules", version, module=rest[2] if len(rest) == 3 else None)
        if rest[1] in ("fields", "layouts") and len(rest) == 2:
            return Route(f"meta_{rest[1]}", version)
        return None
    if head in ("org", "users") and len(rest) == 1:
        return Route(f"meta_{head}", version)
    if head == "coql" and len(rest) == 1:
        return Route("coql", version)
    if head == "upload" and len(rest) == 1:
        return Route("bulk_upload", version)
    if head in SPECIAL_SEGMENTS:
        return None
    if len(rest) == 1:
        kind = {"GET": "list", "POST": "insert", "PUT": "update", "DELETE": "delete"}.get(
            method, "bad_method"
        )
        return Route(kind, version, module=head)
    if len(rest) == 2:
        if rest[1] == "upsert":
            return Route("upsert" if method == "POST" else "bad_method", version, module=head)
        if rest[1] == "search":
            return Route("search" if method == "GET" else "bad_method", version, module=head)
        kind = {"GET": "get_one", "PUT": "update_one", "DELETE": "delete_one"}.get(method, "bad_method")
        return Route(kind, version, module=head, record_id=rest[1])
    return None


EXPECTED_METHOD = {
    "meta_modules": "GET",
    "meta_fields": "GET",
    "meta_layouts": "GET",
    "meta_org": "GET",
    "meta_users": "GET",
    "coql": "POST",
    "bulk_upload": "POST",
    "bulk_create": "POST",
    "bulk_status": "GET",
    "bulk_download": "GET",
}


def _load_bulk(state: EmulatorState, records: RecordService) -> Any:
    """The bulk-write service if its module is present (it is built separately)."""
    try:
        from .bulk import BulkService
    except ImportError:
        return None
    return BulkService(state, records)


class EmulatorApp:
    """The WSGI application. Construct with an `EmulatorState`; serve with any WSGI server."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.records = RecordService(state)
        self.handlers = RecordHandlers(self.records)
        self.bulk = _load_bulk(state, self.records)
        self.introspection = Introspection(state, self.records)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # A Zoho call's latency counts from its arrival (header parsing and body reading included).
        arrived = environ.get(ARRIVED_KEY) or time.monotonic()
        request = Request(environ)
        request.get_data()  # drain the body first: the connection is kept alive for the next request
        path = request.path
        if path.startswith("/__emulator__"):
            response = self.introspection.handle(request)
        elif path.startswith("/oauth/v2/token"):
            response = self.token_call(request, environ)
        else:
            response = self.zoho_call(request, environ, arrived)
        return response(environ, start_response)

    # --- accounts server ------------------------------------------------------------------------------
    def token_call(self, request: Request, environ: WSGIEnvironment) -> Response:
        state, path = self.state, request.path
        entry: dict[str, Any] = {"method": request.method, "path": path, "records": 0, "credits": 0}
        if state.faults.take_token_outage():
            return self._log(entry, json_response({"error": "temporarily_unavailable"}, 503), "503")
        fault = state.faults.next_fault(request.method, path, token_call=True)
        if fault is not None and not fault.after_write:
            early = self._apply_fault(fault, entry, environ)
            if early is not None:
                return early
        if request.method != "POST":
            return self._log(entry, json_response({"error": "invalid_request"}, 405))
        if path == "/oauth/v2/token":
            status, body = oauth.token_response(state, request)
        elif path == "/oauth/v2/token/revoke":
            status, body = oauth.revoke_response(state, request)
        else:
            return self._log(entry, json_response({"error": "invalid_request"}, 404))
        response = json_response(body, status)
        if fault is not None and fault.after_write:
            return self._apply_fault(fault, entry, environ) or response
        return self._log(entry, response, fault.describe() if fault else None)

    # --- CRM API --------------------------------------------------------------------------------------
    def zoho_call(self, request: Request, environ: WSGIEnvironment, arrived: float | None = None) -> Response:
        state = self.state
        entry: dict[str, Any] = {"method": request.method, "path": request.path, "records": 0, "credits": 0}
        fault = state.faults.next_fault(request.method, request.path)
        if fault is not None and not fault.after_write and (fault.status is not None or fault.drop):
            early = self._apply_fault(fault, entry, environ)
            if early is not None:
                return early

        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Zoho-oauthtoken "):
            return self._log(entry, request_error(401, "AUTHENTICATION_FAILURE", "Authentication failed"))
        granted = state.tokens.access_scopes(auth[len("Zoho-oauthtoken ") :].strip())
        if granted is None:
            return self._log(entry, request_error(401, "INVALID_TOKEN", "invalid oauth token"))

        route = parse_route(request.method, request.path)
        if route is None:
            return self._log(entry, self._invalid_url())
        expected = EXPECTED_METHOD.get(route.kind)
        if route.kind == "bad_method" or (expected and request.method != expected):
            return self._log(
                entry,
                request_error(
                    400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", {}
                ),
            )
        if route.module is not None and route.kind != "meta_modules":
            meta = state.catalog(route.version).module(route.module)
            if meta is None:
                return self._log(entry, invalid_module())
            flag = WRITE_FLAGS.get(route.kind)
            if meta.get("api_supported") is False or (flag and meta.get(flag) is False):
                return self._log(entry, invalid_module("The given module is not supported in API"))
        needed = needed_scope(route.kind, route.module, self._generated_type(route))
        if not _scopes_allow(granted, needed):
            return self._log(entry, request_error(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized"))

        body: Any = None
        count = 0
        if route.kind in WRITE_KINDS or route.kind == "coql":
            try:
                body = jsonio.loads(request.get_data())
            except ValueError:
                return self._log(entry, request_error(400, "INVALID_DATA", "invalid data", {}))
            if route.kind in WRITE_KINDS and isinstance(body, dict) and isinstance(body.get("data"), list):
                count = len(body["data"])
        elif route.kind == "delete":
            count = len([x for x in request.args.get("ids", "").split(",") if x.strip()])
        elif route.kind == "delete_one":
            count = 1
        entry["records"] = count
        if count > MAX_RECORDS_PER_WRITE:
            return self._log(
                entry,
                request_error(
                    400,
                    "LIMIT_EXCEEDED",
                    "the number of records exceeds the limit",
                    {"limit": MAX_RECORDS_PER_WRITE},
                ),
            )

        cost = self._cost(route, body, count)
        if not state.credits.can_spend(cost):
            refused = self._too_many("API credits exhausted for the rolling 24 hours")
            refused.headers["X-API-CREDITS-REMAINING"] = str(state.credits.remaining)
            return self._log(entry, refused)
        heavy = route.kind in WRITE_KINDS and count > HEAVY_WRITE_THRESHOLD
        if not state.gate.try_enter(heavy):
            return self._log(entry, self._too_many("concurrency limit exceeded"))
        try:
            # `latency_ms` is how long a call takes at Zoho, its own processing included: everything since
            # the request arrived (body decoding, checks, the handler) is part of it; a fault's delay comes
            # on top. So ten concurrent calls each still take `latency_ms` while they share the GIL.
            started = arrived if arrived is not None else time.monotonic()
            try:
                response = self._handle(route, request, body)
            except Exception:  # a bug must look like Zoho's 500, not an HTML page
                LOGGER.exception("emulator error on %s %s", request.method, request.path)
                response = request_error(500, "INTERNAL_ERROR", "Internal Server Error", {})
            delay = state.latency_ms / 1000 - (time.monotonic() - started)
            delay += (fault.delay_ms if fault is not None else 0) / 1000
            if delay > 0:
                time.sleep(delay)
            if route.kind == "bulk_create" and response.status_code >= 300:
                cost = 0  # no job, no charge
            if response.status_code < 500:
                state.credits.charge(cost)
                entry["credits"] = cost
            if isinstance(getattr(response, "emulator_records", None), int):
                entry["records"] = response.emulator_records  # type: ignore[attr-defined]
            if fault is not None and fault.after_write and (fault.status is not None or fault.drop):
                return self._apply_fault(fault, entry, environ, performed=True) or response
        finally:
            state.gate.leave(heavy)
        if state.credits.past_half():
            response.headers["X-API-CREDITS-REMAINING"] = str(state.credits.remaining)
        return self._log(entry, response, fault.describe() if fault is not None else None)

    def _generated_type(self, route: Route) -> str | None:
        if route.module is None or route.kind == "meta_modules":
            return None
        meta = self.state.catalog(route.version).module(route.module) or {}
        return meta.get("generated_type")

    def _cost(self, route: Route, body: Any, count: int) -> int:
        kind = route.kind
        if kind in WRITE_KINDS or kind in ("delete", "delete_one"):
            return write_credits(count)
        if kind == "coql":
            query = body.get("select_query", "") if isinstance(body, dict) else ""
            return coql_credits(route.version, str(query))
        if kind == "bulk_create":
            return BULK_JOB_CREDITS
        if kind in ("bulk_upload", "bulk_download"):
            return 0
        return 1

    def _handle(self, route: Route, request: Request, body: Any) -> Response:
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
        if kind.startswith("meta_"):
            return self._metadata(route, request)
        if kind == "coql":
            return self._coql(v, body)
        if kind == "search":
            assert module is not None
            return self._search(request, v, module)
        return self._bulk(route, request)

    # --- metadata -------------------------------------------------------------------------------------
    def _metadata(self, route: Route, request: Request) -> Response:
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

    # --- query APIs (coql.py / search.py are built separately) ----------------------------------------
    def _coql(self, version: str, body: Any) -> Response:
        query = body.get("select_query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            return request_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "select_query", "param": "select_query"},
            )
        try:
            from .coql import CoqlError, run_query
        except ImportError:
            return self._invalid_url()
        store = self.state.store
        try:
            rows, more = run_query(
                query,
                version=version,
                catalog=self.state.catalog(version),
                rows=store.iter_records,
                lookup=store.find_records,
            )
        except CoqlError as exc:
            return self._error_from(exc)
        if not rows:
            return _with_count(json_response(None, 204), 0)
        body_out = {"data": rows, "info": {"count": len(rows), "more_records": bool(more)}}
        return _with_count(json_response(body_out), len(rows))

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
        try:
            from .search import SearchError, run_search
        except ImportError:
            return self._invalid_url()
        fields = self.state.catalog(version).fields(module)
        try:
            rows = list(run_search(fields, self.state.store.iter_records(module), **params))
        except SearchError as exc:
            return self._error_from(exc)
        start = (page - 1) * per_page
        chunk = rows[start : start + per_page]
        if not chunk:
            return _with_count(json_response(None, 204), 0)
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page,
            "more_records": start + per_page < len(rows),
        }
        return _with_count(json_response({"data": chunk, "info": info}), len(chunk))

    # --- bulk write (bulk.py is built separately) -----------------------------------------------------
    def _bulk(self, route: Route, request: Request) -> Response:
        if self.bulk is None:
            return self._invalid_url()
        if route.kind == "bulk_upload":
            return self.bulk.upload(request, route.version)
        if route.kind == "bulk_create":
            return self.bulk.create_job(request, route.version)
        if route.kind == "bulk_status":
            return self.bulk.job_status(request, route.version, route.job_id)
        return self.bulk.download(request, route.job_id)

    # --- helpers --------------------------------------------------------------------------------------
    @staticmethod
    def _invalid_url() -> Response:
        return request_error(
            404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", {}
        )

    @staticmethod
    def _too_many(message: str) -> Response:
        """429 body: not documented by Zoho; the emulator's choice (see README)."""
        return request_error(429, "TOO_MANY_REQUESTS", message, {})

    @staticmethod
    def _error_from(exc: Exception) -> Response:
        status = int(getattr(exc, "status", 400))
        code = str(getattr(exc, "code", "INVALID_QUERY"))
        message = str(getattr(exc, "message", str(exc)))
        details = getattr(exc, "details", None) or {}
        return request_error(status, code, message, details)

    def _apply_fault(
        self, fault: Fault, entry: dict[str, Any], environ: WSGIEnvironment, performed: bool = False
    ) -> Response | None:
        """Answer with the fault (or drop the connection); None when the fault is only a delay."""
        if not performed and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.drop:
            entry["status"] = None
            entry["fault"] = fault.describe()
            self.state.calls.add(entry)
            _drop(environ)
        if fault.status is None:
            return None
        code, message = FAULT_BODIES.get(fault.status, ("ERROR", "Emulated fault"))
        return self._log(entry, request_error(fault.status, code, message, {}), fault.describe())

    def _log(self, entry: dict[str, Any], response: Response, fault: str | None = None) -> Response:
        entry["status"] = response.status_code
        entry["fault"] = fault
        self.state.calls.add(entry)
        return response


def _with_count(response: Response, count: int) -> Response:
    response.emulator_records = count  # type: ignore[attr-defined]
    return response
