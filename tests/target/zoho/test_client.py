"""ZohoClient over real HTTP against the emulator: URLs, retries, idempotency, credits, concurrency.

Zoho answers 429 when credits or the concurrency limit are exceeded and 500 INTERNAL_ERROR on server
faults (https://www.zoho.com/crm/developer/docs/api/v4/status-codes.html); API credits per call type and
concurrency per edition: https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html. Request-level
errors such as INVALID_MODULE come wrapped in `data[0]` with `resource_path_index`
(https://www.zoho.com/crm/developer/docs/api/v4/insert-records.html, "Possible Errors").
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from target_zoho_crm.errors import MaybeWrittenError, ZohoAPIError
from target_zoho_crm.report.redact import Redactor
from target_zoho_crm.zoho.auth import TokenManager
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.credits import credit_cost
from target_zoho_crm.zoho.gate import FairGate
from target_zoho_crm.zoho.regions import ZohoUrls, resolve_urls
from tests.conftest import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN


def _client(api_url: str, accounts_url: str | None = None, **kw: Any) -> ZohoClient:
    urls = resolve_urls({"accounts_url": accounts_url or api_url, "api_url": api_url, "upload_url": api_url})
    tokens = TokenManager(
        urls.accounts_url,
        client_id=EMULATOR_CLIENT_ID,
        client_secret=EMULATOR_CLIENT_SECRET,
        refresh_token=EMULATOR_REFRESH_TOKEN,
        redactor=Redactor(),
        backoff_factor=0.01,
    )
    version = kw.pop("api_version", "v4")
    args: dict[str, Any] = {"backoff_factor": 0.01, "max_backoff": 0.05, "timeout": 5, "max_retries": 4}
    args.update(kw)
    return ZohoClient(urls, version, tokens, **args)


def _lead(i: int) -> dict[str, Any]:
    return {"Last_Name": f"Lead {i}", "Company": "Zylker", "Email": f"lead{i}@zylker.com"}


def _zoho_calls(zoho: Any, fragment: str) -> list[dict[str, Any]]:
    return [c for c in zoho.calls if fragment in c["path"] and "/oauth/" not in c["path"]]


def test_urls_per_base() -> None:
    urls = ZohoUrls("https://accounts.zoho.eu", "https://www.zohoapis.eu", "https://content.zohoapis.eu")
    tokens = TokenManager(urls.accounts_url, access_token="1000.static.token", redactor=Redactor())
    client = ZohoClient(urls, "v2.1", tokens)
    assert client.url_for("/Leads/upsert") == "https://www.zohoapis.eu/crm/v2.1/Leads/upsert"
    assert client.url_for("settings/modules") == "https://www.zohoapis.eu/crm/v2.1/settings/modules"
    assert client.url_for("/write/123", base="bulk") == "https://www.zohoapis.eu/crm/bulk/v2.1/write/123"
    assert client.url_for("/upload", base="upload") == "https://content.zohoapis.eu/crm/v2.1/upload"
    download = "https://download-accl.zoho.eu/v2/crm/1/bulk-write/9/9.zip"
    assert client.url_for(download) == download
    assert client.url_for("https://files.zoho.sa/x") == "https://files.zoho.sa/x"
    assert client.url_for("https://upload.zohocloud.ca/x") == "https://upload.zohocloud.ca/x"
    for untrusted in (
        "https://evil.example.com/x",
        "http://www.zohoapis.eu/x",
        "https://zoho.com.evil.io/",
        "https://www.zohoapis.com.evil.io/",
        "https://notzohoapis.com/",
    ):
        with pytest.raises(ZohoAPIError, match="refusing to send the Zoho token"):
            client.url_for(untrusted)


def test_published_credit_costs() -> None:
    data = {"data": [{}] * 25}
    assert credit_cost("POST", "/Leads", "api", "v4", data, None) == 3
    assert credit_cost("POST", "/Leads/upsert", "api", "v4", {"data": [{}] * 100}, None) == 10
    assert credit_cost("PUT", "/Leads", "api", "v4", {"data": [{}]}, None) == 1
    assert credit_cost("GET", "/settings/fields?module=Leads", "api", "v4", None, None) == 1
    q = "select id from Leads where Email in ('a') limit 500"
    assert credit_cost("POST", "/coql", "api", "v4", {"select_query": q}, None) == 2
    assert credit_cost("POST", "/coql", "api", "v4", {"select_query": q + "0"}, None) == 3
    assert credit_cost("POST", "/coql", "api", "v2", {"select_query": q}, None) == 1
    assert credit_cost("POST", "/write", "bulk", "v4", {"operation": "insert"}, None) == 500
    assert credit_cost("GET", "/write/1", "bulk", "v4", None, None) == 1


def test_429_500_and_a_dropped_connection_are_retried(emulator: Any) -> None:
    client = _client(emulator.url)
    client.get_json("/org")
    emulator.set_faults({"script": [{"status": 429}, {"status": 500}, {"drop": True}]})
    body = client.get_json("/settings/modules")
    assert body["modules"]
    assert client.retries == 3
    assert [c["status"] for c in _zoho_calls(emulator, "/settings/modules")][-1] == 200


def test_retries_give_up_after_max_retries(emulator: Any) -> None:
    client = _client(emulator.url, max_retries=3)
    emulator.set_faults({"script": [{"status": 503}] * 5})
    with pytest.raises(ZohoAPIError) as info:
        client.get_json("/org")
    assert info.value.status == 503 and "gave up after 3 attempts" in str(info.value)
    assert len(_zoho_calls(emulator, "/org")) == 3


def test_a_write_is_not_resent_after_a_drop_that_followed_the_write(emulator: Any) -> None:
    client = _client(emulator.url)
    emulator.set_faults(
        {
            "script": [{"drop": True, "after_write": True}],
            "match": {"path_contains": "/Leads", "method": "POST"},
        }
    )
    with pytest.raises(MaybeWrittenError) as info:
        client.request("POST", "/Leads", json={"data": [_lead(1), _lead(2)]}, idempotent=False)
    assert info.value.method == "POST" and info.value.status is None
    assert len(emulator.records("Leads")) == 2  # written once, not twice
    assert len(_zoho_calls(emulator, "/Leads")) == 1


def test_a_write_is_not_resent_after_a_500_that_followed_the_write(emulator: Any) -> None:
    client = _client(emulator.url)
    emulator.set_faults({"script": [{"status": 500, "after_write": True}], "match": {"method": "POST"}})
    with pytest.raises(MaybeWrittenError) as info:
        client.request("POST", "/Leads", json={"data": [_lead(1)]}, idempotent=False)
    assert info.value.status == 500
    assert len(emulator.records("Leads")) == 1


def test_a_write_is_retried_on_429_and_a_timeout_before_writing_is_reported(emulator: Any) -> None:
    client = _client(emulator.url, timeout=0.5)
    emulator.set_faults({"script": [{"status": 429}, {"status": 503}], "match": {"method": "POST"}})
    response = client.request("POST", "/Leads", json={"data": [_lead(1)]}, idempotent=False)
    assert response.status_code == 201 and len(emulator.records("Leads")) == 1
    emulator.set_faults({"script": [{"delay_ms": 1500}], "match": {"method": "POST"}})
    with pytest.raises(MaybeWrittenError, match="ReadTimeout"):
        client.request("POST", "/Leads", json={"data": [_lead(2)]}, idempotent=False)
    # The same slow answer on a read is simply retried.
    emulator.set_faults({"script": [{"delay_ms": 1500}], "match": {"method": "GET"}})
    assert client.get_json("/org")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_write_that_never_connected_is_retried_not_reported_as_maybe_written(emulator: Any) -> None:
    client = _client(f"http://127.0.0.1:{_closed_port()}", accounts_url=emulator.url, max_retries=2)
    with pytest.raises(ZohoAPIError) as info:
        client.request("POST", "/Leads", json={"data": [_lead(1)]}, idempotent=False)
    assert info.value.code == "CONNECTION_ERROR" and client.retries == 1


def test_request_level_errors_raise_and_per_record_errors_return(emulator: Any) -> None:
    client = _client(emulator.url)
    with pytest.raises(ZohoAPIError) as info:
        client.request("POST", "/Not_A_Module", json={"data": [_lead(1)]}, idempotent=False)
    assert info.value.code == "INVALID_MODULE" and info.value.status == 400
    # Every record invalid: HTTP 400 with per-record results, which the writer needs.
    response = client.request(
        "POST", "/Leads", json={"data": [{"Company": "no last name"}]}, idempotent=False
    )
    assert response.status_code == 400
    assert response.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert (
        client.get_json("/coql", method="POST", json={"select_query": "select id from Leads where id = 1"})
        is None
    )


def test_credit_meter_matches_zohos_count(emulator: Any) -> None:
    client = _client(emulator.url)
    emulator.set_faults({"script": [{"status": 429}]})
    client.get_json("/settings/modules")
    client.get_json("/settings/fields", params={"module": "Leads"})
    client.request("POST", "/Leads", json={"data": [_lead(i) for i in range(25)]}, idempotent=False)
    client.request(
        "POST", "/Leads/upsert", json={"data": [_lead(i) for i in range(20, 60)]}, idempotent=False
    )
    query = "select id, Email from Leads where Email like '%zylker.com' limit 500"
    assert len(client.get_json("/coql", method="POST", json={"select_query": query})["data"]) == 60
    client.request("POST", "/Leads", json={"data": [{"Company": "bad"}] * 3}, idempotent=False)
    with pytest.raises(ZohoAPIError):
        client.request("POST", "/Not_A_Module", json={"data": [_lead(1)]}, idempotent=False)
    assert client.credits_used == emulator.credits_used
    assert client.credits_used >= 1 + 1 + 3 + 4 + 2 + 1
    assert client.calls["POST /Leads"] == 2 and client.calls["POST /Leads/upsert"] == 1


def test_concurrency_is_capped_and_connections_are_reused(emulator: Any) -> None:
    emulator.set_latency(40)
    client = _client(emulator.url, max_concurrency=3)
    client.get_json("/org")
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: client.get_json("/org"), range(36)))
    assert all(results)
    assert client.max_in_flight == 3
    adapter = client.session.get_adapter(emulator.url)
    pools = list(adapter.poolmanager.pools._container.values())
    assert sum(p.num_connections for p in pools) <= 3  # keep-alive: 37 calls over at most 3 sockets
    assert not [c for c in emulator.calls if c["status"] == 429]


def test_the_gate_serves_waiting_calls_first_come_first_served() -> None:
    """A thread that frees a slot and asks again at once must queue behind the threads already waiting
    (threading.Semaphore lets it barge in: a batch's last chunks then waited for many turns)."""
    gate = FairGate(1)
    order: list[str] = []
    gate.__enter__()  # the "busy" caller holds the only slot
    waiting: list[threading.Thread] = []
    for name in ("first", "second"):
        ready = threading.Event()

        def wait(name: str = name, ready: threading.Event = ready) -> None:
            ready.set()
            with gate:
                order.append(name)

        thread = threading.Thread(target=wait)
        thread.start()
        ready.wait()
        deadline = threading.Event()
        while len(gate._waiters) < len(waiting) + 1 and not deadline.wait(0.001):
            pass
        waiting.append(thread)
    gate.__exit__(None, None, None)  # hands the slot to "first"...
    with gate:  # ...so the busy caller, asking again at once, comes after both waiters
        order.append("busy again")
    for thread in waiting:
        thread.join(5)
    assert order == ["first", "second", "busy again"]


def test_unbounded_concurrency_would_hit_zohos_limit() -> None:
    """Counter-check for the cap: 12 parallel calls against a Free edition (5 concurrent) get 429s
    unless the client caps itself at 5."""
    from zoho_crm_emulator import ZohoEmulator

    with ZohoEmulator(edition="free", latency_ms=150) as zoho:
        capped = _client(zoho.url, max_concurrency=5, max_retries=1)
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(lambda _: capped.get_json("/org"), range(24)))
        assert not [c for c in zoho.calls if c["status"] == 429]
        loose = _client(zoho.url, max_concurrency=12, max_retries=1)
        loose.tokens.token()
        barrier = threading.Barrier(12)
        failures: list[int] = []

        def call(_: int) -> None:
            barrier.wait()
            try:
                loose.get_json("/org")
            except ZohoAPIError as exc:
                failures.append(exc.status)

        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(call, range(12)))
        assert failures and set(failures) == {429}


def test_tls_is_verified_and_an_untrusted_certificate_fails_fast(tmp_path: Any) -> None:
    """Issue #6: TLS verification stays on; a self-signed HTTPS server on 127.0.0.1 is refused at once,
    before any request (and token) is sent."""
    import http.server
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        urls = ZohoUrls(url, url, url)
        tokens = TokenManager(url, access_token="1000.static.token.value", redactor=Redactor())
        client = ZohoClient(urls, "v4", tokens, max_retries=5, backoff_factor=0.01)
        assert client.session.verify not in (False, None, "")  # True, or the CA bundle the env names
        with pytest.raises(ZohoAPIError) as info:
            client.get_json("/org")
        assert info.value.code == "TLS_VERIFICATION_FAILED" and client.retries == 0
        assert seen == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_from_another_data_centre_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """Zoho's multi-DC page: the token response's `api_domain` names the DC whose API must be called."""
    urls = ZohoUrls("https://accounts.zoho.com", "https://www.zohoapis.com", "https://content.zohoapis.com")
    tokens = TokenManager(urls.accounts_url, access_token="1000.static.token", redactor=Redactor())
    client = ZohoClient(urls, "v4", tokens)
    tokens.api_domain = "https://www.zohoapis.com"
    client._check_api_domain()
    assert "check `region`" not in caplog.text
    tokens.api_domain = "https://www.zohoapis.eu"
    client._check_api_domain()
    assert "issued a token for https://www.zohoapis.eu but api_url is https://www.zohoapis.com" in caplog.text
