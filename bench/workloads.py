"""The workloads: what load each sends and which figures it reads.

Each workload turns `Sizes` into a `RunPlan` per system and a run's result into figures;
`report.py` lays the two systems' figures side by side. Adding a workload is adding one
class here and naming it in `WORKLOADS`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from bench.harness import ClientPlan, Outage, Phase, RunPlan, RunResult
from bench.writes import per_event, table_lines

MB = 1024 * 1024
# Above this share of the machine used by other programs, a run's figures are flagged.
OTHERS_WARNING = 0.10


@dataclass(frozen=True)
class Sizes:
    drain_events: int = 200_000
    drain_baseline_events: int = 5_000
    drain_clients: int = 4
    drain_batch: int = 500
    drain_inflight: int = 1
    # Tenaz now and Tenaz before (`--before`) each run the drain this many times, in turns:
    # this machine's speed drifts between runs minutes apart, enough that one pair of runs
    # of the same code compared 0.8x one time and 1.4x the next; the medians, and the
    # spread of the rounds' ratios, show what one pair hides.
    drain_rounds: int = 3
    unary_callers: int = 64
    unary_clients: int = 4
    unary_seconds: float = 10.0
    latency_rate: float = 1000.0
    latency_seconds: float = 10.0
    latency_clients: int = 2
    retry_events: int = 50_000
    retry_baseline_events: int = 2_000
    retry_interval: int = 5
    retry_failure_rate: float = 0.2
    recovery_events: int = 100_000
    recovery_baseline_events: int = 2_000
    recovery_rate_limit: float = 5_000.0
    # Longer than the seed takes, so that no delivery is retried while the platform is down.
    recovery_retry_interval: int = 30
    recovery_baseline_retry_interval: int = 10
    # Also how many deliveries each of the two compared phases sends. Enough to keep every
    # worker busy (2 workers x 20 jobs x batches of 1,000), as the large backlog does.
    backlog_small: int = 50_000
    backlog_large: int = 1_000_000
    backlog_seconds: float = 45.0
    # A workspace with a day's history of this many deliveries, read while a drain of
    # `large_drain_events` fresh events runs; the reads go on for `large_seconds` at most.
    large_deliveries: int = 1_000_000
    large_drain_events: int = 200_000
    large_seconds: float = 20.0
    # Before the drain, the same reads on the idle machine: what they cost by themselves.
    large_idle_seconds: float = 10.0
    settle_timeout: float = 900.0


QUICK = Sizes(
    drain_events=1_000,
    drain_baseline_events=300,
    drain_clients=2,
    drain_rounds=2,
    unary_callers=8,
    unary_clients=1,
    unary_seconds=1.0,
    latency_rate=50.0,
    latency_seconds=1.0,
    latency_clients=1,
    retry_events=500,
    retry_baseline_events=150,
    retry_interval=1,
    recovery_events=600,
    recovery_baseline_events=100,
    recovery_rate_limit=300.0,
    recovery_retry_interval=3,
    recovery_baseline_retry_interval=3,
    backlog_small=200,
    backlog_large=2_000,
    backlog_seconds=1.5,
    large_deliveries=5_000,
    large_drain_events=2_000,
    large_seconds=1.5,
    large_idle_seconds=1.0,
    settle_timeout=60.0,
)
BOTH = ("tenaz", "baseline")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Figures:
    """A run's figures by metric key, and remarks worth printing under the table."""

    values: dict[str, float] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)


def median_figures(runs: Sequence[Figures]) -> Figures:
    """The median of each figure that every one of `runs` has; the first run's remarks."""
    keys = set.intersection(*(set(run.values) for run in runs))
    return Figures(
        values={key: percentile([run.values[key] for run in runs], 50) for key in sorted(keys)},
        remarks=list(runs[0].remarks),
    )


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _batches(events: int, sizes: Sizes) -> tuple[ClientPlan, ...]:
    return tuple(
        ClientPlan(
            "batches",
            (
                *("--events", str(n), "--batch", str(sizes.drain_batch)),
                *("--inflight", str(sizes.drain_inflight)),
            ),
        )
        for n in _split(events, sizes.drain_clients)
        if n
    )


def _resources(result: RunResult, figures: Figures) -> None:
    # Per event delivered; per call for a workload that delivers nothing (the unary ceiling).
    per_thousand = max(result.succeeded or result.acknowledged, 1) / 1000
    for group, seconds in result.cpu.items():
        if group != "others":
            figures.values[f"cpu_{group}"] = seconds / per_thousand
    # Everything the run used, load clients and platform included: on a machine where all
    # of them share the cores, this cost per event caps the rate whatever else is tuned.
    total = sum(seconds for group, seconds in result.cpu.items() if group != "others")
    if total > 0:
        figures.values["cpu_total"] = total / per_thousand
        figures.values["cpu_ceiling_rate"] = (os.cpu_count() or 1) * 1000 / (total / per_thousand)
    _others(result, figures)
    for group, peaks in result.peaks.items():
        if peaks:
            figures.values[f"rss_{group}"] = peaks[0].rss / MB
    if result.database is not None:
        figures.values["commits_per_1k"] = result.database.commits / per_thousand
        figures.values["wal_mb_per_1k"] = result.database.wal_bytes / MB / per_thousand
        figures.values["wal_syncs_per_1k"] = result.database.wal_syncs / per_thousand
    requests = result.platform.get("requests")
    if isinstance(requests, int):
        figures.values["platform_requests_per_1k"] = requests / per_thousand
    if result.client_errors:
        figures.remarks.append(
            f"{result.client_errors} calls failed (e.g. {'; '.join(result.error_samples)})"
        )


def _others(result: RunResult, figures: Figures) -> None:
    """The share of the machine other programs used during the run, flagged when large."""
    capacity = (result.settled_at - result.go) * (os.cpu_count() or 1)
    others = result.cpu.get("others", 0.0) / capacity if capacity > 0 else 0.0
    figures.values["machine_share_of_other_programs"] = others
    if others > OTHERS_WARNING:
        figures.remarks.append(
            f"programs outside the benchmark used {others:.0%} of the machine's CPU during"
            " this run: its figures are likely low"
        )


class Drain:
    key = "drain"
    title = "drain"
    # And Tenaz at an older revision ("before"), when the run has one: the cost per event.
    systems: tuple[str, ...] = ("tenaz", "before", "baseline")

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        events = sizes.drain_baseline_events if system == "baseline" else sizes.drain_events
        return RunPlan(
            self.key,
            _batches(events, sizes),
            settle_timeout=sizes.settle_timeout,
            write_costs=True,
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        figures.values["events"] = result.succeeded
        figures.values["accepted_rate"] = result.acknowledged / result.accept_seconds
        figures.values["delivered_rate"] = result.succeeded / result.deliver_seconds
        figures.values["call_p50_ms"] = percentile(result.latencies_ms, 50)
        figures.values["call_p99_ms"] = percentile(result.latencies_ms, 99)
        _write_costs(result, figures)
        _resources(result, figures)
        return figures


def _write_costs(result: RunResult, figures: Figures) -> None:
    """Rows, index entries and WAL bytes written per event delivered, and per table."""
    if result.writes is None:
        return
    costs = per_event(result.writes, result.succeeded)
    figures.values["rows_written_per_event"] = costs.rows
    figures.values["index_entries_per_event"] = costs.index_entries
    figures.values["wal_bytes_per_event"] = costs.wal_bytes
    bound = " (an upper bound: partial indexes take only some rows)" if costs.upper_bound else ""
    figures.remarks.append(
        f"written per event delivered, from go until the server and workers had stopped:"
        f" {costs.rows:.2f} rows, {costs.index_entries:.2f} index entries{bound},"
        f" {costs.wal_bytes:,.0f} WAL bytes"
    )
    figures.remarks += [
        f"written to {line}" for line in table_lines(result.writes, result.succeeded)
    ]


class Unary:
    key = "unary"
    title = "unary"
    systems: tuple[str, ...] = BOTH

    mode = "unary"

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        callers = _split(sizes.unary_callers, sizes.unary_clients)
        return RunPlan(
            self.key,
            tuple(
                ClientPlan(self.mode, ("--callers", str(n), "--duration", str(sizes.unary_seconds)))
                for n in callers
                if n
            ),
            settle_timeout=sizes.settle_timeout,
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        figures.values["events"] = result.succeeded
        figures.values["calls_rate"] = result.acknowledged / result.accept_seconds
        figures.values["call_p50_ms"] = percentile(result.latencies_ms, 50)
        figures.values["call_p99_ms"] = percentile(result.latencies_ms, 99)
        _resources(result, figures)
        return figures


class UnaryCeiling(Unary):
    """The unary workload's callers calling the gRPC health check, which does nothing: the
    most unary calls per second this server, these clients and this machine allow."""

    key = "noop"
    title = "unary ceiling"
    mode = "noop"

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        return replace(super().plan(sizes, system), submits=False)


class Latency:
    key = "latency"
    title = "latency"
    systems: tuple[str, ...] = BOTH

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        rate = sizes.latency_rate / sizes.latency_clients
        return RunPlan(
            self.key,
            tuple(
                ClientPlan("paced", ("--rate", str(rate), "--duration", str(sizes.latency_seconds)))
                for _ in range(sizes.latency_clients)
            ),
            settle_timeout=sizes.settle_timeout,
            first_attempts=True,
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        gaps = [
            (result.first_attempts[event_id] - acked) * 1000
            for event_id, acked in result.acks.items()
            if event_id in result.first_attempts
        ]
        figures.values["events"] = result.succeeded
        figures.values["planned_rate"] = sizes.latency_rate
        figures.values["offered_rate"] = result.acknowledged / result.accept_seconds
        figures.values["first_attempt_p50_ms"] = percentile(gaps, 50)
        figures.values["first_attempt_p99_ms"] = percentile(gaps, 99)
        figures.values["call_p99_ms"] = percentile(result.latencies_ms, 99)
        early = sum(1 for gap in gaps if gap < 0)
        if early:
            figures.remarks.append(
                f"{early} of {len(gaps)} first attempts started before the client had the"
                " acknowledgement (negative gaps count as such in the percentiles)"
            )
        # The rate counts as held when 95% of the planned calls went out on time and the last
        # answer came within a second of the end.
        figures.values["rate_held"] = float(
            result.sent >= 0.95 * result.planned
            and result.accept_seconds <= sizes.latency_seconds + 1.0
        )
        if not figures.values["rate_held"]:
            figures.remarks.append(
                f"the steady rate was not held ({result.acknowledged:,} answers in"
                f" {result.accept_seconds:.1f} s for {result.planned:,} planned in"
                f" {sizes.latency_seconds:g} s): the latency target is judged not met"
            )
        if result.sent < result.planned:
            figures.remarks.append(
                f"the clients sent {result.sent:,} of the {result.planned:,} events planned:"
                " the system answered slower than the rate (at most 64 calls waiting per"
                " client), so this measures a saturated system"
            )
        _resources(result, figures)
        return figures


class RetryPrecision:
    key = "retry"
    title = "retry precision"
    systems: tuple[str, ...] = BOTH

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        events = sizes.retry_events if system == "tenaz" else sizes.retry_baseline_events
        base = RunPlan(self.key, _batches(events, sizes), settle_timeout=sizes.settle_timeout)
        return replace(
            base,
            failure_rate=sizes.retry_failure_rate,
            retry_interval=sizes.retry_interval,
            retry_gaps=True,
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        lateness = [(gap - sizes.retry_interval) * 1000 for gap in result.retry_gaps]
        figures.values["events"] = result.succeeded
        figures.values["retries"] = len(lateness)
        figures.values["lateness_p50_ms"] = percentile(lateness, 50)
        figures.values["lateness_p99_ms"] = percentile(lateness, 99)
        figures.values["lateness_max_ms"] = max(lateness) if lateness else math.nan
        figures.values["early"] = sum(1 for late in lateness if late < 0)
        figures.values["delivered_rate"] = result.succeeded / result.deliver_seconds
        _resources(result, figures)
        return figures


class Recovery:
    """The platform is down while the events arrive, so every delivery waits for a retry; then
    (Tenaz) the destination's rate limit is set, and the platform comes back when the first
    retry is due. The platform notes when each request it accepted arrived."""

    key = "recovery"
    title = "recovery"
    systems: tuple[str, ...] = BOTH

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        tenaz = system == "tenaz"
        events = sizes.recovery_events if tenaz else sizes.recovery_baseline_events
        base = RunPlan(self.key, _batches(events, sizes), settle_timeout=sizes.settle_timeout)
        return replace(
            base,
            retry_interval=(
                sizes.recovery_retry_interval if tenaz else sizes.recovery_baseline_retry_interval
            ),
            # The baseline has no rate limit: it drains as fast as it can.
            outage=Outage(rate_limit=sizes.recovery_rate_limit if tenaz else None),
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        platform = result.platform
        figures.values["events"] = result.succeeded
        if result.rate_limit is not None:
            figures.values["rate_limit"] = result.rate_limit
            if result.rate_limit < sizes.recovery_rate_limit:
                figures.remarks.append(
                    f"the rate limit was set to {result.rate_limit:,.0f}/s, not"
                    f" {sizes.recovery_rate_limit:,.0f}/s: the retries came due slower than"
                    f" {sizes.recovery_rate_limit:,.0f}/s (the submission's pace on this"
                    " machine), so 80% of the rate they came due at, for the limit and not"
                    " their schedule to pace the drain"
                )
        up = result.platform_up
        last = platform.get("last_accepted")
        if up is None or last is None:
            figures.remarks.append("the platform reported no accepted request")
            _resources(result, figures)
            return figures
        drain = float(last) - up
        figures.values["drain_seconds"] = drain
        figures.values["drain_rate"] = float(platform["steady_rate"])
        figures.values["drain_rate_overall"] = (
            int(platform["events"]) / drain if drain > 0 else math.nan
        )
        figures.values["busiest_second"] = float(platform["busiest_second_events"])
        figures.values["first_accepted_after_ms"] = (float(platform["first_accepted"]) - up) * 1000
        if result.last_success is not None:
            figures.values["last_success_seconds"] = result.last_success - up
        per_second = platform.get("per_second", [])
        shown = ", ".join(f"{n:,}" for n in per_second[:40])
        more = " ..." if len(per_second) > 40 else ""
        figures.remarks.append(
            f"events accepted in each second from the first accepted: {shown}{more}"
        )
        waiting = result.waiting
        if waiting is not None:
            spread = waiting.last_due - waiting.first_due
            figures.values["retries_due_spread_seconds"] = spread
            limit = figures.values.get("rate_limit")
            if limit is not None and spread > result.succeeded / limit:
                figures.remarks.append(
                    f"the retries came due over {spread:.1f} s, longer than draining them at"
                    " the limit takes: their schedule, not the limit, set the pace of the drain"
                )
            if waiting.most_attempts > 1:
                figures.remarks.append(
                    f"some deliveries were tried {waiting.most_attempts} times while the"
                    " platform was down (the retry interval is shorter than the submission"
                    " took)"
                )
        _resources(result, figures)
        return figures


def _over_time(samples: Sequence[tuple[float, int]], start: float, points: int = 10) -> str:
    """About `points` of the samples, evenly spaced, and the last, as "+Ns MB" pairs."""
    if not samples:
        return "none"
    step = max(len(samples) // points, 1)
    picked = [*samples[::step], samples[-1]] if (len(samples) - 1) % step else samples[::step]
    return ", ".join(f"+{at - start:.0f}s {rss / MB:.0f}" for at, rss in picked)


class Backlog:
    """Does memory grow with the backlog? The same Tenaz processes send the same number of
    deliveries (`backlog_small`) twice: first all of a small backlog, then the first of a
    large one; then they go on draining the large one for `backlog_seconds`. Backlogs are
    written straight into the tables (SQL); a client reads the big tables through the server
    (ListEvents, GetStats) throughout."""

    key = "backlog"
    title = "backlog memory"
    systems: tuple[str, ...] = ("tenaz",)

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        cap = sizes.settle_timeout
        reads = (ClientPlan("reads", ("--duration", str(cap))),)
        return RunPlan(
            self.key,
            (),
            settle_timeout=cap,
            phases=(
                Phase(
                    "small",
                    backlog=sizes.backlog_small,
                    seconds=cap,
                    deliveries=sizes.backlog_small,
                    clients=reads,
                ),
                Phase(
                    "large",
                    backlog=sizes.backlog_large,
                    seconds=cap,
                    deliveries=sizes.backlog_small,
                    clients=reads,
                ),
                Phase("longer", backlog=0, seconds=sizes.backlog_seconds, clients=reads),
            ),
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        for phase in result.phases:
            label = phase.label
            seconds = phase.ended - phase.started
            figures.values[f"backlog_{label}"] = phase.backlog
            figures.values[f"seed_seconds_{label}"] = phase.seed_seconds
            figures.values[f"seconds_{label}"] = seconds
            figures.values[f"delivered_{label}"] = phase.delivered
            figures.values[f"delivered_rate_{label}"] = phase.delivered / seconds
            for group in ("server", "workers", "postgres"):
                peaks = phase.peaks.get(group)
                if peaks:
                    figures.values[f"rss_{group}_{label}"] = peaks[0].rss / MB
            for method, latencies in sorted(phase.read_latencies_ms.items()):
                name = method.replace("(status)", "_by_status")
                figures.values[f"{name}_p50_ms_{label}"] = percentile(latencies, 50)
                figures.values[f"{name}_p99_ms_{label}"] = percentile(latencies, 99)
            if phase.client_errors:
                figures.remarks.append(f"{phase.client_errors} read calls failed ({label})")
            if label != "longer" and phase.delivered < sizes.backlog_small:
                figures.remarks.append(
                    f"the {label} phase ended at its time limit with {phase.delivered:,} of"
                    f" {sizes.backlog_small:,} deliveries sent: the phases did not do the"
                    " same work"
                )
            for group in ("server", "workers"):
                figures.remarks.append(
                    f"RSS of the largest {group} process through the {label} phase (MB):"
                    f" {_over_time(phase.rss_over_time.get(group, []), phase.started)}"
                )
        for group in ("server", "workers"):
            small = figures.values.get(f"rss_{group}_small")
            large = figures.values.get(f"rss_{group}_large")
            if small is not None and large is not None:
                figures.values[f"rss_growth_{group}"] = large - small
            by_phase = [
                figures.values[key]
                for key in (f"rss_{group}_{phase.label}" for phase in result.phases)
                if key in figures.values
            ]
            if by_phase:
                figures.values[f"rss_{group}_any_phase"] = max(by_phase)
        _resources(result, figures)
        return figures


# The calls of the large workload's client (bench.load's `searches`), by the name it
# records them under, and the key of their figures.
LARGE_READS = {
    "GetStats": "stats",
    "ListEvents": "list_newest",
    "ListEvents(status)": "list_status",
    "ListEvents(event_id)": "list_event_id",
    "search(order_id)": "search_order_id",
}


class Large:
    """A workspace with a day's history of `large_deliveries` (written straight into the
    tables), read as operators read it: a client calls GetStats and ListEvents (and the
    dashboard's search box), one caller per kind of call making one call after another,
    first for `large_idle_seconds` on the otherwise idle machine (what the reads cost by
    themselves), then while a drain of `large_drain_events` fresh events runs, for
    `large_seconds` or until the drain is over."""

    key = "large"
    title = "large workspace"
    systems: tuple[str, ...] = ("tenaz",)

    def plan(self, sizes: Sizes, system: str) -> RunPlan:
        def searches(seconds: float) -> ClientPlan:
            return ClientPlan("searches", ("--duration", str(seconds)))

        return RunPlan(
            self.key,
            (),
            settle_timeout=sizes.settle_timeout,
            dashboard=True,
            phases=(
                Phase(
                    "idle",
                    backlog=sizes.large_deliveries,
                    history=True,
                    seconds=sizes.large_idle_seconds,
                    clients=(searches(sizes.large_idle_seconds),),
                ),
                Phase(
                    "drain",
                    backlog=0,
                    seconds=sizes.settle_timeout,
                    deliveries=sizes.large_drain_events,
                    clients=(
                        *_batches(sizes.large_drain_events, sizes),
                        searches(sizes.large_seconds),
                    ),
                ),
            ),
        )

    def figures(self, result: RunResult, sizes: Sizes) -> Figures:
        figures = Figures()
        _others(result, figures)
        if not result.phases:
            figures.remarks.append("the run ended before its history was written")
            return figures
        idle = result.phases[0]
        figures.values["history_deliveries"] = idle.backlog
        figures.values["seed_seconds"] = idle.seed_seconds
        for name, key in LARGE_READS.items():
            latencies = idle.read_latencies_ms.get(name, [])
            figures.values[f"{key}_idle_p50_ms"] = percentile(latencies, 50)
            figures.values[f"{key}_idle_p99_ms"] = percentile(latencies, 99)
        if idle.client_errors:
            figures.remarks.append(f"{idle.client_errors} calls failed on the idle machine")
        if len(result.phases) < 2:
            figures.remarks.append("the run ended before its drain")
            return figures
        phase = result.phases[1]
        seconds = phase.ended - phase.started
        figures.values["drain_events"] = phase.delivered
        figures.values["drain_seconds"] = seconds
        figures.values["drain_rate"] = phase.delivered / seconds if seconds > 0 else math.nan
        figures.values["read_seconds"] = phase.read_seconds
        for name, key in LARGE_READS.items():
            latencies = phase.read_latencies_ms.get(name, [])
            figures.values[f"{key}_calls"] = len(latencies)
            figures.values[f"{key}_p50_ms"] = percentile(latencies, 50)
            figures.values[f"{key}_p99_ms"] = percentile(latencies, 99)
        few = [name for name, key in LARGE_READS.items() if figures.values[f"{key}_calls"] < 100]
        if few:
            figures.remarks.append(
                f"fewer than 100 calls of {', '.join(few)}: their p99 is close to their slowest"
            )
        if phase.delivered < sizes.large_drain_events:
            figures.remarks.append(
                f"the drain was cut at its time limit with {phase.delivered:,} of"
                f" {sizes.large_drain_events:,} events delivered"
            )
        if phase.read_seconds < sizes.large_seconds - 1:
            figures.remarks.append(
                f"the drain was over after {seconds:.1f} s, so the reads ran"
                f" {phase.read_seconds:.1f} s of the {sizes.large_seconds:g} s asked"
            )
        if phase.client_errors:
            figures.remarks.append(
                f"{phase.client_errors} calls failed (e.g. {'; '.join(result.error_samples)})"
            )
        return figures


class Workload(Protocol):
    key: str
    # The systems it measures (the others are skipped).
    systems: tuple[str, ...]

    def plan(self, sizes: Sizes, system: str) -> RunPlan: ...

    def figures(self, result: RunResult, sizes: Sizes) -> Figures: ...


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Drain(),
        Unary(),
        UnaryCeiling(),
        Latency(),
        RetryPrecision(),
        Recovery(),
        Backlog(),
        Large(),
    )
}
