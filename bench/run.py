"""`make bench`: run the benchmarks of issue #7 side by side and write bench/RESULTS.md.

    python -m bench.run            # full sizes (about 10-15 minutes on 2 cores)
    python -m bench.run --quick    # smaller sizes, a couple of minutes
    python -m bench.run --only cpu,credits --out /tmp/RESULTS.md

Inputs are generated once into --workdir and reused by later runs (1M-record runs stream from the
generator and need no file).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import suite
from bench.emulator import EmulatorProcess
from bench.report import render

BENCHES = ("cpu", "throughput", "credits", "memory", "bulk", "change")
RESULTS = Path(__file__).with_name("RESULTS.md")
BULK_SERIES = "Bulk load, api_type auto (credits runs)"


@dataclass
class Sizes:
    cpu: int
    throughput: int
    credits: list[int]
    memory: list[int]
    memory_rest: list[int]
    bulk: int
    memory_bulk: list[int] = field(default_factory=list)
    change: list[int] = field(default_factory=lambda: [10_000, 100_000])
    latency_ms: int = 200


FULL = Sizes(
    cpu=100_000,
    throughput=50_000,
    credits=[1_000, 10_000, 100_000],
    memory=[10_000, 100_000, 1_000_000],
    memory_rest=[10_000, 100_000, 1_000_000],
    bulk=100_000,
    memory_bulk=[100_000, 250_000],
)
QUICK = Sizes(
    cpu=20_000,
    throughput=10_000,
    credits=[1_000, 10_000],
    memory=[5_000, 20_000, 100_000],
    memory_rest=[5_000, 20_000],
    bulk=25_000,
    memory_bulk=[75_000, 100_000],
    change=[2_000, 10_000],
)


def run(
    only: list[str],
    sizes: Sizes,
    workdir: Path,
    out: Path | None,
    *,
    mode: str,
    log: Callable[[str], None] = print,
) -> tuple[list[suite.BenchResult], dict[str, str]]:
    """Run the chosen benchmarks; a failing one is reported and the others still run."""
    results: list[suite.BenchResult] = []
    errors: dict[str, str] = {}
    started = time.perf_counter()
    rss_with_writes: dict[int, float] = {}
    with EmulatorProcess() as zoho:
        ctx = suite.Context(workdir=workdir, zoho=zoho)
        steps: list[tuple[str, Callable[[], suite.BenchResult]]] = [
            ("cpu", lambda: suite.cpu_path(ctx, sizes.cpu)),
            ("throughput", lambda: suite.rest_throughput(ctx, sizes.throughput, sizes.latency_ms)),
            ("credits", lambda: suite.credits(ctx, sizes.credits)),
            (
                "memory",
                lambda: suite.memory(
                    ctx,
                    sizes.memory,
                    sizes.memory_rest,
                    {BULK_SERIES: rss_with_writes},
                    bulk_sizes=sizes.memory_bulk,
                ),
            ),
            ("bulk", lambda: suite.bulk(ctx, sizes.bulk)),
            ("change", lambda: suite.change_aware(ctx, sizes.change)),
        ]
        for name, step in steps:
            if name not in only:
                continue
            log(f"[bench] {name} …")
            t0 = time.perf_counter()
            try:
                result = step()
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"[bench] {name} failed:\n{traceback.format_exc()}")
                continue
            if name == "credits":
                rss_with_writes.update(
                    {
                        int(k): m.max_rss_mib
                        for k, m in result.runs.items()
                        if suite.cheapest_plan(int(k))[0] == "bulk"
                    }
                )
            results.append(result)
            for check in result.checks:
                log(f"[bench]   {check.name}: {check.measured:.2f}{check.unit} (goal {check.goal})")
            log(f"[bench] {name} done in {time.perf_counter() - t0:.0f} s")
    if out is not None:
        out.write_text(
            render(results, mode=mode, elapsed_s=time.perf_counter() - started, errors=errors),
            encoding="utf-8",
        )
        log(f"[bench] wrote {out}")
    return results, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a couple of minutes)")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}"
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "target-zoho-crm-bench")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    _, errors = run(
        only, QUICK if args.quick else FULL, args.workdir, args.out, mode="quick" if args.quick else "full"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
