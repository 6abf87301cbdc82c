"""The one writer of delivery statuses.

Every part of Tenaz that changes a delivery's status (a submission, a worker's claim and its
finish, the sweeper, an operator's retry or cancel, a deletion) asks for `Move`s and hands them
to `write`. A move says where one delivery goes: its new status, the failure reason, when its
next attempt is due, the error to show, and the attempt it starts or ends. `plan` checks each
move once against the status model (a delivery's birth into PENDING included) and turns the
moves into rows; `write` writes them in one pipeline, always in the same order:

    deliveries     the delivery rows (a birth's row is the submission's own insert)
    attempts       the attempts that ended
    jobs           a delivery job per destination and due time (at once when due now)
    status changes numbered last: the log's writers hold its lock until they commit; the
                   deliveries that move alike share one row of the log

A delivery may move more than once in one write (PENDING -> SENDING -> FAILED for one that
expired before it could be sent); its row is written once, as the last move leaves it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from psycopg import AsyncConnection

from jobs import queue
from jobs.model import AttemptEnd, StatusChange
from jobs.status import Status, as_status, transition
from jobs.store import deliveries, status_changes


class DeliveryRef(Protocol):
    """What a move needs to know about its delivery as it is before the move."""

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


# Not frozen: one per delivery a submission creates, and a frozen dataclass costs three times
# as much to build. Nothing changes one after it is built.
@dataclass(slots=True, kw_only=True)
class NewDelivery:
    """A delivery the submission has just inserted, before its birth into PENDING."""

    id: int
    workspace_id: int
    event_id: int
    destination_id: int
    status: str = ""
    attempt_count: int = 0


# Not frozen: built by the thousand on the delivery path, and a frozen dataclass costs three
# times as much to build. Nothing changes one after it is built.
@dataclass(slots=True, kw_only=True)
class AttemptStart:
    """The move starts attempt `number`; another worker may take it over after `lease_until`."""

    number: int
    lease_until: dt.datetime


@dataclass(slots=True, kw_only=True)
class Move:
    """One delivery going from its status (`delivery.status`, empty for a birth) to `to`."""

    delivery: DeliveryRef
    to: Status
    # FAILED only: why (jobs.status.FailureReason).
    reason: str = ""
    # When the next attempt is due (PENDING or WAITING_RETRY); a job is queued for it.
    next_attempt_at: dt.datetime | None = None
    # The error the delivery shows (its last failed attempt's, or why it ended).
    error: str = ""
    # What the status change says, when not `error` (an operator's retry keeps the error).
    note: str | None = None
    attempt: AttemptStart | AttemptEnd | None = None


@dataclass(frozen=True)
class Writes:
    """What a set of moves writes, in the order `write` writes it."""

    updates: list[deliveries.DeliveryUpdate] = field(default_factory=list)
    attempts: list[deliveries.AttemptRecord] = field(default_factory=list)
    # (destination, due time or None for "now"), each once.
    jobs: list[tuple[int, dt.datetime | None]] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)


def plan(moves: Sequence[Move], *, now: dt.datetime) -> Writes:
    """The rows that `moves` write; raises IllegalTransition for a move the model forbids.

    Pure: the decisions are tested without a database.
    """
    writes = Writes()
    current: dict[int, Status | None] = {}
    counts: dict[int, int] = {}
    # Each delivery's last move, and whether that move was its birth.
    last: dict[int, tuple[Move, bool]] = {}
    jobs: dict[tuple[int, dt.datetime | None], None] = {}
    for move in moves:
        delivery = move.delivery
        if delivery.id in current:
            before = current[delivery.id]
        else:
            before = as_status(delivery.status) if delivery.status else None
        transition(before, move.to)
        number = (
            move.attempt.number if move.attempt else counts.get(delivery.id, delivery.attempt_count)
        )
        if isinstance(move.attempt, AttemptEnd):
            writes.attempts.append(
                deliveries.AttemptRecord(delivery_id=delivery.id, finished_at=now, end=move.attempt)
            )
        writes.changes.append(
            StatusChange(
                workspace_id=delivery.workspace_id,
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                destination_id=delivery.destination_id,
                from_status=before,
                to_status=move.to,
                attempt_number=number,
                error=move.error if move.note is None else move.note,
                at=now,
            )
        )
        if move.next_attempt_at is not None:
            due = move.next_attempt_at if move.next_attempt_at > now else None
            jobs[(delivery.destination_id, due)] = None
        current[delivery.id] = move.to
        counts[delivery.id] = number
        last[delivery.id] = (move, before is None)
    for delivery_id, (move, birth) in last.items():
        if birth:
            continue  # the submission inserted the row as its birth leaves it
        started = move.attempt if isinstance(move.attempt, AttemptStart) else None
        writes.updates.append(
            deliveries.DeliveryUpdate(
                id=delivery_id,
                status=move.to,
                attempt_count=counts[delivery_id],
                next_attempt_at=move.next_attempt_at,
                lease_expires_at=started.lease_until if started else None,
                failure_reason=move.reason,
                last_error=move.error,
                attempt_started_at=now if started else None,
            )
        )
    # A destination's earliest job first.
    writes.jobs.extend(sorted(jobs, key=lambda job: (job[0], job[1] or now)))
    return writes


async def write(
    conn: AsyncConnection, app: queue.App, moves: Sequence[Move], *, now: dt.datetime
) -> Writes:
    """Write `moves` in the caller's transaction, in one round trip; return what was written."""
    writes = plan(moves, now=now)
    async with conn.pipeline():
        await deliveries.update_deliveries(conn, writes.updates, now=now)
        await deliveries.record_attempts(conn, writes.attempts)
        for destination_id, at in writes.jobs:
            await queue.defer_delivery(app, conn, destination_id=destination_id, at=at)
        await status_changes.record_status_changes(conn, writes.changes)
    return writes
