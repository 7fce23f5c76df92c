"""Crashes: the target is SIGKILLed at several points of a 20,000-record load and run again from the last
STATE it echoed, as Meltano would; Zoho ends with every record exactly once, and a crash costs little.

Delivery is at least once (records after the last echoed STATE are sent again) and made idempotent by
upserts, which match Leads on Email (https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html;
Bulk Write: `find_by`, https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/create-job.html).
`insert` cannot promise that: a replay duplicates what was written after the last STATE, and only that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.target.faults_support import (
    LiveRun,
    assert_each_once,
    bulk_speed,
    email,
    fault_config,
    kill_leftovers,
    lead_input,
    rejects_by_id,
    stored_count,
    stored_emails,
    wait_quiet,
)
from tests.target.singer_io import lead

TOTAL = 20_000


@pytest.fixture(autouse=True)
def _no_leftover_targets() -> Iterator[None]:
    yield
    kill_leftovers()


def _check_kill(run: LiveRun, emulator: Any) -> int:
    """After a kill: the last echoed STATE is behind what Zoho holds, and nothing is there twice."""
    wait_quiet(emulator)
    position = run.last_position
    counts = stored_emails(emulator)
    assert not [e for e, n in counts.items() if n > 1], "a record is in Zoho twice after a crash"
    missing = [i for i in range(position) if email(i) not in counts]
    assert not missing, f"STATE {position} was echoed but records {missing[:5]} are not in Zoho"
    return position


def _resume(config: dict[str, Any], tmp_path: Path, position: int, name: str, **kw: Any) -> LiveRun:
    messages = lead_input(range(position, TOTAL), start=position, state_every=500, **kw)
    return LiveRun.start(config, messages, tmp_path, name)


def test_rest_load_killed_three_times_ends_with_every_record_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """With default settings (what users get) STATE is echoed every few seconds / few thousand records
    while data flows, not only at singer-sdk's five-minute drains or at the end of input, so a kill
    loses little work; after each kill the rerun from the last STATE completes the load once."""
    emulator.set_latency(40)
    config = fault_config(target_config, tmp_path)
    run = _resume(config, tmp_path, 0, "run1")
    assert run.wait_for(lambda: stored_count(emulator) >= 10_000), run.stderr[-2000:]
    run.kill()  # 1: mid-load, with calls in flight
    position = _check_kill(run, emulator)
    written = stored_count(emulator)
    assert len(run.states) >= 4, run.states
    gaps = [b - a for a, b in zip(run.state_times, run.state_times[1:], strict=False)]
    assert max(gaps) < 4.0, f"STATE gaps while data flowed: {gaps}"
    assert written - position <= 4000, f"the crash costs a resend of {written - position} records"

    emulator.set_latency(15)
    run = _resume(config, tmp_path, position, "run2")
    assert run.wait_for(lambda: len(run.states) >= 1), run.stderr[-2000:]
    run.kill()  # 2: right after a STATE
    position = _check_kill(run, emulator)
    assert position < TOTAL

    run = _resume(config, tmp_path, position, "run3")
    before = stored_count(emulator)
    assert run.wait_for(lambda: stored_count(emulator) > before), run.stderr[-2000:]
    run.kill()  # 3: as soon as the first new record of the run landed
    position = _check_kill(run, emulator)

    final = _resume(config, tmp_path, position, "run4")
    assert final.finish() == 0, final.stderr[-3000:]
    assert final.states[-1] == {"position": TOTAL}
    assert_each_once(emulator, range(TOTAL))
    assert rejects_by_id(tmp_path) == {}


def test_insert_replay_resends_only_what_came_after_the_last_state(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """What `insert` cannot promise (README, "STATE and delivery guarantees"): a replay after a crash
    sends again the records written after the last echoed STATE — never one before it
    (insert-records.html: duplicate check on the system duplicate-check field)."""
    emulator.set_latency(40)
    total = 6000
    config = fault_config(target_config, tmp_path, operation="insert")
    run = LiveRun.start(config, lead_input(range(total), state_every=500), tmp_path, "run1")
    assert run.wait_for(lambda: stored_count(emulator) >= 3000), run.stderr[-2000:]
    run.kill()
    wait_quiet(emulator)
    position = run.last_position
    written = stored_emails(emulator)
    assert all(email(i) in written for i in range(position))

    rerun = LiveRun.start(
        config, lead_input(range(position, total), start=position, state_every=500), tmp_path, "run2"
    )
    assert rerun.finish() == 0, rerun.stderr[-3000:]
    # Zoho checks Leads' system duplicate field (Email) on insert too, so here the replayed records come
    # back as DUPLICATE_DATA rejects instead of duplicates; a module without one would get duplicates.
    assert_each_once(emulator, range(total))
    rejected = rejects_by_id(tmp_path)
    replayed_written = {i for i in range(position, total) if email(i) in written}
    assert set(rejected) == replayed_written
    assert {r["code"] for r in rejected.values()} <= {"DUPLICATE_DATA"}
    assert all(i >= position for i in rejected), "a record before the last STATE was sent again"


def _bulk_config(target_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return fault_config(
        target_config, tmp_path, api_type="bulk", batch_size_rows=5000, bulk_poll_max_interval=0.2
    )


def test_bulk_load_killed_after_a_state_resumes_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    config = _bulk_config(target_config, tmp_path)
    with bulk_speed(emulator, 20_000):
        run = _resume(config, tmp_path, 0, "run1")
        assert run.wait_for(lambda: len(run.states) >= 1, timeout=60), run.stderr[-2000:]
        run.kill()
        position = _check_kill(run, emulator)
        assert 0 < position < TOTAL
        emulator_jobs_done = _wait_bulk_idle(emulator)
        records_after = {e for e in stored_emails(emulator) if int(e[4:].split("@")[0]) >= position}

        final = _resume(config, tmp_path, position, "run2")
        assert final.finish() == 0, final.stderr[-3000:]
    assert emulator_jobs_done
    assert final.states[-1] == {"position": TOTAL}
    assert_each_once(emulator, range(TOTAL))
    if not records_after:  # nothing of the replayed range had reached Zoho: no conflict was possible
        assert rejects_by_id(tmp_path) == {}


def test_bulk_load_killed_mid_job_resumes_with_every_record_once(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Killed while a job runs: the orphaned job finishes in Zoho, and the rerun (from the last STATE)
    sends those records again with newer values: they must be updated, not skipped or duplicated."""
    config = _bulk_config(target_config, tmp_path)
    with bulk_speed(emulator, 10_000):
        run = _resume(config, tmp_path, 0, "run1")
        assert run.wait_for(lambda: stored_count(emulator) >= run.last_position + 1000, timeout=60), (
            run.stderr[-2000:]
        )
        run.kill()
        position = _check_kill(run, emulator)
        _wait_bulk_idle(emulator)

        final = _resume(config, tmp_path, position, "run2", make=lambda i: lead(i, company="Rerun"))
        assert final.finish() == 0, final.stderr[-3000:]
    assert_each_once(emulator, range(TOTAL))
    assert rejects_by_id(tmp_path) == {}
    rerun_values = {r["Email"]: r["Company"] for r in emulator.records("Leads")}
    assert all(rerun_values[email(i)] == "Rerun" for i in range(position, TOTAL))


def _wait_bulk_idle(emulator: Any, timeout: float = 30) -> bool:
    """Orphaned jobs keep running in Zoho after the target died; wait until the org's queue is idle."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = (emulator.state.extras.get("bulk") or {}).get("jobs", {})
        if all(job.status in ("COMPLETED", "FAILED") for job in jobs.values()):
            return True
        time.sleep(0.05)
    return False
