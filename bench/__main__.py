"""`python -m bench`: run the workloads for Tenaz and the baseline, print the table, write it.

python -m bench                       every workload, default sizes (a few minutes)
python -m bench --quick               tiny sizes: a smoke run, well under a minute
python -m bench --workloads drain --systems tenaz --drain-events 500000
python -m bench --profile prof/       py-spy on Tenaz's processes, PostgreSQL activity
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Harness, RunResult
from bench.postgres import PrivatePostgres
from bench.processes import REPO_ROOT, BenchError
from bench.report import (
    details_lines,
    machine_lines,
    notes,
    render_text,
    table_rows,
    write_markdown,
)
from bench.sampler import cpu_speed_ms
from bench.systems import SYSTEMS, Options
from bench.workloads import QUICK, WORKLOADS, Figures, Sizes

DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{what}: choose from {', '.join(allowed)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument(
        "--workloads",
        type=lambda t: _names(t, tuple(WORKLOADS), "--workloads"),
        default=list(WORKLOADS),
        help=f"comma-separated, from {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--systems",
        type=lambda t: _names(t, tuple(SYSTEMS), "--systems"),
        default=list(SYSTEMS),
        help="comma-separated, from tenaz,baseline (default: both)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    sizes = parser.add_argument_group("sizes (defaults: issue 5's, or --quick's)")
    for field in dataclasses.fields(Sizes):
        sizes.add_argument(
            "--" + field.name.replace("_", "-"),
            type=type(getattr(QUICK, field.name)),
            default=None,
            metavar="N",
        )
    parser.add_argument("--workers", type=int, default=2, help="worker processes per system")
    parser.add_argument("--concurrency", type=int, default=20, help="jobs at a time per worker")
    parser.add_argument("--log-level", default="INFO", help="Tenaz's TENAZ_LOG_LEVEL")
    parser.add_argument(
        "--output",
        default=str(DEFAULT_OUTPUT),
        help="where to write the markdown report ('' to skip; default docs/benchmarks.md)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="keep the database and logs here"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="say what each run does")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy and pg_stat_activity samples here"
    )
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else Sizes()
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Sizes)
        if getattr(args, f.name) is not None
    }
    return dataclasses.replace(base, **overrides)


def setup_lines(sizes: Sizes, options: Options, args: argparse.Namespace) -> list[str]:
    return [
        f"- each system: one gRPC server process and {options.workers} worker processes"
        f" ({options.concurrency} jobs at a time each), a fresh database per run on the same"
        " PostgreSQL server; the fake Meta (Tenaz's FakeMetaServer, real HTTP/1.1 on"
        " loopback) in a process of its own; load clients in processes of their own",
        f"- drain: {sizes.drain_events:,} events for Tenaz, {sizes.drain_baseline_events:,} for"
        f" the baseline (fewer so the run ends in minutes: compare rates, not totals), in"
        f" SubmitEvents batches of {sizes.drain_batch} from {sizes.drain_clients} client"
        f" processes, {sizes.drain_inflight} call(s) in flight each; the platform accepts"
        " everything; delivered = from the first call to the end of the last successful"
        " attempt, read from the database",
        f"- unary: SubmitEvent, one event per call, {sizes.unary_callers} concurrent callers in"
        f" {sizes.unary_clients} processes for {sizes.unary_seconds:g} s; workers deliver"
        " meanwhile",
        f"- latency: SubmitEvent at a steady {sizes.latency_rate:,.0f} events/s for"
        f" {sizes.latency_seconds:g} s from {sizes.latency_clients} processes; from the"
        " client's acknowledgement to the start of the event's first attempt as the system"
        " recorded it (Tenaz: tenaz_attempts.started_at; baseline: its attempts table)",
        f"- retry precision: a drain of {sizes.retry_events:,} events (baseline"
        f" {sizes.retry_baseline_events:,}) where {sizes.retry_failure_rate:.0%} of the"
        " platform's requests fail with HTTP 503, spread evenly from the first (for Tenaz a"
        " request is a batch, for the baseline one event); retry interval"
        f" {sizes.retry_interval} s; lateness = start of a retry - (end of the attempt before"
        " it + interval), from each system's attempts table",
        "- CPU seconds per 1,000 events delivered, from go to the last delivery, of each"
        " process group (the PostgreSQL group is the postmaster and every backend, so it"
        " includes the harness's progress polls, twice a second); RSS sampled every 0.2 s",
        f"- command: `{args.command}`",
    ]


@dataclasses.dataclass
class Outcome:
    """What a benchmark run measured, by (system, workload), and the table made of it."""

    results: dict[tuple[str, str], RunResult]
    figures: dict[tuple[str, str], Figures]
    rows: list[tuple[str, ...]]


async def run(args: argparse.Namespace) -> Outcome:
    """Measure every (workload, system) asked for, print the table, write the report."""
    sizes = sizes_from(args)
    options = Options(workers=args.workers, concurrency=args.concurrency, log_level=args.log_level)
    results: dict[tuple[str, str], RunResult] = {}
    figures: dict[tuple[str, str], Figures] = {}
    speed_before = await asyncio.to_thread(cpu_speed_ms)
    with contextlib.ExitStack() as stack:
        work_dir = args.work_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tenaz-bench-"))
        )
        work_dir.mkdir(parents=True, exist_ok=True)
        postgres = PrivatePostgres(work_dir / "postgres")
        await asyncio.to_thread(postgres.start)
        stack.callback(postgres.stop)
        settings = await asyncio.to_thread(postgres.settings)
        fdatasync = await asyncio.to_thread(postgres.fdatasync_rate)
        harness = Harness(postgres, work_dir, options, args.profile)
        for workload in args.workloads:
            for system_key in args.systems:
                system = SYSTEMS[system_key]
                spec = WORKLOADS[workload]
                started = time.monotonic()
                result = await harness.run(system, spec.plan(sizes, system_key))
                results[(system_key, workload)] = result
                figures[(system_key, workload)] = spec.figures(result, sizes)
                others = figures[(system_key, workload)].values["machine_share_of_other_programs"]
                print(
                    f"{workload} / {system.label}: {result.succeeded:,} events delivered,"
                    f" run took {time.monotonic() - started:.1f} s, other programs used"
                    f" {others:.0%} of the machine",
                    file=sys.stderr,
                    flush=True,
                )
    speed_after = await asyncio.to_thread(cpu_speed_ms)
    rows = table_rows(figures, args.workloads)
    print(render_text(rows))
    for note in notes(rows):
        print(note)
    if args.output:
        write_markdown(
            Path(args.output),
            rows=rows,
            machine=machine_lines(settings, fdatasync, (speed_before, speed_after)),
            setup=setup_lines(sizes, options, args),
            details=details_lines(figures, {k: s.label for k, s in SYSTEMS.items()}),
            command=args.command,
        )
        print(f"\nwritten to {args.output}", file=sys.stderr)
    return Outcome(results, figures, rows)


async def _main(args: argparse.Namespace) -> Outcome:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # SIGTERM stops the run like Ctrl-C: every process is stopped on the way out.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if args.verbose:
        logging.getLogger("bench").setLevel(logging.INFO)
    try:
        asyncio.run(_main(args))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
