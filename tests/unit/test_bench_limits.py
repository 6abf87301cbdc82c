"""The "what limits the figures" sentences are computed from the run's own figures."""

from __future__ import annotations

import os

from bench.limits import limits_lines
from bench.workloads import Figures


def test_the_drain_and_unary_limits_follow_from_the_cpu_each_event_cost() -> None:
    drain = Figures(
        values={
            "cpu_total": 0.2,
            "cpu_server": 0.05,
            "cpu_workers": 0.05,
            "cpu_postgres": 0.09,
            "cpu_ceiling_rate": 10_000.0,
            "delivered_rate": 8_000.0,
            "rows_written_per_event": 8.0,
            "index_entries_per_event": 34.0,
            "wal_bytes_per_event": 4_496.0,
        }
    )
    unary = Figures(
        values={
            "cpu_total": 1.4,
            "cpu_server": 0.4,
            "cpu_clients": 0.2,
            "cpu_ceiling_rate": 1_430.0,
        }
    )
    noop = Figures(values={"calls_rate": 4_400.0, "cpu_total": 0.38})
    baseline = Figures(values={"cpu_total": 9.9})

    drain_line, unary_line = limits_lines(
        {
            ("tenaz", "drain"): drain,
            ("baseline", "drain"): baseline,
            ("tenaz", "unary"): unary,
            ("tenaz", "noop"): noop,
        }
    )

    cores = os.cpu_count()
    assert f"this machine's {cores} cores allow 10,000 events/s" in drain_line
    assert "20,000 events/s would take 4.0 cores, of which 1.8 for PostgreSQL" in drain_line
    assert "(measured: 8.00 rows, at most 34.00 index entries and 4,496 WAL bytes per event)" in (
        drain_line
    )
    assert "reached 4,400 calls/s" in unary_line
    assert "2,000 calls/s would take 2.8 cores" in unary_line


def test_latency_says_why_when_the_steady_rate_was_not_held() -> None:
    def latency_line(held: float) -> list[str]:
        latency = Figures(
            values={
                "rate_held": held,
                "planned_rate": 1000.0,
                "offered_rate": 780.0,
                "cpu_total": 2.3,
                "cpu_ceiling_rate": 870.0,
                "first_attempt_p99_ms": 44.4,
            }
        )
        return limits_lines({("tenaz", "latency"): latency})

    [not_held] = latency_line(0.0)
    assert "meant to send 1,000 single-event calls a second" in not_held
    assert "the system answered 780 a second" in not_held
    assert "the cores allow 870 a second" in not_held
    assert "within 44 ms (p99)" in not_held
    [held] = latency_line(1.0)
    assert "CPU to spare" in held


def test_recovery_says_when_the_cores_and_not_the_limit_set_the_pace() -> None:
    def recovery_line(drain_rate: float, ceiling: float) -> str:
        recovery = Figures(
            values={
                "drain_rate": drain_rate,
                "rate_limit": 4_400.0,
                "busiest_second": 4_400.0,
                "cpu_total": 0.52,
                "cpu_ceiling_rate": ceiling,
            }
        )
        [line] = limits_lines({("tenaz", "recovery"): recovery})
        return line

    slow = recovery_line(3_837.0, 3_848.0)
    assert "the drain reached 3,837 events/s, 87% of the limit of 4,400" in slow
    assert "the cores allow 3,848 events/s" in slow
    assert "the machine, not the limit" not in recovery_line(4_000.0, 3_848.0)
    assert "the machine, not the limit" not in recovery_line(3_837.0, 5_000.0)


def test_nothing_is_said_of_a_workload_that_did_not_run() -> None:
    assert limits_lines({}) == []


def test_recovery_says_when_the_platform_counted_more_than_the_limit() -> None:
    def recovery_line(busiest: float) -> str:
        figures = Figures(
            values={"drain_rate": 3_300.0, "busiest_second": busiest, "rate_limit": 3_500.0}
        )
        [line] = limits_lines({("tenaz", "recovery"): figures})
        return line

    assert "In this run" not in recovery_line(3_500.0)
    over = recovery_line(4_200.0)
    assert "counted 4,200 events in one second for a limit of 3,500" in over
