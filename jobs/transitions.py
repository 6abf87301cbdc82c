"""The status-change row of a transition, checked against the status model.

Every writer of a delivery status (the engine, the sweeper, operator actions)
records the change through `change`, so none can record a move the model forbids;
a delivery that can no longer go out ends through `end_unsent`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from jobs.model import StatusChange
from jobs.status import IN_PROGRESS, FailureReason, Status, as_status, transition
from jobs.store.deliveries import AttemptRecord, DeliveryUpdate


class DeliveryRef(Protocol):
    """What a status change needs to know about its delivery."""

    @property
    def id(self) -> int: ...
    @property
    def workspace_id(self) -> int: ...
    @property
    def event_id(self) -> int: ...
    @property
    def destination_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def attempt_count(self) -> int: ...


def change(
    delivery: DeliveryRef,
    to_status: Status,
    *,
    error: str,
    at: dt.datetime,
    from_status: Status | None = None,
    attempt_number: int | None = None,
) -> StatusChange:
    """The row for `delivery` moving to `to_status` (from its current status by default)."""
    current = from_status if from_status is not None else as_status(delivery.status)
    transition(current, to_status)
    return StatusChange(
        workspace_id=delivery.workspace_id,
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        destination_id=delivery.destination_id,
        from_status=current,
        to_status=to_status,
        attempt_number=delivery.attempt_count if attempt_number is None else attempt_number,
        error=error,
        at=at,
    )


class UnsentRef(DeliveryRef, Protocol):
    """What ending a delivery without sending it needs to know about it."""

    @property
    def next_trigger(self) -> str: ...
    @property
    def attempt_started_at(self) -> dt.datetime | None: ...


@dataclass(frozen=True)
class Ending:
    """The writes that end one delivery: its row, its status changes, and the attempt
    row it closes (None when no attempt is involved)."""

    update: DeliveryUpdate
    changes: list[StatusChange]
    attempt: AttemptRecord | None


def end_unsent(
    delivery: UnsentRef, reason: FailureReason, message: str, *, outcome: str, at: dt.datetime
) -> Ending:
    """FAILED with `reason`, by a route the model allows, for a delivery that will not
    go out (its deadline passed, or its destination was deleted).

    WAITING_RETRY goes straight to FAILED. PENDING has no edge to FAILED, and gets
    none: it goes through SENDING with an attempt that starts and ends at `at` with
    `outcome` and sends nothing, the route a worker's claim has always recorded for
    a delivery it finds past its deadline. So a delivery reads the same whichever
    part of Tenaz ended it, the attempt row says nothing was sent, and a
    `WatchStatus` consumer sees only the moves of the published model. SENDING and
    RESENDING go to FAILED and their running attempt ends with `outcome`: when the
    worker's answer comes, the attempt is no longer in progress and the answer is
    dropped as stale.
    """
    current = as_status(delivery.status)
    if current is Status.PENDING:
        number, started = delivery.attempt_count + 1, at
        route = [transition(current, Status.SENDING), Status.FAILED]
    else:
        number, started = delivery.attempt_count, delivery.attempt_started_at or at
        route = [Status.FAILED]
    changes: list[StatusChange] = []
    previous = current
    for target in route:
        changes.append(
            change(
                delivery, target, from_status=previous, attempt_number=number, error=message, at=at
            )
        )
        previous = target
    attempt: AttemptRecord | None = None
    if current is Status.PENDING or current in IN_PROGRESS:
        attempt = AttemptRecord(
            delivery.id, number, delivery.next_trigger, started, at, outcome, message=message
        )
    return Ending(
        DeliveryUpdate(delivery.id, Status.FAILED, number, None, None, reason, message),
        changes,
        attempt,
    )
