"""The drain's cost per event before and after: the table's ratios point the right way, rounds
of runs give medians and the spread of their ratios, the limits cite the older revision's
figures, and a revision that is not there says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.limits import limits_lines
from bench.processes import BenchError
from bench.report import before_after_lines, before_after_rows
from bench.revision import check_out
from bench.workloads import Figures

NOW = {
    "delivered_rate": 10_000.0,
    "cpu_server": 0.04,
    "cpu_workers": 0.05,
    "cpu_postgres": 0.06,
    "cpu_total": 0.18,
    "cpu_ceiling_rate": 11_000.0,
    "rows_written_per_event": 5.0,
    "index_entries_per_event": 20.0,
    "wal_bytes_per_event": 3_000.0,
}
BEFORE = {
    "delivered_rate": 8_000.0,
    "cpu_server": 0.04,
    "cpu_workers": 0.06,
    "cpu_postgres": 0.09,
    "cpu_total": 0.24,
    "rows_written_per_event": 8.0,
    "index_entries_per_event": 34.0,
    "wal_bytes_per_event": 4_500.0,
}


def test_the_ratio_says_how_many_times_better_now_is_for_rates_and_costs_alike() -> None:
    rows = before_after_rows([(Figures(values=BEFORE), Figures(values=NOW))])

    by_figure = {row[0]: row[1:] for row in rows}
    assert by_figure["events/s delivered end to end"] == ("8,000/s", "10,000/s", "1.2x")
    assert by_figure["CPU s / 1k events: PostgreSQL"] == ("0.090 s", "0.060 s", "1.5x")
    assert by_figure["CPU s / 1k events: every process of the run"][2] == "1.3x"
    assert by_figure["rows written / event delivered"] == ("8.00", "5.00", "1.6x")
    assert by_figure["WAL bytes / event delivered"] == ("4,500 B", "3,000 B", "1.5x")
    assert len(rows) == 8

    section = before_after_lines(rows, "e849f99")
    assert section[0] == "## Cost per event: before and after"
    assert any(
        line.startswith("| drain, per event delivered | Tenaz e849f99 (before) |")
        for line in section
    )


def test_rounds_give_each_figure_as_a_median_and_the_ratio_with_its_spread() -> None:
    """Three rounds where the machine ran slow in the first and fast in the last: the median
    run of each system is in the table, and the ratio is the median of the rounds' own."""

    def scaled(values: dict[str, float], cpu: float) -> Figures:
        costs = {k: v * cpu for k, v in values.items() if k.startswith("cpu_")}
        return Figures(values=values | costs)

    rounds = [
        (scaled(BEFORE, 1.4), scaled(NOW, 1.0)),  # before ran on a slower machine: 2.1x
        (scaled(BEFORE, 1.0), scaled(NOW, 1.0)),  # 1.5x for PostgreSQL's CPU
        (scaled(BEFORE, 0.8), scaled(NOW, 1.2)),  # now ran on the slower one: 1.0x
    ]
    table = before_after_rows(rounds)
    rows = {row[0]: row[1:] for row in table}

    assert rows["CPU s / 1k events: PostgreSQL"] == ("0.090 s", "0.060 s", "1.5x (1.0-2.1x)")
    assert rows["rows written / event delivered"] == ("8.00", "5.00", "1.6x (1.6-1.6x)")

    section = before_after_lines(table, "e849f99", rounds=3)
    assert "The drain ran 3 times for Tenaz at e849f99" in section[2]
    assert "the median of the rounds' ratios" in section[2]


def test_without_a_drain_of_both_there_is_no_table() -> None:
    assert before_after_rows([]) == []
    assert before_after_lines([], "e849f99") == []


def test_the_drain_limit_cites_what_the_older_revision_cost_in_the_same_run() -> None:
    drain = NOW | {"cpu_ceiling_rate": 11_000.0}
    (line,) = limits_lines(
        {("tenaz", "drain"): Figures(values=drain), ("before", "drain"): Figures(values=BEFORE)},
        "e849f99",
    )

    assert "Tenaz at e849f99, in the same run, used 0.240 CPU s per 1,000 events" in line
    assert "it wrote 8.00 rows and 4,500 WAL bytes per event where Tenaz now writes 5.00" in line


def test_a_revision_missing_from_the_repository_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"not in this repository.*git fetch.*--before ''"):
        check_out("0" * 40, tmp_path / "before")
    assert not (tmp_path / "before").exists()
