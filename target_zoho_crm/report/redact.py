"""Secret redaction for every log line, error message and rejects row.

Secrets are known values (the configured client secret and tokens, plus every access token issued during
the run), so redaction is an exact-substring scrub rather than a guess from patterns. One process-wide
`REDACTOR` is shared by the token manager, the HTTP client and the log filter.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_MIN_SECRET_LEN = 6  # shorter values would scrub ordinary words; real Zoho secrets are far longer
# `token_cache_path` and `token_wait_seconds` are a file and a number, not secrets: they stay readable.
_SECRET_KEY_RE = re.compile(
    r"secret|token(?!_cache_path|_wait_seconds)|password|authorization", re.IGNORECASE
)
DEFAULT_LOGGERS = ("target-zoho-crm", "target_zoho_crm", "urllib3", "requests", "backoff")


class Redactor:
    """Knows the secrets of the run and removes them from text and nested data."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a secret (no-op for empty/short values)."""
        if not secret or not isinstance(secret, str) or len(secret) < _MIN_SECRET_LEN:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            # Longest first so a secret containing another is removed whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_config(self, config: Mapping[str, Any]) -> None:
        for key, value in config.items():
            if _SECRET_KEY_RE.search(key) and isinstance(value, str):
                self.add(value)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact_obj(self, obj: Any) -> Any:
        """Copy of `obj` (dicts, lists, strings) with every known secret masked."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {self.redact(str(k)): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.redact_obj(v) for v in obj]
        return obj

    def filter(self) -> RedactingFilter:
        return RedactingFilter(self)

    def install(self, logger_names: Iterable[str] = DEFAULT_LOGGERS) -> None:
        """Scrub every log record of the process.

        Logger filters only see records logged on that exact logger (not its children), so the scrub
        is done in the log-record factory, which every record passes through; the filter is also put
        on the named loggers and on the root handlers for records built elsewhere.
        """
        flt = self.filter()
        for name in logger_names:
            _add_filter_once(logging.getLogger(name), flt)
        for handler in logging.getLogger().handlers:
            _add_filter_once(handler, flt)
        _install_record_factory(self)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (args merged in), exception text and stack with secrets masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record, self.redactor)
        return True


def scrub_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Mask secrets in place; a record without secrets is left as it was (singer-sdk's metric records
    carry a `Point` in `args` that its formatter and filters read)."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the raw pieces, scrubbed
        message = f"{record.msg} {record.args}"
    scrubbed = redactor.redact(message)
    if scrubbed != message:
        record.msg = scrubbed
        record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)


def _add_filter_once(target: logging.Filterer, flt: RedactingFilter) -> None:
    if not any(isinstance(f, RedactingFilter) and f.redactor is flt.redactor for f in target.filters):
        target.addFilter(flt)


_factory_lock = threading.Lock()
_factory_redactors: list[Redactor] = []


def _install_record_factory(redactor: Redactor) -> None:
    with _factory_lock:
        if redactor in _factory_redactors:
            return
        first = not _factory_redactors
        _factory_redactors.append(redactor)
        if not first:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            for red in _factory_redactors:
                scrub_record(record, red)
            return record

        logging.setLogRecordFactory(factory)


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of the config safe to echo: secret-looking keys masked, nested dicts too."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if _SECRET_KEY_RE.search(str(key)) and value not in (None, ""):
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = redact_config(value)
        else:
            out[key] = value
    return out


REDACTOR = Redactor()
"""The process-wide redactor: TokenManager and ZohoClient register secrets here by default."""
