"""Realistic Singer input for the benchmarks: one `leads` stream, ~20 properties per record.

Records are generated one line at a time (never held in memory), deterministic for a seed, so a
1M-record run streams straight from the generator into the target. Properties cover what a CRM tap
sends: names, emails (the upsert key, unique per record), phones, picklists, a multi-select, integers,
decimals, booleans, date-times, and two columns Leads does not have (reported once, then skipped).

`python -m bench.data COUNT > leads.jsonl` writes the same lines to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

STREAM = "leads"
STATE_EVERY = 1000  # a STATE message every this many records, as a tap checkpoints

LEADS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "salutation": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "company": {"type": ["string", "null"]},
        "designation": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "mobile": {"type": ["string", "null"]},
        "website": {"type": ["string", "null"]},
        "lead_source": {"type": ["string", "null"]},
        "lead_status": {"type": ["string", "null"]},
        "industry": {"type": ["string", "null"]},
        "rating": {"type": ["string", "null"]},
        "no_of_employees": {"type": ["integer", "null"]},
        "annual_revenue": {"type": ["number", "null"]},
        "email_opt_out": {"type": ["boolean", "null"]},
        "city": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "interests": {"type": ["array", "null"], "items": {"type": "string"}},
        "lead_score": {"type": ["integer", "null"]},
        "description": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["id", "last_name", "email"],
}

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim", "Margaret"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee"]
_COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Ltd",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
]
_TITLES = ["CTO", "VP Sales", "Buyer", "Engineer", "Head of IT", None]
_SOURCES = [
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "Online Store",
    "Partner",
    "Trade Show",
    "Chat",
]
_STATUSES = ["Attempted to Contact", "Contact in Future", "Contacted", "Not Contacted", "Pre-Qualified"]
_INDUSTRIES = ["Large Enterprise", "Service Provider", "Small/Medium Enterprise", "Systems Integrator"]
_RATINGS = ["Acquired", "Active", "Market Failed", None]
_CITIES = [
    ("Chennai", "TN", "India"),
    ("Austin", "TX", "USA"),
    ("Leeds", "England", "UK"),
    ("Lyon", None, "France"),
]
_INTERESTS = ["Analytics", "CRM", "Marketing Automation", "Support Desk", "Telephony"]
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def lead(i: int, rng: random.Random) -> dict[str, Any]:
    """Record number `i` (unique email, so every record is a distinct upsert)."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, state, country = rng.choice(_CITIES)
    created = _EPOCH + timedelta(seconds=rng.randrange(0, 60_000_000))
    return {
        "id": i,
        "salutation": rng.choice(["Mr.", "Ms.", "Dr.", None]),
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{i}@example{i % 97}.com",
        "company": rng.choice(_COMPANIES),
        "designation": rng.choice(_TITLES),
        "phone": f"+1-555-{rng.randrange(1000, 9999)}",
        "mobile": f"+44 7700 {rng.randrange(100000, 999999)}" if i % 3 else None,
        "website": f"https://www.{rng.choice(_COMPANIES).split()[0].lower()}.example",
        "lead_source": rng.choice(_SOURCES),
        "lead_status": rng.choice(_STATUSES),
        "industry": rng.choice(_INDUSTRIES),
        "rating": rng.choice(_RATINGS),
        "no_of_employees": rng.randrange(1, 50_000),
        "annual_revenue": round(rng.uniform(10_000, 90_000_000), 2),
        "email_opt_out": rng.random() < 0.1,
        "city": city,
        "state": state,
        "country": country,
        "interests": rng.sample(_INTERESTS, rng.randrange(0, 3)),
        "lead_score": rng.randrange(0, 1000),
        "description": f"Met at {rng.choice(_SOURCES).lower()}; follow up about {rng.choice(_INTERESTS)}.",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "updated_at": (created + timedelta(days=rng.randrange(0, 90))).isoformat().replace("+00:00", "Z"),
    }


def lines(
    count: int, *, seed: int = 7, stream: str = STREAM, state_every: int = STATE_EVERY
) -> Iterator[str]:
    """SCHEMA, then `count` RECORDs with a STATE every `state_every`, then a final STATE (newline-ended)."""
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    yield dumps({"type": "SCHEMA", "stream": stream, "schema": LEADS_SCHEMA, "key_properties": ["id"]}) + "\n"
    for i in range(1, count + 1):
        yield dumps({"type": "RECORD", "stream": stream, "record": lead(i, rng)}) + "\n"
        if i % state_every == 0:
            yield dumps({"type": "STATE", "value": {"bookmarks": {stream: {"id": i}}}}) + "\n"
    yield dumps({"type": "STATE", "value": {"bookmarks": {stream: {"id": count, "done": True}}}}) + "\n"


def write(out: IO[str], count: int, *, seed: int = 7) -> None:
    """Stream the lines to `out` in blocks (a broken pipe ends the generator quietly)."""
    block: list[str] = []
    for line in lines(count, seed=seed):
        block.append(line)
        if len(block) >= 2000:
            out.write("".join(block))
            block.clear()
    out.write("".join(block))
    out.flush()


def ensure_file(directory: Path, count: int, *, seed: int = 7) -> Path:
    """`leads-<count>.jsonl` in `directory`, generated once and reused by later runs."""
    path = directory / f"leads-{count}-s{seed}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            write(out, count, seed=seed)
        partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        write(sys.stdout, args.count, seed=args.seed)
    except BrokenPipeError:  # the reader stopped early: not the generator's failure to report
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
