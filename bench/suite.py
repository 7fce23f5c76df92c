"""The five benchmarks of issue #7. Each returns a `BenchResult`: figures, ratios and goal checks.

Every run of the target is a real load (or a dry run) of generated Leads through the target's CLI into
the emulator, which runs in its own process (`bench.emulator`). The emulator is reset before each run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import data, floor
from bench.emulator import Call, EmulatorProcess
from bench.procs import Measured, run_baseline, run_target

REST_CONCURRENCY = 10  # Zoho's sub-concurrency for writes of more than 10 records, every edition (§9.2)
REST_RECORDS_PER_CALL = 100
REST_CREDITS_PER_CALL = 10  # 1 credit per 10 records (§9.1)
BULK_ROWS_PER_JOB = 25_000
BULK_CREDITS_PER_JOB = 500


@dataclass
class Row:
    """One figure of a benchmark table."""

    cells: dict[str, Any]


@dataclass
class Check:
    """A goal of the issue and whether this run met it."""

    name: str
    measured: float
    goal: str
    ok: bool
    unit: str = "x"


@dataclass
class BenchResult:
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: dict[str, Measured] = field(default_factory=dict)

    def add(self, **cells: Any) -> None:
        self.rows.append(Row(cells))


@dataclass
class Context:
    """Where inputs live and the shared zero-latency emulator."""

    workdir: Path
    zoho: EmulatorProcess

    def input(self, count: int) -> Path:
        return data.ensure_file(self.workdir, count)

    def fresh(self, latency_ms: int = 0) -> EmulatorProcess:
        self.zoho.reset()
        self.zoho.set_latency(latency_ms)
        return self.zoho


def rest_credits(n: int) -> int:
    """Credits for `n` records in REST calls of 100 (each call ceil(records / 10))."""
    full, rest = divmod(n, REST_RECORDS_PER_CALL)
    return full * REST_CREDITS_PER_CALL + math.ceil(rest / 10)


def bulk_credits(n: int) -> int:
    return BULK_CREDITS_PER_JOB * math.ceil(n / BULK_ROWS_PER_JOB) if n else 0


def cheapest_plan(n: int) -> tuple[str, int]:
    """The write plan that costs fewest credits for `n` records (REST at a tie: no job to wait for)."""
    rest, bulk = rest_credits(n), bulk_credits(n)
    return ("bulk", bulk) if bulk < rest else ("rest", rest)


def _ratio(a: float, b: float) -> float:
    """a / b; a tiny smoke run can measure no net CPU at all (start-up dominates)."""
    return a / b if b > 0 else float("inf")


def _per_record_us(cpu_s: float, startup_s: float, n: int) -> float:
    return max(cpu_s - startup_s, 0.0) / max(n, 1) * 1e6


def _check_loaded(zoho: EmulatorProcess, n: int, label: str) -> None:
    got = zoho.count("Leads")
    if got != n:
        raise AssertionError(f"{label}: the emulator holds {got} Leads after loading {n} records")


# -- 1. CPU path -----------------------------------------------------------------------------------------------
def cpu_path(ctx: Context, n: int) -> BenchResult:
    """Target (REST writes to a zero-latency emulator, and a dry run) vs singer-sdk's no-op vs json.loads.

    Start-up (interpreter, imports, token and metadata calls) is measured on a SCHEMA-only input and
    subtracted, so the ratios compare the per-record work.
    """
    path, empty = ctx.input(n), ctx.input(0)
    result = BenchResult(
        f"CPU path — {n:,} records",
        [
            "program",
            "wall s",
            "CPU s",
            "start-up CPU s",
            "µs/record (net)",
            "records/CPU-s (net)",
            "peak RSS MiB",
        ],
    )
    zoho = ctx.fresh()
    t_start = run_target(
        "cpu-target-startup", ctx.workdir, zoho.url, stdin_path=empty, api_type="rest", dry_run=True
    )
    b_start = run_baseline("cpu-sdk-noop-startup", ctx.workdir, empty)
    zoho = ctx.fresh()
    emulator_cpu = zoho.cpu_s()
    rest = run_target("cpu-target-rest", ctx.workdir, zoho.url, stdin_path=path, api_type="rest")
    emulator_cpu = zoho.cpu_s() - emulator_cpu
    _check_loaded(zoho, n, "cpu-target-rest")
    zoho = ctx.fresh()
    dry = run_target("cpu-target-dry", ctx.workdir, zoho.url, stdin_path=path, api_type="rest", dry_run=True)
    noop = run_baseline("cpu-sdk-noop", ctx.workdir, path)
    floors = floor.all_floors(path)

    def row(name: str, m: Measured, startup: Measured) -> float:
        us = _per_record_us(m.cpu_s, startup.cpu_s, n)
        result.add(
            **{
                "program": name,
                "wall s": m.wall_s,
                "CPU s": m.cpu_s,
                "start-up CPU s": startup.cpu_s,
                "µs/record (net)": us,
                "records/CPU-s (net)": 1e6 / us if us else float("inf"),
                "peak RSS MiB": m.max_rss_mib,
            }
        )
        return us

    us_rest = row("target, REST writes to emulator (0 ms)", rest, t_start)
    us_dry = row("target, dry run (validate + convert, no writes)", dry, t_start)
    us_noop = row("singer-sdk no-op BatchSink target (stock pipeline)", noop, b_start)
    for f in floors:
        us = f.cpu_s / max(f.lines, 1) * 1e6  # per input line (a STATE every 1,000 records: 0.1 % more)
        result.add(
            **{
                "program": f"in-process floor: {f.name}",
                "CPU s": f.cpu_s,
                "µs/record (net)": us,
                "records/CPU-s (net)": 1e6 / us if us else float("inf"),
            }
        )
    us_json = floors[0].cpu_s / max(floors[0].lines, 1) * 1e6
    result.checks += [
        Check(
            "CPU: SDK no-op ÷ target dry run (per record)",
            _ratio(us_noop, us_dry),
            "≥ 3",
            _ratio(us_noop, us_dry) >= 3,
        ),
        Check(
            "CPU: SDK no-op ÷ target with REST writes (per record)",
            _ratio(us_noop, us_rest),
            "≥ 3",
            _ratio(us_noop, us_rest) >= 3,
        ),
        Check("CPU: target dry run ÷ json.loads floor", _ratio(us_dry, us_json), "(smaller is better)", True),
    ]
    gross = noop.cpu_s / rest.cpu_s
    result.notes += [
        f"Gross CPU (start-up included): SDK no-op {noop.cpu_s:.2f} s vs target with writes {rest.cpu_s:.2f} s "
        f"({gross:.2f}x).",
        f"Target with REST writes ÷ json.loads floor: {_ratio(us_rest, us_json):.1f}x per record.",
        f"Emulator CPU during the REST load (its own process, not counted above): {emulator_cpu:.1f} s.",
    ]
    result.runs.update(rest=rest, dry=dry, noop=noop, target_startup=t_start, noop_startup=b_start)
    return result


# -- 2. REST throughput ------------------------------------------------------------------------------------------
def rest_throughput(ctx: Context, n: int, latency_ms: int = 200) -> BenchResult:
    """Records/s of a REST load against a `latency_ms` emulator with Zoho's concurrency limits on."""
    path = ctx.input(n)
    ceiling = REST_CONCURRENCY * REST_RECORDS_PER_CALL / (latency_ms / 1000)
    zoho = ctx.fresh(latency_ms)
    emulator_cpu = zoho.cpu_s()
    m = run_target("throughput-rest", ctx.workdir, zoho.url, stdin_path=path, api_type="rest")
    emulator_cpu = zoho.cpu_s() - emulator_cpu
    timeline = zoho.timeline()
    calls = zoho.calls()
    peak = zoho.credits().get("peak_in_flight")
    zoho.set_latency(0)
    _check_loaded(zoho, n, "throughput-rest")
    writes = [c for c in timeline if c.is_write]
    if not writes:
        raise AssertionError("throughput-rest: no REST write call reached the emulator")
    window = max(c.end for c in writes) - min(c.start for c in writes)
    write_rate = n / window
    e2e_rate = n / m.wall_s
    first_write = min(c.start for c in writes) - m.started_at
    statuses = Counter(str(c["status"]) for c in calls)
    result = BenchResult(
        f"REST throughput — {n:,} records, {latency_ms} ms latency, concurrency limits on",
        ["measure", "value"],
    )
    result.add(measure="ceiling (10 calls x 100 records ÷ latency), records/s", value=ceiling)
    result.add(measure="write phase (first write sent → last answered), s", value=window)
    result.add(measure="records/s during the write phase", value=write_rate)
    result.add(measure="end-to-end wall s (start-up included)", value=m.wall_s)
    result.add(measure="records/s end to end", value=e2e_rate)
    result.add(measure="time to first write (start-up, token, metadata), s", value=first_write)
    result.add(measure="write calls", value=len(writes))
    busy = sum(c.end - c.start for c in writes)
    result.add(measure="mean write calls in flight during the write phase", value=busy / window)
    result.add(measure="mean write call duration, ms", value=busy / len(writes) * 1000)
    others = [c for c in timeline if not c.is_write and c.start >= m.started_at]
    result.add(
        measure="other calls before/during the load",
        value=", ".join(
            f"{k}: {v}" for k, v in sorted(Counter(_call_kind(c.method, c.path) for c in others).items())
        ),
    )
    result.add(measure="peak calls in flight at the emulator", value=peak)
    result.add(measure="HTTP statuses", value=", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    result.add(measure="target CPU s", value=m.cpu_s)
    result.add(measure="emulator CPU s (own process)", value=emulator_cpu)
    result.checks += [
        Check(
            "REST: write-phase records/s ÷ ceiling",
            write_rate / ceiling * 100,
            "≥ 95",
            write_rate >= 0.95 * ceiling,
            "%",
        ),
        Check("REST: end-to-end records/s ÷ ceiling", e2e_rate / ceiling * 100, "(info)", True, "%"),
    ]
    result.runs["rest"] = m
    return result


# -- 3. Credits ------------------------------------------------------------------------------------------------
def _call_kind(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if path.startswith("/oauth/"):
        return "token"
    if "bulk" in parts:
        if method == "POST":
            return "bulk job"
        return "bulk result" if parts[-1] == "result" else "bulk status"
    if len(parts) >= 3 and parts[2] == "upload":
        return "bulk upload"
    if len(parts) >= 3 and parts[2] in ("settings", "org", "users"):
        return "metadata"
    if len(parts) >= 3 and parts[2] == "coql":
        return "coql"
    if method in ("POST", "PUT") and len(parts) >= 3:
        return "rest write"
    return "other"


def credits(ctx: Context, sizes: list[int]) -> BenchResult:
    """Credits used by `api_type: auto` loads vs the cheapest plan's write credits (§9.1 costs)."""
    result = BenchResult(
        "Credits — api_type: auto",
        [
            "records",
            "plan used",
            "credits used",
            "cheapest plan",
            "cheapest credits",
            "ratio",
            "credits by call kind",
            "wall s",
            "peak RSS MiB",
        ],
    )
    for n in sizes:
        zoho = ctx.fresh()
        m = run_target(f"credits-auto-{n}", ctx.workdir, zoho.url, stdin_path=ctx.input(n), api_type="auto")
        used = int(zoho.credits()["used"])
        by_kind: Counter[str] = Counter()
        for c in zoho.calls():
            by_kind[_call_kind(c["method"], c["path"])] += int(c.get("credits") or 0)
        _check_loaded(zoho, n, f"credits-auto-{n}")
        plan, cheapest = cheapest_plan(n)
        used_plan = "+".join(k for k in ("rest write", "bulk job") if by_kind.get(k)) or "none"
        ratio = used / cheapest
        result.add(
            **{
                "records": n,
                "plan used": used_plan,
                "credits used": used,
                "cheapest plan": plan,
                "cheapest credits": cheapest,
                "ratio": ratio,
                "credits by call kind": ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items()) if v),
                "wall s": m.wall_s,
                "peak RSS MiB": m.max_rss_mib,
            }
        )
        result.checks.append(Check(f"credits at {n:,}: used ÷ cheapest plan", ratio, "≤ 1.02", ratio <= 1.02))
        result.runs[str(n)] = m
    if sizes:
        # What the ambiguity check costs: by default an upsert first asks Zoho (1 COQL credit per module
        # per run) whether the module held records before the run; without it, no such read is made.
        n = min(sizes)
        zoho = ctx.fresh()
        run_target(
            f"credits-auto-{n}-unchecked",
            ctx.workdir,
            zoho.url,
            stdin_path=ctx.input(n),
            api_type="auto",
            check_ambiguous_keys=False,
        )
        _check_loaded(zoho, n, f"credits-auto-{n}-unchecked")
        used = int(zoho.credits()["used"])
        cheapest = cheapest_plan(n)[1]
        result.notes.append(
            f"The same {n:,} records with `check_ambiguous_keys: false` (no COQL probe for keys that could "
            f"match several Zoho records): {used:,} credits, {used / cheapest:.2f}x the cheapest plan."
        )
    return result


# -- 4. Memory ------------------------------------------------------------------------------------------------
BULK_BATCH_ROWS = 25_000  # the target's Bulk batch (Zoho's rows per job)


def memory(
    ctx: Context,
    sizes: list[int],
    rest_sizes: list[int],
    extra: dict[str, dict[int, float]] | None = None,
    bulk_sizes: list[int] | None = None,
) -> BenchResult:
    """Peak RSS per input size, streamed from the generator (no input file, nothing held by the harness).

    Dry runs (read, validate, convert; nothing sent), REST loads and Bulk loads into the emulator are
    measured here; `extra` carries peaks measured by other benchmarks' runs (the Bulk loads of the
    credits benchmark). A Bulk load prepares whole 25,000-row batches (the tap records of the batch
    being buffered and of the one in a job wait in a temporary file), so its flatness is checked between
    sizes that fill that pipeline; a smaller load's peak is shown beside it.
    """
    result = BenchResult(
        "Memory - peak RSS of the target process", ["records", "mode", "peak RSS MiB", "wall s", "CPU s"]
    )
    series: dict[str, dict[int, float]] = {}
    plans = [
        ("dry run (validate + convert)", sizes, True, "rest"),
        ("REST load", rest_sizes, False, "rest"),
        ("Bulk load (api_type bulk)", bulk_sizes or [], False, "bulk"),
    ]
    for mode, mode_sizes, dry_run, api in plans:
        for n in mode_sizes:
            zoho = ctx.fresh()
            label = f"memory-{'dry' if dry_run else api}-{n}"
            m = run_target(label, ctx.workdir, zoho.url, generate=n, api_type=api, dry_run=dry_run)
            if not dry_run:
                _check_loaded(zoho, n, label)
            series.setdefault(mode, {})[n] = m.max_rss_mib
            result.add(
                **{
                    "records": n,
                    "mode": mode,
                    "peak RSS MiB": m.max_rss_mib,
                    "wall s": m.wall_s,
                    "CPU s": m.cpu_s,
                }
            )
            result.runs[label] = m
    for mode, points in (extra or {}).items():
        for n, rss in sorted(points.items()):
            result.add(**{"records": n, "mode": mode, "peak RSS MiB": rss})
        series[mode] = dict(points)
    for mode, points in series.items():
        if len(points) >= 2:
            lo, hi = min(points), max(points)
            growth = points[hi] / points[lo]
            name = f"memory: {mode}, {hi:,} / {lo:,}"
            if mode in (extra or {}) and lo < 3 * BULK_BATCH_ROWS:
                # Below three batches the Bulk pipeline is not full yet: shown, not judged.
                result.checks.append(Check(f"{name} (pipeline not yet full)", growth, "(info)", True))
            else:
                result.checks.append(Check(name, growth, "≤ 1.2", growth <= 1.2))
    return result


# -- 5. Bulk -------------------------------------------------------------------------------------------------
def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _job_status(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("data"), list) and body["data"]:
            return _job_status(body["data"][0])
        status = body.get("status")
        return status if isinstance(status, str) else None
    return None


def bulk_split(timeline: list[Call]) -> dict[str, Any]:
    """Zoho's side of a Bulk load from the call timeline: job intervals (create → first COMPLETED poll)."""
    created: dict[str, float] = {}
    done: dict[str, float] = {}
    uploads: list[tuple[float, float]] = []
    results: list[tuple[float, float]] = []
    polls = 0
    for c in sorted(timeline, key=lambda c: c.start):
        kind = _call_kind(c.method, c.path)
        if kind == "bulk upload":
            uploads.append((c.start, c.end))
        elif kind == "bulk job" and isinstance(c.body, dict):
            job_id = (c.body.get("details") or {}).get("id") if c.status < 300 else None
            if job_id:
                created[str(job_id)] = c.start
        elif kind == "bulk status":
            polls += 1
            job_id = c.path.rstrip("/").rsplit("/", 1)[-1]
            if _job_status(c.body) in ("COMPLETED", "FAILED") and job_id not in done:
                done[job_id] = c.end
        elif kind == "bulk result":
            results.append((c.start, c.end))
    jobs = [(created[j], done[j]) for j in created if j in done]
    return {
        "jobs": len(created),
        "completed": len(jobs),
        "polls": polls,
        "job_intervals": jobs,
        "job_s": _union(jobs),
        "upload_s": _union(uploads),
        "result_s": _union(results),
        "zoho_s": _union(jobs + uploads + results),
        "first_upload_at": min((a for a, _ in uploads), default=None),
        "last_done_at": max(done.values(), default=None),
    }


BULK_JOBS_IN_FLIGHT = (1, 2)  # side by side: one job at a time (before issue 16) and the default


def _bulk_run(ctx: Context, n: int, jobs: int) -> tuple[Measured, dict[str, Any], int, float]:
    zoho = ctx.fresh()
    emulator_cpu = zoho.cpu_s()
    m = run_target(
        f"bulk-{jobs}",
        ctx.workdir,
        zoho.url,
        stdin_path=ctx.input(n),
        api_type="bulk",
        bulk_max_jobs_in_flight=jobs,
    )
    emulator_cpu = zoho.cpu_s() - emulator_cpu
    split = bulk_split(zoho.timeline())
    used = int(zoho.credits()["used"])
    _check_loaded(zoho, n, "bulk")
    return m, split, used, emulator_cpu


def bulk(ctx: Context, n: int) -> BenchResult:
    """A Bulk Write load: how much of the wall time is the target's and how much Zoho's jobs take, with
    one job of the stream in flight at a time and with two (`bulk_max_jobs_in_flight`, the default):
    the next batch's upload and job creation overlap the running job, its result download the next job."""
    runs = {jobs: _bulk_run(ctx, n, jobs) for jobs in BULK_JOBS_IN_FLIGHT}
    columns = [f"{jobs} job{'s' if jobs > 1 else ''} in flight" for jobs in BULK_JOBS_IN_FLIGHT]
    result = BenchResult(f"Bulk Write — {n:,} records", ["measure", *columns])

    def add(measure: str, value: Callable[[Measured, dict[str, Any], int, float], Any]) -> None:
        cells = {col: value(*runs[jobs]) for col, jobs in zip(columns, BULK_JOBS_IN_FLIGHT, strict=True)}
        result.add(measure=measure, **cells)

    add("wall s (target process, start to exit)", lambda m, s, u, e: m.wall_s)
    add("jobs created / completed", lambda m, s, u, e: f"{s['jobs']} / {s['completed']}")
    add("Zoho job time s (union of create → first COMPLETED poll)", lambda m, s, u, e: s["job_s"])
    add("upload calls s", lambda m, s, u, e: s["upload_s"])
    add("result downloads s", lambda m, s, u, e: s["result_s"])
    add("Zoho side s (union of the above)", lambda m, s, u, e: s["zoho_s"])
    add("target-only s (wall - Zoho side)", lambda m, s, u, e: m.wall_s - s["zoho_s"])
    add("share of wall that is Zoho's", lambda m, s, u, e: f"{s['zoho_s'] / m.wall_s:.0%}")
    add(
        "start -> first upload s (start-up, reading and converting the first job's rows)",
        lambda m, s, u, e: None if s["first_upload_at"] is None else s["first_upload_at"] - m.started_at,
    )
    add(
        "last job completed -> exit s (result download, matching, rejects, summary)",
        lambda m, s, u, e: None if s["last_done_at"] is None else m.started_at + m.wall_s - s["last_done_at"],
    )
    add("status polls", lambda m, s, u, e: s["polls"])
    add("target CPU s", lambda m, s, u, e: m.cpu_s)
    add("emulator CPU s (own process: it validates and stores every row)", lambda m, s, u, e: e)
    add("credits used", lambda m, s, u, e: u)
    add("peak RSS MiB", lambda m, s, u, e: m.max_rss_mib)
    m, split, _used, _cpu = runs[BULK_JOBS_IN_FLIGHT[-1]]
    one = runs[BULK_JOBS_IN_FLIGHT[0]][0]
    result.checks.append(
        Check(
            "bulk: target-only share of wall",
            (m.wall_s - split["zoho_s"]) / m.wall_s * 100,
            "(info; smaller is better)",
            True,
            "%",
        )
    )
    result.checks.append(
        Check(
            "bulk: wall time, 2 jobs in flight vs 1",
            m.wall_s / one.wall_s * 100,
            "(info; smaller is better)",
            True,
            "%",
        )
    )
    result.runs["bulk"] = m
    result.runs["bulk-1"] = one
    return result
