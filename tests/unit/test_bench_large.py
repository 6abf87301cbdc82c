"""The large-workspace workload: what it plans, and the percentiles it reports per call."""

from __future__ import annotations

import math

import pytest

from bench.harness import PhaseResult, RunResult
from bench.report import table_rows
from bench.systems import HISTORY_KINDS, history_events
from bench.workloads import LARGE_READS, QUICK, WORKLOADS, Sizes, percentile
from bench.writes import DatabaseWrites, TableWrites

SIZES = Sizes(large_deliveries=1_000_000, large_drain_events=200_000, large_seconds=20.0)


def _run(*phases: PhaseResult) -> RunResult:
    return RunResult(
        system="tenaz",
        workload="large",
        go=0.0,
        clients_finished=100.0,
        acknowledged=200_000,
        client_errors=0,
        error_samples=[],
        latencies_ms=[],
        acks={},
        sent=0,
        planned=0,
        settled_at=100.0,
        phases=list(phases),
    )


def _phase(
    latencies: dict[str, list[float]],
    *,
    delivered: int,
    read_seconds: float,
    label: str = "drain",
    backlog: int = 0,
) -> PhaseResult:
    return PhaseResult(
        label=label,
        backlog=backlog,
        seed_seconds=60.0,
        started=60.0,
        ended=85.0,
        delivered=delivered,
        peaks={},
        rss_over_time={},
        read_latencies_ms=latencies,
        client_errors=0,
        read_seconds=read_seconds,
    )


def _idle(latencies: dict[str, list[float]]) -> PhaseResult:
    return _phase(latencies, delivered=0, read_seconds=10.0, label="idle", backlog=1_000_000)


def test_the_history_is_written_read_idle_then_read_while_a_drain_runs() -> None:
    plan = WORKLOADS["large"].plan(SIZES, "tenaz")

    assert WORKLOADS["large"].systems == ("tenaz",)
    assert plan.dashboard
    idle, phase = plan.phases
    assert idle.history and idle.backlog == 1_000_000
    assert idle.deliveries is None and idle.seconds == SIZES.large_idle_seconds
    assert [(c.mode, c.args) for c in idle.clients] == [
        ("searches", ("--duration", str(SIZES.large_idle_seconds)))
    ]
    assert phase.backlog == 0
    assert phase.deliveries == 200_000
    modes = [client.mode for client in phase.clients]
    assert modes.count("searches") == 1 and "batches" in modes
    assert sum(int(c.args[1]) for c in phase.clients if c.mode == "batches") == 200_000
    assert QUICK.large_deliveries < 10_000


def test_each_call_gets_its_p50_and_p99_and_the_table_judges_the_p99_against_its_target() -> None:
    fast = [float(ms) for ms in range(1, 101)]  # 1..100 ms
    slow = [ms * 2 for ms in fast]
    latencies = dict.fromkeys(LARGE_READS, fast) | {"GetStats": slow}
    phase = _phase(latencies, delivered=200_000, read_seconds=20.0)
    idle = _idle({key: [1.0, 2.0, 3.0] for key in LARGE_READS})

    figures = WORKLOADS["large"].figures(_run(idle, phase), SIZES)

    assert figures.values["history_deliveries"] == 1_000_000
    assert figures.values["stats_idle_p99_ms"] == pytest.approx(2.98)
    assert figures.values["stats_p50_ms"] == percentile(slow, 50) == 101.0
    assert figures.values["stats_p99_ms"] == pytest.approx(198.02)
    assert figures.values["list_newest_p99_ms"] == pytest.approx(99.01)
    assert figures.values["search_order_id_calls"] == 100
    assert figures.values["drain_rate"] == 200_000 / 25
    assert not figures.remarks
    rows = {row[1]: row for row in table_rows({("tenaz", "large"): figures}, ["large"])}
    assert rows["GetStats (default window) p99"][2:] == ("198.0 ms", "—", "—", "< 100 ms", "no")
    assert rows["ListEvents by event id p99"][2:] == ("99.0 ms", "—", "—", "< 50 ms", "no")
    assert rows["ListEvents newest page p50"][5:] == ("", "")
    assert rows["GetStats (default window) p99, idle machine"][2:] == ("3.0 ms", "—", "—", "", "")


def test_a_call_never_made_is_no_figure_and_a_short_drain_is_said() -> None:
    phase = _phase({"GetStats": [10.0]}, delivered=150_000, read_seconds=4.0)

    figures = WORKLOADS["large"].figures(_run(_idle({}), phase), SIZES)

    assert math.isnan(figures.values["list_status_p99_ms"])
    assert figures.values["list_status_calls"] == 0
    rows = {row[1]: row for row in table_rows({("tenaz", "large"): figures}, ["large"])}
    assert rows["ListEvents filtered on FAILED p99"][2] == "—"
    assert rows["ListEvents filtered on FAILED p99"][6] == ""
    assert any("cut at its time limit with 150,000 of 200,000" in r for r in figures.remarks)
    assert any("the reads ran 4.0 s of the 20 s asked" in r for r in figures.remarks)
    assert any(
        r.startswith("fewer than 100 calls of GetStats, ListEvents,") for r in figures.remarks
    )


@pytest.mark.parametrize("deliveries", [1, 2, 3, 4, 5, 6, 7, 8, 9, 1_000_000])
def test_the_history_has_just_enough_events_for_its_deliveries(deliveries: int) -> None:
    def made_by(events: int) -> int:
        kinds = [HISTORY_KINDS[i % len(HISTORY_KINDS)] for i in range(events)]
        return sum(1 if kind == "Purchase" else 2 for kind in kinds)

    events = history_events(deliveries)

    assert made_by(events) >= deliveries > made_by(events - 1)


def test_the_drain_reports_its_writes_per_event_delivered() -> None:
    result = _run(_phase({}, delivered=0, read_seconds=0.0))
    result.workload, result.phases, result.succeeded = "drain", [], 100
    result.writes = DatabaseWrites({"tenaz_events": TableWrites(100, 0, 0, 0, 4)}, 450_000)

    figures = WORKLOADS["drain"].figures(result, SIZES)

    assert figures.values["rows_written_per_event"] == 1.0
    assert figures.values["index_entries_per_event"] == 4.0
    assert figures.values["wal_bytes_per_event"] == 4_500.0
    assert any(r.startswith("written to tenaz_events: 1.00 inserted") for r in figures.remarks)
