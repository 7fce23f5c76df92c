"""`ZohoEmulator`: the emulator on a loopback port in a background thread, with Python helpers.

    with ZohoEmulator(token_ttl=5) as zoho:
        zoho.url; zoho.records("Leads"); zoho.add_record("Accounts", {...}); zoho.calls
        zoho.credits_used; zoho.set_faults({...}); zoho.expire_tokens(); zoho.reset(); zoho.set_latency(50)

werkzeug's threaded server with HTTP/1.1 keep-alive, so a client's pooled connections are reused as
they are against Zoho.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import sys
import threading
import time
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import ARRIVED_KEY, EmulatorApp
from .scopes import DEFAULT_SCOPES, parse_scopes
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_GRANT_CODE,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN_TTL,
    MAX_ACTIVE_TOKENS,
    TOKEN_ISSUE_LIMIT,
    TOKEN_ISSUE_WINDOW_S,
    CatalogLoader,
    EmulatorConfig,
    EmulatorState,
)

LOGGER = logging.getLogger("zoho_crm_emulator")
# GIL switch interval for an emulator that has a process of its own (the console script, the benchmarks).
# With the default 5 ms, a call whose latency has elapsed can wait up to 5 ms for the GIL behind another
# call's validation: measured +4 ms on every 200 ms call with ten in flight. At 0.5 ms the answer leaves
# on time, as Zoho's would.
OWN_PROCESS_SWITCH_INTERVAL_S = 0.0005


# Full garbage collections pause every thread, and their cost grows with the records stored: measured
# stalls of ~0.1 s every ~15,000 records loaded. Stored records form no reference cycles worth chasing.
OWN_PROCESS_GC_THRESHOLDS = (100_000, 50, 1_000)


def tune_own_process() -> None:
    """Call once when the emulator runs in a process of its own (never inside a test or a target)."""
    sys.setswitchinterval(OWN_PROCESS_SWITCH_INTERVAL_S)
    gc.freeze()  # what is loaded so far (code, metadata) is never collected
    gc.set_threshold(*OWN_PROCESS_GC_THRESHOLDS)


def open_connections(server: Any) -> set[socket.socket]:
    """The server's open client connections (kept-alive ones included), closed on stop."""
    conns: set[socket.socket] | None = getattr(server, "emulator_connections", None)
    if conns is None:
        conns = server.emulator_connections = set()
    return conns


class QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive; no per-request access log (the call log is the record of calls).

    werkzeug's own `run_wsgi` closes every connection (it drains the socket after each response,
    which would swallow the next request). The emulator's app always reads the whole request body
    first and answers with buffered bodies, so this handler writes each response with its
    Content-Length and keeps the connection open for the client's next request, as Zoho does.
    Idle connections are closed after `timeout` seconds.
    """

    protocol_version = "HTTP/1.1"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        open_connections(self.server).add(self.connection)

    def finish(self) -> None:
        open_connections(self.server).discard(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True

    def parse_request(self) -> bool:
        # Called once the request line is in: the call's latency counts from here (see app.py).
        self.arrived = time.monotonic()
        return bool(super().parse_request())

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        environ[ARRIVED_KEY] = getattr(self, "arrived", None)
        captured: dict[str, Any] = {"written": []}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return captured["written"].append

        try:
            result = self.server.app(environ, start_response)
            try:
                body = b"".join([*captured["written"], *result])
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (TimeoutError, ConnectionError) as exc:
            self.connection_dropped(exc, environ)
            return
        except Exception:
            LOGGER.exception("emulator error on %s %s", self.command, self.path)
            self.close_connection = True  # the request body may not have been read
            captured["status"] = "500 INTERNAL SERVER ERROR"
            captured["headers"] = [("Content-Type", "application/json")]
            body = b'{"code": "INTERNAL_ERROR", "details": {}, "message": "Internal Server Error", "status": "error"}'
        code_text, _, reason = str(captured["status"]).partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        for key, value in captured["headers"]:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        if code not in (204, 304) and not 100 <= code < 200:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD" and code not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()


class ZohoEmulator:
    """A running emulator (start with `with` or `start()`); every helper is thread-safe."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        edition: str = "enterprise",
        latency_ms: int = 0,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        db_path: str | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        grant_code: str = DEFAULT_GRANT_CODE,
        scopes: str | None = None,
        bulk_rows_per_second: int = 50_000,
        credits: int | None = None,
        licenses: int = 10,
        faults: dict[str, Any] | None = None,
        modules_json: str | None = None,
        fields_dir: str | None = None,
        catalog_loader: CatalogLoader | None = None,
        token_issue_limit: int | None = TOKEN_ISSUE_LIMIT,
        token_issue_window: float = TOKEN_ISSUE_WINDOW_S,
        max_active_tokens: int | None = MAX_ACTIVE_TOKENS,
    ) -> None:
        self.host, self.port = host, port
        self.config = EmulatorConfig(
            edition=edition,
            credits=credits,
            licenses=licenses,
            latency_ms=latency_ms,
            token_ttl=token_ttl,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            grant_code=grant_code,
            scopes=scopes or ",".join(DEFAULT_SCOPES),
            db_path=db_path,
            modules_json=modules_json,
            fields_dir=fields_dir,
            bulk_rows_per_second=bulk_rows_per_second,
            faults=faults,
            token_issue_limit=token_issue_limit,
            token_issue_window=token_issue_window,
            max_active_tokens=max_active_tokens,
        )
        self.state = EmulatorState(self.config, catalog_loader)
        self.app = EmulatorApp(self.state)  # may be wrapped (middleware) before start()
        self.record_service = self.app.records
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> ZohoEmulator:
        server = make_server(self.host, self.port, self.app, threaded=True, request_handler=QuietHandler)
        open_connections(server)
        self._server = server
        self.port = server.server_port
        self.state.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="zoho-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for conn in list(open_connections(self._server)):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.state.store.close()

    def serve_until_terminated(self) -> None:
        """Serve in a process of its own (the console script, the benchmarks) until SIGTERM or Ctrl-C:
        tune the process, start, print the base URL once listening, and stop cleanly."""

        def _stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _stop)
        tune_own_process()
        self.start()
        print(self.url, flush=True)
        print(f"inspector: {self.url}/__emulator__/ui", file=sys.stderr, flush=True)
        try:
            if hasattr(signal, "pause"):
                signal.pause()
            elif self._thread is not None:
                self._thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> ZohoEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.state.url

    # --- introspection --------------------------------------------------------------------------------
    def records(self, module: str) -> list[dict[str, Any]]:
        return self.record_service.records(module)

    def add_record(self, module: str, record: dict[str, Any]) -> str:
        return self.record_service.add_record(module, record)

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.state.calls.all()

    @property
    def credits_used(self) -> int:
        return self.state.credits.used

    @property
    def credits_remaining(self) -> int:
        return self.state.credits.remaining

    @property
    def peak_in_flight(self) -> int:
        return self.state.gate.peak

    def access_token(self, scopes: str | None = None) -> str:
        """A fresh valid access token (default: the configured scopes), without a token call."""
        return self.state.tokens.issue_access(parse_scopes(scopes) or None)

    # --- steering -------------------------------------------------------------------------------------
    def set_faults(self, spec: dict[str, Any]) -> None:
        self.state.faults.set(spec)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def faults(self) -> dict[str, Any]:
        return self.state.faults.describe()

    def expire_tokens(self) -> None:
        self.state.tokens.expire_all()

    def set_latency(self, ms: int) -> None:
        self.state.latency_ms = int(ms)

    def reset(self) -> None:
        self.state.reset()
