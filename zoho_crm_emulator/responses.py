"""Every answer the emulator builds, in Zoho's shapes (reference §2.7-§2.8): one place for the helpers
that records, bulk, the app and introspection all use.

- a JSON body (`json_response`), 204 without a body;
- a request-level error: one top-level `{"code", "details", "message", "status": "error"}`;
- a per-record error: the same object inside `data[i]` (`error`);
- `INVALID_MODULE` wrapped in `data[0]` with `resource_path_index`;
- `INVALID_URL_PATTERN` (404) and the 429 `TOO_MANY_REQUESTS` body, whose shape Zoho does not document.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from . import jsonio


def error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """One error object in Zoho's shape (per record inside `data`, or a whole request's body)."""
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status=204, headers=headers)
    return Response(jsonio.dumps(body), status=status, mimetype="application/json", headers=headers)


def request_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """A request-level error: one top-level object, no `data` wrapper (reference §2.7)."""
    return json_response(error(code, message, details), status)


def invalid_module(message: str = "the module name given seems to be invalid") -> Response:
    """Unknown module: wrapped in `data[0]` with `resource_path_index` (reference §2.8)."""
    return json_response({"data": [error("INVALID_MODULE", message, {"resource_path_index": 0})]}, 400)


def invalid_url() -> Response:
    return request_error(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def invalid_method() -> Response:
    return request_error(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")


def scope_mismatch() -> Response:
    return request_error(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")


def too_many(message: str) -> Response:
    """429 body: not documented by Zoho; the emulator's choice (see README)."""
    return request_error(429, "TOO_MANY_REQUESTS", message)


def from_exception(exc: Exception) -> Response:
    """A rule's exception (COQL, search) carrying `status`, `code`, `message`, `details`."""
    status = int(getattr(exc, "status", 400))
    code = str(getattr(exc, "code", "INVALID_QUERY"))
    message = str(getattr(exc, "message", str(exc)))
    details = getattr(exc, "details", None) or {}
    return request_error(status, code, message, details)


def with_count(response: Response, count: int) -> Response:
    """Tag a response with the rows it returned, for the call log's `records`."""
    response.emulator_records = count  # type: ignore[attr-defined]
    return response


def counted_records(response: Response) -> int | None:
    count = getattr(response, "emulator_records", None)
    return count if isinstance(count, int) else None
