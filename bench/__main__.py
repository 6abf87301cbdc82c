"""`python -m bench`: run the workloads for Tenaz and the baseline, print the table, write it.

python -m bench                       every workload, default sizes (a few minutes)
python -m bench --quick               tiny sizes: a smoke run, well under a minute
python -m bench --workloads drain --systems tenaz --drain-events 500000
python -m bench --before v0.1 ...     the drain for Tenaz at that revision too ('' for none)
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
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.harness import Harness, RunResult
from bench.limits import limits_lines
from bench.postgres import PrivatePostgres
from bench.processes import REPO_ROOT, BenchError
from bench.report import (
    before_after_header,
    before_after_lines,
    before_after_rows,
    details_lines,
    git_revision,
    machine_lines,
    notes,
    render_text,
    table_rows,
    write_markdown,
)
from bench.revision import DEFAULT_BEFORE, check_out
from bench.sampler import cpu_speed_ms
from bench.systems import SYSTEMS, Options, System, TenazAtRevision
from bench.workloads import QUICK, WORKLOADS, Figures, Sizes, median_figures
from jobs import logs

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
    parser.add_argument(
        "--before",
        default=DEFAULT_BEFORE,
        metavar="REV",
        help="also run the drain for Tenaz at this git revision, and compare its cost per event"
        f" with Tenaz's now (default {DEFAULT_BEFORE}; '' for none)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    sizes = parser.add_argument_group("sizes (defaults: the full benchmark's, or --quick's)")
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
        " attempt, read from the database. Writes per event delivered: PostgreSQL's"
        " cumulative statistics of the run's database (pg_stat_user_tables) read at go and"
        " once the server and workers have stopped after the last delivery (a backend adds"
        " what it wrote to them as it exits); rows = inserted + updated + deleted, index"
        " entries = (inserted + updated - HOT updated) x the table's indexes, an upper bound"
        " where a table has partial indexes (they take only the rows matching their"
        " predicate); WAL bytes from pg_stat_wal, cluster-wide, over the same time (the"
        " PostgreSQL server is the benchmark's own, so it includes little else: autovacuum"
        " and checkpoints of the run's tables, the harness's polls)",
        f"- unary: SubmitEvent, one event per call, {sizes.unary_callers} concurrent callers in"
        f" {sizes.unary_clients} processes for {sizes.unary_seconds:g} s; workers deliver"
        " meanwhile",
        "- unary ceiling (noop): the same callers calling the gRPC health check, which does"
        " nothing: the most unary calls per second the server, the clients and this machine"
        " allow before any work is done",
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
        f"- recovery: {sizes.recovery_events:,} events for Tenaz"
        f" ({sizes.recovery_baseline_events:,} for the baseline), submitted as in the drain"
        " while the platform is down (it answers HTTP 503 to every request), so that each"
        " delivery's first attempt fails and it waits for a retry"
        f" ({sizes.recovery_retry_interval} s later for Tenaz,"
        f" {sizes.recovery_baseline_retry_interval} s for the baseline: longer than the"
        " submission takes, so that nothing is retried while the platform is down; the retries"
        " come due as spread out as the first attempts were). Once every delivery waits,"
        " Tenaz's destination gets a rate limit of"
        f" {sizes.recovery_rate_limit:,.0f} events/s (UpdateDestination, as `tenaz destinations"
        " update --rate-limit` does; when the retries come due slower than that limit, as on"
        " a machine slow to submit, it gets 80% of the rate they come due at instead, in whole"
        " hundreds, so that the limit paces the drain); the baseline has no rate limit and"
        " drains as fast as it"
        " can. The platform comes back at the moment the first retry is due, and notes when"
        " each request it accepts arrives. Drain time = from its return to the arrival of the"
        " last accepted request. Steady drain rate = the slope of a least-squares line through"
        " (arrival time, events accepted so far) of every accepted request (events / drain"
        " time would count the first burst as instant). Busiest second = the most events in"
        ' requests that arrived less than 1 s apart. "Rate never exceeded": busiest second <='
        ' the limit; "drains at the rate": steady drain rate >= 90% of the limit',
        f"- backlog memory (Tenaz only), three phases with the same server and workers: (1)"
        f" {sizes.backlog_small:,} PENDING deliveries are written, and the phase lasts until"
        f" they are all sent; (2) {sizes.backlog_large:,} more are written, and the phase lasts"
        f" until {sizes.backlog_small:,} of them are sent; (3) the workers go on draining the"
        f" large backlog for {sizes.backlog_seconds:g} s. Phases 1 and 2 do the same work at the"
        " same concurrency (the small backlog is enough to keep every worker busy) and differ"
        " only in the size of the backlog: growth = peak RSS in phase 2 - peak RSS in phase 1,"
        " judged as not growing when under 10% of the phase 1 peak (a worker's peak varied by"
        " about 10% between our runs); phase 3 shows whether memory creeps with longer work;"
        " the 300 MB ceiling is judged on the peak of all three. The backlogs are written"
        " straight into tenaz_events and tenaz_deliveries with one SQL statement each (valid"
        " purchases,"
        " payloads as SubmitEvent stores them, without the initial status-change rows;"
        " submitting a million through gRPC would take many minutes), the tables analysed as"
        " autovacuum would have, and the delivery jobs that submitting would have queued"
        " deferred in the same transaction (one per 1,000 deliveries, at most workers x"
        " concurrency). Throughout, one client reads what an operator's screen would, one call"
        " at a time (ListEvents newest page, ListEvents filtered on PENDING, GetStats); peak"
        " RSS is per phase, its course in the details",
        f"- large workspace (Tenaz only: the baseline has no GetStats or ListEvents): one"
        f" workspace gets a day's history of {sizes.large_deliveries:,} deliveries, written"
        " straight into the tables in one transaction (events received evenly over the last 24"
        " hours up to 10 minutes ago, three in five purchases with an order id, the others"
        " leads and add-to-carts, which go to a second destination each besides the run's;"
        " deliveries 88% SUCCEEDED at the first, second or third attempt, 7% FAILED, 5%"
        " WAITING_RETRY due after the run; every attempt's row and every status change"
        " written, one row of the status log each; the tables analysed). Then one client"
        " process has a caller per kind of call, each making one call after another, first for"
        f" {sizes.large_idle_seconds:g} s on the otherwise idle machine, then while a drain of"
        f" {sizes.large_drain_events:,} fresh purchases runs as in the drain workload: GetStats"
        " (the default"
        " window, the last 24 hours), ListEvents' newest page, ListEvents filtered on FAILED,"
        " ListEvents of one event id, and the dashboard's search box (GET /api/events?q=,"
        " the API the dashboard's page calls; ListEvents has no order id filter) given one"
        " order id, for"
        f" {sizes.large_seconds:g} s or until the drain is over; the event and order searched"
        " for are the newest purchase's received 12 hours before. Each call's latency is"
        " measured by the client, over gRPC (HTTP for the search box) on loopback",
        "- CPU seconds per 1,000 events delivered (per 1,000 calls for the unary ceiling),"
        " from go to the last delivery, of each process group (the PostgreSQL group is the"
        " postmaster and every backend, so it includes the harness's progress polls, twice a"
        " second); 'every process of the run' adds the load clients and the fake platform, and"
        " the rate the cores allow is the number of cores divided by that cost; RSS sampled"
        " every 0.2 s",
        *_before_lines(sizes, args),
        f"- command: `{args.command}`",
    ]


def _before_lines(sizes: Sizes, args: argparse.Namespace) -> list[str]:
    if not _runs_before(args):
        return []
    rounds = "."
    if sizes.drain_rounds > 1:
        rounds = (
            f"; then {sizes.drain_rounds - 1} more rounds of the two, before first in every other"
            " one, and Tenaz's drain figures, in the first table too, are the medians of its"
            f" {sizes.drain_rounds} runs."
        )
    return [
        f"- Tenaz before (revision {args.before}, `--before`): the drain only, with the same"
        f" {sizes.drain_events:,} events, processes and settings as Tenaz now, right after it"
        + rounds
        + " Its files come from `git archive` of the repository the benchmark runs in (a shallow"
        " clone lacks them: `git fetch --unshallow`). Its server and workers run with this"
        " virtualenv's Python, started in the checkout so that they import its code (checked:"
        " where a child process imports `server`, `jobs` and the generated gRPC modules from),"
        " and that revision's own command line migrates its database (checked: the database"
        " has exactly the revision's migrations), makes the API key (`tenaz keys create`)"
        " and the destination (`tenaz destinations create-meta`, through its server). The"
        " revision's dependencies are a subset of the current ones, at the same versions"
        " (checked against its pyproject.toml before it runs), so this virtualenv serves both",
    ]


def _runs_before(args: argparse.Namespace) -> bool:
    """Tenaz before runs with the drain, beside Tenaz now, unless `--before ''`."""
    return bool(args.before) and "drain" in args.workloads and "tenaz" in args.systems


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
    systems: dict[str, System] = {}
    before: TenazAtRevision | None = None
    # The drain's (before, now) pairs, when Tenaz before runs too.
    rounds: list[tuple[Figures, Figures]] = []
    speed_before = await asyncio.to_thread(cpu_speed_ms)
    with contextlib.ExitStack() as stack:
        work_dir = args.work_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tenaz-bench-"))
        )
        work_dir.mkdir(parents=True, exist_ok=True)
        if _runs_before(args):
            # Before PostgreSQL starts: a revision that is missing fails the run at once.
            checkout = await asyncio.to_thread(check_out, args.before, work_dir / "before")
            before = TenazAtRevision(checkout)
        postgres = PrivatePostgres(work_dir / "postgres")
        await asyncio.to_thread(postgres.start)
        stack.callback(postgres.stop)
        settings = await asyncio.to_thread(postgres.settings)
        fdatasync = await asyncio.to_thread(postgres.fdatasync_rate)
        for key in args.systems:
            systems[key] = SYSTEMS[key]
            if key == "tenaz" and before is not None:
                # Right after Tenaz now: the closest in time on a machine whose speed drifts.
                systems[before.key] = before
        harness = Harness(postgres, work_dir, options, args.profile)

        async def measure(system_key: str, workload: str) -> tuple[RunResult, Figures]:
            system, spec = systems[system_key], WORKLOADS[workload]
            started = time.monotonic()
            result = await harness.run(system, spec.plan(sizes, system_key))
            measured = spec.figures(result, sizes)
            print(
                f"{workload} / {system.label}: {result.succeeded:,} events delivered,"
                f" run took {time.monotonic() - started:.1f} s, other programs used"
                f" {measured.values['machine_share_of_other_programs']:.0%} of the machine",
                file=sys.stderr,
                flush=True,
            )
            return result, measured

        for workload in args.workloads:
            for system_key in systems:
                if system_key not in WORKLOADS[workload].systems:
                    continue
                result, measured = await measure(system_key, workload)
                results[(system_key, workload)] = result
                figures[(system_key, workload)] = measured
                if workload == "drain" and system_key == TenazAtRevision.key:
                    rounds = [(measured, figures[("tenaz", "drain")])]
                    rounds += await _more_drain_rounds(measure, sizes.drain_rounds - 1)
                    figures[("tenaz", "drain")] = median_figures([now for _, now in rounds])
                    figures[(system_key, "drain")] = median_figures([b for b, _ in rounds])
    speed_after = await asyncio.to_thread(cpu_speed_ms)
    rows = table_rows(figures, args.workloads)
    print(render_text(rows))
    compared = before_after_rows(rounds)
    revision = before.checkout.revision if before is not None else ""
    if compared:
        print()
        print(render_text(compared, before_after_header(revision, git_revision())))
    for note in notes([*rows, *compared]):
        print(note)
    if args.output:
        write_markdown(
            Path(args.output),
            rows=rows,
            machine=machine_lines(settings, fdatasync, (speed_before, speed_after)),
            setup=setup_lines(sizes, options, args),
            limits=limits_lines(figures, revision),
            details=details_lines(figures, {k: s.label for k, s in systems.items()}),
            command=args.command,
            before_after=before_after_lines(compared, revision, len(rounds)),
        )
        print(f"\nwritten to {args.output}", file=sys.stderr)
    return Outcome(results, figures, rows)


async def _more_drain_rounds(
    measure: Callable[[str, str], Awaitable[tuple[RunResult, Figures]]], count: int
) -> list[tuple[Figures, Figures]]:
    """`count` more (before, now) pairs of drains after the first, before going first in every
    other pair, so that neither always runs on the later, perhaps slower or faster, machine."""
    before, now = TenazAtRevision.key, "tenaz"
    pairs: list[tuple[Figures, Figures]] = []
    for index in range(count):
        order = (before, now) if index % 2 == 0 else (now, before)
        measured = {key: (await measure(key, "drain"))[1] for key in order}
        pairs.append((measured[before], measured[now]))
    return pairs


async def _main(args: argparse.Namespace) -> Outcome:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # SIGTERM stops the run like Ctrl-C: every process is stopped on the way out.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, handlers=[logs.handler("text", sys.stderr)])
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
