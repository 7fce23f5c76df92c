"""Every error the target raises, under one base class (`TargetZohoCRMError`).

The
messages name the mistake and the fix; none carries a secret.
"""

from __future__ import annotations

from typing import Any

from singer_sdk.exceptions import MissingKeyPropertiesError

from target_zoho_crm.model import ZohoError


class TargetZohoCRMError(Exception):
    """Base of every error the target raises; catch it to catch any of them."""


class ConfigError(TargetZohoCRMError, ValueError):
    """A setting is invalid; the message says which one and how to fix it."""


class AuthError(TargetZohoCRMError):
    """Zoho refused the credentials; the message names the fix and never contains a secret."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class AuthCommandError(TargetZohoCRMError):
    """`target-zoho-crm-auth`: a problem the user can fix; printed as one message, without a traceback."""


class ZohoAPIError(TargetZohoCRMError):
    """A Zoho error that was not (or no longer) retried: status, Zoho code, message and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.body = body
        super().__init__(f"Zoho API error {status} {code}: {message}")


class MaybeWrittenError(TargetZohoCRMError):
    """A write may have reached Zoho but no answer came back (timeout, dropped connection, 5xx).

    The caller must reconcile (re-read by key) rather than resend an insert.
    """

    def __init__(self, method: str, path: str, reason: str, status: int | None = None) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.status = status
        where = path if path.startswith(f"{method} ") else f"{method} {path}"  # a call's label has both
        super().__init__(f"{where}: no reliable answer from Zoho ({reason}); it may have been written")


class UnknownStreamError(TargetZohoCRMError):
    """A stream matches no module that accepts records (or several); lists what it could have meant."""

    def __init__(self, stream_name: str, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.stream_name = stream_name
        self.candidates = candidates


class UnmatchedStreamError(UnknownStreamError):
    """A stream's name matches no module at all (`unmatched_streams: skip` leaves such a stream out)."""


class FieldMapError(TargetZohoCRMError, ValueError):
    """`field_map` names a field the module does not have."""


class LookupQueryError(TargetZohoCRMError, RuntimeError):
    """A lookup query Zoho refused (bad field, missing scope): fatal for the batch, not per record."""


class FatalWriteError(TargetZohoCRMError, RuntimeError):
    """A failure no record of the load can survive (credentials, scope, permission, module)."""


class BulkJobError(TargetZohoCRMError):
    """One attempt at a job failed as a whole (retried, then its records are rejected)."""

    def __init__(self, error: ZohoError, retry: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry = retry


class RunStopped(TargetZohoCRMError, RuntimeError):
    """The run cannot go on; the message says why and what to do."""


class OutOfCredits(RunStopped):
    """The run stopped because credits ran out (Zoho's daily budget, or the run's own `max_credits`):
    not a fault of any record and not transient within the run; the records not written wait behind
    the last STATE echoed."""


class CreditsExhaustedError(OutOfCredits):
    """Zoho answered 429 because the org's API credits for the rolling 24 hours are spent."""

    def __init__(self, label: str, remaining: int | None, zoho_message: str) -> None:
        self.label = label
        self.remaining = remaining
        self.zoho_message = zoho_message
        left = f"{remaining} credits left" if remaining is not None else "no credits left"
        super().__init__(
            f"Zoho's API credits for the rolling 24 hours are spent ({label}: 429 TOO_MANY_REQUESTS, "
            f"{left}: {zoho_message})"
        )


class CreditBudgetError(OutOfCredits):
    """The next call would spend more than `max_credits` allows; it was not sent."""

    def __init__(self, label: str, cost: int, used: int, budget: int) -> None:
        self.label = label
        self.cost = cost
        self.used = used
        self.budget = budget
        super().__init__(
            f"max_credits={budget} reached: {used} credits used or committed, and the next call "
            f"({label}, {cost} credit{'' if cost == 1 else 's'}) would pass it; it was not sent"
        )


class StopRequested(RunStopped):
    """A call not sent (or not retried) because the run is already stopping for another reason."""


class RejectsFileError(RunStopped):
    """The rejects file cannot be written (a full disk, no permission): no record may be lost, so the
    run stops, with STATE held behind the records not yet handled."""


class MissingKeyError(TargetZohoCRMError, MissingKeyPropertiesError):
    """A RECORD lacks one of its stream's key properties (the run stops: it cannot be matched safely);
    the message names the stream, the key and the input line."""
