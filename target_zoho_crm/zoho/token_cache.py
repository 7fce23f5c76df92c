"""Access tokens shared across runs and processes: a locked JSON file in the user's cache directory.

Zoho issues at most 10 access tokens per refresh token in 10 minutes and keeps 15 active, the 16th
evicting the oldest (https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html). A pipeline
that starts a run every few minutes, or several at once, must reuse tokens instead of refreshing once
per process. Zoho's own SDKs keep a token store for this (zcrmsdk `FileStore`: one row per user, client
and refresh token, with the access token and its expiry time). This store differs in what it leaves out
and in how it writes:

- an entry is keyed by accounts server, client id and a SHA-256 digest of the refresh token (and the
  client secret), and holds only the access token, its expiry and its API domain: the refresh token
  and the client secret are never written;
- the file is mode 0600 (in a 0700 directory when the directory is created here), replaced atomically;
- a caller reads, refreshes and writes under an exclusive `flock` on a sibling lock file, so parallel
  processes wait for one refresh instead of each making their own;
- a corrupt or unreadable file is ignored with a warning: the cache can only save token calls, never
  stop a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger("target_zoho_crm.token_cache")

CACHE_DIR_NAME = "target-zoho-crm"
CACHE_FILE_NAME = "tokens.json"
CACHE_OFF = "off"  # `token_cache_path: "off"` (or "") turns the cache off
FORMAT_VERSION = 1
LOCK_WAIT = 120.0  # seconds to wait for another process's refresh before going on without the cache


@dataclass(frozen=True)
class CachedToken:
    """One access token as stored: `expires_at` is wall-clock time (seconds since the epoch), because the
    process that reads it is not the one that obtained it."""

    access_token: str
    expires_at: float
    ttl: float
    api_domain: str | None = None

    def remaining(self) -> float:
        return self.expires_at - time.time()

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "ttl": self.ttl,
            "api_domain": self.api_domain,
        }

    @classmethod
    def from_json(cls, raw: Any) -> CachedToken:
        if not isinstance(raw, dict) or not isinstance(raw.get("access_token"), str):
            raise ValueError("an entry without an access token")
        domain = raw.get("api_domain")
        return cls(
            access_token=raw["access_token"],
            expires_at=float(raw["expires_at"]),
            ttl=float(raw["ttl"]),
            api_domain=domain if isinstance(domain, str) else None,
        )


def cache_key(accounts_url: str, client_id: str, refresh_token: str, client_secret: str) -> str:
    """Tokens of one refresh token at one accounts server. The refresh token enters only as a SHA-256
    digest, taken together with the client secret: a run with a wrong secret then finds no entry and
    fails at once, instead of using a cached token until it expires."""
    digest = hashlib.sha256(f"{refresh_token}\n{client_secret}".encode()).hexdigest()
    return f"{accounts_url.rstrip('/')} {client_id} sha256:{digest}"


def default_cache_path() -> Path:
    """$XDG_CACHE_HOME/target-zoho-crm/tokens.json, else ~/.cache/target-zoho-crm/tokens.json (the XDG
    base directory rules: a relative XDG_CACHE_HOME is ignored)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / CACHE_DIR_NAME / CACHE_FILE_NAME


def cache_path_from_setting(value: Any) -> Path | None:
    """`token_cache_path` → the cache file; None when it is "off" or an empty string."""
    if value is None:
        return default_cache_path()
    text = str(value).strip()
    if not text or text.lower() == CACHE_OFF:
        return None
    return Path(text).expanduser()


def open_token_cache(setting: Any) -> TokenCache | None:
    """The run's cache from the `token_cache_path` setting (None: turned off, or no flock here)."""
    path = cache_path_from_setting(setting)
    if path is None:
        logger.debug("Token cache turned off (token_cache_path: %r).", setting)
        return None
    if sys.platform == "win32":
        logger.warning("The token cache needs POSIX file locks; it is off on Windows.")
        return None
    return TokenCache(path)


class CacheView:
    """The cache's entries while its lock is held (see `TokenCache.locked`)."""

    def __init__(self, cache: TokenCache, entries: dict[str, Any]) -> None:
        self._cache = cache
        self._entries = entries

    def get(self, key: str) -> CachedToken | None:
        raw = self._entries.get(key)
        if raw is None:
            return None
        try:
            return CachedToken.from_json(raw)
        except (TypeError, ValueError, KeyError):
            self._cache.warn_once("corrupt", "an entry of the token cache %s is malformed; ignoring it.")
            return None

    def put(self, key: str, token: CachedToken) -> None:
        """Store `token` and drop expired entries; a failed write is a warning, never an error."""
        self._entries = {k: v for k, v in self._entries.items() if _still_valid(v)}
        self._entries[key] = token.as_json()
        self._cache.write(self._entries)


def _still_valid(raw: Any) -> bool:
    try:
        return CachedToken.from_json(raw).remaining() > 0
    except (TypeError, ValueError, KeyError):
        return False


class TokenCache:
    """A token file shared by every process of the user; see the module docstring."""

    def __init__(self, path: Path, *, lock_wait: float = LOCK_WAIT) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._lock_wait = lock_wait
        self._warned: set[str] = set()

    def warn_once(self, kind: str, message: str, *args: Any) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, self.path, *args)

    @contextlib.contextmanager
    def locked(self) -> Iterator[CacheView | None]:
        """Exclusive use of the cache across processes; yields None when it cannot be used (then the
        caller goes on without it: a token call more, never a failed run)."""
        fd = self._lock()
        if fd is None:
            yield None
            return
        try:
            yield CacheView(self, self._read())
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _lock(self) -> int | None:
        try:
            self._make_dir()
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            self.warn_once("lock", "cannot use the token cache %s (%s); going on without it.", _why(exc))
            return None
        deadline = time.monotonic() + self._lock_wait
        pause = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    self.warn_once(
                        "busy",
                        "the token cache %s stayed locked by another process for %.0f s; going on "
                        "without it.",
                        self._lock_wait,
                    )
                    return None
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
            except OSError as exc:
                os.close(fd)
                self.warn_once("lock", "cannot lock the token cache %s (%s); going on without it.", _why(exc))
                return None

    def _make_dir(self) -> None:
        if not self.path.parent.is_dir():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            self.warn_once("read", "cannot read the token cache %s (%s); ignoring it.", _why(exc))
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("not a version-1 token cache")
            tokens = data.get("tokens")
            if not isinstance(tokens, dict):
                raise ValueError("no `tokens` object")
        except ValueError:
            self.warn_once("corrupt", "the token cache %s is not a token cache file; ignoring it.")
            return {}
        return tokens

    def write(self, entries: dict[str, Any]) -> None:
        """Replace the file atomically: a reader sees the old or the new file, never half of one."""
        text = json.dumps({"version": FORMAT_VERSION, "tokens": entries}, indent=1, sort_keys=True)
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-", suffix=".tmp")  # 0600
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            self.warn_once("write", "cannot write the token cache %s (%s); going on without it.", _why(exc))
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
