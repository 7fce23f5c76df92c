"""The inspector page `GET /__emulator__/ui`, checked in a real headless browser (Debian's `chromium`).

The browser loads the page from the running emulator and dumps the DOM it built; the test reads the
tables out of that DOM. Chromium is installed by the `chromium` fixture where it is missing and the
suite runs as root (apt-get); elsewhere the tests are skipped, saying why.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from zoho_crm_emulator import ZohoEmulator

from .conftest import Api

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_LOCK = Path(tempfile.gettempdir()) / "zoho-emulator-chromium-install.lock"


def _find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a chromium binary; installed with apt-get (once, under a lock shared by the xdist
    workers) when it is missing and the tests run as root."""
    found = _find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find_chromium()
        if not found:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, env=env, timeout=600)
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                check=True,
                capture_output=True,
                env=env,
                timeout=1200,
            )
            found = _find_chromium()
    assert found, "apt-get installed chromium but no chromium binary is on PATH"
    return found


class Dom(HTMLParser):
    """The tables (by id) and a few elements of a dumped DOM."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.meta_refresh: str | None = None
        self.body: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._text_id: list[tuple[str, list[str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a":
            self.links.append(a)
        elif tag == "meta" and a.get("http-equiv") == "refresh":
            self.meta_refresh = a.get("content")
        elif tag == "body":
            self.body = a
        if "id" in a and tag != "table":
            self._text_id.append((a["id"], []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag in ("p", "pre") and self._text_id:
            ident, parts = self._text_id.pop()
            self.ids[ident] = "".join(parts).strip()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, parts in self._text_id:
            parts.append(data)

    def rows(self, table: str) -> list[dict[str, str]]:
        head, *body = self.tables[table]
        return [dict(zip(head, row, strict=False)) for row in body]


def browse(chromium: str, url: str, tmp_path: Path) -> Dom:
    """Load `url` in headless chromium (fresh profile) and parse the DOM it dumps."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return Dom(done.stdout)


@pytest.fixture
def loaded(zoho: ZohoEmulator) -> Iterator[ZohoEmulator]:
    """120 Leads written through the v8 API (two calls), one failed write, and a fault plan set.
    (The page does not depend on the API version: one is enough for the browser.)"""
    api = Api(zoho, "v8")
    for start in (0, 100):
        n = 100 if start == 0 else 20
        data = [
            {"Last_Name": f"Lead {i:03d}", "Email": f"lead{i}@zylker.com"} for i in range(start, start + n)
        ]
        assert api.post("Leads", json={"data": data}).status_code == 201
    assert api.post("Leads", json={"data": [{"Email": "no-name@zylker.com"}]}).status_code == 400
    zoho.add_record("Accounts", {"Account_Name": "Zylker"})
    zoho.set_faults({"script": [{"status": 503}], "match": {"path_contains": "/Deals"}})
    yield zoho


def test_overview_lists_modules_calls_credits_and_faults(chromium: str, loaded: ZohoEmulator, tmp_path: Path):
    dom = browse(chromium, f"{loaded.url}/__emulator__/ui", tmp_path)
    modules = {r["Module"]: int(r["Records"]) for r in dom.rows("modules")}
    assert modules["Leads"] == 120 and modules["Accounts"] == 1 and modules["Deals"] == 0
    calls = dom.rows("calls")
    writes = [c for c in calls if c["Method"] == "POST" and c["Path"] == "/crm/v8/Leads"]
    assert [(c["Status"], c["Records"], c["Credits"]) for c in writes] == [
        ("400", "1", "1"),
        ("201", "20", "2"),
        ("201", "100", "10"),
    ]  # newest first
    assert f"{loaded.credits_used} of 60000 used" in dom.ids["credits"]
    assert '"status": 503' in dom.ids["faults"] and "/Deals" in dom.ids["faults"]
    assert "issuing: 10 per 600 s" in dom.ids["tokens"]
    assert dom.body["data-busy"] == "yes" and dom.meta_refresh == "2"  # a load has just run


def test_a_modules_records_are_paged_and_searchable(chromium: str, loaded: ZohoEmulator, tmp_path: Path):
    base = f"{loaded.url}/__emulator__/ui?module=Leads"
    first = browse(chromium, base, tmp_path)
    rows = first.rows("records")
    assert len(rows) == 50 and rows[0]["Last_Name"] == "Lead 000" and rows[0]["id"].isdigit()
    assert rows[0]["Owner"]  # lookups shown by name
    assert "page 1 of 3" in first.ids["shown"]
    assert any(link.get("rel") == "next" and "page=2" in link["href"] for link in first.links)
    last = browse(chromium, base + "&page=3", tmp_path)
    assert [r["Last_Name"] for r in last.rows("records")] == [f"Lead {i:03d}" for i in range(100, 120)]
    found = browse(chromium, base + "&q=LEAD7%40", tmp_path)  # any value, case-insensitive
    assert [r["Email"] for r in found.rows("records")] == ["lead7@zylker.com"]
    assert "1 records containing" in found.ids["shown"]


def test_the_page_refreshes_while_a_load_runs_and_stops_when_idle(chromium: str, tmp_path: Path):
    """Idle (no Zoho call yet, no job): no refresh. While calls are in flight: refresh every 2 s."""
    with ZohoEmulator(latency_ms=3000) as zoho:
        zoho.add_record("Leads", {"Last_Name": "Seed"})  # introspection: not a Zoho call
        idle = browse(chromium, f"{zoho.url}/__emulator__/ui", tmp_path)
        assert idle.meta_refresh is None and idle.body["data-busy"] == "no"
        token = zoho.access_token()
        with requests.Session() as http:
            started = threading.Thread(
                target=http.get,
                args=(f"{zoho.url}/crm/v8/org",),
                kwargs={"headers": {"Authorization": f"Zoho-oauthtoken {token}"}, "timeout": 30},
            )
            started.start()
            try:
                _wait_in_flight(zoho)
                busy = browse(chromium, f"{zoho.url}/__emulator__/ui", tmp_path)
            finally:
                started.join()
        assert busy.meta_refresh == "2" and "1 calls in flight" in busy.ids["concurrency"]


def _wait_in_flight(zoho: ZohoEmulator, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while zoho.state.gate.in_flight == 0:
        assert time.monotonic() < deadline, "the call never got in flight"
        time.sleep(0.01)


def test_the_page_escapes_what_it_shows(zoho: ZohoEmulator) -> None:
    """Record values are data, not markup (plain HTTP; no browser needed)."""
    zoho.add_record("Leads", {"Last_Name": "<script>alert(1)</script>"})
    page = requests.get(f"{zoho.url}/__emulator__/ui", params={"module": "Leads"}, timeout=5).text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unknown_ui_routes_are_404(zoho: ZohoEmulator) -> None:
    assert requests.get(f"{zoho.url}/__emulator__/ui/more", timeout=5).status_code == 404
