"""Bad-input corpus: each kind of bad line or bad setting, between good records, classified.

clear   the run did what the README promises and the message names the line / stream / cause;
unclear no data lost, but the message is confusing (or a traceback hides it);
wrong   data lost, a crash, a poison line that stops the run, exit 0 where nothing loaded, or a
        traceback for a plain config error.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attack.crash import read_rejects
from attack.procs import Emulator, TargetRun, base_config, write_config

LEADS_PROPS = {
    "email": {"type": ["string", "null"]},
    "last_name": {"type": ["string", "null"]},
    "company": {"type": ["string", "null", "boolean"]},
    "lead_score": {"type": ["integer", "null"]},
    "note": {},  # matches no Leads field: read, never loaded
}
SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "schema": {"type": "object", "properties": LEADS_PROPS},
    "key_properties": ["email"],
}
CONTACTS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "contacts",
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "last_name": {"type": "string"},
            "date_of_birth": {"type": "string", "format": "date"},
        },
    },
    "key_properties": ["email"],
}


def j(msg: Any) -> bytes:
    return json.dumps(msg).encode()


def rec(email: str | None, stream: str = "leads", **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"email": email, "last_name": "Good"}
    if stream == "leads":
        r["company"] = "Co"
    r.update(kw)
    return {"type": "RECORD", "stream": stream, "record": r}


G1 = "g1@atk.example"
G2 = "g2@atk.example"
BAD = "bad@atk.example"
STATE = j({"type": "STATE", "value": {"done": 1}})
LINE3 = r"line\W{0,3}3\b"


@dataclass
class Case:
    name: str
    lines: list[bytes]
    expect: str  # reject | record_reject | tolerate | accept | stop | config
    keywords: list[str] = field(default_factory=list)  # regexes, all must match stderr + rejects
    misleading: list[str] = field(default_factory=list)  # regexes that make a message unclear
    goods: list[tuple[str, str]] = field(default_factory=lambda: [("Leads", G1), ("Leads", G2)])
    subject: tuple[str, str] | None = None  # the bad record, when it is one we can find
    config: dict[str, Any] | None = None  # overrides merged into the config
    raw_config: str | None = None  # a config file's exact text
    config_arg: str | None = None  # --config value instead of the written file
    raw: bool = False


def around(bad: bytes, **kw: Any) -> list[bytes]:
    """SCHEMA, good record, the bad line (line 3), good record, STATE."""
    return [j(SCHEMA), j(rec(G1)), bad, j(rec(G2)), STATE]


def leads_bad(**fields: Any) -> bytes:
    return j(rec(BAD, **fields))


def deep(n: int) -> str:
    return "[" * n + "]" * n


def cases() -> list[Case]:
    utf8_loaded = b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", "last_name": "Bad\xff\xfeName", "company": "Co"}}'
    utf8_unloaded = b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", "last_name": "B", "company": "Co", "note": "caf\xe9 \xc3"}}'
    utf8_key = (
        b'{"type": "RECORD", "stream": "leads", "record": {"email": "b\xffd@atk.example", "last_name": "B"}}'
    )
    huge = "y" * (24 * 1024 * 1024)
    c = [
        Case("invalid-utf8-loaded-property", around(utf8_loaded), "reject", [LINE3, r"utf-?8|decod|encod"]),
        Case(
            "invalid-utf8-unloaded-property", around(utf8_unloaded), "reject", [LINE3, r"utf-?8|decod|encod"]
        ),
        Case("invalid-utf8-key-value", around(utf8_key), "reject", [LINE3, r"utf-?8|decod|encod"]),
        Case(
            "nesting-1000-deep",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", "last_name": "B", "note": '
                + deep(1000).encode()
                + b"}}"
            ),
            "reject",
            [LINE3, r"deep|nest|recurs|depth"],
        ),
        Case(
            "nesting-100000-deep-bare",
            around(deep(100000).encode()),
            "reject",
            [LINE3, r"deep|nest|recurs|depth"],
        ),
        Case(
            "record-without-record",
            around(j({"type": "RECORD", "stream": "leads"})),
            "reject",
            [LINE3, r"record"],
        ),
        Case(
            "record-null-record",
            around(j({"type": "RECORD", "stream": "leads", "record": None})),
            "reject",
            [LINE3, r"record"],
        ),
        Case(
            "record-list-record",
            around(j({"type": "RECORD", "stream": "leads", "record": [1, 2]})),
            "reject",
            [LINE3, r"record"],
        ),
        Case(
            "record-without-stream",
            around(j({"type": "RECORD", "record": {"email": BAD}})),
            "reject",
            [LINE3, r"stream"],
        ),
        Case(
            "missing-key-property",
            around(
                j({"type": "RECORD", "stream": "leads", "record": {"last_name": "NoKey", "company": "Co"}})
            ),
            "stop",
            [r"leads", r"email", LINE3],
        ),
        Case(
            "utf8-bom-at-start",
            [b"\xef\xbb\xbf" + j(SCHEMA), j(rec(G1)), j(rec(G2)), STATE],
            "accept",
            misleading=[r"byte 0", r"before schema"],
        ),
        Case(
            "nan-value",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", '
                b'"last_name": "B", "lead_score": NaN}}'
            ),
            "reject",
            [r"NaN", LINE3],
            subject=("Leads", BAD),
        ),
        Case(
            "infinity-value",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", '
                b'"last_name": "B", "lead_score": -Infinity}}'
            ),
            "reject",
            [r"Infinity", LINE3],
            subject=("Leads", BAD),
        ),
        Case(
            "schema-properties-int",
            [
                j(SCHEMA),
                j(rec(G1)),
                j(
                    {
                        "type": "SCHEMA",
                        "stream": "leads",
                        "schema": {"type": "object", "properties": 5},
                        "key_properties": ["email"],
                    }
                ),
                j(rec(G2)),
                STATE,
            ],
            "stop",
            [r"leads", r"properties"],
            misleading=[r"has no attribute", r"'int' object"],
            goods=[("Leads", G1)],
        ),
        Case(
            "schema-properties-list",
            [
                j(SCHEMA),
                j(rec(G1)),
                j(
                    {
                        "type": "SCHEMA",
                        "stream": "leads",
                        "schema": {"type": "object", "properties": ["email"]},
                        "key_properties": ["email"],
                    }
                ),
                j(rec(G2)),
                STATE,
            ],
            "stop",
            [r"leads", r"properties"],
            misleading=[r"has no attribute", r"'list' object"],
            goods=[("Leads", G1)],
        ),
        Case(
            "schema-not-object",
            [
                j(SCHEMA),
                j(rec(G1)),
                j({"type": "SCHEMA", "stream": "leads", "schema": "object", "key_properties": ["email"]}),
                j(rec(G2)),
                STATE,
            ],
            "stop",
            [r"leads", r"schema"],
            misleading=[r"has no attribute"],
            goods=[("Leads", G1)],
        ),
        Case(
            "schema-without-schema",
            [
                j(SCHEMA),
                j(rec(G1)),
                j({"type": "SCHEMA", "stream": "leads", "key_properties": ["email"]}),
                j(rec(G2)),
                STATE,
            ],
            "stop",
            [r"leads", r"schema"],
            misleading=[r"KeyError"],
            goods=[("Leads", G1)],
        ),
        Case(
            "key-property-not-in-schema",
            [j({**SCHEMA, "key_properties": ["nope_key"]}), j(rec(G1)), j(rec(G2)), STATE],
            "stop",
            [r"nope_key"],
            goods=[],
        ),
        Case(
            "record-before-schema", around(j(rec(BAD, stream="contacts"))), "stop", [r"contacts", r"schema"]
        ),
        Case(
            "truncated-json",
            around(b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@at'),
            "reject",
            [LINE3, r"json|truncat|unterminated|unexpected|invalid"],
        ),
        Case("json-garbage", around(b"this is not json at all"), "reject", [LINE3]),
        Case("huge-line-unloaded-24MiB", around(j(rec(BAD, note=huge))), "accept", subject=("Leads", BAD)),
        Case(
            "huge-line-loaded-24MiB",
            around(j(rec(BAD, last_name="B", company=huge))),
            "record_reject",
            [r"Company", r"length"],
            subject=("Leads", BAD),
        ),
        Case(
            "wrong-type-integer",
            around(leads_bad(lead_score="abc")),
            "record_reject",
            [r"lead_score|Lead_Score"],
            subject=("Leads", BAD),
        ),
        Case(
            "wrong-type-email-number",
            around(j({"type": "RECORD", "stream": "leads", "record": {"email": 12345, "last_name": "B"}})),
            "record_reject",
            [r"email"],
        ),
        Case(
            "unknown-stream",
            [
                j(SCHEMA),
                j(rec(G1)),
                j(
                    {
                        "type": "SCHEMA",
                        "stream": "zzz_no_such_things",
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                        "key_properties": [],
                    }
                ),
                j(rec(G2)),
                STATE,
            ],
            "stop",
            [r"zzz_no_such_things", r"module"],
            goods=[],
        ),
        Case(
            "bad-date",
            [
                j(CONTACTS_SCHEMA),
                j(rec(G1, stream="contacts", date_of_birth="1990-01-02")),
                j(rec(BAD, stream="contacts", date_of_birth="2024-13-45")),
                j(rec(G2, stream="contacts", date_of_birth="1991-02-03")),
                STATE,
            ],
            "record_reject",
            [r"date_of_birth|Date_of_Birth", r"date"],
            goods=[("Contacts", G1), ("Contacts", G2)],
            subject=("Contacts", BAD),
        ),
        Case(
            "bad-date-feb-30",
            [
                j(CONTACTS_SCHEMA),
                j(rec(G1, stream="contacts")),
                j(rec(BAD, stream="contacts", date_of_birth="2023-02-30")),
                j(rec(G2, stream="contacts")),
                STATE,
            ],
            "record_reject",
            [r"date_of_birth|Date_of_Birth"],
            goods=[("Contacts", G1), ("Contacts", G2)],
            subject=("Contacts", BAD),
        ),
        Case(
            "overlong-string",
            around(leads_bad(company="Z" * 300)),
            "record_reject",
            [r"Company", r"maximum_length|length"],
            subject=("Leads", BAD),
        ),
        Case("malformed-email", around(j(rec("bad@@atk.example"))), "record_reject", [r"Email", r"email"]),
        Case(
            "mandatory-missing",
            around(leads_bad(last_name=None)),
            "record_reject",
            [r"Last_Name"],
            subject=("Leads", BAD),
        ),
        Case("empty-line", around(b""), "tolerate"),
        Case("whitespace-line", around(b"   \t  "), "tolerate"),
        Case("json-scalar-line", around(b"42"), "reject", [LINE3]),
        Case("json-array-line", around(b"[]"), "reject", [LINE3]),
        Case("unknown-message-type", around(j({"type": "FOO", "stream": "leads"})), "tolerate"),
        Case(
            "missing-type",
            around(j({"stream": "leads", "record": {"email": BAD}})),
            "reject",
            [LINE3, r"type"],
        ),
        Case(
            "lowercase-type",
            around(j({"type": "record", "stream": "leads", "record": {"email": BAD}})),
            "tolerate",
        ),
        Case("state-without-value", around(j({"type": "STATE"})), "tolerate"),
        Case(
            "duplicate-json-keys",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": "x@atk.example", '
                b'"email": "bad@atk.example", "last_name": "D", "company": "Co"}}'
            ),
            "accept",
            subject=("Leads", BAD),
        ),
        Case("nul-character", around(leads_bad(last_name="A\u0000B")), "tolerate", subject=("Leads", BAD)),
        Case(
            "lone-surrogate-loaded",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": '
                b'"bad@atk.example", "last_name": "X\\ud800Y", "company": "Co"}}'
            ),
            "tolerate",
            subject=("Leads", BAD),
        ),
        Case(
            "lone-surrogate-unloaded",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": '
                b'"bad@atk.example", "last_name": "B", "company": "Co", '
                b'"note": "\\udc00"}}'
            ),
            "tolerate",
            subject=("Leads", BAD),
        ),
        Case(
            "batch-message",
            around(
                j(
                    {
                        "type": "BATCH",
                        "stream": "leads",
                        "encoding": {"format": "jsonl"},
                        "manifest": ["file:///nonexistent.jsonl"],
                    }
                )
            ),
            "stop",
            [r"BATCH"],
        ),
        Case(
            "activate-version",
            around(j({"type": "ACTIVATE_VERSION", "stream": "leads", "version": 1})),
            "accept",
        ),
        Case(
            "crlf-line-endings",
            [x + b"\r\n" for x in [j(SCHEMA), j(rec(G1)), j(rec(G2)), STATE]],
            "accept",
            raw=True,
        ),
        Case(
            "no-trailing-newline",
            [j(SCHEMA) + b"\n", j(rec(G1)) + b"\n", j(rec(G2)) + b"\n", STATE],
            "accept",
            raw=True,
        ),
        Case(
            "number-1e400",
            around(
                b'{"type": "RECORD", "stream": "leads", "record": {"email": "bad@atk.example", '
                b'"last_name": "B", "lead_score": 1e400}}'
            ),
            "tolerate",
            subject=("Leads", BAD),
        ),
        Case(
            "integer-overflow",
            around(leads_bad(lead_score=10**30)),
            "record_reject",
            [r"lead_score|Lead_Score"],
            subject=("Leads", BAD),
        ),
        Case("boolean-for-text", around(leads_bad(company=True)), "tolerate", subject=("Leads", BAD)),
        Case(
            "empty-stream-name",
            around(
                j(
                    {
                        "type": "SCHEMA",
                        "stream": "",
                        "schema": {"type": "object", "properties": {}},
                        "key_properties": [],
                    }
                )
            ),
            "stop",
            [r"stream"],
        ),
        Case(
            "schema-change-midstream",
            [
                j(SCHEMA),
                j(rec(G1)),
                j(
                    {
                        **SCHEMA,
                        "key_properties": ["email"],
                        "schema": {
                            "type": "object",
                            "properties": {**LEADS_PROPS, "extra": {"type": "string"}},
                        },
                    }
                ),
                j(rec(G2, extra="e")),
                STATE,
            ],
            "accept",
        ),
        Case(
            "additional-properties-false",
            [
                j(
                    {
                        **SCHEMA,
                        "schema": {
                            "type": "object",
                            "properties": LEADS_PROPS,
                            "additionalProperties": False,
                        },
                    }
                ),
                j(rec(G1)),
                j(rec(BAD, surprise=1)),
                j(rec(G2)),
                STATE,
            ],
            "record_reject",
            [r"surprise|additional"],
            subject=("Leads", BAD),
        ),
        Case(
            "record-unknown-property",
            around(j(rec(BAD, not_in_schema="v"))),
            "accept",
            subject=("Leads", BAD),
        ),
        Case(
            "stream-name-utf8-invalid",
            around(b'{"type": "RECORD", "stream": "le\xffads", "record": {}}'),
            "reject",
            [LINE3],
        ),
    ]
    std = [j(SCHEMA), j(rec(G1)), j(rec("bad@@atk.example")), j(rec(G2)), STATE]
    cfgs: list[tuple[str, dict[str, Any], list[str]]] = [
        ("config-typo-setting", {"api_tpye": "bulk"}, [r"api_tpye", r"api_type"]),
        ("config-typo-max-rejects", {"max_rejectz": 0}, [r"max_rejectz", r"max_rejects"]),
        ("config-bad-region", {"region": "XX"}, [r"region", r"XX"]),
        ("config-bad-api-type", {"api_type": "fast"}, [r"api_type", r"fast"]),
        ("config-bad-operation", {"operation": "merge"}, [r"operation", r"merge"]),
        ("config-unknown-module", {"streams": {"leads": {"module": "Leadz"}}}, [r"Leadz", r"Leads"]),
        (
            "config-bad-duplicate-check-field",
            {"streams": {"leads": {"duplicate_check_fields": ["Emial"]}}},
            [r"Emial", r"Email"],
        ),
        ("config-bad-field-map", {"streams": {"leads": {"field_map": {"email": "Emale"}}}}, [r"Emale"]),
        (
            "config-bad-external-id",
            {"streams": {"leads": {"external_id_field": "No_Such_Ext"}}},
            [r"No_Such_Ext"],
        ),
        ("config-bad-stream-option", {"streams": {"*": {"modul": "Leads"}}}, [r"modul"]),
        ("config-concurrency-string", {"max_concurrency": "ten"}, [r"max_concurrency"]),
        ("config-concurrency-zero", {"max_concurrency": 0}, [r"max_concurrency"]),
        (
            "config-rejects-path-unwritable",
            {"rejects_path": "/proc/atk-no-such/r.jsonl"},
            [r"atk-no-such|rejects_path"],
        ),
        ("config-rejects-path-is-dir", {"rejects_path": "/tmp"}, [r"/tmp|rejects_path"]),
        ("config-bad-refresh-token", {"refresh_token": "1000.wrong.token"}, [r"refresh|invalid_code|token"]),
        ("config-bad-timezone", {"timezone": "Mars/Olympus"}, [r"timezone|Mars"]),
        ("config-negative-timeout", {"request_timeout": -5}, [r"request_timeout"]),
    ]
    for name, over, kw in cfgs:
        c.append(Case(name, std, "config", kw, config=over))
    c.append(Case("config-not-json", std, "config", [r"c\.json|json|parse|decode"], raw_config="{not json"))
    c.append(
        Case(
            "config-file-missing",
            std,
            "config",
            [r"missing\.json|no such|not found|exist"],
            config_arg="missing.json",
        )
    )
    return c


@dataclass
class Verdict:
    name: str
    verdict: str  # clear | unclear | wrong
    why: str
    rc: int | None


def _located(emu: Emulator, module: str, email: str, rows: list[dict[str, Any]]) -> str:
    if any(str(z.get("Email") or "").lower() == email for z in emu.records(module)):
        return "zoho"
    for r in rows:
        rec_ = r.get("record")
        if isinstance(rec_, dict) and str(rec_.get("email") or "").lower() == email:
            return "rejects"
        if isinstance(rec_, str) and email in rec_:  # an input line kept as it came
            return "rejects"
    return "nowhere"


def judge(case: Case, emu: Emulator, work: Path) -> Verdict:
    emu.reset()
    rejects = work / "rejects.jsonl"
    if rejects.exists():
        rejects.unlink()
    cfg_path = work / "c.json"
    if case.raw_config is not None:
        cfg_path.write_text(case.raw_config)
    else:
        write_config(cfg_path, {**base_config(emu.url, rejects), **(case.config or {})})
    arg = case.config_arg or str(cfg_path)
    run = TargetRun(arg, case.lines, work, raw=case.raw)
    out = run.wait(timeout=120)
    rc = out.rc
    err = out.err_text
    rows = read_rejects(rejects)
    # messages only: the rejected record itself (echoed in `record`) must not satisfy a keyword
    text = err + "\n" + "\n".join(json.dumps({k: x for k, x in r.items() if k != "record"}) for r in rows)
    tb = "Traceback (most recent call last)" in err
    kw_ok = all(re.search(k, text, re.I) for k in case.keywords)
    missing_kw = [k for k in case.keywords if not re.search(k, text, re.I)]
    mislead = [m for m in case.misleading if re.search(m, text, re.I)]
    where = {g: _located(emu, g[0], g[1], rows) for g in case.goods}
    subj = _located(emu, case.subject[0], case.subject[1], rows) if case.subject else None
    loaded_any = any(emu.records(m) for m in ("Leads", "Contacts"))
    last_err = next((ln for ln in reversed(err.strip().splitlines()) if "ERROR" in ln or "Error" in ln), "")
    if case.keywords:  # the most telling line: the last error line naming what the case is about
        telling = [
            ln
            for ln in err.splitlines()
            if ("ERROR" in ln or "Error" in ln) and re.search(case.keywords[0], ln, re.I)
        ]
        if telling:
            last_err = telling[-1]
    last_err = last_err.split(" | ")[-1][-200:]
    crash = rc is None or rc not in (0, 1, 3) or bool(out.notes)
    goods_in = all(v == "zoho" for v in where.values())
    lost = [g for g, v in where.items() if v == "nowhere" and (rc == 0 or out.states)]
    if subj == "nowhere" and rc == 0:
        lost.append(case.subject)  # type: ignore[arg-type]

    def v(verdict: str, why: str) -> Verdict:
        return Verdict(case.name, verdict, why, rc)

    if crash:
        return v("wrong", f"crash: rc={rc} {out.notes} {last_err}")
    if lost:
        return v("wrong", f"records lost: {lost} (rc={rc})")
    if case.expect == "config":
        if rc == 0 and not loaded_any:
            return v(
                "wrong",
                "exit 0 where nothing loaded: "
                + (
                    "every record rejected ("
                    + ", ".join(
                        f"{n}x {c} {f}"
                        for (c, f), n in Counter((r.get("code"), r.get("field")) for r in rows).items()
                    )
                    + ")"
                    if rows
                    else "no reject"
                ),
            )
        if rc == 0:
            return v("unclear", "the bad setting was silently ignored (exit 0, records loaded)")
        if tb:
            return v("wrong", f"traceback for a plain config error: {last_err}")
        if not kw_ok:
            return v("unclear", f"message lacks {missing_kw}: {last_err}")
        return v("clear", last_err)
    if case.expect == "stop":
        if rc == 0 and not loaded_any:
            return v("wrong", "exit 0 where nothing loaded")
        if mislead:
            return v("unclear", f"misleading {mislead}: {last_err}")
        if not kw_ok:
            return v("unclear", f"message lacks {missing_kw}: {last_err}")
        if tb:
            return v("unclear", f"traceback around the message: {last_err}")
        return v("clear", f"rc={rc}: {last_err}")
    # reject / record_reject / tolerate / accept: the README promises the run goes on
    if rc != 0 and case.expect == "accept" and not out.states:
        return v("unclear", f"valid input refused (rc={rc}), nothing lost: {mislead} {last_err}")
    if rc != 0:
        return v("wrong", f"the bad line stopped the run (rc={rc}; goods {where}): {last_err}")
    if not goods_in:
        return v("wrong", f"good records not loaded: {where}")
    if case.expect == "accept":
        if subj == "rejects":
            return v(
                "unclear",
                "the record was rejected though nothing is wrong with it: "
                + (json.dumps(rows[-1])[:160] if rows else ""),
            )
        if mislead or rows:
            return v("unclear", f"spurious complaint: {mislead} {json.dumps(rows[:1])[:160]}")
        return v("clear", "loaded")
    if case.expect == "tolerate":
        return v("clear", f"run went on; subject {subj}; rejects {[r.get('code') for r in rows]}")
    if case.expect in ("reject", "record_reject"):
        if not rows:
            if subj == "zoho":
                return v("unclear", "the bad record was loaded without a complaint")
            return v("unclear", "the bad line was dropped without a reject row")
        if mislead or not kw_ok:
            return v("unclear", f"reject row lacks {missing_kw} {mislead}: {json.dumps(rows[-1])[:200]}")
        return v("clear", f"rejected: {rows[-1].get('code')} {str(rows[-1].get('message'))[:100]}")
    return v("wrong", "unknown expectation")


def corpus(root: Path, only: str | None = None) -> list[Verdict]:
    work = root / "badinput"
    work.mkdir(parents=True, exist_ok=True)
    out = []
    with Emulator(workdir=work) as emu:
        for case in cases():
            if only and only != case.name:
                continue
            out.append(judge(case, emu, work))
    return out


Judge = Callable[[Case, Emulator, Path], Verdict]
