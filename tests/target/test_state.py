"""STATE semantics: echoed as soon as — and only when — every record before it is in Zoho or rejected."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.target.singer_io import CLI, LEAD_PROPERTIES, lead, record, run_target, schema, state, write_lines


def test_states_flow_during_the_load_and_never_run_ahead(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Each echoed STATE is checked against what Zoho holds at the moment it appears on stdout."""
    total, every = 3000, 100
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    for i in range(total):
        messages.append(record("leads", lead(i)))
        if (i + 1) % every == 0:
            messages.append(state({"position": i + 1}))
    emulator.set_latency(100)
    config = {**target_config, "rejects_path": str(tmp_path / "rejects.jsonl"), "state_flush_seconds": 0.2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [
            CLI,
            "--config",
            str(tmp_path / "config.json"),
            "--input",
            str(write_lines(tmp_path / "in", messages)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    seen: list[tuple[int, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        position = json.loads(line)["position"]
        seen.append((position, len(emulator.records("Leads"))))
    proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""

    assert seen[-1] == (total, total)
    assert all(in_zoho >= position for position, in_zoho in seen), seen
    # STATE flows during the load (chunk by chunk), not only at the end: 30 calls in waves of 10.
    assert len(seen) >= 3 and seen[0][0] < total, f"STATE should flow during the load, got {seen}"
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


def test_each_state_comes_back_once_its_records_are_in(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    for i in range(1, 4):
        messages.append(record("leads", lead(i)))
        messages.append(state({"n": i}))
    run = run_target(
        {**target_config, "rejects_path": str(tmp_path / "r.jsonl")},
        write_lines(tmp_path / "in", messages),
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states[-1] == {"n": 3}
    assert all(s["n"] <= len(emulator.records("Leads")) for s in run.states)


def test_schema_change_keeps_write_order(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """singer-sdk would write the new schema's records before the old ones (stale values win)."""
    extended = {**LEAD_PROPERTIES, "city": {"type": ["string", "null"]}}
    messages: list[Any] = [schema("leads", LEAD_PROPERTIES, ["id"])]
    messages += [record("leads", lead(i, company="Old")) for i in range(5)]
    messages.append(schema("leads", extended, ["id"]))
    messages += [record("leads", lead(i, company="New", city="Paris")) for i in range(5)]
    run = run_target(
        {**target_config, "rejects_path": str(tmp_path / "r.jsonl")},
        write_lines(tmp_path / "in", messages),
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    stored = emulator.records("Leads")
    assert len(stored) == 5
    assert {r["Company"] for r in stored} == {"New"}
    assert {r["City"] for r in stored} == {"Paris"}


def test_empty_input_is_a_clean_no_op(emulator: Any, target_config: dict[str, Any], tmp_path: Path) -> None:
    run = run_target(target_config, write_lines(tmp_path / "in", []), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout == ""
    assert emulator.calls == []


def test_sigterm_finishes_what_was_read_and_echoes_its_state(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """A quiet tap does not hold a STATE back, and an orchestrator's cancel (SIGTERM) while the tap is
    silent ends the run cleanly: what was read is written, its STATE echoed, exit code 0."""
    import signal
    import time

    (tmp_path / "config.json").write_text(json.dumps({**target_config, "rejects_path": str(tmp_path / "r")}))
    proc = subprocess.Popen(
        [CLI, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    messages = [schema("leads", LEAD_PROPERTIES, ["id"]), *[record("leads", lead(i)) for i in range(40)]]
    messages.append(state({"position": 40}))
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while len(emulator.records("Leads")) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    # A waiting STATE got its records written although the tap went quiet (no message to react to).
    assert len(emulator.records("Leads")) == 40
    proc.send_signal(signal.SIGTERM)  # the pipe stays open: the tap is silent, not finished
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err[-2000:]
    assert [json.loads(line) for line in out.splitlines()][-1] == {"position": 40}
    assert len(emulator.records("Leads")) == 40


def test_a_state_behind_parked_children_is_echoed_once_their_parents_are_written(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """Parents first, mid-run: Contacts wait for the Accounts that come after them. Once the Accounts
    are written, the waiting Contacts are retried while the tap is still open (stdin not closed), and
    the STATE behind them comes out then — not only at the end of the input."""
    contact_props = {
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "account": {"type": "string"},
    }
    messages: list[Any] = [schema("contacts", contact_props, ["email"])]
    messages += [
        record("contacts", {"last_name": f"C{i}", "email": f"c{i}@x.test", "account": f"Acme {i % 5}"})
        for i in range(20)
    ]
    messages.append(schema("accounts", {"name": {"type": "string"}}, ["name"]))
    messages += [record("accounts", {"name": f"Acme {i}"}) for i in range(5)]
    messages.append(state({"after": "accounts"}))
    config = {
        **target_config,
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "state_flush_seconds": 0.2,
        "batch_size_rows": 10,
        "streams": {
            "accounts": {"field_map": {"name": "Account_Name"}},
            "contacts": {"field_map": {"account": "Account_Name"}},
        },
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [CLI, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for message in messages:
        proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    gave_up = threading.Event()  # the STATE did not come while stdin was open: end the input

    def give_up() -> None:
        gave_up.set()
        proc.stdin.close()  # type: ignore[union-attr]

    timer = threading.Timer(60, give_up)  # generous: other suites share the two cores
    timer.start()
    try:
        first = proc.stdout.readline()  # blocks until a STATE comes out (or the process ends)
        linked = [c for c in emulator.records("Contacts") if c.get("Account_Name")]
    finally:
        timer.cancel()
        if not gave_up.is_set():
            proc.stdin.close()
        proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert not gave_up.is_set(), "the STATE waited for the end of the input"
    assert json.loads(first) == {"after": "accounts"}
    assert len(linked) == 20  # echoed while stdin was open, and only once every Contact was linked
