"""Status-change rows are built only for moves the status model allows, and a
delivery that can no longer go out ends by one of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from jobs.status import FailureReason, IllegalTransition, Status
from jobs.store.deliveries import AttemptRecord, DeliveryUpdate
from jobs.transitions import Ending, change, end_unsent

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


@dataclass(frozen=True)
class Locked(Row):
    next_trigger: str = "automatic"
    attempt_started_at: dt.datetime | None = None


def ended(row: Locked, reason: FailureReason = FailureReason.EXPIRED) -> Ending:
    outcome = "expired" if reason is FailureReason.EXPIRED else "interrupted"
    return end_unsent(row, reason, "no longer", outcome=outcome, at=AT)


def moves(ending: Ending) -> list[tuple[str | None, str, int]]:
    return [(c.from_status, c.to_status, c.attempt_number) for c in ending.changes]


def test_a_pending_delivery_ends_through_sending_with_an_attempt_that_sent_nothing() -> None:
    ending = ended(Locked(status="PENDING", attempt_count=0))
    assert moves(ending) == [("PENDING", "SENDING", 1), ("SENDING", "FAILED", 1)]
    assert ending.attempt == AttemptRecord(
        7, 1, "automatic", AT, AT, "expired", message="no longer"
    )
    assert ending.update == DeliveryUpdate(7, "FAILED", 1, None, None, "expired", "no longer")


def test_a_waiting_delivery_fails_directly_and_keeps_its_attempt_count() -> None:
    ending = ended(
        Locked(status="WAITING_RETRY", attempt_count=4), FailureReason.DESTINATION_DELETED
    )
    assert moves(ending) == [("WAITING_RETRY", "FAILED", 4)]
    assert ending.attempt is None
    assert ending.update == DeliveryUpdate(
        7, "FAILED", 4, None, None, "destination_deleted", "no longer"
    )


@pytest.mark.parametrize("status", ["SENDING", "RESENDING"])
def test_a_delivery_in_progress_fails_and_its_running_attempt_ends(status: str) -> None:
    started = AT - dt.timedelta(seconds=3)
    running = Locked(
        status=status, attempt_count=2, next_trigger="manual", attempt_started_at=started
    )
    ending = ended(running, FailureReason.DESTINATION_DELETED)
    assert moves(ending) == [(status, "FAILED", 2)]
    assert ending.attempt == AttemptRecord(
        7, 2, "manual", started, AT, "interrupted", message="no longer"
    )
    assert ending.update.attempt_count == 2


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_a_finished_delivery_cannot_be_ended_again(status: str) -> None:
    with pytest.raises(IllegalTransition):
        ended(Locked(status=status))
