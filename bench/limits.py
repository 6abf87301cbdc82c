"""What limits the figures: sentences computed from a run's own measurements.

Every figure here comes from the run being reported (CPU seconds of each process group,
rates, the unary ceiling), so the explanation cannot drift from the numbers beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bench.workloads import Figures
from jobs.turns import READ_PRECEDENCE, TURN

DRAIN_TARGET = 20_000
UNARY_TARGET = 2_000


def _measured_writes(drain: Mapping[str, float]) -> str:
    if "rows_written_per_event" not in drain:
        return ""
    return (
        f" (measured: {drain['rows_written_per_event']:.2f} rows, at most"
        f" {drain['index_entries_per_event']:.2f} index entries and"
        f" {drain['wal_bytes_per_event']:,.0f} WAL bytes per event)"
    )


def _against_before(drain: Mapping[str, float], before: Mapping[str, float], revision: str) -> str:
    """What the drain cost per event at the older revision, measured in the same run."""
    if "cpu_total" not in before or "cpu_total" not in drain:
        return ""
    writes = ""
    if "rows_written_per_event" in before and "rows_written_per_event" in drain:
        writes = (
            f", and it wrote {before['rows_written_per_event']:.2f} rows and"
            f" {before['wal_bytes_per_event']:,.0f} WAL bytes per event where Tenaz now writes"
            f" {drain['rows_written_per_event']:.2f} and {drain['wal_bytes_per_event']:,.0f}"
        )
    return (
        f" Tenaz at {revision}, in the same run, used {before['cpu_total']:.3f} CPU s per 1,000"
        f" events (PostgreSQL {before['cpu_postgres']:.3f}) and delivered"
        f" {before['delivered_rate']:,.0f} events/s{writes}: see the cost per event before and"
        " after."
    )


def _recovery_below_the_limit(recovery: Mapping[str, float]) -> str:
    """Why the steady drain stayed under 90% of the limit, when the machine's cores are why."""
    limit, rate = recovery.get("rate_limit", 0.0), recovery["drain_rate"]
    ceiling = recovery.get("cpu_ceiling_rate")
    if not limit or rate >= 0.9 * limit or ceiling is None or ceiling >= limit:
        return ""
    return (
        f" In this run the drain reached {rate:,.0f} events/s, {rate / limit:.0%} of the"
        f" limit of {limit:,.0f}: at the recovery's cost of {recovery['cpu_total']:.3f} CPU s"
        " per 1,000 events across every process (each event's failed first attempt recorded,"
        f" then claimed, sent and recorded again) the cores allow {ceiling:,.0f} events/s,"
        " so the machine, not the limit, set the pace."
    )


def limits_lines(
    results: Mapping[tuple[str, str], Figures], before_revision: str = ""
) -> list[str]:
    """The sentences; `before_revision` names Tenaz before when the drain ran for it too."""
    tenaz = {workload: f.values for (system, workload), f in results.items() if system == "tenaz"}
    before = results.get(("before", "drain"))
    cores = os.cpu_count() or 1
    lines: list[str] = []
    drain = tenaz.get("drain", {})
    if "cpu_total" in drain:
        lines.append(
            f"- **drain** is bound by CPU. Every process of the run together used"
            f" {drain['cpu_total']:.3f} CPU s per 1,000 events delivered (server"
            f" {drain['cpu_server']:.3f}, workers {drain['cpu_workers']:.3f}, PostgreSQL"
            f" {drain['cpu_postgres']:.3f}; the rest is the load clients and the fake"
            f" platform). At that cost this machine's {cores} cores allow"
            f" {drain['cpu_ceiling_rate']:,.0f} events/s, and the run reached"
            f" {drain['delivered_rate']:,.0f}/s. {DRAIN_TARGET:,} events/s would take"
            f" {DRAIN_TARGET / 1000 * drain['cpu_total']:.1f} cores, of which"
            f" {DRAIN_TARGET / 1000 * drain['cpu_postgres']:.1f} for PostgreSQL's own work: each"
            " delivered event durably writes an event row, a delivery row (updated when the"
            " attempt starts and when it ends), an attempt row and its share of three rows of"
            " the status log (a batch's births, claim and finish: one row each for all its"
            f" deliveries), with their index entries{_measured_writes(drain)}. The baseline pays"
            " a job, a transaction and an HTTP request per event, which is where the ratio comes"
            " from." + (_against_before(drain, before.values, before_revision) if before else "")
        )
    unary, noop = tenaz.get("unary", {}), tenaz.get("noop", {})
    if "cpu_total" in unary and "calls_rate" in noop:
        lines.append(
            f"- **unary** is bound by CPU too, and by gRPC's own cost in Python. An RPC that"
            f" does nothing (the health check) reached {noop['calls_rate']:,.0f} calls/s from"
            f" the same callers, at {noop['cpu_total']:.3f} CPU s per 1,000 calls in the"
            f" clients and the server together. A SubmitEvent cost {unary['cpu_total']:.3f}"
            f" CPU s per 1,000 calls across every process (server {unary['cpu_server']:.3f},"
            f" load clients {unary['cpu_clients']:.3f}, the rest PostgreSQL and the workers"
            " delivering the events meanwhile), so the cores allow"
            f" {unary['cpu_ceiling_rate']:,.0f} calls/s; {UNARY_TARGET:,} calls/s would take"
            f" {UNARY_TARGET / 1000 * unary['cpu_total']:.1f} cores. Calls that arrive together"
            " share one transaction (group commit), which is what keeps the database's cost"
            " per call low; the latency under this saturating load is time spent queued for"
            " the CPU."
        )
    latency = tenaz.get("latency", {})
    if latency.get("rate_held"):
        lines.append(
            "- **latency**: at a steady 1,000 events/s the machine has CPU to spare, and the"
            " first attempt starts as soon as the submission commits: a worker is woken by"
            " PostgreSQL's NOTIFY, not by polling."
        )
    elif "offered_rate" in latency and "cpu_total" in latency:
        lines.append(
            "- **latency**: the clients meant to send"
            f" {latency.get('planned_rate', 1000):,.0f} single-event calls a second, and"
            f" the system answered {latency['offered_rate']:,.0f} a second: the calls cost"
            f" {latency['cpu_total']:.3f} CPU s per 1,000 across every process (as in the unary"
            f" workload), so the cores allow {latency['cpu_ceiling_rate']:,.0f} a second, and"
            " the run measured a saturated machine; the target holds only at the steady rate,"
            " so it is judged not met. The first attempts themselves started within"
            f" {latency['first_attempt_p99_ms']:,.0f} ms (p99) of the acknowledgement: a worker"
            " is woken by PostgreSQL's NOTIFY, not by polling."
        )
    if "lateness_p50_ms" in tenaz.get("retry", {}):
        lines.append(
            "- **retry precision**: a retry is a job scheduled for its due time, which workers"
            " look for every 0.25 s; lateness is that wait plus the time to claim the batch."
        )
    recovery = tenaz.get("recovery", {})
    if "drain_rate" in recovery:
        over = recovery.get("busiest_second", 0) > recovery.get("rate_limit", float("inf"))
        lines.append(
            "- **recovery**: the rate limit holds over every window of 1.08 s at the moment"
            " each request is let go (however long after its claim), the extra 0.08 s covering"
            " the way from there to the platform, so that the platform counts no more than"
            " the limit in any second as long as that way takes under 0.08 s more for one"
            " request than for another; the steady drain can therefore reach at most"
            " 1/1.08 = 93% of the configured rate."
            + (
                f" In this run the platform counted {recovery['busiest_second']:,.0f} events"
                f" in one second for a limit of {recovery['rate_limit']:,.0f}: for some requests"
                " the way from the gate to the platform took longer than that, so that requests"
                " let go over more than a second arrived within one (a worker whose process is"
                " not scheduled, or whose event loop is held, after the gate sends late what it"
                " let go on time; the events accepted in each second, in the details, show"
                " where)."
                if over
                else ""
            )
            + _recovery_below_the_limit(recovery)
        )
    large = tenaz.get("large", {})
    if "stats_idle_p99_ms" in large and "stats_p99_ms" in large:
        lines.append(
            "- **large workspace**: the reads cost little by themselves: on the idle machine,"
            f" GetStats' p99 was {large['stats_idle_p99_ms']:,.1f} ms (it sums the counters"
            " kept by the hour for the window's whole hours and by the minute for the rest,"
            " a few hundred rows for a day of three destinations, not the deliveries) and"
            " ListEvents' newest page"
            f" {large['list_newest_idle_p99_ms']:,.1f} ms. While the drain saturates the"
            " cores, the server serves reads first: the batches in flight are decoded,"
            f" checked, hashed and answered in turns of {TURN} events, and while a read is in"
            f" flight (for its first {READ_PRECEDENCE:g} s) they wait before their next turn,"
            " so that at each"
            " of its steps a read waits for the turn under way, not for every batch's. What"
            " remains is the wait in PostgreSQL behind the drain's backends and for the CPU"
            " like every process (the reading client's own included), which takes GetStats'"
            f" p99 to {large['stats_p99_ms']:,.0f} ms and the newest page's to"
            f" {large['list_newest_p99_ms']:,.0f} ms"
            + (
                f"; the drain delivered {large['drain_rate']:,.0f} events/s meanwhile, while"
                " a client read without a pause, one call after another"
                + (
                    f" (alone, in the drain workload: {drain_rate:,.0f} events/s)."
                    if (drain_rate := tenaz.get("drain", {}).get("delivered_rate"))
                    else "."
                )
                if "drain_rate" in large
                else "."
            )
        )
    return lines
