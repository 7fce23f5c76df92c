"""RESULTS.md: the figures of one `make bench` run, with the machine they were measured on."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.suite import BenchResult


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        import singer_sdk

        sdk = getattr(singer_sdk, "__version__", None) or _dist_version("singer-sdk")
    except ImportError:
        sdk = "not installed"
    return {
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": f"{cpu} x {os.cpu_count()}",
        "memory": mem,
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "singer-sdk": sdk,
        "load average 1/5/15 min at the end (other work on the machine skews wall times)": " / ".join(
            f"{x:.1f}" for x in os.getloadavg()
        ),
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value).replace("|", "\\|")


def table(columns: list[str], rows: list[dict[str, Any]]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return out


def render(results: list[BenchResult], *, mode: str, elapsed_s: float, errors: dict[str, str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench.run`, mode: **{mode}**, {elapsed_s:.0f} s in all). "
        "Every figure below was measured in this one run, side by side, on this machine; the Zoho CRM "
        "emulator ran in its own process, so its CPU is not counted as the target's. How each figure is "
        "measured: `bench/suite.py`.",
        "",
        *table(["", "value"], [{"": k, "value": v} for k, v in machine().items()]),
        "",
        "## Goals (issue #7)",
        "",
        *table(
            ["check", "measured", "goal", "met"],
            [
                {
                    "check": c.name,
                    "measured": f"{fmt(c.measured)}{' %' if c.unit == '%' else 'x'}",
                    "goal": c.goal,
                    "met": "yes" if c.ok else "**no**",
                }
                for r in results
                for c in r.checks
            ],
        ),
    ]
    for name, message in errors.items():
        lines += ["", f"**{name} did not complete:** `{message.splitlines()[0] if message else ''}`"]
    for r in results:
        lines += ["", f"## {r.title}", "", *table(r.columns, [row.cells for row in r.rows])]
        if r.notes:
            lines += ["", *[f"- {n}" for n in r.notes]]
    return "\n".join(lines) + "\n"
