"""Aggregates for GetStats and the dashboard: counts, attempt buckets, destination health."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg import AsyncConnection

from jobs.status import Status


@dataclass(frozen=True)
class LastAttempt:
    outcome: str
    message: str
    finished_at: dt.datetime


async def status_counts(
    conn: AsyncConnection, *, workspace_id: int, since: dt.datetime, until: dt.datetime
) -> list[tuple[int, str, int]]:
    """(destination id, status, count) of deliveries created in the window."""
    cur = await conn.execute(
        "SELECT destination_id, status, count(*) FROM tenaz_deliveries"
        " WHERE workspace_id = %s AND created_at >= %s AND created_at < %s"
        " GROUP BY destination_id, status ORDER BY destination_id, status",
        (workspace_id, since, until),
    )
    return [(r[0], r[1], int(r[2])) for r in await cur.fetchall()]


async def attempt_buckets(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    since: dt.datetime,
    until: dt.datetime,
    bucket: dt.timedelta,
) -> list[tuple[int, str, int]]:
    """(bucket index, outcome, count) of attempts that ended in the window."""
    cur = await conn.execute(
        "SELECT floor(extract(epoch FROM a.finished_at - %s) / %s)::int AS b, a.outcome,"
        " count(*) FROM tenaz_attempts a JOIN tenaz_deliveries d ON d.id = a.delivery_id"
        " WHERE d.workspace_id = %s AND a.finished_at >= %s AND a.finished_at < %s"
        " GROUP BY b, a.outcome ORDER BY b",
        (since, bucket.total_seconds(), workspace_id, since, until),
    )
    return [(r[0], r[1], int(r[2])) for r in await cur.fetchall()]


async def waiting_retry_counts(conn: AsyncConnection, *, workspace_id: int) -> dict[int, int]:
    cur = await conn.execute(
        "SELECT destination_id, count(*) FROM tenaz_deliveries"
        f" WHERE workspace_id = %s AND status = '{Status.WAITING_RETRY}' GROUP BY destination_id",
        (workspace_id,),
    )
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


async def last_attempts(
    conn: AsyncConnection, *, workspace_id: int, since: dt.datetime, until: dt.datetime
) -> dict[int, tuple[LastAttempt, dt.datetime | None, dt.datetime | None]]:
    """Per destination: its last attempt in the window, last success, last failure."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (d.destination_id) d.destination_id, a.outcome, a.message,"
        " a.finished_at,"
        " max(a.finished_at) FILTER (WHERE a.outcome = 'succeeded')"
        "   OVER (PARTITION BY d.destination_id),"
        " max(a.finished_at) FILTER (WHERE a.outcome <> 'succeeded')"
        "   OVER (PARTITION BY d.destination_id)"
        " FROM tenaz_attempts a JOIN tenaz_deliveries d ON d.id = a.delivery_id"
        " WHERE d.workspace_id = %s AND a.finished_at >= %s AND a.finished_at < %s"
        " ORDER BY d.destination_id, a.finished_at DESC, a.delivery_id DESC, a.number DESC",
        (workspace_id, since, until),
    )
    return {
        r[0]: (LastAttempt(outcome=r[1], message=r[2], finished_at=r[3]), r[4], r[5])
        for r in await cur.fetchall()
    }
