"""Ending the deliveries that can no longer go out: past their deadline, or their
destination deleted.

Each ends FAILED through the status model (`jobs.transitions.end_unsent`), with
its row, attempt and status changes in one transaction. The work goes in batches
of rows locked with SKIP LOCKED: a million deliveries make a series of short
transactions, none of which waits for a worker (or deadlocks with one); a row a
worker holds at that instant is left to the next sweep.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import retry_policy
from jobs.clock import Clock
from jobs.status import FailureReason
from jobs.store import deliveries as store
from jobs.store.status_changes import record_status_changes
from jobs.transitions import Ending, end_unsent

BATCH = 1000
EXPIRED_MESSAGE = "the platform's deadline for this event passed before it was delivered"
DELETED_MESSAGE = "the destination was deleted before the platform confirmed the event"

# One transaction's share of the work: how many deliveries it ended.
Batch = Callable[[AsyncConnection, dt.datetime], Awaitable[int]]


async def write(conn: AsyncConnection, endings: Sequence[Ending], *, now: dt.datetime) -> None:
    await store.update_deliveries(conn, [e.update for e in endings], now=now)
    await store.record_attempts(conn, [e.attempt for e in endings if e.attempt is not None])
    await record_status_changes(conn, [c for e in endings for c in e.changes])


async def expire_batch(conn: AsyncConnection, now: dt.datetime, *, budget: dt.timedelta) -> int:
    """End as FAILED `expired` a batch of due deliveries that can no longer be sent in time
    (an attempt of `budget` starting now would end past the deadline).

    In-progress deliveries are not here: the lease recovery ends those whose
    deadline passed, when their attempt is known to be over.
    """
    rows = await store.lock_due_past_deadline(
        conn, cutoff=now + retry_policy.SEND_GUARD + budget, limit=BATCH
    )
    endings = [
        end_unsent(r, FailureReason.EXPIRED, EXPIRED_MESSAGE, outcome="expired", at=now)
        for r in rows
    ]
    await write(conn, endings, now=now)
    return len(rows)


async def end_batch_of_deleted(
    conn: AsyncConnection, now: dt.datetime, *, destination_id: int
) -> int:
    """End as FAILED `destination_deleted` a batch of a deleted destination's deliveries.

    Attempts running in a worker are ended too (recorded as `interrupted`): the
    request may still reach the platform, but nothing the worker learns afterwards
    can bring the delivery back, so the delivery ends now rather than on an answer
    that might never come.
    """
    rows = await store.lock_unfinished_of_destination(
        conn, destination_id=destination_id, limit=BATCH
    )
    endings = [
        end_unsent(
            r, FailureReason.DESTINATION_DELETED, DELETED_MESSAGE, outcome="interrupted", at=now
        )
        for r in rows
    ]
    await write(conn, endings, now=now)
    return len(rows)


def of_deleted(destination_id: int) -> Batch:
    return functools.partial(end_batch_of_deleted, destination_id=destination_id)


async def in_batches(pool: AsyncConnectionPool, clock: Clock, batch: Batch) -> int:
    """Run `batch` in one transaction after another until one comes back short."""
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            ended = await batch(conn, clock.now())
        total += ended
        if ended < BATCH:
            return total
