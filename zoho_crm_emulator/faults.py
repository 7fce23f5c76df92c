"""Faults on demand: scripted or random 429/5xx/dropped connections, delays, token endpoint outages.

A fault plan is a JSON object (see the emulator README, "Faults"):
``{"script": [{"status": 429}, {"drop": true}, {"delay_ms": 3000}, {"status": 500, "after_write": true}],
"match": {"path_contains": "/Leads", "method": "POST"}, "rates": {"429": 0.05, "drop": 0.01},
"seed": 7, "after_write": false, "token_endpoint_down": 2, "bulk_fail_jobs": 1}``.
Script steps apply, in order, to the next Zoho calls that match; once the script is used up the random
rates (if any) apply to matching calls. ``after_write`` makes the fault happen after the call was
performed (records stored), which is how a timeout-after-commit looks to a client.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any


class FaultSpecError(ValueError):
    """The fault plan given at start or at run time is malformed."""


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one call."""

    status: int | None = None
    drop: bool = False
    delay_ms: int = 0
    after_write: bool = False

    def describe(self) -> str:
        if self.drop:
            what = "drop"
        elif self.status is not None:
            what = str(self.status)
        else:
            what = f"delay {self.delay_ms}ms"
        if self.delay_ms and (self.drop or self.status is not None):
            what += f" +delay {self.delay_ms}ms"
        return what + (" after write" if self.after_write else "")


def _parse_step(step: Any, default_after_write: bool) -> Fault:
    if not isinstance(step, dict):
        raise FaultSpecError(f"script step must be an object, got {step!r}")
    unknown = set(step) - {"status", "drop", "delay_ms", "after_write"}
    if unknown:
        raise FaultSpecError(f"unknown script step keys: {sorted(unknown)}")
    status = step.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultSpecError(f"status must be an HTTP error status, got {status!r}")
    delay = step.get("delay_ms", 0)
    if not isinstance(delay, int) or delay < 0:
        raise FaultSpecError(f"delay_ms must be a non-negative integer, got {delay!r}")
    fault = Fault(
        status=status,
        drop=bool(step.get("drop", False)),
        delay_ms=delay,
        after_write=bool(step.get("after_write", default_after_write)),
    )
    if fault.status is None and not fault.drop and not fault.delay_ms:
        raise FaultSpecError(f"script step does nothing: {step!r}")
    return fault


class FaultPlan:
    """The current fault plan; thread-safe. Zoho calls ask `next_fault`; bulk asks `take_bulk_failure`."""

    KEYS = frozenset(
        {"script", "match", "rates", "seed", "after_write", "token_endpoint_down", "bulk_fail_jobs"}
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._spec: dict[str, Any] = {}
            self._script: list[Fault] = []
            self._match: dict[str, str] = {}
            self._rates: dict[str, float] = {}
            self._rng = random.Random(0)
            self._after_write = False
            self._token_down = 0
            self._bulk_fail = 0

    def set(self, spec: dict[str, Any]) -> None:
        """Replace the plan with `spec` (validated first: a bad spec leaves the old plan in place)."""
        if not isinstance(spec, dict):
            raise FaultSpecError("fault plan must be a JSON object")
        unknown = set(spec) - self.KEYS
        if unknown:
            raise FaultSpecError(f"unknown fault plan keys: {sorted(unknown)}")
        after_write = bool(spec.get("after_write", False))
        script = [_parse_step(s, after_write) for s in spec.get("script") or []]
        match = spec.get("match") or {}
        if not isinstance(match, dict) or set(match) - {"path_contains", "method"}:
            raise FaultSpecError("match takes only path_contains and method")
        rates: dict[str, float] = {}
        for key, value in (spec.get("rates") or {}).items():
            if key != "drop" and not (key.isdigit() and 400 <= int(key) <= 599):
                raise FaultSpecError(f"rate key must be an HTTP error status or 'drop', got {key!r}")
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise FaultSpecError(f"rate for {key} must be within 0..1")
            rates[key] = float(value)
        if sum(rates.values()) > 1:
            raise FaultSpecError("rates add up to more than 1")
        token_down = int(spec.get("token_endpoint_down", 0) or 0)
        bulk_fail = int(spec.get("bulk_fail_jobs", 0) or 0)
        with self._lock:
            self._spec = dict(spec)
            self._script = script
            self._match = {k: str(v) for k, v in match.items()}
            self._rates = rates
            self._rng = random.Random(spec.get("seed"))
            self._after_write = after_write
            self._token_down = token_down
            self._bulk_fail = bulk_fail

    def _matches(self, method: str, path: str) -> bool:
        want_method = self._match.get("method")
        if want_method and want_method.upper() != method.upper():
            return False
        return self._match.get("path_contains", "") in path

    def next_fault(self, method: str, path: str, *, token_call: bool = False) -> Fault | None:
        """The fault for this Zoho call, if any (consumes one script step or one random draw).

        Token calls (`/oauth/...`) only take faults from a plan whose `path_contains` names them, so
        a plan aimed at CRM calls is not used up by the client's token refresh.
        """
        with self._lock:
            if not (self._script or self._rates) or not self._matches(method, path):
                return None
            if token_call and "oauth" not in self._match.get("path_contains", ""):
                return None
            if self._script:
                return self._script.pop(0)
            draw = self._rng.random()
            edge = 0.0
            for key, rate in self._rates.items():
                edge += rate
                if draw < edge:
                    if key == "drop":
                        return Fault(drop=True, after_write=self._after_write)
                    return Fault(status=int(key), after_write=self._after_write)
            return None

    def take_token_outage(self) -> bool:
        """True when this token call must fail with 503 (`token_endpoint_down` counts down)."""
        with self._lock:
            if self._token_down > 0:
                self._token_down -= 1
                return True
            return False

    def take_bulk_failure(self) -> bool:
        """True when the bulk job being created must end FAILED (`bulk_fail_jobs` counts down)."""
        with self._lock:
            if self._bulk_fail > 0:
                self._bulk_fail -= 1
                return True
            return False

    def describe(self) -> dict[str, Any]:
        """The plan as set, with what is left of it (for `GET /__emulator__/faults`)."""
        with self._lock:
            return {
                "plan": self._spec,
                "remaining": {
                    "script": [
                        {
                            k: v
                            for k, v in (
                                ("status", f.status),
                                ("drop", f.drop or None),
                                ("delay_ms", f.delay_ms or None),
                                ("after_write", f.after_write or None),
                            )
                            if v is not None
                        }
                        for f in self._script
                    ],
                    "token_endpoint_down": self._token_down,
                    "bulk_fail_jobs": self._bulk_fail,
                },
            }
