"""Where each delivery goes, decided without a database: a claim, an answer, an interrupted
attempt, a delivery that will never go out, an operator's action; and what the one writer
turns those moves into."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from jobs import decisions
from jobs.model import AttemptEnd
from jobs.moves import AttemptStart, Move, NewDelivery, plan
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.retry_policy import SEND_GUARD, DeadlineRule
from jobs.status import FailureReason, IllegalTransition, Status

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)
LEASE = dt.timedelta(minutes=4)
INTERVAL = dt.timedelta(minutes=30)
RULE = DeadlineRule(margin=dt.timedelta(minutes=10), budget=dt.timedelta(minutes=2))


@dataclass(frozen=True)
class Row:
    id: int = 7
    workspace_id: int = 1
    event_id: int = 3
    destination_id: int = 2
    status: str = "PENDING"
    attempt_count: int = 0
    deadline: dt.datetime = NOW + WEEK
    next_trigger: str = "automatic"
    attempt_started_at: dt.datetime | None = None
    last_error: str = ""


def route(moves: list[Move]) -> list[tuple[str | None, str, int]]:
    """(from, to, attempt number) of each status change the moves record."""
    return [(c.from_status, c.to_status, c.attempt_number) for c in plan(moves, now=NOW).changes]


# -- a claim -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "count", "to"),
    [("PENDING", 0, Status.SENDING), ("WAITING_RETRY", 3, Status.RESENDING)],
)
def test_a_claim_starts_the_next_attempt_with_a_lease(status: str, count: int, to: Status) -> None:
    row = Row(status=status, attempt_count=count)
    [move] = decisions.start_or_expire(row, now=NOW, lease=LEASE, rule=RULE)
    assert move.to is to
    assert move.attempt == AttemptStart(number=count + 1, lease_until=NOW + LEASE)
    [update] = plan([move], now=NOW).updates
    assert (update.status, update.attempt_count, update.attempt_started_at) == (to, count + 1, NOW)
    assert update.lease_expires_at == NOW + LEASE


def test_a_claim_past_the_last_start_expires_without_sending() -> None:
    row = Row(deadline=NOW + SEND_GUARD + RULE.budget)
    moves = decisions.start_or_expire(row, now=NOW, lease=LEASE, rule=RULE)
    assert route(moves) == [("PENDING", "SENDING", 1), ("SENDING", "FAILED", 1)]
    writes = plan(moves, now=NOW)
    [update] = writes.updates
    assert (update.status, update.failure_reason, update.attempt_count) == ("FAILED", "expired", 1)
    assert update.lease_expires_at is None and update.attempt_started_at is None
    [attempt] = writes.attempts
    assert (attempt.end.outcome, attempt.end.started_at, attempt.finished_at) == (
        "expired",
        NOW,
        NOW,
    )


# -- an answer -----------------------------------------------------------------------------

RUNNING = Row(
    status="RESENDING", attempt_count=2, next_trigger="manual", attempt_started_at=NOW - LEASE / 8
)


def answered(kind: OutcomeKind, row: Row = RUNNING, *, out_of_time: bool = False) -> Move:
    outcome = Outcome(7, kind, http_status=500, message="platform says", response_excerpt="{}")
    return decisions.after_outcome(
        row, outcome, out_of_time=out_of_time, now=NOW, interval=INTERVAL, rule=RULE
    )


def test_taken_is_succeeded_and_the_attempt_ends() -> None:
    move = answered(OutcomeKind.SUCCEEDED)
    assert (move.to, move.error, move.next_attempt_at) == (Status.SUCCEEDED, "", None)
    assert isinstance(move.attempt, AttemptEnd)
    assert (move.attempt.number, move.attempt.trigger) == (2, "manual")
    assert move.attempt.started_at == RUNNING.attempt_started_at
    assert move.attempt.outcome == "succeeded"


def test_refused_data_is_failed_rejected_with_the_platforms_message() -> None:
    move = answered(OutcomeKind.REJECTED)
    assert (move.to, move.reason, move.error) == (Status.FAILED, "rejected", "platform says")


def test_an_external_problem_waits_the_interval_from_the_end_of_the_attempt() -> None:
    move = answered(OutcomeKind.EXTERNAL_PROBLEM)
    assert (move.to, move.next_attempt_at, move.error) == (
        Status.WAITING_RETRY,
        NOW + INTERVAL,
        "platform says",
    )
    writes = plan([move], now=NOW)
    assert writes.jobs == [(2, NOW + INTERVAL)]
    assert writes.attempts[0].end.outcome == "external_problem"
    assert writes.attempts[0].end.http_status == 500


def test_near_the_deadline_the_retry_is_the_last_call_and_after_it_none() -> None:
    near = Row(status="SENDING", attempt_count=1, deadline=NOW + dt.timedelta(minutes=25))
    move = answered(OutcomeKind.EXTERNAL_PROBLEM, near)
    assert move.next_attempt_at == near.deadline - RULE.margin
    past = Row(status="RESENDING", attempt_count=5, deadline=NOW + dt.timedelta(minutes=5))
    move = answered(OutcomeKind.EXTERNAL_PROBLEM, past)
    assert (move.to, move.reason, move.next_attempt_at) == (Status.FAILED, "expired", None)


def test_an_attempt_out_of_time_is_counted_and_waits_like_an_external_problem() -> None:
    move = answered(OutcomeKind.EXTERNAL_PROBLEM, out_of_time=True)
    assert (move.to, move.next_attempt_at) == (Status.WAITING_RETRY, NOW + INTERVAL)
    assert plan([move], now=NOW).attempts[0].end.outcome == "attempt_budget"


# -- an interruption -----------------------------------------------------------------------


def test_an_interrupted_attempt_is_recorded_and_the_delivery_is_due_at_once() -> None:
    move = decisions.after_interruption(RUNNING, now=NOW, rule=RULE)
    assert (move.to, move.next_attempt_at) == (Status.WAITING_RETRY, NOW)
    assert plan([move], now=NOW).jobs == [(2, None)]  # due now: a job runnable at once
    assert isinstance(move.attempt, AttemptEnd) and move.attempt.outcome == "interrupted"


def test_an_interrupted_attempt_too_close_to_the_deadline_expires() -> None:
    late = Row(status="SENDING", attempt_count=1, deadline=NOW + dt.timedelta(minutes=1))
    move = decisions.after_interruption(late, now=NOW, rule=RULE)
    assert (move.to, move.reason) == (Status.FAILED, "expired")


# -- a delivery that will never go out -----------------------------------------------------


def test_a_waiting_delivery_ends_directly_and_keeps_its_attempt_count() -> None:
    waiting = Row(status="WAITING_RETRY", attempt_count=4)
    moves = decisions.end_unsent(
        waiting, FailureReason.DESTINATION_DELETED, "gone", outcome="interrupted", now=NOW
    )
    assert route(moves) == [("WAITING_RETRY", "FAILED", 4)]
    writes = plan(moves, now=NOW)
    assert writes.attempts == []
    assert (writes.updates[0].failure_reason, writes.updates[0].attempt_count) == (
        "destination_deleted",
        4,
    )


@pytest.mark.parametrize("status", ["SENDING", "RESENDING"])
def test_a_delivery_in_progress_ends_and_its_running_attempt_with_it(status: str) -> None:
    running = Row(status=status, attempt_count=2, attempt_started_at=NOW - LEASE)
    moves = decisions.end_unsent(
        running, FailureReason.DESTINATION_DELETED, "gone", outcome="interrupted", now=NOW
    )
    assert route(moves) == [(status, "FAILED", 2)]
    [attempt] = plan(moves, now=NOW).attempts
    assert (attempt.end.number, attempt.end.started_at, attempt.end.outcome) == (
        2,
        NOW - LEASE,
        "interrupted",
    )


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_a_finished_delivery_cannot_be_ended_again(status: str) -> None:
    moves = decisions.end_unsent(
        Row(status=status), FailureReason.EXPIRED, "late", outcome="expired", now=NOW
    )
    with pytest.raises(IllegalTransition):
        plan(moves, now=NOW)


# -- operators -----------------------------------------------------------------------------


def test_a_retried_failure_waits_due_now_and_keeps_its_error() -> None:
    failed = Row(status="FAILED", attempt_count=3, last_error="Invalid parameter")
    move = decisions.retried(failed, now=NOW)
    writes = plan([move], now=NOW)
    [update] = writes.updates
    assert (update.status, update.next_attempt_at, update.last_error) == (
        "WAITING_RETRY",
        NOW,
        "Invalid parameter",
    )
    assert update.failure_reason == ""
    assert writes.changes[0].error == decisions.RETRIED_NOTE


def test_a_cancelled_wait_is_failed_cancelled() -> None:
    move = decisions.cancelled(Row(status="WAITING_RETRY", attempt_count=2))
    [update] = plan([move], now=NOW).updates
    assert (update.status, update.failure_reason) == ("FAILED", "cancelled")


# -- births, and the writer's bookkeeping --------------------------------------------------


def test_a_birth_records_its_change_and_a_job_but_leaves_the_inserted_row_alone() -> None:
    born = [
        decisions.born(NewDelivery(id=n, workspace_id=1, event_id=n, destination_id=n % 2), now=NOW)
        for n in range(4)
    ]
    writes = plan(born, now=NOW)
    assert writes.updates == [] and writes.attempts == []
    assert [(c.from_status, c.to_status, c.attempt_number) for c in writes.changes] == [
        (None, "PENDING", 0)
    ] * 4
    assert writes.jobs == [(0, None), (1, None)]  # one job per destination, due at once


def test_a_birth_is_only_into_pending() -> None:
    new = NewDelivery(id=1, workspace_id=1, event_id=1, destination_id=1)
    with pytest.raises(IllegalTransition):
        plan([Move(delivery=new, to=Status.SENDING)], now=NOW)


def test_one_job_per_destination_and_due_time() -> None:
    rows = [Row(id=n, status="SENDING", attempt_count=1) for n in range(3)]
    moves = [answered(OutcomeKind.EXTERNAL_PROBLEM, row) for row in rows]
    assert plan(moves, now=NOW).jobs == [(2, NOW + INTERVAL)]
