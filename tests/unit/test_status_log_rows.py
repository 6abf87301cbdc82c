"""The rows a write adds to the status log: deliveries that move alike share one, and each
delivery's changes are numbered in the order it made them, even when it moves twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from jobs.model import AttemptEnd, StatusChange
from jobs.moves import AttemptStart, Move, NewDelivery, plan
from jobs.status import FailureReason, Status
from jobs.store.status_changes import BLOCK, MoveRow, move_rows
from tests.support import status_change

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    workspace_id: int = 1
    event_id: int = 3
    destination_id: int = 2
    attempt_count: int = 0


def numbered(rows: list[MoveRow]) -> list[tuple[int, StatusChange]]:
    """Each change with the number it gets when the rows take their blocks in order."""
    return [
        (index * BLOCK + 1 + position, change)
        for index, row in enumerate(rows)
        for position, change in enumerate(row.changes)
    ]


def shape(rows: list[MoveRow]) -> list[tuple[str | None, str, list[int]]]:
    return [(r.from_status, r.to_status, [c.delivery_id for c in r.changes]) for r in rows]


def test_a_delivery_that_moves_twice_in_a_write_is_numbered_in_the_order_it_moved() -> None:
    lease = AttemptStart(number=1, lease_until=NOW + dt.timedelta(minutes=4))
    ended = AttemptEnd(number=1, trigger="automatic", started_at=NOW, outcome="succeeded")
    rejected = AttemptEnd(number=1, trigger="automatic", started_at=NOW, outcome="rejected")
    moves = [
        # E, already sending, is rejected; A goes out and expires at once; B, already
        # sending, succeeds; C is born; D goes out as A did.
        Move(
            delivery=Row(5, "SENDING", attempt_count=1),
            to=Status.FAILED,
            reason=FailureReason.REJECTED,
            attempt=rejected,
        ),
        Move(delivery=Row(1, "PENDING"), to=Status.SENDING, attempt=lease),
        Move(delivery=Row(2, "SENDING", attempt_count=1), to=Status.SUCCEEDED, attempt=ended),
        Move(
            delivery=NewDelivery(id=3, workspace_id=1, event_id=4, destination_id=2),
            to=Status.PENDING,
            next_attempt_at=NOW,
        ),
        Move(delivery=Row(1, "PENDING"), to=Status.FAILED, reason=FailureReason.EXPIRED),
        Move(delivery=Row(4, "PENDING"), to=Status.SENDING, attempt=lease),
    ]
    changes = plan(moves, now=NOW).changes
    rows = move_rows(changes)

    # A's second move comes after every first move, in a row of its own: not in E's, which
    # is numbered before A's first.
    assert shape(rows) == [
        ("SENDING", "FAILED", [5]),
        ("PENDING", "SENDING", [1, 4]),
        ("SENDING", "SUCCEEDED", [2]),
        (None, "PENDING", [3]),
        ("SENDING", "FAILED", [1]),
    ]
    seen: dict[int, list[tuple[int, str]]] = {}
    for seq, change in sorted(numbered(rows), key=lambda item: item[0]):
        seen.setdefault(change.delivery_id, []).append((seq, change.to_status))
    assert [status for _, status in seen[1]] == ["SENDING", "FAILED"]
    for delivery in seen.values():
        seqs = [seq for seq, _ in delivery]
        assert seqs == sorted(set(seqs))
    # Every change once, as the write made it.
    assert sorted(id(c) for _, c in numbered(rows)) == sorted(id(c) for c in changes)


def test_a_row_holds_deliveries_of_one_destination_moved_alike_at_one_moment() -> None:
    base = status_change(NOW)
    changes = [
        base,
        replace(base, delivery_id=2, destination_id=2),
        replace(base, delivery_id=3, at=NOW + dt.timedelta(seconds=1)),
        replace(base, delivery_id=4, workspace_id=2),
        replace(base, delivery_id=5, attempt_number=2, error="HTTP 503"),
    ]
    rows = move_rows(changes)
    assert [[c.delivery_id for c in r.changes] for r in rows] == [[1, 5], [2], [3], [4]]
    # What differs from one delivery to the next stays with each change.
    assert [(c.attempt_number, c.error) for c in rows[0].changes] == [(1, ""), (2, "HTTP 503")]


def test_a_move_of_more_deliveries_than_a_block_takes_several_rows_in_order() -> None:
    base = status_change(NOW, delivery_id=0, from_status="SENDING", to="SUCCEEDED")
    changes = [replace(base, delivery_id=n) for n in range(2 * BLOCK + 5)]
    rows = move_rows(changes)
    assert [len(r.changes) for r in rows] == [BLOCK, BLOCK, 5]
    assert [c.delivery_id for r in rows for c in r.changes] == list(range(2 * BLOCK + 5))
    assert move_rows([]) == []
