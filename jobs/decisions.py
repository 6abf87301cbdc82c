"""What happens to a delivery, decided: pure functions from a delivery, what was learnt and
the time, to the moves `jobs.moves` writes.

    start_or_expire      a worker claims a due delivery: the attempt starts, or the delivery
                         expired before it could be sent
    after_outcome        an attempt ended with the platform's answer (or the time budget)
    after_interruption   an attempt's lease ran out: its worker died or hung
    end_unsent           a delivery that will never go out: past its deadline, its
                         destination deleted
    retried / cancelled  an operator's actions

No database, no clock: the callers pass the rows they locked and `now`, and write what comes
back; tests check every decision directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from jobs.model import AttemptEnd
from jobs.moves import AttemptStart, DeliveryRef, Move, NewDelivery
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.retry_policy import DeadlineRule
from jobs.status import BIRTH, IN_PROGRESS, FailureReason, Status, as_status, attempt_status

EXPIRED_MESSAGE = "the platform's deadline for this event passed before it was delivered"
DELETED_MESSAGE = "the destination was deleted before the platform confirmed the event"
INTERRUPTED_MESSAGE = "the attempt was interrupted (the worker stopped before it finished)"
CANCELLED_MESSAGE = "cancelled by an operator"
RETRIED_NOTE = "retried by an operator"

# How each kind of platform answer is recorded on its attempt.
_OUTCOME_COLUMN = {
    OutcomeKind.SUCCEEDED: "succeeded",
    OutcomeKind.EXTERNAL_PROBLEM: "external_problem",
    OutcomeKind.REJECTED: "rejected",
}
OUT_OF_TIME = "attempt_budget"


class ScheduledRef(DeliveryRef, Protocol):
    """A delivery with what its deadline and its attempt's trigger say."""

    @property
    def deadline(self) -> dt.datetime: ...
    @property
    def next_trigger(self) -> str: ...
    @property
    def attempt_started_at(self) -> dt.datetime | None: ...


def born(delivery: NewDelivery, *, now: dt.datetime) -> Move:
    """A new delivery: PENDING, due at once."""
    return Move(delivery=delivery, to=BIRTH, next_attempt_at=now)


def start_or_expire(
    row: ScheduledRef, *, now: dt.datetime, lease: dt.timedelta, rule: DeadlineRule
) -> list[Move]:
    """A due delivery a worker claimed: its attempt starts, unless it could not end before the
    deadline (Meta would refuse the whole batch for one stale event)."""
    if not rule.can_start(now, row.deadline):
        return end_unsent(row, FailureReason.EXPIRED, EXPIRED_MESSAGE, outcome="expired", now=now)
    start = AttemptStart(number=row.attempt_count + 1, lease_until=now + lease)
    return [Move(delivery=row, to=attempt_status(row.status), attempt=start)]


def after_outcome(
    row: ScheduledRef,
    outcome: Outcome,
    *,
    out_of_time: bool,
    now: dt.datetime,
    interval: dt.timedelta,
    rule: DeadlineRule,
) -> Move:
    """Where the platform's answer (or the attempt running out of time) takes a delivery."""
    end = AttemptEnd(
        number=row.attempt_count,
        trigger=row.next_trigger,
        started_at=row.attempt_started_at or now,
        outcome=OUT_OF_TIME if out_of_time else _OUTCOME_COLUMN[outcome.kind],
        http_status=outcome.http_status,
        platform_code=outcome.platform_code,
        platform_subcode=outcome.platform_subcode,
        message=outcome.message,
        response_excerpt=outcome.response_excerpt,
    )
    if outcome.kind is OutcomeKind.SUCCEEDED:
        return Move(delivery=row, to=Status.SUCCEEDED, attempt=end)
    if outcome.kind is OutcomeKind.REJECTED:
        return _failed(row, FailureReason.REJECTED, outcome.message, end)
    next_at = rule.next_attempt(finished_at=now, interval=interval, deadline=row.deadline)
    if next_at is None:
        return _failed(row, FailureReason.EXPIRED, outcome.message, end)
    return Move(
        delivery=row,
        to=Status.WAITING_RETRY,
        next_attempt_at=next_at,
        error=outcome.message,
        attempt=end,
    )


def after_interruption(row: ScheduledRef, *, now: dt.datetime, rule: DeadlineRule) -> Move:
    """An attempt that outlived its lease: recorded as interrupted, and the delivery is due
    again at once, or FAILED `expired` when no attempt could end in time any more."""
    end = AttemptEnd(
        number=row.attempt_count,
        trigger=row.next_trigger,
        started_at=row.attempt_started_at or now,
        outcome="interrupted",
        message=INTERRUPTED_MESSAGE,
    )
    if rule.can_start(now, row.deadline):
        return Move(
            delivery=row,
            to=Status.WAITING_RETRY,
            next_attempt_at=now,
            error=INTERRUPTED_MESSAGE,
            attempt=end,
        )
    return _failed(row, FailureReason.EXPIRED, INTERRUPTED_MESSAGE, end)


def end_unsent(
    row: ScheduledRef, reason: FailureReason, message: str, *, outcome: str, now: dt.datetime
) -> list[Move]:
    """FAILED with `reason`, by a route the model allows, for a delivery that will not go
    out (its deadline passed, or its destination was deleted).

    WAITING_RETRY goes straight to FAILED. PENDING has no edge to FAILED, and gets none: it
    goes through SENDING with an attempt that starts and ends at `now` with `outcome` and
    sends nothing, the route a worker's claim records for a delivery it finds past its
    deadline. So a delivery reads the same whichever part of Tenaz ended it, the attempt row
    says nothing was sent, and a `WatchStatus` consumer sees only the moves of the published
    model. SENDING and RESENDING go to FAILED and their running attempt ends with `outcome`:
    when the worker's answer comes, the attempt is no longer in progress and the answer is
    dropped as stale.
    """
    current = as_status(row.status)
    if current is Status.PENDING:
        number = row.attempt_count + 1
        end = AttemptEnd(
            number=number,
            trigger=row.next_trigger,
            started_at=now,
            outcome=outcome,
            message=message,
        )
        start = AttemptStart(number=number, lease_until=now)
        return [
            Move(delivery=row, to=Status.SENDING, error=message, attempt=start),
            Move(delivery=row, to=Status.FAILED, reason=reason, error=message, attempt=end),
        ]
    if current in IN_PROGRESS:
        end = AttemptEnd(
            number=row.attempt_count,
            trigger=row.next_trigger,
            started_at=row.attempt_started_at or now,
            outcome=outcome,
            message=message,
        )
        return [Move(delivery=row, to=Status.FAILED, reason=reason, error=message, attempt=end)]
    return [Move(delivery=row, to=Status.FAILED, reason=reason, error=message)]


class OperatorRef(DeliveryRef, Protocol):
    @property
    def last_error(self) -> str: ...


def retried(row: OperatorRef, *, now: dt.datetime) -> Move:
    """A FAILED delivery an operator sends again: waiting, due now; it keeps its last error."""
    return Move(
        delivery=row,
        to=Status.WAITING_RETRY,
        next_attempt_at=now,
        error=row.last_error,
        note=RETRIED_NOTE,
    )


def cancelled(row: DeliveryRef) -> Move:
    """A waiting delivery an operator stops: FAILED `cancelled`."""
    return Move(
        delivery=row,
        to=Status.FAILED,
        reason=FailureReason.CANCELLED,
        error=CANCELLED_MESSAGE,
    )


def _failed(row: ScheduledRef, reason: FailureReason, error: str, end: AttemptEnd) -> Move:
    return Move(delivery=row, to=Status.FAILED, reason=reason, error=error, attempt=end)
