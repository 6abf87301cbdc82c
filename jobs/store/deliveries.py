"""The delivery queue's rows: claiming due deliveries, recording attempts and
status changes, and finding what the sweeper must recover.

Claims use `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of
machines can share one database without two of them attempting the same
delivery at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import args_row, class_row

from jobs.model import AttemptEnd
from jobs.status import DUE_STATUSES, IN_PROGRESS, Status, sql_list

_DUE = sql_list(DUE_STATUSES)
_IN_PROGRESS = sql_list(IN_PROGRESS)


# Not frozen: read by the thousand on the delivery path, and a frozen dataclass costs three
# times as much to build. Nothing changes one after it is read.
@dataclass(slots=True)
class DueDelivery:
    """A delivery locked by the current transaction, with what sending it needs."""

    id: int
    workspace_id: int
    event_id: int
    destination_id: int
    status: str
    attempt_count: int
    deadline: dt.datetime
    next_trigger: str
    payload: dict[str, Any]
    # The event's submission's trace context ('' unless traces were on; jobs/tracing.py).
    trace_context: str
    # When it became due (its wait and a retry's lateness are counted from here).
    next_attempt_at: dt.datetime

    @property
    def attempt_started_at(self) -> None:
        """A due delivery has no attempt running."""
        return None


# Not frozen, as DueDelivery.
@dataclass(slots=True)
class LockedDelivery:
    id: int
    workspace_id: int
    event_id: int
    destination_id: int
    status: str
    attempt_count: int
    deadline: dt.datetime
    # While an attempt runs: how it was triggered and when it started.
    next_trigger: str
    attempt_started_at: dt.datetime | None


_LOCKED_COLUMNS = (
    "id, workspace_id, event_id, destination_id, status, attempt_count, deadline,"
    " next_trigger, attempt_started_at"
)


# Not frozen: built by the thousand on the delivery path, and a frozen dataclass costs three
# times as much to build. Nothing changes one after it is built.
@dataclass(slots=True, kw_only=True)
class DeliveryUpdate:
    id: int
    status: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    lease_expires_at: dt.datetime | None
    failure_reason: str
    last_error: str
    # Set when the update starts an attempt; otherwise the attempt (if any) has ended.
    attempt_started_at: dt.datetime | None = None


@dataclass(slots=True, kw_only=True)
class AttemptRecord:
    """An attempt that has ended, written in one go."""

    delivery_id: int
    finished_at: dt.datetime
    end: AttemptEnd


async def lock_due(
    conn: AsyncConnection, *, destination_id: int, now: dt.datetime, limit: int
) -> list[DueDelivery]:
    """Lock up to `limit` deliveries of a destination that are due at `now`."""
    # Columns in the dataclass's field order: args_row builds rows faster than class_row.
    cur = conn.cursor(row_factory=args_row(DueDelivery))
    await cur.execute(
        "WITH due AS ("
        "  SELECT id FROM tenaz_deliveries"
        f"  WHERE destination_id = %s AND status IN {_DUE}"
        "    AND next_attempt_at <= %s"
        "  ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
        " SELECT d.id, d.workspace_id, d.event_id, d.destination_id, d.status, d.attempt_count,"
        "   d.deadline, d.next_trigger, e.payload, e.trace_context, d.next_attempt_at"
        " FROM due JOIN tenaz_deliveries d USING (id) JOIN tenaz_events e ON e.id = d.event_id"
        " ORDER BY d.next_attempt_at, d.id",
        (destination_id, now, limit),
    )
    return await cur.fetchall()


async def lock_deliveries(conn: AsyncConnection, ids: Sequence[int]) -> list[LockedDelivery]:
    """Lock deliveries by id (waiting for other holders), to finish an attempt."""
    cur = conn.cursor(row_factory=args_row(LockedDelivery))
    await cur.execute(
        f"SELECT {_LOCKED_COLUMNS}"
        " FROM tenaz_deliveries WHERE id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE",
        (list(ids),),
    )
    return await cur.fetchall()


async def lock_expired_leases(
    conn: AsyncConnection, *, now: dt.datetime, limit: int
) -> list[LockedDelivery]:
    """Deliveries whose attempt outlived its lease: the worker died or hung."""
    cur = conn.cursor(row_factory=class_row(LockedDelivery))
    await cur.execute(
        f"SELECT {_LOCKED_COLUMNS} FROM tenaz_deliveries WHERE status IN {_IN_PROGRESS}"
        " AND lease_expires_at <= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    return await cur.fetchall()


async def lock_due_past_deadline(
    conn: AsyncConnection, *, cutoff: dt.datetime, limit: int
) -> list[LockedDelivery]:
    """Due deliveries (PENDING or WAITING_RETRY) whose deadline is at or before `cutoff`.

    Whatever their destination's state: they read the due-deadline index, not the
    destination, so a disabled or deleted destination's backlog expires like any other.
    """
    cur = conn.cursor(row_factory=class_row(LockedDelivery))
    await cur.execute(
        f"SELECT {_LOCKED_COLUMNS} FROM tenaz_deliveries"
        f" WHERE status IN {_DUE} AND deadline <= %s"
        " ORDER BY deadline LIMIT %s FOR UPDATE SKIP LOCKED",
        (cutoff, limit),
    )
    return await cur.fetchall()


async def lock_unfinished_of_destination(
    conn: AsyncConnection, *, destination_id: int, limit: int
) -> list[LockedDelivery]:
    """Up to `limit` due deliveries of a destination and those of its deliveries in
    progress (few: what workers hold), skipping rows locked by someone else.

    The due ones are read in the due index's order, so a destination with a million
    of them costs each batch its own rows, not a scan of the rest.
    """
    cur = conn.cursor(row_factory=class_row(LockedDelivery))
    await cur.execute(
        f"WITH due AS (SELECT {_LOCKED_COLUMNS} FROM tenaz_deliveries"
        f"   WHERE destination_id = %(destination)s AND status IN {_DUE}"
        "   ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
        f" running AS (SELECT {_LOCKED_COLUMNS} FROM tenaz_deliveries"
        f"   WHERE destination_id = %(destination)s AND status IN {_IN_PROGRESS}"
        "   LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        " SELECT * FROM due UNION ALL SELECT * FROM running",
        {"destination": destination_id, "limit": limit},
    )
    return await cur.fetchall()


async def deleted_destinations_with_due(conn: AsyncConnection) -> list[int]:
    """Deleted destinations that still have due deliveries (a deletion cut short).

    Deliveries in progress do not count: their attempt ends, or its lease runs out,
    and leaves them finished or due, which is what this finds.
    """
    cur = await conn.execute(
        "SELECT dest.id FROM tenaz_destinations dest WHERE dest.deleted_at IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM tenaz_deliveries d WHERE d.destination_id = dest.id"
        f"   AND d.status IN {_DUE})"
        " ORDER BY dest.id"
    )
    return [row[0] for row in await cur.fetchall()]


async def overdue_destinations(conn: AsyncConnection, *, cutoff: dt.datetime) -> list[int]:
    """Enabled destinations with deliveries due before `cutoff` (a job should exist)."""
    cur = await conn.execute(
        "SELECT DISTINCT d.destination_id FROM tenaz_deliveries d"
        " JOIN tenaz_destinations dest ON dest.id = d.destination_id"
        f" WHERE d.status IN {_DUE} AND d.next_attempt_at <= %s"
        " AND dest.enabled AND dest.deleted_at IS NULL",
        (cutoff,),
    )
    return [row[0] for row in await cur.fetchall()]


async def update_deliveries(
    conn: AsyncConnection, updates: Sequence[DeliveryUpdate], *, now: dt.datetime
) -> None:
    if not updates:
        return
    await conn.execute(
        "UPDATE tenaz_deliveries d SET status = u.status, attempt_count = u.attempt_count,"
        " next_attempt_at = u.next_attempt_at, lease_expires_at = u.lease_expires_at,"
        " failure_reason = u.failure_reason, last_error = u.last_error, updated_at = %s,"
        " attempt_started_at = u.attempt_started_at,"
        # A starting attempt keeps its trigger until it ends; then the next one is automatic.
        " next_trigger = CASE WHEN u.attempt_started_at IS NULL THEN 'automatic'"
        "   ELSE d.next_trigger END"
        " FROM unnest(%b::bigint[], %b::text[], %b::int[], %b::timestamptz[],"
        "   %b::timestamptz[], %b::text[], %b::text[], %b::timestamptz[])"
        "   AS u(id, status, attempt_count, next_attempt_at, lease_expires_at, failure_reason,"
        "        last_error, attempt_started_at)"
        " WHERE d.id = u.id",
        (
            now,
            [u.id for u in updates],
            [u.status for u in updates],
            [u.attempt_count for u in updates],
            [u.next_attempt_at for u in updates],
            [u.lease_expires_at for u in updates],
            [u.failure_reason for u in updates],
            [u.last_error for u in updates],
            [u.attempt_started_at for u in updates],
        ),
    )


async def record_attempts(conn: AsyncConnection, records: Sequence[AttemptRecord]) -> None:
    """Write ended attempts (over an `in_progress` row an older version may have left)."""
    if not records:
        return
    await conn.execute(
        "INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at, finished_at,"
        " outcome, http_status, platform_code, platform_subcode, message, response_excerpt)"
        " SELECT * FROM unnest(%b::bigint[], %b::int[], %b::text[], %b::timestamptz[],"
        "   %b::timestamptz[], %b::text[], %b::int[], %b::int[], %b::int[], %b::text[],"
        "   %b::text[])"
        " ON CONFLICT (delivery_id, number) DO UPDATE SET finished_at = excluded.finished_at,"
        " outcome = excluded.outcome, http_status = excluded.http_status,"
        " platform_code = excluded.platform_code, platform_subcode = excluded.platform_subcode,"
        " message = excluded.message, response_excerpt = excluded.response_excerpt",
        (
            [a.delivery_id for a in records],
            [a.end.number for a in records],
            [a.end.trigger for a in records],
            [a.end.started_at for a in records],
            [a.finished_at for a in records],
            [a.end.outcome for a in records],
            [a.end.http_status for a in records],
            [a.end.platform_code for a in records],
            [a.end.platform_subcode for a in records],
            [a.end.message for a in records],
            [a.end.response_excerpt for a in records],
        ),
    )


async def make_waiting_due(conn: AsyncConnection, *, destination_id: int, now: dt.datetime) -> int:
    """Bring the destination's waiting retries forward to `now` (credentials fixed)."""
    cur = await conn.execute(
        "UPDATE tenaz_deliveries SET next_attempt_at = %s"
        f" WHERE destination_id = %s AND status = '{Status.WAITING_RETRY}'"
        " AND next_attempt_at > %s",
        (now, destination_id, now),
    )
    return cur.rowcount
