"""The checks every CRM call goes through before and around its handler, one function each, in Zoho's order.

Before the call is in flight (`CHECKS`, each answers the call or lets it go on):
1. `early_fault`: a scripted or random fault of the plan may answer first (or drop the connection);
2. `authenticate`: `Authorization: Zoho-oauthtoken …` present (401 `AUTHENTICATION_FAILURE`) and valid
   (401 `INVALID_TOKEN`);
3. `find_route`: a known URL (404 `INVALID_URL_PATTERN`) with its method (400 `INVALID_REQUEST_METHOD`);
4. `find_module`: a module of the org that the API supports for this call (400 `INVALID_MODULE`);
5. `check_scope`: the token's scopes cover the call (401 `OAUTH_SCOPE_MISMATCH`);
6. `read_body`: JSON where the call takes one (400 `INVALID_DATA`), and how many records it carries;
7. `check_record_limit`: at most 100 records a write or delete (400 `LIMIT_EXCEEDED`);
8. `take_credits`: the call's price fits what is left of the day's budget, taken at once (429);
9. `enter_gate`: within the edition's concurrency and the sub-concurrency of heavy writes (429, never
   queued).
Then `fly`: latency while in flight, the handler, credits given back when Zoho would not charge the
call (a 5xx, a 401, a bulk job refused), an `after_write` fault; and `finish`: `X-API-CREDITS-REMAINING` once
half the budget is used, and one call-log entry. A call refused by a check is never charged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from . import jsonio
from .faults import Fault
from .limits import (
    BULK_JOB_CREDITS,
    HEAVY_WRITE_THRESHOLD,
    MAX_RECORDS_PER_WRITE,
    Charge,
    coql_credits,
    write_credits,
)
from .responses import (
    counted_records,
    invalid_method,
    invalid_module,
    invalid_url,
    request_error,
    scope_mismatch,
    too_many,
)
from .routes import DELETE_KINDS, WRITE_FLAGS, WRITE_KINDS, Route, parse_route
from .scopes import allowed as scopes_allowed
from .scopes import needed_scope
from .state import EmulatorState

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

LOGGER = logging.getLogger("zoho_crm_emulator")
FAULT_BODIES = {
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("INTERNAL_ERROR", "Internal Server Error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}
TOKEN_PREFIX = "Zoho-oauthtoken "


class DroppedConnection(ConnectionAbortedError):
    """Raised after shutting the client socket; werkzeug then writes nothing back."""


@dataclass
class Call:
    """One Zoho call on its way through the checks: what each check found out, for the next ones."""

    request: Request
    environ: WSGIEnvironment
    arrived: float
    entry: dict[str, Any]
    fault: Fault | None = None
    granted: frozenset[str] = frozenset()
    route: Route = field(default_factory=lambda: Route("unknown", ""))
    module_meta: dict[str, Any] | None = None
    body: Any = None
    count: int = 0
    charge: Charge | None = None
    heavy: bool = False
    answered_by_fault: bool = False


Handler = Callable[[Call], Response]
Check = Callable[[EmulatorState, Call], "Response | None"]


@functools.lru_cache(maxsize=1024)
def scopes_cover(granted: frozenset[str], needed: str | None) -> bool:
    """`scopes.allowed`, memoised: a token asks for the same few scopes on every call."""
    return scopes_allowed(granted, needed)


# --- faults -------------------------------------------------------------------------------------------
def drop_connection(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise DroppedConnection("emulator fault: connection dropped")


def log(
    state: EmulatorState, entry: dict[str, Any], response: Response, fault: str | None = None
) -> Response:
    entry["status"] = response.status_code
    entry["fault"] = fault
    state.calls.add(entry)
    return response


def apply_fault(state: EmulatorState, fault: Fault, call: Call, performed: bool = False) -> Response | None:
    """The fault's answer (or the connection dropped, logged); None when the fault is only a delay."""
    if not performed and fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.drop:
        call.entry["status"] = None
        call.entry["fault"] = fault.describe()
        state.calls.add(call.entry)
        drop_connection(call.environ)
    if fault.status is None:
        return None
    call.answered_by_fault = True
    code, message = FAULT_BODIES.get(fault.status, ("ERROR", "Emulated fault"))
    return request_error(fault.status, code, message)


# --- the checks, in Zoho's order ------------------------------------------------------------------------
def early_fault(state: EmulatorState, call: Call) -> Response | None:
    call.fault = fault = state.faults.next_fault(call.request.method, call.request.path)
    if fault is not None and not fault.after_write and (fault.status is not None or fault.drop):
        return apply_fault(state, fault, call)
    return None


def authenticate(state: EmulatorState, call: Call) -> Response | None:
    auth = call.request.headers.get("Authorization", "")
    if not auth.startswith(TOKEN_PREFIX):
        return request_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
    granted = state.tokens.access_scopes(auth[len(TOKEN_PREFIX) :].strip())
    if granted is None:
        return request_error(401, "INVALID_TOKEN", "invalid oauth token")
    call.granted = granted
    return None


def find_route(state: EmulatorState, call: Call) -> Response | None:
    route = parse_route(call.request.method, call.request.path)
    if route is None:
        return invalid_url()
    if route.wrong_method(call.request.method):
        return invalid_method()
    call.route = route
    return None


def find_module(state: EmulatorState, call: Call) -> Response | None:
    route = call.route
    if route.module is None or route.kind == "meta_modules":
        return None
    meta = state.catalog(route.version).module(route.module)
    if meta is None:
        return invalid_module()
    flag = WRITE_FLAGS.get(route.kind)
    if meta.get("api_supported") is False or (flag and meta.get(flag) is False):
        return invalid_module("The given module is not supported in API")
    call.module_meta = meta
    return None


def check_scope(state: EmulatorState, call: Call) -> Response | None:
    """The call's own scope; COQL's module READ scope is checked once the query names its module."""
    generated = (call.module_meta or {}).get("generated_type")
    needed = needed_scope(call.route.kind, call.route.module, generated)
    return None if scopes_cover(call.granted, needed) else scope_mismatch()


def read_body(state: EmulatorState, call: Call) -> Response | None:
    kind, request = call.route.kind, call.request
    if kind in WRITE_KINDS or kind == "coql":
        try:
            call.body = jsonio.loads(request.get_data())
        except ValueError:
            return request_error(400, "INVALID_DATA", "invalid data")
        data = call.body.get("data") if isinstance(call.body, dict) else None
        if kind in WRITE_KINDS and isinstance(data, list):
            call.count = len(data)
    elif kind == "delete":
        call.count = len([x for x in request.args.get("ids", "").split(",") if x.strip()])
    elif kind == "delete_one":
        call.count = 1
    call.entry["records"] = call.count
    return None


def check_record_limit(state: EmulatorState, call: Call) -> Response | None:
    if call.count <= MAX_RECORDS_PER_WRITE:
        return None
    return request_error(
        400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", {"limit": MAX_RECORDS_PER_WRITE}
    )


def price(call: Call) -> int:
    """The call's credits (reference §9.3)."""
    kind = call.route.kind
    if kind in WRITE_KINDS or kind in DELETE_KINDS:
        return write_credits(call.count)
    if kind == "coql":
        query = call.body.get("select_query", "") if isinstance(call.body, dict) else ""
        return coql_credits(call.route.version, str(query))
    if kind == "bulk_create":
        return BULK_JOB_CREDITS
    if kind in ("bulk_upload", "bulk_download"):
        return 0
    return 1


def take_credits(state: EmulatorState, call: Call) -> Response | None:
    call.charge = state.credits.try_charge(price(call))
    if call.charge is not None:
        return None
    refused = too_many("API credits exhausted for the rolling 24 hours")
    refused.headers["X-API-CREDITS-REMAINING"] = str(state.credits.remaining)
    return refused


def enter_gate(state: EmulatorState, call: Call) -> Response | None:
    call.heavy = call.route.kind in WRITE_KINDS and call.count > HEAVY_WRITE_THRESHOLD
    if state.gate.try_enter(call.heavy):
        return None
    if call.charge is not None:
        state.credits.refund(call.charge)
    return too_many("concurrency limit exceeded")


CHECKS: tuple[Check, ...] = (
    early_fault,
    authenticate,
    find_route,
    find_module,
    check_scope,
    read_body,
    check_record_limit,
    take_credits,
    enter_gate,
)


# --- in flight ----------------------------------------------------------------------------------------
def charged(call: Call, response: Response) -> bool:
    """Zoho does not charge a server error, a refused token or scope, nor a bulk job it did not create."""
    if response.status_code >= 500 or response.status_code == 401:
        return False
    return not (call.route.kind == "bulk_create" and response.status_code >= 300)


def fly(state: EmulatorState, call: Call, handle: Handler) -> Response:
    """Latency, the handler and what is settled after it, while the call counts as in flight."""
    fault = call.fault
    try:
        # `latency_ms` is how long a call takes at Zoho, its own processing included: everything since
        # the request arrived (body decoding, checks, the handler) is part of it; a fault's delay comes
        # on top. So ten concurrent calls each still take `latency_ms` while they share the GIL.
        try:
            response = handle(call)
        except Exception:  # a bug must look like Zoho's 500, not an HTML page
            LOGGER.exception("emulator error on %s %s", call.request.method, call.request.path)
            response = request_error(500, "INTERNAL_ERROR", "Internal Server Error")
        delay = state.latency_ms / 1000 - (time.monotonic() - call.arrived)
        delay += (fault.delay_ms if fault is not None else 0) / 1000
        if delay > 0:
            time.sleep(delay)
        assert call.charge is not None
        if charged(call, response):
            call.entry["credits"] = call.charge.credits
        else:
            state.credits.refund(call.charge)
        rows = counted_records(response)
        if rows is not None:
            call.entry["records"] = rows
        if fault is not None and fault.after_write and (fault.status is not None or fault.drop):
            response = apply_fault(state, fault, call, performed=True) or response
    finally:
        state.gate.leave(call.heavy)
    return finish(state, call, response)


def finish(state: EmulatorState, call: Call, response: Response) -> Response:
    if state.credits.past_half():
        response.headers["X-API-CREDITS-REMAINING"] = str(state.credits.remaining)
    return log(state, call.entry, response, call.fault.describe() if call.fault is not None else None)


def refuse(state: EmulatorState, call: Call, response: Response) -> Response:
    """A call a check answered: logged, with the fault's description when the fault answered it."""
    fault = call.fault.describe() if call.answered_by_fault and call.fault is not None else None
    return log(state, call.entry, response, fault)


def run(state: EmulatorState, call: Call, handle: Handler) -> Response:
    """One CRM call: the checks in order (the first that answers ends the call), then `fly`."""
    for check in CHECKS:
        refused = check(state, call)
        if refused is not None:
            return refuse(state, call, refused)
    return fly(state, call, handle)
