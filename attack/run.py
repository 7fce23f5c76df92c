"""`make attack`: the adversarial campaign of issue 13, written from the README alone.

    .venv/bin/python -m attack.run [--seed N] [--quick] [--only NAME] [--sections crash,bad,secrets]

Drives the real CLI as a subprocess against the emulator over real HTTP on 127.0.0.1, prints a
figures table and writes attack/FINDINGS.md. Inputs, fault plans, kill moments and secrets are drawn
from the seed; where a kill lands in the target's work still depends on the machine's timing.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from attack import badinput, crash, leaks
from attack.procs import end_all, log

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m attack.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--quick", action="store_true", help="about 2 minutes instead of about 8")
    ap.add_argument("--only", help="one crash scenario / case, bad input kind or secrets scenario by name")
    ap.add_argument("--sections", default="crash,bad,secrets")
    ap.add_argument("--findings", default=str(HERE / "FINDINGS.md"), help="where to write the findings")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, rejects, configs)")
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    atexit.register(end_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    root = Path(tempfile.mkdtemp(prefix="target-zoho-crm-attack-"))
    t0 = time.monotonic()
    cf = crash.CrashFigures()
    verdicts: list[badinput.Verdict] = []
    lf = leaks.LeakFigures()
    try:
        if "crash" in sections:
            cf = crash.campaign(root / "crash", args.seed, args.quick, args.only)
        if "bad" in sections:
            log("bad inputs ...")
            verdicts = badinput.corpus(root, args.only)
        if "secrets" in sections:
            log("secrets ...")
            lf = leaks.campaign(root, args.seed, args.only)
    finally:
        end_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"work folder kept: {root}")
    elapsed = time.monotonic() - t0
    text = render(args, cf, verdicts, lf, elapsed)
    print(table(cf, verdicts, lf, elapsed))
    if args.only:
        for f in cf.failures:
            print(f"{f.kind} {f.scenario}: {f.detail}")
        for v in verdicts:
            print(f"{v.verdict} {v.name} (exit {v.rc}): {v.why}")
        for lk in lf.leaks:
            print(f"leak {lk.scenario} -> {lk.channel}, {lk.secret}: {lk.sample}")
    else:
        Path(args.findings).write_text(text)
        log(f"findings written to {args.findings}")
    return 0


def _count(verdicts: list[badinput.Verdict], kind: str) -> int:
    return sum(1 for v in verdicts if v.verdict == kind)


def figures(
    cf: crash.CrashFigures, verdicts: list[badinput.Verdict], lf: leaks.LeakFigures
) -> list[tuple[str, str]]:
    return [
        ("crash scenarios (REST, Bulk, auto, issue cases)", str(cf.scenarios)),
        ("target runs", str(cf.runs)),
        ("input records", str(cf.records)),
        ("SIGKILLs", str(cf.kills)),
        ("SIGTERMs (each must stop cleanly, exit 0)", str(cf.terms)),
        ("lost records", str(cf.lost)),
        ("doubled records (extra Zoho records per key)", str(cf.doubled)),
        ("stale keys", str(cf.stale)),
        ("STATE-ahead events (at kill time)", str(cf.state_ahead)),
        ("keyless upserts x3 runs: Zoho records", str(cf.keyless_rows)),
        ("bad-input kinds", str(len(verdicts))),
        ("  clear", str(_count(verdicts, "clear"))),
        ("  unclear", str(_count(verdicts, "unclear"))),
        ("  wrong", str(_count(verdicts, "wrong"))),
        ("secret scenarios", str(lf.scenarios)),
        ("leaks (scenario x channel x secret)", str(len(lf.leaks))),
    ]


def table(
    cf: crash.CrashFigures, verdicts: list[badinput.Verdict], lf: leaks.LeakFigures, elapsed: float
) -> str:
    rows = figures(cf, verdicts, lf)
    w = max(len(k) for k, _ in rows)
    lines = [f"{'figure':<{w}}  value", f"{'-' * w}  -----"]
    lines += [f"{k:<{w}}  {v:>5}" for k, v in rows]
    lines.append(f"{'elapsed':<{w}}  {elapsed:5.0f}s")
    return "\n".join(lines)


def glance(
    args: argparse.Namespace, cf: crash.CrashFigures, verdicts: list[badinput.Verdict], lf: leaks.LeakFigures
) -> list[str]:
    """One line per kind of break, with the scenarios showing it and one reproduction."""
    out: list[str] = []
    kinds: dict[str, list[crash.Failure]] = {}
    for f in cf.failures:
        kinds.setdefault(f.kind, []).append(f)
    for kind, fs in kinds.items():
        names = sorted({f.scenario for f in fs})
        out.append(
            f"- crash **{kind}** ({len(fs)}, in {', '.join(f'`{n}`' for n in names)}): `{fs[0].repro}`"
        )
    wrong = [v for v in verdicts if v.verdict == "wrong"]
    if wrong:
        out.append(
            f"- bad input **wrong** ({len(wrong)}): "
            + ", ".join(f"`{v.name}`" for v in wrong)
            + " — `make attack ATTACK_ARGS='--sections bad --only KIND'`"
        )
    if lf.leaks:
        names = sorted({lk.scenario for lk in lf.leaks})
        chans = sorted({lk.channel for lk in lf.leaks})
        out.append(
            f"- secret **leaks** ({len(lf.leaks)}, in {', '.join(chans)}): "
            + ", ".join(f"`{n}`" for n in names)
            + f" — `make attack ATTACK_ARGS='--sections secrets --seed {args.seed} --only NAME'`"
        )
    return out or ["None."]


def render(
    args: argparse.Namespace,
    cf: crash.CrashFigures,
    verdicts: list[badinput.Verdict],
    lf: leaks.LeakFigures,
    elapsed: float,
) -> str:
    mode = "--quick" if args.quick else "full"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Adversarial campaign: findings",
        "",
        f"`make attack ATTACK_ARGS='--seed {args.seed}{' --quick' if args.quick else ''}'` — {mode} run, "
        f"seed {args.seed}, {now}, {elapsed:.0f} s on {os.cpu_count()} cores. Written from README.md and "
        "zoho_crm_emulator/README.md alone (issue 13); the real CLI as a subprocess, the emulator over "
        "HTTP on 127.0.0.1. Each reproduction re-runs one scenario with the same seed "
        "(`--only NAME`); where a kill lands in the target's work depends on timing, so a crash "
        "figure can move by one or two between runs.",
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---:|",
    ]
    out += [f"| {k.strip()} | {v} |" for k, v in figures(cf, verdicts, lf)]
    out += ["", "## Breaks at a glance", ""]
    out += glance(args, cf, verdicts, lf)
    out += ["", "## Crash campaign: failures", ""]
    if not cf.failures:
        out.append("None.")
    for f in cf.failures:
        out.append(f"- **{f.kind}** `{f.scenario}`: {f.detail}. Repro: `{f.repro}`")
    if cf.notes:
        out += ["", "Messages that mislead (no data lost):", ""]
        out += [f"- {note} (first seen in `{name}`)" for note, name in cf.notes.items()]
    out += [
        "",
        "## Bad inputs",
        "",
        "clear: the README's promise held and the message names the line / stream / cause; "
        "unclear: no data lost, confusing message; wrong: data lost, a crash, a poison line that "
        "stops the run, exit 0 where nothing loaded, or a traceback for a plain config error. Repro "
        "of any row: `make attack ATTACK_ARGS='--sections bad --only KIND'`.",
        "",
        "| kind | verdict | exit | what happened |",
        "|---|---|---:|---|",
    ]
    order = {"wrong": 0, "unclear": 1, "clear": 2}
    for v in sorted(verdicts, key=lambda v: (order[v.verdict], v.name)):
        why = v.why.replace("|", "\\|").replace("\n", " ")
        why = " ".join(why.split())[:260]
        out.append(f"| `{v.name}` | {v.verdict} | {v.rc} | {why} |")
    out += [
        "",
        "## Secrets",
        "",
        f"{lf.scenarios} scenarios: " + ", ".join(f"`{n}`" for n in lf.names) + ".",
        "",
    ]
    if not lf.leaks:
        out.append("No leak.")
    for lk in lf.leaks:
        sample = lk.sample.replace("|", "\\|")
        out.append(
            f"- `{lk.scenario}` → {lk.channel}, {lk.secret}: `{sample.strip()[-170:]}`. Repro: "
            f"`make attack ATTACK_ARGS='--sections secrets --seed {args.seed} --only {lk.scenario}'`"
        )
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
