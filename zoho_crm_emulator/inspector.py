"""`GET /__emulator__/ui`: a plain HTML page to watch the emulator while a pipeline loads into it.

One page, no JavaScript, no external assets (it must work offline and in any browser):
- the overview: each module with its record count, the credit meter, concurrency, token limits, the
  fault plan, Bulk Write jobs, and the latest calls with their status, records and credits;
- `?module=Leads[&page=N][&q=text]`: that module's records as a table, 50 a page, `q` keeping the
  records where any value contains the text (case-insensitive);
- `?calls=N`: how many of the latest calls to list (default 50).
While a load runs (a call in flight, a call in the last few seconds, or a bulk job not finished) the
page refreshes itself every 2 seconds (`<meta http-equiv="refresh">`); once the load is over it stops.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .state import EmulatorState

PAGE_SIZE = 50
DEFAULT_CALLS = 50
REFRESH_S = 2
BUSY_WINDOW_S = 5.0  # a call this recent means a load is still running
DONE_JOB_STATES = frozenset({"COMPLETED", "FAILED"})
MAX_CELL_CHARS = 120

JobsSummary = Callable[[], list[dict[str, Any]]]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .2em .5em; }
th { background: #f2f2f2; text-align: left; } td.num { text-align: right; }
.error { color: #a00; } .muted { color: #777; } pre { background: #f6f6f6; padding: .5em; }
meter { width: 20em; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _cell(value: Any) -> str:
    """A record value as table text: lookups by name (or id), lists joined, long text shortened."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("id") or json.dumps(value)
    elif isinstance(value, list):
        value = "; ".join(str(_cell(v)) for v in value)
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], table_id: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _int_arg(request: Request, name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except ValueError:
        return default


def matches(record: dict[str, Any], needle: str) -> bool:
    """Whether any value of the record (lookups by name and id) contains `needle`, ignoring case."""
    folded = needle.casefold()
    for value in record.values():
        parts = [value.get("name"), value.get("id")] if isinstance(value, dict) else [value]
        if any(p is not None and folded in str(p).casefold() for p in parts):
            return True
    return False


class Inspector:
    """Renders the inspector page from the emulator's live state."""

    def __init__(self, state: EmulatorState, jobs: JobsSummary) -> None:
        self.state = state
        self.jobs = jobs

    def busy(self) -> bool:
        """A load is running: a call in flight, one in the last seconds, or a bulk job not finished."""
        state = self.state
        if state.gate.in_flight > 0:
            return True
        if state.calls.last_at and time.monotonic() - state.calls.last_at < BUSY_WINDOW_S:
            return True
        return any(job["status"] not in DONE_JOB_STATES for job in self.jobs())

    def handle(self, request: Request) -> Response:
        module = request.args.get("module")
        body = self._module_page(request, module) if module else self._overview(request)
        busy = self.busy()
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if busy else ""
        title = f"Zoho CRM emulator — {module}" if module else "Zoho CRM emulator"
        page = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{refresh}'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
            f'<body data-busy="{"yes" if busy else "no"}"><h1>{_e(title)}</h1>'
            f'<p class="muted">{_e(self.state.url)} · edition {_e(self.state.config.edition)} · '
            f"{f'refreshing every {REFRESH_S} s while a load runs' if busy else 'idle'}</p>"
            f"{body}</body></html>"
        )
        return Response(page, mimetype="text/html")

    # --- overview ---------------------------------------------------------------------------------------
    def _overview(self, request: Request) -> str:
        return "".join(
            [
                self._modules(),
                self._credits(),
                self._tokens(),
                self._faults(),
                self._jobs(),
                self._calls(_int_arg(request, "calls", DEFAULT_CALLS)),
            ]
        )

    def _modules(self) -> str:
        counts = self.state.store.counts()
        names = [m["api_name"] for m in self.state.catalog("v8").modules()]
        names += sorted(m for m in counts if m not in names)  # records seeded into unknown modules
        rows = [
            [
                f'<td><a href="?{urlencode({"module": name})}">{_e(name)}</a></td>',
                f'<td class="num">{counts.get(name, 0)}</td>',
            ]
            for name in names
        ]
        total = sum(counts.values())
        return f"<h2>Modules ({total} records)</h2>" + _table(["Module", "Records"], rows, "modules")

    def _credits(self) -> str:
        credits, gate = self.state.credits, self.state.gate
        used, budget = credits.used, credits.budget
        return (
            '<h2>Credits</h2><p id="credits">'
            f'<meter min="0" max="{budget}" value="{used}" high="{budget // 2}"></meter> '
            f"{used} of {budget} used today, {credits.remaining} left</p>"
            f'<p id="concurrency">{gate.in_flight} calls in flight (peak {gate.peak}) of {gate.limit} '
            f"allowed; heavy writes at most {gate.sub_limit}</p>"
        )

    def _tokens(self) -> str:
        t = self.state.tokens.snapshot()
        limit = (
            "no limit" if t["issue_limit"] is None else f"{t['issue_limit']} per {t['issue_window_s']:g} s"
        )
        active = "no limit" if t["max_active"] is None else str(t["max_active"])
        issued = ", ".join(f"{_e(k)}: {v}" for k, v in t["issued_in_window"].items()) or "none"
        return (
            f'<h2>Tokens</h2><p id="tokens">issuing: {_e(limit)} (issued in the window: {issued}); '
            f"active at most {_e(active)}; refused (Access Denied): {t['refused']}</p>"
        )

    def _faults(self) -> str:
        plan = self.state.faults.describe()
        if not plan.get("plan"):
            return '<h2>Fault plan</h2><p id="faults" class="muted">none</p>'
        text = json.dumps(plan, indent=2, sort_keys=True)
        return f'<h2>Fault plan</h2><pre id="faults">{_e(text)}</pre>'

    def _jobs(self) -> str:
        jobs = self.jobs()
        if not jobs:
            return ""
        keys = ["id", "module", "operation", "status", "rows", "added", "updated", "skipped"]
        rows = [[f"<td>{_e(job[k])}</td>" for k in keys] for job in jobs]
        return "<h2>Bulk Write jobs</h2>" + _table([k.title() for k in keys], rows, "jobs")

    def _calls(self, n: int) -> str:
        calls = self.state.calls.latest(n)
        total = self.state.calls.count()
        rows = []
        for c in calls:
            status = c.get("status")
            css = ' class="error"' if status is None or int(status) >= 400 else ""
            rows.append(
                [
                    f"<td>{_e(c['method'])}</td>",
                    f"<td>{_e(c['path'])}</td>",
                    f"<td{css}>{_e('dropped' if status is None else status)}</td>",
                    f'<td class="num">{_e(c.get("records"))}</td>',
                    f'<td class="num">{_e(c.get("credits"))}</td>',
                    f"<td>{_e(c.get('fault') or '')}</td>",
                ]
            )
        head = f"<h2>Calls (latest {len(calls)} of {total}, newest first)</h2>"
        return head + _table(["Method", "Path", "Status", "Records", "Credits", "Fault"], rows, "calls")

    # --- one module's records -----------------------------------------------------------------------------
    def _module_page(self, request: Request, module: str) -> str:
        needle = request.args.get("q", "").strip()
        records = self.state.store.iter_records(module)
        if needle:
            records = [r for r in records if matches(r, needle)]
        pages = max(1, -(-len(records) // PAGE_SIZE))
        page = min(_int_arg(request, "page", 1), pages)
        chunk = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        columns: list[str] = ["id"]
        for rec in chunk:
            columns += [k for k in rec if k not in columns]
        rows = [[f"<td>{_e(_cell(rec.get(col)))}</td>" for col in columns] for rec in chunk]

        def link(to: int, text: str) -> str:
            args = {"module": module, "page": to, **({"q": needle} if needle else {})}
            return f'<a href="?{urlencode(args)}" rel="{text.lower()}">{text}</a>'

        nav = [link(page - 1, "Previous") if page > 1 else "", link(page + 1, "Next") if page < pages else ""]
        shown = f"{len(records)} records" + (f" containing “{_e(needle)}”" if needle else "")
        return (
            '<p><a href="?">← all modules</a></p>'
            '<form method="get"><input type="hidden" name="module" value="' + _e(module) + '">'
            f'<input type="search" name="q" value="{_e(needle)}" placeholder="search any value">'
            '<button type="submit">Search</button></form>'
            f'<p id="shown">{shown} · page {page} of {pages} {" ".join(n for n in nav if n)}</p>'
            + _table(columns, rows, "records")
        )
