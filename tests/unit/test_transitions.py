"""Status-change rows are built only for moves the status model allows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from jobs.status import IllegalTransition, Status
from jobs.transitions import change

AT = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Row:
    id: int = 7
    workspace_id: int = 1
    event_id: int = 3
    destination_id: int = 2
    status: str = "WAITING_RETRY"
    attempt_count: int = 4


def test_a_change_starts_from_the_current_status_and_attempt() -> None:
    row = change(Row(), Status.RESENDING, error="", at=AT)
    assert (row.from_status, row.to_status, row.attempt_number) == ("WAITING_RETRY", "RESENDING", 4)
    assert (row.delivery_id, row.event_id, row.destination_id, row.workspace_id) == (7, 3, 2, 1)


def test_a_forbidden_move_raises_instead_of_recording() -> None:
    with pytest.raises(IllegalTransition):
        change(Row(status="SUCCEEDED"), Status.RESENDING, error="", at=AT)
    with pytest.raises(IllegalTransition):
        change(Row(), Status.FAILED, from_status=Status.PENDING, error="", at=AT)
