"""Where the target's time goes: cProfile over every thread of an in-process dry run.

The target converts and writes on background threads (stream lanes, the call pool), which a plain
`cProfile.run` would miss, so each thread gets its own profiler and the stats are merged. Each profiler
clocks its thread's CPU time (`time.thread_time`), so time a thread spends waiting for the GIL, a lock
or a socket is not charged to the function it waits in.

    python -m bench.profile 100000      # top functions by self and cumulative time
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import data
from bench.emulator import EmulatorProcess
from bench.procs import target_config


def profile_dry_run(
    count: int, workdir: Path, *, api_type: str = "rest", dry_run: bool = True
) -> pstats.Stats:
    """Run the target CLI in this process on `count` generated records; return merged stats."""
    from target_zoho_crm.target import TargetZohoCRM

    path = data.ensure_file(workdir, count)
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profiles.append(profiler)
        profiler.enable()
        try:
            original_run(self)
        finally:
            profiler.disable()

    with EmulatorProcess() as zoho:
        config = target_config(workdir, "profile", zoho.url, api_type=api_type, dry_run=dry_run)
        main = cProfile.Profile(time.thread_time)
        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        try:
            with (workdir / "profile.stdout").open("w") as out, contextlib.redirect_stdout(out):
                main.enable()
                try:
                    TargetZohoCRM.cli.main(
                        args=["--config", str(config), "--input", str(path)], standalone_mode=False
                    )
                except SystemExit:
                    pass
                finally:
                    main.disable()
        finally:
            threading.Thread.run = original_run  # type: ignore[method-assign]
    stats = pstats.Stats(main)
    for profiler in profiles:
        with contextlib.suppress(TypeError):  # a thread that never ran code has no stats
            stats.add(profiler)
    return stats


def top(stats: pstats.Stats, sort: str, limit: int = 25) -> str:
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(limit)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    parser.add_argument(
        "--writes", action="store_true", help="REST writes to the emulator instead of a dry run"
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "target-zoho-crm-bench")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    stats: Any = profile_dry_run(args.count, args.workdir, dry_run=not args.writes)
    stats.dump_stats(str(args.workdir / "profile.pstats"))
    print(top(stats, "tottime", args.limit))
    print(top(stats, "cumulative", args.limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
