"""REST writes: insert / update / upsert in calls of at most 100 records, results matched to inputs.

Zoho answers one result per input record, in input order (201 / 200 / 207 / 400). Each result becomes an
Outcome for the PreparedRecord at that position; a chunk-level failure Zoho reports for the whole call
(e.g. `LIMIT_EXCEEDED`, `INVALID_DATA` on the body) becomes a reject of every record of that chunk, while
failures that no record could survive (auth, scope, permission) raise and stop the run before STATE moves.

A call that may have reached Zoho but whose answer was lost (timeout, dropped connection after sending)
is never blindly resent as an insert: the writer first asks Zoho which of the chunk's records exist
(`reconcile`), and resends only the others; records it cannot identify are rejected as `MAYBE_WRITTEN`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from target_zoho_crm.errors import FatalWriteError, MaybeWrittenError, ZohoAPIError
from target_zoho_crm.model import ModuleInfo, Outcome, OutcomeStatus, PreparedRecord, ZohoError
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.codec import decode_json

LOGGER = logging.getLogger("target_zoho_crm.rest")

MAX_RESENDS = 3  # after a lost answer: check, resend the missing records, at most this many times
FATAL_CODES = frozenset(
    {
        "INVALID_TOKEN",
        "AUTHENTICATION_FAILURE",
        "OAUTH_SCOPE_MISMATCH",
        "NO_PERMISSION",
        "INVALID_MODULE",
        "INVALID_URL_PATTERN",
        "FEATURE_NOT_SUPPORTED",
        "AUTHORIZATION_FAILED",
        "INVALID_HOST",
        "API_NOT_SUPPORTED",
    }
)

# Given the chunk's records, return {record index: existing Zoho id} for those already in Zoho, and the
# indexes that cannot be checked (no key value). Used after MaybeWrittenError.
Reconciler = Callable[[Sequence[PreparedRecord]], tuple[dict[int, str], set[int]]]


class RestWriter:
    """Writes chunks of up to 100 PreparedRecords through Zoho's REST record APIs (`write_chunk`); the
    sink runs the chunks on the run's shared pool, up to the client's concurrency."""

    def __init__(
        self,
        client: ZohoClient,
        module: ModuleInfo,
        *,
        operation: str,
        duplicate_check_fields: list[str] | None = None,
        external_id_field: str | None = None,
        external_lookups: list[str] | None = None,
        trigger: list[str] | None = None,
        reconcile: Reconciler | None = None,
        on_call: Callable[[int], None] | None = None,
        account: str | None = None,
    ) -> None:
        if operation not in ("insert", "update", "upsert"):
            raise ValueError(f"unknown operation {operation!r}")
        self.client = client
        self.module = module
        self.operation = operation
        self.duplicate_check_fields = duplicate_check_fields or []
        self.external_id_field = external_id_field
        self.external_lookups = external_lookups or []
        self.trigger = trigger
        self.reconcile = reconcile
        self.on_call = on_call or (lambda _n: None)
        self.account = account  # whom the meter charges this writer's calls to (a stream)

    # -- request shape -------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        name = self.module.api_name
        return f"/{name}/upsert" if self.operation == "upsert" else f"/{name}"

    @property
    def method(self) -> str:
        return "PUT" if self.operation == "update" else "POST"

    def headers(self) -> dict[str, str]:
        externals = list(self.external_lookups)
        if self.external_id_field and self.operation in ("update", "insert"):
            externals.insert(0, f"{self.module.api_name}.{self.external_id_field}")
        return {"X-EXTERNAL": ",".join(externals)} if externals else {}

    def body(self, chunk: Sequence[PreparedRecord]) -> dict[str, Any]:
        body: dict[str, Any] = {"data": [r.payload for r in chunk]}
        if self.trigger is not None:
            body["trigger"] = list(self.trigger)
        if self.operation == "upsert" and self.duplicate_check_fields:
            body["duplicate_check_fields"] = list(self.duplicate_check_fields)
        return body

    # -- writing -------------------------------------------------------------------------------------
    def write_chunk(self, chunk: Sequence[PreparedRecord], *, attempt: int = 0) -> list[Outcome]:
        try:
            payload = self._send(chunk)
        except MaybeWrittenError as exc:
            if attempt >= MAX_RESENDS:
                raise FatalWriteError(
                    f"{self.operation} {self.module.api_name}: Zoho kept failing after the request was sent"
                    f" ({exc}); stopping so that STATE stays behind these records. Run again later."
                ) from exc
            LOGGER.warning(
                "%s %s: the answer for %d records was lost (%s); checking which reached Zoho before resending",
                self.operation,
                self.module.api_name,
                len(chunk),
                exc,
            )
            return self._recover(chunk, attempt + 1)
        return self._outcomes(chunk, payload)

    def _send(self, chunk: Sequence[PreparedRecord]) -> Any:
        self.on_call(len(chunk))
        try:
            response = self.client.request(
                self.method,
                self.path,
                json=self.body(chunk),
                headers=self.headers(),
                idempotent=self.operation == "update",
                account=self.account,
            )
        except ZohoAPIError as exc:
            return self._api_error_payload(exc)
        if response.status_code == 204 or not response.content:
            return {}
        return decode_json(response)

    def _api_error_payload(self, exc: ZohoAPIError) -> Any:
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return body  # per-record errors delivered with a 4xx status
        if exc.code in FATAL_CODES or exc.status in (401, 403, 404, 429) or exc.status >= 500:
            # Nothing is wrong with these records: Zoho is out of credits or concurrency, or failing,
            # after every retry. Stop the run so that STATE stays behind them; a rerun loads them.
            raise FatalWriteError(str(exc)) from exc
        return {"__chunk_error__": ZohoError(exc.code or "REQUEST_FAILED", exc.message, exc.details or {})}

    def _outcomes(self, chunk: Sequence[PreparedRecord], payload: Any) -> list[Outcome]:
        if isinstance(payload, dict) and "__chunk_error__" in payload:
            error = payload["__chunk_error__"]
            return [Outcome(r.index, "rejected", error=error) for r in chunk]
        items = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            error = ZohoError("UNEXPECTED_RESPONSE", "Zoho answered without per-record results", {})
            return [Outcome(r.index, "rejected", error=error) for r in chunk]
        if len(items) == 1 and len(chunk) > 1 and "resource_path_index" in (items[0].get("details") or {}):
            item = items[0]
            if item.get("code") in FATAL_CODES:
                raise FatalWriteError(f"{item.get('code')}: {item.get('message')}")
            return [Outcome(r.index, "rejected", error=ZohoError.from_zoho(item)) for r in chunk]
        outcomes = []
        for position, record in enumerate(chunk):
            item = items[position] if position < len(items) else None
            outcomes.append(self._outcome(record, item))
        return outcomes

    def _outcome(self, record: PreparedRecord, item: dict[str, Any] | None) -> Outcome:
        if item is None:
            return Outcome(record.index, "rejected", error=ZohoError("MISSING_RESULT", "no result from Zoho"))
        if str(item.get("status", "")).lower() == "success":
            details = item.get("details") or {}
            action = item.get("action")
            if action is None:
                action = "update" if self.operation == "update" else "insert"
            status: OutcomeStatus = "updated" if action == "update" else "inserted"
            return Outcome(record.index, status, record_id=str(details.get("id") or "") or None)
        error = ZohoError.from_zoho(item)
        if error.code in FATAL_CODES:
            raise FatalWriteError(f"{error.code}: {error.message}")
        return Outcome(record.index, "rejected", error=error)

    def _recover(self, chunk: Sequence[PreparedRecord], attempt: int) -> list[Outcome]:
        """After a lost answer: resend what is safe to resend, never create a record twice.

        Update and upsert are idempotent on their key: every record that has a key value is resent (an
        upsert whose first try did land updates it to the same values). An upsert record without a key
        would insert again, so it is rejected as MAYBE_WRITTEN. An insert is first checked against Zoho
        by the module's unique field (`reconcile`): found → inserted; no key → MAYBE_WRITTEN; the
        others are resent."""
        if self.operation == "update":
            return self.write_chunk(chunk, attempt=attempt)
        outcomes: dict[int, Outcome] = {}
        if self.operation == "upsert":
            resend = [r for r in chunk if r.key is not None]
            unknown = {r.index for r in chunk if r.key is None}
        else:
            found, unknown = self.reconcile(chunk) if self.reconcile else ({}, {r.index for r in chunk})
            for index, record_id in found.items():
                outcomes[index] = Outcome(index, "inserted", record_id=record_id)
            resend = [r for r in chunk if r.index not in found and r.index not in unknown]
        for index in unknown:
            outcomes[index] = Outcome(index, "rejected", error=_maybe_written())
        if resend:
            for outcome in self.write_chunk(resend, attempt=attempt):
                outcomes[outcome.index] = outcome
        return [outcomes[r.index] for r in chunk]


def _maybe_written() -> ZohoError:
    return ZohoError(
        "MAYBE_WRITTEN",
        "Zoho's answer was lost after sending and this record has no key to check it by; not resent, to"
        " avoid a duplicate: check Zoho and load it again.",
    )


DELETE_IDS_MAX = 100  # ids in one DELETE /{module}?ids= call (delete-records.html)


def delete_records(
    client: ZohoClient,
    module: str,
    ids: Sequence[str],
    *,
    wf_trigger: bool = True,
    account: str | None = None,
) -> dict[str, ZohoError | None]:
    """`DELETE /{module}?ids=…&wf_trigger=…` in calls of at most 100 ids (delete-records.html): the
    records go to Zoho's recycle bin. Returns id → None (deleted) or Zoho's error for that id. A delete
    is idempotent (a second one fails for that id and deletes nothing), so it is retried like a read."""
    answers: dict[str, ZohoError | None] = {}
    for start in range(0, len(ids), DELETE_IDS_MAX):
        chunk = list(ids[start : start + DELETE_IDS_MAX])
        params = {"ids": ",".join(chunk), "wf_trigger": "true" if wf_trigger else "false"}
        try:
            response = client.request("DELETE", f"/{module}", params=params, account=account)
            payload = decode_json(response) if response.content else {}
        except ZohoAPIError as exc:
            body = getattr(exc, "body", None)
            if not (isinstance(body, dict) and isinstance(body.get("data"), list)):
                if exc.code in FATAL_CODES or exc.status in (401, 403, 404, 429) or exc.status >= 500:
                    raise FatalWriteError(str(exc)) from exc
                error = ZohoError(exc.code or "REQUEST_FAILED", exc.message, exc.details or {})
                answers.update({rid: error for rid in chunk})
                continue
            payload = body
        items = payload.get("data") if isinstance(payload, dict) else None
        items = items if isinstance(items, list) else []
        for position, rid in enumerate(chunk):
            item = items[position] if position < len(items) else None
            if item is None:
                answers[rid] = ZohoError("MISSING_RESULT", "no result from Zoho")
            elif str(item.get("status", "")).lower() == "success":
                answers[rid] = None
            else:
                answers[rid] = ZohoError.from_zoho(item)
    return answers
