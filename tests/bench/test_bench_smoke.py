"""Tiny-size runs of every benchmark (500 records) so the benchmark code cannot rot.

No timing is asserted: these check that each benchmark really loads the records into the emulator
(over real HTTP, the target as a child process), measures what it says, and writes its results file.
Credit figures follow Zoho's published costs (https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html):
1 credit per 10 records per insert/update/upsert call of up to 100, 500 credits per Bulk Write job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import data, suite
from bench.emulator import Call
from bench.procs import BASELINE_CMD, RunFailed, run_measured
from bench.run import BENCHES, Sizes, run

SMOKE = Sizes(
    cpu=500,
    throughput=500,
    credits=[200, 500],
    memory=[200, 500],
    memory_rest=[200, 500],
    bulk=500,
    latency_ms=50,
    memory_bulk=[300, 600],
    change=[300, 600],
)


Smoke = tuple[dict[str, suite.BenchResult], Path]


def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    """One run of all five (as `make bench` does), then each one's figures are checked.

    A single test on purpose: under `pytest -n 2` a shared fixture would run the whole set once per worker.
    """
    out = tmp_path / "RESULTS.md"
    results, errors = run(list(BENCHES), SMOKE, tmp_path, out, mode="smoke", log=lambda _: None)
    assert errors == {}
    smoke = ({r.title.split(" ")[0].lower(): r for r in results}, out)
    check_results_file(smoke)
    check_cpu_path(smoke)
    check_rest_throughput(smoke)
    check_credits(smoke)
    check_memory(smoke)
    check_bulk(smoke)
    check_change(smoke)


def check_results_file(smoke: Smoke) -> None:
    results, out = smoke
    text = out.read_text(encoding="utf-8")
    assert set(results) == {"cpu", "rest", "credits", "memory", "bulk", "change-aware"}
    for heading in (
        "## Goals (issue #7)",
        "## CPU path",
        "## REST throughput",
        "## Credits",
        "## Memory",
        "## Bulk",
    ):
        assert heading in text
    assert "| Python |" in text


def check_cpu_path(
    smoke: tuple[dict[str, suite.BenchResult], Path],
) -> None:
    cpu = smoke[0]["cpu"]
    assert len(cpu.rows) == 8  # 3 programs + 5 in-process floors
    for name in ("rest", "dry", "noop"):
        m = cpu.runs[name]
        assert m.cpu_s > 0 and m.max_rss_kib > 10_000  # a Python process with singer-sdk loaded
    # Every program echoed the tap's final STATE: the whole input went through it.
    for name in ("rest", "dry", "noop"):
        last = json.loads(cpu.runs[name].stdout_lines()[-1])
        assert last == {"bookmarks": {"leads": {"id": 500, "done": True}}}
    # 500 records are too few to measure net CPU reliably (start-up noise can exceed it): a ratio may be
    # 0 or infinite here, but it is always computed, never negative or NaN.
    assert all(c.measured >= 0 for c in cpu.checks)
    assert [c.name for c in cpu.checks][:2] == [
        "CPU: SDK no-op ÷ target dry run (per record)",
        "CPU: SDK no-op ÷ target with REST writes (per record)",
    ]


def check_rest_throughput(smoke: Smoke) -> None:
    rest = smoke[0]["rest"]
    values = {row.cells["measure"]: row.cells["value"] for row in rest.rows}
    assert values["write calls"] >= 5  # 500 records in calls of at most 100
    assert values["ceiling (10 calls x 100 records ÷ latency), records/s"] == pytest.approx(20_000)
    assert values["records/s during the write phase"] > 0


def check_credits(
    smoke: tuple[dict[str, suite.BenchResult], Path],
) -> None:
    rows = [r.cells for r in smoke[0]["credits"].rows]
    assert [r["records"] for r in rows] == [200, 500]
    for r in rows:
        assert r["cheapest plan"] == "rest" and r["cheapest credits"] == r["records"] // 10
        assert r["credits used"] >= r["cheapest credits"]  # the writes themselves cannot be skipped
        assert "rest write" in r["plan used"]


def check_memory(smoke: Smoke) -> None:
    mem = smoke[0]["memory"]
    dry = [r.cells for r in mem.rows if r.cells["mode"].startswith("dry")]
    assert [r["records"] for r in dry] == [200, 500]
    assert all(r["peak RSS MiB"] > 10 for r in dry)
    rest = [r.cells for r in mem.rows if r.cells["mode"] == "REST load"]
    assert [r["records"] for r in rest] == [200, 500]
    bulk = [r.cells for r in mem.rows if r.cells["mode"] == "Bulk load (api_type bulk)"]
    assert [r["records"] for r in bulk] == [300, 600]
    assert all(r["peak RSS MiB"] > 10 for r in bulk)
    assert {c.name for c in mem.checks} == {
        "memory: dry run (validate + convert), 500 / 200",
        "memory: REST load, 500 / 200",
        "memory: Bulk load (api_type bulk), 600 / 300",
    }  # the credits runs at smoke sizes use REST, so no "credits runs" Bulk series


def check_bulk(
    smoke: tuple[dict[str, suite.BenchResult], Path],
) -> None:
    bulk = smoke[0]["bulk"]
    assert bulk.columns == ["measure", "1 job in flight", "2 jobs in flight"]
    for column in bulk.columns[1:]:
        values = {row.cells["measure"]: row.cells[column] for row in bulk.rows}
        assert values["jobs created / completed"] == "1 / 1"
        assert values["credits used"] >= 500
        assert (
            0
            < values["Zoho job time s (union of create → first COMPLETED poll)"]
            < values["wall s (target process, start to exit)"]
        )


def test_cheapest_plan_follows_zohos_costs() -> None:
    assert suite.cheapest_plan(1_000) == ("rest", 100)
    assert suite.cheapest_plan(5_000) == ("rest", 500)  # a tie: REST, no job to wait for
    assert suite.cheapest_plan(10_000) == ("bulk", 500)
    assert suite.cheapest_plan(100_000) == ("bulk", 2_000)
    assert suite.rest_credits(105) == 11


def test_bulk_split_reads_job_intervals_from_the_timeline() -> None:
    calls = [
        Call("POST", "/crm/v4/upload", 0.0, 1.0, 200),
        Call("POST", "/crm/bulk/v4/write", 1.0, 1.5, 201, {"details": {"id": "7"}}),
        Call("GET", "/crm/bulk/v4/write/7", 2.0, 2.1, 200, {"status": "IN PROGRESS"}),
        Call("GET", "/crm/bulk/v4/write/7", 4.0, 4.2, 200, {"status": "COMPLETED"}),
        Call("GET", "/crm/bulk/v4/write/7/result", 4.3, 4.5, 200),
    ]
    split = suite.bulk_split(calls)
    assert split["jobs"] == split["completed"] == 1
    assert split["job_s"] == pytest.approx(3.2)
    assert split["zoho_s"] == pytest.approx(1.0 + 3.2 + 0.2)


def test_generator_is_deterministic_and_streams(tmp_path: Path) -> None:
    lines = list(data.lines(3))
    assert lines == list(data.lines(3))
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds == ["SCHEMA", "RECORD", "RECORD", "RECORD", "STATE"]
    piped = subprocess.run(
        [sys.executable, "-m", "bench.data", "3"], capture_output=True, text=True, check=True
    )
    assert piped.stdout == "".join(lines)


def test_baseline_is_the_validating_stock_pipeline(tmp_path: Path) -> None:
    """The no-op baseline must validate, or the CPU ratio compares against less work than claimed."""
    bad = tmp_path / "bad.jsonl"
    lines = list(data.lines(2))
    record = json.loads(lines[1])
    record["record"]["no_of_employees"] = "many"
    bad.write_text(lines[0] + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(RunFailed, match="Record Message Validation Error"):
        run_measured("bad", BASELINE_CMD, workdir=tmp_path, stdin_path=bad, timeout=60)


def check_change(smoke: Smoke) -> None:
    """Reloads write nothing when nothing changed, exactly the changed records otherwise."""
    result = smoke[0]["change-aware"]
    rows = {(r.cells["run"], r.cells["records"]): r.cells for r in result.rows}
    assert rows[("identical reload", 300)]["records written"] == 0
    assert rows[("identical reload", 600)]["records written"] == 0
    assert rows[("reload, 1% changed", 600)]["records written"] == 6
    assert rows[("first load, empty module", 1_000)]["records written"] == 1_000
    every = rows[("every record changed (vs REST write credits)", 300)]
    assert every["records written"] == 300
    assert every["credits"] >= suite.rest_credits(300)
