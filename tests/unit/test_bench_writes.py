"""The benchmark's write costs: rows, index entries and WAL bytes per event delivered."""

from __future__ import annotations

from bench.writes import DatabaseWrites, TableWrites, per_event, table_lines


def test_an_insert_and_an_update_that_is_not_hot_write_an_entry_in_every_index() -> None:
    deliveries = TableWrites(inserted=10, updated=20, hot_updated=15, deleted=0, indexes=4)

    assert deliveries.rows == 30
    # 10 inserts and 5 updates that moved the row, into each of 4 indexes; HOT ones touch none.
    assert deliveries.index_entries == (10 + 5) * 4


def test_a_delete_is_a_row_written_and_no_index_entry() -> None:
    jobs = TableWrites(inserted=0, updated=0, hot_updated=0, deleted=7, indexes=3)

    assert (jobs.rows, jobs.index_entries) == (7, 0)


def test_what_was_written_between_two_readings_leaves_out_tables_nothing_was_written_to() -> None:
    before = DatabaseWrites(
        {
            "tenaz_events": TableWrites(5, 0, 0, 0, 3),
            "tenaz_workspaces": TableWrites(1, 0, 0, 0, 2),
        },
        wal_bytes=1_000,
    )
    after = DatabaseWrites(
        {
            "tenaz_events": TableWrites(105, 0, 0, 0, 3),
            "tenaz_workspaces": TableWrites(1, 0, 0, 0, 2),
            # Made during the run: counts from zero.
            "procrastinate_jobs": TableWrites(4, 8, 6, 4, 5, partial_indexes=2),
        },
        wal_bytes=51_000,
    )

    written = after.minus(before)

    assert list(written.tables) == ["procrastinate_jobs", "tenaz_events"]
    assert written.tables["tenaz_events"] == TableWrites(100, 0, 0, 0, 3)
    assert written.tables["procrastinate_jobs"].partial_indexes == 2
    assert written.wal_bytes == 50_000


def test_the_costs_are_per_event_delivered_and_an_upper_bound_with_a_partial_index() -> None:
    written = DatabaseWrites(
        {
            "tenaz_events": TableWrites(100, 0, 0, 0, 3),
            "tenaz_deliveries": TableWrites(100, 200, 150, 0, 5, partial_indexes=3),
        },
        wal_bytes=250_000,
    )

    costs = per_event(written, events=100)

    assert costs.rows == (100 + 300) / 100
    assert costs.index_entries == (300 + (100 + 50) * 5) / 100
    assert costs.wal_bytes == 2_500
    assert costs.upper_bound
    assert not per_event(DatabaseWrites({"t": TableWrites(1, 0, 0, 0, 1)}, 0), 1).upper_bound


def test_no_event_delivered_does_not_divide_by_zero() -> None:
    costs = per_event(DatabaseWrites({"t": TableWrites(3, 0, 0, 0, 1)}, 30), events=0)

    assert (costs.rows, costs.index_entries, costs.wal_bytes) == (3, 3, 30)


def test_each_table_written_to_gets_a_line_per_event() -> None:
    written = DatabaseWrites(
        {"tenaz_deliveries": TableWrites(100, 200, 150, 0, 5, partial_indexes=3)}, 0
    )

    (line,) = table_lines(written, events=100)

    assert line == (
        "tenaz_deliveries: 1.00 inserted, 2.00 updated (1.50 HOT), 0.00 deleted,"
        " 7.50 index entries (5 indexes, 3 partial) per event"
    )


def test_a_table_written_to_once_per_thousand_events_does_not_read_as_zero() -> None:
    written = DatabaseWrites({"procrastinate_jobs": TableWrites(2, 4, 4, 2, 7)}, 0)

    (line,) = table_lines(written, events=1_000)

    assert line.startswith(
        "procrastinate_jobs: 0.002 inserted, 0.004 updated (0.004 HOT), 0.002 deleted,"
        " 0.014 index entries"
    )


def test_a_table_written_to_a_few_times_in_a_run_is_not_shown_in_exponent_notation() -> None:
    written = DatabaseWrites({"procrastinate_workers": TableWrites(1, 9, 0, 2, 2)}, 0)

    (line,) = table_lines(written, events=200_000)

    assert line.startswith("procrastinate_workers: 0.000005 inserted, 0.000045 updated")
