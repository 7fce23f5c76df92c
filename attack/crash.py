"""Crash campaign: SIGKILLs at random moments of REST, Bulk and auto loads under emulator faults.

After each kill the input is replayed from the last STATE the target echoed, as Meltano would; at
kill time (before the replay) every record before that STATE must be in Zoho or in the rejects file.
At the end every input record must be accounted for, no key may have two Zoho records, and Zoho must
hold the last version of each key that was not rejected.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attack.procs import Emulator, TargetRun, base_config, log, write_config

QUICK = [False]  # set by campaign(): a scenario's reproduction needs the same --quick


def repro_of(seed: int, name: str) -> str:
    quick = " --quick" if QUICK[0] else ""
    return f"make attack ATTACK_ARGS='--seed {seed}{quick} --sections crash --only {name}'"


@dataclass
class Rec:
    index: int
    key: str  # the upsert key value (Email), compared lower-cased
    ver: int
    valid: bool  # False: written to be refused (overlong Company)


@dataclass
class Failure:
    kind: str  # lost | doubled | stale | state-ahead | exit | keyless
    scenario: str
    detail: str
    repro: str


@dataclass
class CrashFigures:
    scenarios: int = 0
    kills: int = 0
    terms: int = 0
    runs: int = 0
    records: int = 0
    lost: int = 0
    doubled: int = 0
    stale: int = 0
    state_ahead: int = 0
    keyless_rows: int = 0
    failures: list[Failure] = field(default_factory=list)
    notes: dict[str, str] = field(
        default_factory=dict
    )  # a confusing message -> the first scenario showing it


LEADS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": ["string", "null"]},
            "last_name": {"type": "string"},
            "company": {"type": "string"},
            "lead_score": {"type": "integer"},
        },
    },
    "key_properties": ["email"],
}


def _line(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode()


def lead_lines(recs: list[Rec], start: int, state_every: int) -> list[bytes]:
    """The tap's output from bookmark `start`: SCHEMA, records, a STATE every `state_every` records."""
    out = [_line(LEADS_SCHEMA)]
    for r in recs[start:]:
        company = "Co" if r.valid else "X" * 250
        rec = {"email": r.key, "last_name": f"L{r.key[:20]}", "company": company, "lead_score": r.ver}
        out.append(_line({"type": "RECORD", "stream": "leads", "record": rec}))
        if (r.index + 1) % state_every == 0 or r.index + 1 == len(recs):
            out.append(_line({"type": "STATE", "value": {"bookmarks": {"leads": {"seq": r.index + 1}}}}))
    return out


def state_seq(state: dict[str, Any] | None) -> int:
    if not state:
        return 0
    return int(state.get("bookmarks", {}).get("leads", {}).get("seq", 0))


def read_rejects(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.exists():
        for line in path.read_bytes().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                rows.append({"unparsable": line[:200].decode("utf-8", "replace")})
                continue
            if row.get("kind") != "schema":  # a replay's schema row, not a reject
                rows.append(row)
    return rows


def _rejected_pairs(rows: list[dict[str, Any]], keyf: str, verf: str) -> set[tuple[str, str]]:
    pairs = set()
    for row in rows:
        rec = row.get("record")
        if isinstance(rec, dict):
            pairs.add((str(rec.get(keyf) or "").strip().lower(), str(rec.get(verf)).removeprefix("ver=")))
    return pairs


def zoho_versions(zoho: list[dict[str, Any]], keyz: str, verz: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for z in zoho:
        key = str(z.get(keyz) or "").strip().lower()
        v = z.get(verz)
        try:
            vi = int(str(v).removeprefix("ver=")) if v is not None else -1
        except ValueError:
            vi = -1
        out.setdefault(key, []).append(vi)
    return out


def unaccounted(
    recs: list[Rec], upto: int, zv: dict[str, list[int]], rejected: set[tuple[str, str]]
) -> list[Rec]:
    """Records before index `upto` that are neither in Zoho (this or a later version) nor rejected."""
    missing = []
    for r in recs[:upto]:
        k = r.key.strip().lower()
        if (k, str(r.ver)) in rejected:
            continue
        if any(v >= r.ver for v in zv.get(k, [])):
            continue
        missing.append(r)
    return missing


def final_check(
    name: str,
    recs: list[Rec],
    zoho: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    figs: CrashFigures,
    repro: str,
    keyz: str = "Email",
    verz: str = "Lead_Score",
    keyf: str = "email",
    verf: str = "lead_score",
) -> None:
    zv = zoho_versions(zoho, keyz, verz)
    rejected = _rejected_pairs(rows, keyf, verf)
    lost = unaccounted(recs, len(recs), zv, rejected)
    if lost:
        figs.lost += len(lost)
        ex = ", ".join(f"{r.key} v{r.ver}" for r in lost[:3])
        figs.failures.append(
            Failure("lost", name, f"{len(lost)} records in neither Zoho nor rejects (e.g. {ex})", repro)
        )
    doubled = {k: len(v) for k, v in zv.items() if len(v) > 1}
    if doubled:
        extra = sum(n - 1 for n in doubled.values())
        figs.doubled += extra
        ex = ", ".join(f"{k!r}x{n}" for k, n in list(doubled.items())[:3])
        figs.failures.append(Failure("doubled", name, f"{extra} extra Zoho records ({ex})", repro))
    last_valid: dict[str, int] = {}
    for r in recs:
        k = r.key.strip().lower()
        if (k, str(r.ver)) not in rejected:
            last_valid[k] = max(last_valid.get(k, -1), r.ver)
    stale = [(k, v, max(zv.get(k, [-1]))) for k, v in last_valid.items() if zv.get(k) and max(zv[k]) < v]
    if stale:
        figs.stale += len(stale)
        ex = ", ".join(f"{k} has v{z} < v{v}" for k, v, z in stale[:3])
        figs.failures.append(Failure("stale", name, f"{len(stale)} keys hold an older version ({ex})", repro))


@dataclass
class Scenario:
    name: str
    mode: str
    recs: list[Rec]
    state_every: int
    faults: dict[str, Any]
    latency_ms: int
    kills: list[
        tuple[str, float]
    ]  # ("time", s) / ("state", k-th STATE echoed): SIGKILL; ("term", s): SIGTERM
    expire_at: float | None
    pace_every: int
    pace_s: float


def make_scenario(rng: random.Random, mode: str, idx: int, quick: bool) -> Scenario:
    if mode == "rest":
        n = rng.randint(300, 700 if quick else 1200)
    elif mode == "bulk":
        n = rng.randint(1500, 4000)
    else:
        n = rng.randint(5200, 7000)
    keyspace = max(10, int(n * rng.uniform(0.5, 0.95)))
    versions: dict[int, int] = {}
    recs = []
    for i in range(n):
        k = rng.randrange(keyspace)
        versions[k] = versions.get(k, 0) + 1
        recs.append(Rec(i, f"k{k}.s{idx}@atk.example", versions[k], rng.random() > 0.02))
    rates: dict[str, float] = {}
    for key, hi in (("429", 0.06), ("500", 0.03), ("503", 0.03), ("drop", 0.03)):
        if rng.random() < 0.7:
            rates[key] = round(rng.uniform(0.0, hi), 3)
    script: list[dict[str, Any]] = []
    for _ in range(rng.randint(0, 4)):
        script.append(
            rng.choice(
                [
                    {"status": 429},
                    {"status": 500},
                    {"status": 502},
                    {"drop": True},
                    {"delay_ms": rng.choice([800, 1500, 3500])},
                    {"status": 500, "after_write": True},
                    {"drop": True, "after_write": True},
                ]
            )
        )
    plan: dict[str, Any] = {"script": script, "rates": rates, "seed": rng.randrange(10**6)}
    if rng.random() < 0.5:
        plan["match"] = {"path_contains": "/Leads"}
    if mode != "rest" and rng.random() < 0.3:
        plan["bulk_fail_jobs"] = 1
    if rng.random() < 0.3:
        plan["token_endpoint_down"] = rng.randint(1, 3)
    pace_every = rng.choice([10, 25])
    pace_s = rng.choice([0.01, 0.02, 0.04]) if mode == "rest" else 0.0
    # the tap's pace makes a REST run last at least this long: kill moments fall inside it
    feed_s = n / pace_every * pace_s if mode == "rest" else 3.0
    kills: list[tuple[str, float]] = []
    for _ in range(rng.randint(1, 3)):
        draw = rng.random()
        if draw < 0.12:
            kills.append(("term", round(rng.uniform(0.1, max(0.5, feed_s)), 2)))
        elif draw < 0.45:
            kills.append(("state", float(rng.randint(1, 5))))
        else:
            kills.append(("time", round(rng.uniform(0.1, max(0.5, feed_s)), 2)))
        feed_s *= 0.6  # a replay starts from the last STATE: it is shorter
    return Scenario(
        name=f"{mode}-{idx}",
        mode=mode,
        recs=recs,
        state_every=rng.choice([20, 50, 100]) if mode == "rest" else rng.choice([250, 1000, 5000]),
        faults=plan,
        latency_ms=rng.choice([5, 20, 60]) if mode == "rest" else rng.choice([5, 20]),
        kills=kills,
        expire_at=round(rng.uniform(0.1, 2.0), 2) if rng.random() < 0.5 else None,
        pace_every=pace_every,
        pace_s=pace_s,
    )


def scenario_config(emu: Emulator, sc: Scenario, rejects: Path) -> dict[str, Any]:
    return base_config(
        emu.url,
        rejects,
        api_type=sc.mode,
        request_timeout=2.5,
        max_retries=8,
        state_flush_seconds=0.5,
        bulk_poll_max_interval=1.0,
    )


def _run_with_kill(
    cfg: Path,
    lines: list[bytes],
    work: Path,
    kill: tuple[str, float] | None,
    sc: Scenario,
    emu: Emulator,
) -> tuple[Any, bool]:
    holder: dict[str, TargetRun] = {}
    seen = [0]

    def on_state(_msg: dict[str, Any]) -> None:
        seen[0] += 1
        if kill is not None and kill[0] == "state" and seen[0] >= int(kill[1]):
            holder["run"].kill()

    pace: Callable[[int], float] | None = None
    if sc.pace_s > 0:
        pace = lambda i: sc.pace_s if i % sc.pace_every == 0 else 0.0  # noqa: E731
    run = TargetRun(cfg, lines, work, pace=pace, on_state=on_state)
    holder["run"] = run
    timers: list[threading.Timer] = []
    if kill is not None and kill[0] == "time":
        timers.append(threading.Timer(kill[1], run.kill))
    if sc.expire_at is not None:
        timers.append(threading.Timer(sc.expire_at, _quiet(emu.expire_tokens)))
    termed = [False]
    if kill is not None and kill[0] == "term":

        def term() -> None:
            if run.proc.poll() is None:
                termed[0] = True
                run.signal(signal.SIGTERM)

        timers.append(threading.Timer(kill[1], term))
    for t in timers:
        t.daemon = True
        t.start()
    out = run.wait(timeout=150)
    for t in timers:
        t.cancel()
    return out, out.killed or termed[0]


def _note_messages(out: Any, name: str, figs: CrashFigures) -> None:
    """Messages that mislead without losing data, noted once each."""
    err = out.err_text
    if "POST POST" in err:
        figs.notes.setdefault("the lost-answer warning doubles the method: 'POST POST /Leads/upsert'", name)
    if out.rc == 1 and "Traceback (most recent call last)" in err:
        last = err.strip().splitlines()[-1][-120:]
        figs.notes.setdefault(f"exit 1 after retries prints a traceback, ending `{last}`", name)


def _quiet(fn: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        with contextlib.suppress(Exception):
            fn()

    return call


def run_scenario(emu: Emulator, sc: Scenario, root: Path, figs: CrashFigures, seed: int) -> None:
    work = root / sc.name
    work.mkdir(parents=True, exist_ok=True)
    rejects = work / "rejects.jsonl"
    emu.reset()
    emu.set_latency(sc.latency_ms)
    emu.set_faults(sc.faults)
    cfg = write_config(work / "c.json", scenario_config(emu, sc, rejects))
    repro = repro_of(seed, sc.name)
    figs.scenarios += 1
    figs.records += len(sc.recs)
    start = 0
    attempts = [*list(sc.kills), None, None, None, None]
    finished = False
    for i, kill in enumerate(attempts):
        if i == len(sc.kills) + 2:
            emu.clear_faults()  # two plain replays failed under faults: let the last ones finish
        lines = lead_lines(sc.recs, start, sc.state_every)
        out, killed = _run_with_kill(cfg, lines, work, kill, sc, emu)
        figs.runs += 1
        _note_messages(out, sc.name, figs)
        last = out.states[-1] if out.states else None
        seq = max(start, state_seq(last)) if last else start
        if killed:
            if kill is not None and kill[0] == "term":
                figs.terms += 1
                if out.rc != 0:
                    figs.failures.append(
                        Failure(
                            "sigterm",
                            sc.name,
                            f"SIGTERM {kill[1]}s after start: exit {out.rc} (ended by the signal, not a clean "
                            f"stop; {'nothing on stdout' if not out.stdout else f'{len(out.states)} STATEs echoed'};"
                            f" stderr {len(out.stderr)} bytes)",
                            repro,
                        )
                    )
            else:
                figs.kills += 1
            zoho = emu.records("Leads")
            rows = read_rejects(rejects)
            behind = unaccounted(
                sc.recs,
                seq,
                zoho_versions(zoho, "Email", "Lead_Score"),
                _rejected_pairs(rows, "email", "lead_score"),
            )
            if behind and out.states:  # a STATE echoed by this run (an older one was counted already)
                figs.state_ahead += 1
                zv = zoho_versions(zoho, "Email", "Lead_Score")
                ex = ", ".join(
                    f"#{r.index} {r.key} v{r.ver} (Zoho: {zv.get(r.key.lower(), 'none')})" for r in behind[:3]
                )
                later = {r.key.lower() for r in sc.recs[seq:]}
                merged = sum(1 for r in behind if r.key.lower() in later)
                ex += (
                    f"; {merged} of them have a later version after the STATE (merged across it); "
                    f"Zoho held {len(zoho)} records, rejects {len(rows)}, kill after {out.elapsed:.2f}s"
                )
                figs.failures.append(
                    Failure(
                        "state-ahead",
                        sc.name,
                        f"{'SIGTERM' if kill and kill[0] == 'term' else 'kill'} {kill}: STATE seq={seq} echoed but {len(behind)} earlier records nowhere ({ex})",
                        repro,
                    )
                )
            start = seq
            continue
        if out.rc == 0:
            finished = True
            break
        log(
            f"  {sc.name}: run exited {out.rc}; replaying from seq {seq}: {out.err_text.strip().splitlines()[-1:]}"
        )
        start = seq
    if not finished:
        figs.failures.append(Failure("exit", sc.name, "never finished with exit 0 after replays", repro))
    final_check(sc.name, sc.recs, emu.records("Leads"), read_rejects(rejects), figs, repro)


# --- the three cases -----------------------------------------------------------------------


def case_merge_across_state(emu: Emulator, root: Path, figs: CrashFigures, seed: int) -> None:
    """K v1, STATE, K v2 in one batch, the call carrying v2 slow: the STATE must wait for it."""
    name = "case-merge-across-state"
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    rejects = work / "rejects.jsonl"
    emu.reset()
    emu.set_latency(0)
    emu.set_faults({"script": [{"delay_ms": 6000}], "match": {"path_contains": "/Leads/upsert"}})
    cfg = write_config(work / "c.json", base_config(emu.url, rejects, state_flush_seconds=0.5))
    recs = [Rec(0, "merged.k@atk.example", 1, True), Rec(1, "merged.k@atk.example", 2, True)]
    lines = [
        _line(LEADS_SCHEMA),
        _line(
            {
                "type": "RECORD",
                "stream": "leads",
                "record": {"email": recs[0].key, "last_name": "M", "company": "Co", "lead_score": 1},
            }
        ),
        _line({"type": "STATE", "value": {"bookmarks": {"leads": {"seq": 1}}}}),
        _line(
            {
                "type": "RECORD",
                "stream": "leads",
                "record": {"email": recs[1].key, "last_name": "M", "company": "Co", "lead_score": 2},
            }
        ),
    ]
    repro = repro_of(seed, name)
    figs.scenarios += 1
    figs.records += 2
    snap: dict[str, Any] = {}

    def on_state(_m: dict[str, Any]) -> None:
        snap["zoho"] = emu.records("Leads")
        snap["rows"] = read_rejects(rejects)
        run.kill()

    run = TargetRun(cfg, lines, work, on_state=on_state, close_stdin=False)
    threading.Timer(20, run.close_stdin).start()
    out = run.wait(timeout=60)
    figs.runs += 1
    if out.killed:
        figs.kills += 1
        behind = unaccounted(
            recs,
            1,
            zoho_versions(snap["zoho"], "Email", "Lead_Score"),
            _rejected_pairs(snap["rows"], "email", "lead_score"),
        )
        if behind:
            figs.state_ahead += 1
            figs.failures.append(
                Failure(
                    "state-ahead",
                    name,
                    "STATE after K v1 echoed while K (merged into v2, slow call) was nowhere",
                    repro,
                )
            )
    time.sleep(6.5)  # let the slow call land (it is Zoho's, not the target's)
    emu.clear_faults()
    replay = [lines[0], lines[3]] if out.killed else []
    if replay:
        TargetRun(cfg, replay, work).wait(60)
        figs.runs += 1
    final_check(name, recs, emu.records("Leads"), read_rejects(rejects), figs, repro)


CONTACTS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "contacts",
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "last_name": {"type": "string"},
            "account_name": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    "key_properties": ["email"],
}


def case_rejected_successor(emu: Emulator, root: Path, figs: CrashFigures, seed: int) -> None:
    """K v1 valid, K v2 whose Account lookup matches nothing: v1 must be in Zoho or in the rejects."""
    name = "case-rejected-successor"
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    rejects = work / "rejects.jsonl"
    emu.reset()
    emu.seed("Accounts", [{"Account_Name": "Zylker Real"}])
    cfg = write_config(work / "c.json", base_config(emu.url, rejects))
    rows_in = [
        ("succ.k@atk.example", 1, "Zylker Real"),
        ("succ.k@atk.example", 2, "No Such Account Inc"),
        ("other.k@atk.example", 1, "Zylker Real"),
    ]
    recs = [Rec(i, k, v, True) for i, (k, v, _a) in enumerate(rows_in)]
    lines = (
        [_line(CONTACTS_SCHEMA)]
        + [
            _line(
                {
                    "type": "RECORD",
                    "stream": "contacts",
                    "record": {"email": k, "last_name": "S", "account_name": a, "description": f"ver={v}"},
                }
            )
            for k, v, a in rows_in
        ]
        + [_line({"type": "STATE", "value": {"done": True}})]
    )
    repro = repro_of(seed, name)
    figs.scenarios += 1
    figs.records += len(recs)
    out = TargetRun(cfg, lines, work).wait(60)
    figs.runs += 1
    if out.rc != 0:
        figs.failures.append(Failure("exit", name, f"exit {out.rc}", repro))
    final_check(
        name,
        recs,
        emu.records("Contacts"),
        read_rejects(rejects),
        figs,
        repro,
        keyz="Email",
        verz="Description",
        keyf="email",
        verf="description",
    )


def case_keyless(emu: Emulator, root: Path, figs: CrashFigures, seed: int) -> None:
    """Upserts whose key is "", null or spaces, replayed 3 times: how many Zoho records?"""
    name = "case-keyless-upserts"
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    rejects = work / "rejects.jsonl"
    emu.reset()
    cfg = write_config(work / "c.json", base_config(emu.url, rejects))
    keys: list[str | None] = ["", None, "   "]
    lines = (
        [_line(LEADS_SCHEMA)]
        + [
            _line(
                {
                    "type": "RECORD",
                    "stream": "leads",
                    "record": {"email": k, "last_name": f"Keyless{i}", "company": "Co", "lead_score": 1},
                }
            )
            for i, k in enumerate(keys)
        ]
        + [_line({"type": "STATE", "value": {"done": True}})]
    )
    repro = repro_of(seed, name)
    figs.scenarios += 1
    figs.records += 3
    for _ in range(3):
        TargetRun(cfg, lines, work).wait(60)
        figs.runs += 1
    zoho = [z for z in emu.records("Leads") if not str(z.get("Email") or "").strip()]
    rows = read_rejects(rejects)
    figs.keyless_rows = len(zoho)
    if len(zoho) > 3:
        figs.doubled += len(zoho) - 3
        figs.failures.append(
            Failure("doubled", name, f"3 keyless upserts x 3 runs left {len(zoho)} Zoho records", repro)
        )
    elif zoho:
        figs.failures.append(
            Failure("keyless", name, f"{len(zoho)} keyless upserts became blind inserts (no reject)", repro)
        )
    codes = sorted({str(r.get("code")) for r in rows})
    log(f"  {name}: {len(zoho)} keyless Zoho records, reject codes {codes}")


CASES = {
    "case-merge-across-state": case_merge_across_state,
    "case-rejected-successor": case_rejected_successor,
    "case-keyless-upserts": case_keyless,
}


def campaign(root: Path, seed: int, quick: bool, only: str | None) -> CrashFigures:
    rng = random.Random(seed)
    QUICK[0] = quick
    figs = CrashFigures()
    counts = {"rest": 8, "bulk": 2, "auto": 2} if quick else {"rest": 36, "bulk": 9, "auto": 7}
    scenarios = []
    for mode, count in counts.items():
        for i in range(count):
            scenarios.append(make_scenario(rng, mode, i, quick))
    with Emulator("--credits", "100000000", "--bulk-rows-per-second", "1500", workdir=root) as emu:
        for case_name, fn in CASES.items():
            if only and only != case_name:
                continue
            log(f"crash: {case_name}")
            fn(emu, root, figs, seed)
        for sc in scenarios:
            if only and only != sc.name:
                continue
            t0 = time.monotonic()
            run_scenario(emu, sc, root, figs, seed)
            log(
                f"crash: {sc.name}: {len(sc.recs)} records, kills so far {figs.kills}, "
                f"{time.monotonic() - t0:.1f}s"
            )
    return figs
