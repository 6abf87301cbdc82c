"""Ending the deliveries that can no longer go out: past their deadline, or their
destination deleted.

Each ends FAILED as `jobs.decisions.end_unsent` decides, written by `jobs.moves`. The
work goes in batches of rows locked with SKIP LOCKED: a million deliveries make a series
of short transactions, none of which waits for a worker (or deadlocks with one); a row a
worker holds at that instant is left to the next sweep.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import queue
from jobs.clock import Clock
from jobs.decisions import DELETED_MESSAGE, EXPIRED_MESSAGE, end_unsent
from jobs.metrics import Metrics
from jobs.moves import Writes, write
from jobs.retry_policy import DeadlineRule
from jobs.status import FailureReason
from jobs.store import deliveries

BATCH = 1000

# One transaction's share of the work: how many deliveries it locked, and what it wrote.
Batch = Callable[[AsyncConnection, dt.datetime], Awaitable[tuple[int, Writes]]]


async def expire_batch(
    conn: AsyncConnection, now: dt.datetime, *, app: queue.App, rule: DeadlineRule
) -> tuple[int, Writes]:
    """End as FAILED `expired` a batch of due deliveries that can no longer be sent in time.

    In-progress deliveries are not here: the lease recovery ends those whose
    deadline passed, when their attempt is known to be over.
    """
    rows = await deliveries.lock_due_past_deadline(
        conn, cutoff=rule.expiry_cutoff(now), limit=BATCH
    )
    moves = [
        move
        for row in rows
        for move in end_unsent(
            row, FailureReason.EXPIRED, EXPIRED_MESSAGE, outcome="expired", now=now
        )
    ]
    return len(rows), await write(conn, app, moves, now=now)


async def end_batch_of_deleted(
    conn: AsyncConnection, now: dt.datetime, *, app: queue.App, destination_id: int
) -> tuple[int, Writes]:
    """End as FAILED `destination_deleted` a batch of a deleted destination's deliveries.

    Attempts running in a worker are ended too (recorded as `interrupted`): the
    request may still reach the platform, but nothing the worker learns afterwards
    can bring the delivery back, so the delivery ends now rather than on an answer
    that might never come.
    """
    rows = await deliveries.lock_unfinished_of_destination(
        conn, destination_id=destination_id, limit=BATCH
    )
    moves = [
        move
        for row in rows
        for move in end_unsent(
            row,
            FailureReason.DESTINATION_DELETED,
            DELETED_MESSAGE,
            outcome="interrupted",
            now=now,
        )
    ]
    return len(rows), await write(conn, app, moves, now=now)


def of_deleted(app: queue.App, destination_id: int) -> Batch:
    return functools.partial(end_batch_of_deleted, app=app, destination_id=destination_id)


def past_deadline(app: queue.App, rule: DeadlineRule) -> Batch:
    return functools.partial(expire_batch, app=app, rule=rule)


async def in_batches(
    pool: AsyncConnectionPool, clock: Clock, batch: Batch, metrics: Metrics
) -> int:
    """Run `batch` in one transaction after another until one comes back short."""
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            ended, writes = await batch(conn, clock.now())
        metrics.written(writes)
        total += ended
        if ended < BATCH:
            return total
