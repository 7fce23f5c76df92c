"""`/__emulator__/...`: look inside and steer the emulator over HTTP (never Zoho's paths).

These calls need no token, are never charged and never appear in the call log. Routes:
`GET records/{module}`, `POST seed/{module}`, `GET calls`, `GET credits`, `GET|POST|DELETE faults`,
`GET|POST latency`, `POST reset`, `POST expire-tokens`, `GET health`, `GET tokens`, and `GET ui` (the
inspector page, `inspector.py`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .faults import FaultSpecError
from .inspector import Inspector, JobsSummary
from .responses import json_response
from .state import EmulatorState

if TYPE_CHECKING:
    from .records import RecordService


def credits_snapshot(state: EmulatorState) -> dict[str, Any]:
    return {
        "used": state.credits.used,
        "remaining": state.credits.remaining,
        "budget": state.credits.budget,
        "edition": state.config.edition,
        "concurrency_limit": state.gate.limit,
        "sub_concurrency_limit": state.gate.sub_limit,
        "in_flight": state.gate.in_flight,
        "peak_in_flight": state.gate.peak,
    }


class Introspection:
    """Handles every `/__emulator__/` request."""

    def __init__(self, state: EmulatorState, records: RecordService, jobs: JobsSummary) -> None:
        self.state = state
        self.records = records
        self.inspector = Inspector(state, jobs)

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][1:]
        method = request.method
        head = parts[0] if parts else ""
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            return json_response({"error": "body is not JSON"}, 400)
        state = self.state
        if head == "ui" and len(parts) == 1 and method == "GET":
            return self.inspector.handle(request)
        if head == "health" and method == "GET":
            return json_response({"status": "ok", "url": state.url, "edition": state.config.edition})
        if head == "records" and len(parts) == 2 and method == "GET":
            recs = self.records.records(parts[1])
            return json_response({"module": parts[1], "count": len(recs), "records": recs})
        if head == "seed" and len(parts) == 2 and method == "POST":
            items = body.get("data") if isinstance(body, dict) and "data" in body else body
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
                return json_response(
                    {"error": 'send a record object, a list of them, or {"data": [...]}'}, 400
                )
            ids = [self.records.add_record(parts[1], r) for r in items]
            return json_response({"ids": ids}, 201)
        if head == "calls" and method == "GET":
            return json_response({"calls": state.calls.all()})
        if head == "credits" and method == "GET":
            return json_response(credits_snapshot(state))
        if head == "tokens" and method == "GET":
            return json_response(state.tokens.snapshot())
        if head == "faults":
            if method == "GET":
                return json_response(state.faults.describe())
            if method == "POST":
                try:
                    state.faults.set(body)
                except FaultSpecError as exc:
                    return json_response({"error": str(exc)}, 400)
                return json_response(state.faults.describe())
            if method == "DELETE":
                state.faults.clear()
                return json_response(state.faults.describe())
        if head == "latency":
            if method == "POST":
                value = body.get("latency_ms") if isinstance(body, dict) else None
                if not isinstance(value, int) or value < 0:
                    return json_response({"error": "latency_ms must be a non-negative integer"}, 400)
                state.latency_ms = value
            if method in ("GET", "POST"):
                return json_response({"latency_ms": state.latency_ms})
        if head == "reset" and method == "POST":
            state.reset()
            return json_response({"status": "reset"})
        if head == "expire-tokens" and method == "POST":
            state.tokens.expire_all()
            return json_response({"status": "expired"})
        return json_response({"error": f"no introspection route {method} {request.path}"}, 404)
