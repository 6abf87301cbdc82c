"""A tiny benchmark run inside `make test`, so that `make bench` does not rot.

It checks that every workload runs for each system it measures (the drain for Tenaz at
revision e849f99 too, run from this repository's history, in two rounds of the two), that
every acknowledged event was delivered, that the recovery, backlog and large-workspace runs
measured what they report, that the drain counted what it wrote, and that the report is
written with the cost per event before and after; never how fast anything was.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bench.__main__ import parse_args, run
from bench.workloads import LARGE_READS, WORKLOADS

# A guard against a hang, not a speed check: about 150 s on an idle 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_quick_run_delivers_every_event_of_both_systems_and_writes_the_report(
    tmp_path: Path,
) -> None:
    output = tmp_path / "benchmarks.md"
    outcome = asyncio.run(
        run(parse_args(["--quick", "--before", "e849f99", "--output", str(output)]))
    )

    assert set(outcome.results) == {(s, w) for w, spec in WORKLOADS.items() for s in spec.systems}
    for (system, workload), result in outcome.results.items():
        where = f"{system} / {workload}"
        if workload != "backlog":  # it writes its deliveries straight into the tables
            assert result.acknowledged > 0, where
        assert result.client_errors == 0, (where, result.error_samples)
        if workload == "large":  # its history has failed deliveries, and some waiting
            continue
        assert result.failed == 0, where
        if workload == "noop":  # health checks: calls answered, nothing submitted
            assert result.deliveries == 0, where
            continue
        assert result.succeeded == result.deliveries >= result.acknowledged, where
    assert outcome.results[("tenaz", "retry")].retry_gaps, "the retry workload made no retry"
    assert outcome.results[("baseline", "retry")].retry_gaps, "the retry workload made no retry"
    assert outcome.results[("tenaz", "latency")].first_attempts
    for system in ("tenaz", "baseline"):
        recovery = outcome.results[(system, "recovery")]
        assert recovery.platform_up is not None
        assert recovery.platform["first_accepted"] >= recovery.platform_up
        assert recovery.platform["events"] == recovery.succeeded
    backlog = outcome.results[("tenaz", "backlog")]
    assert [p.label for p in backlog.phases] == ["small", "large", "longer"]
    assert all(p.delivered > 0 and p.peaks["workers"] for p in backlog.phases[:2])
    assert "rss_growth_workers" in outcome.figures[("tenaz", "backlog")].values
    large = outcome.results[("tenaz", "large")]
    idle, drain = large.phases
    assert (idle.label, idle.delivered) == ("idle", 0)
    assert set(idle.read_latencies_ms) == set(LARGE_READS)
    assert drain.delivered >= large.acknowledged > 0
    assert set(drain.read_latencies_ms) == set(LARGE_READS)
    for system in ("tenaz", "before", "baseline"):
        writes = outcome.results[(system, "drain")].writes
        assert writes is not None
        costs = outcome.figures[(system, "drain")].values
        assert costs["rows_written_per_event"] > 0 and costs["wal_bytes_per_event"] > 0
    # Every event delivered is one event row, one delivery row and one attempt row, before
    # as now.
    for system in ("tenaz", "before"):
        tenaz_writes = outcome.results[(system, "drain")].writes
        assert tenaz_writes is not None
        delivered = outcome.results[(system, "drain")].succeeded
        for table in ("tenaz_events", "tenaz_deliveries", "tenaz_attempts"):
            assert tenaz_writes.tables[table].inserted == delivered, (system, table)
    # Its own code ran: e849f99 logs a row per status change (PENDING, SENDING, SUCCEEDED),
    # Tenaz now a row per batch move.
    before = outcome.results[("before", "drain")]
    assert before.writes is not None and "tenaz_status_moves" not in before.writes.tables
    assert before.writes.tables["tenaz_status_changes"].inserted == 3 * before.succeeded

    report = output.read_text()
    headings = ("# Benchmarks", "## What limits the figures", "## The machine", "## How it ran")
    for heading in (*headings, "| workload |"):
        assert heading in report
    assert "fsync=on" in report and "synchronous_commit=on" in report
    assert "| recovery |" in report and "| backlog |" in report and "| noop |" in report
    assert "| large |" in report and "WAL bytes / event delivered" in report
    before_after = report.split("## Cost per event: before and after", 1)[1]
    assert "| drain, per event delivered | Tenaz e849f99 (before) |" in before_after
    assert "| WAL bytes / event delivered |" in before_after
    # --quick runs two rounds of the two drains: each figure a median, each ratio a spread.
    assert "The drain ran 2 times for Tenaz at e849f99" in before_after
    assert re.search(r"\| CPU s / 1k events: PostgreSQL \|.*x \([\d.]+-[\d.]+x\) \|", before_after)
    assert "Tenaz at e849f99, in the same run" in report  # the limits cite it
    assert "Tenaz before (revision e849f99" in report  # and how it ran says how
