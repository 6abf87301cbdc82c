"""What the database gauges read (jobs/database_gauges.py): each query costs the same whatever
the number of deliveries, so one process can run them every few seconds.

    unfinished_counts   migration 0017's counters of unfinished deliveries (a few rows per
                        destination and shard), not the deliveries themselves
    oldest_due          per destination, the first entry of the due index
    destination_flags   one row per destination
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg import AsyncConnection

from jobs.status import DUE_STATUSES, sql_list

_DUE = sql_list(DUE_STATUSES)
# A session lock (the two-key form, beside migrations' (0x7E4A, 2)): the process holding it
# computes the gauges.
GAUGES_LOCK = (0x7E4A, 3)


@dataclass(frozen=True)
class DestinationFlags:
    id: int
    platform: str
    needs_action: bool


async def try_gauges_lock(conn: AsyncConnection) -> bool:
    """Take the gauges' session lock if no other session holds it; held until disconnect."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", GAUGES_LOCK)
    row = await cur.fetchone()
    return bool(row and row[0])


async def release_gauges_lock(conn: AsyncConnection) -> None:
    """Let the gauges' lock go now, rather than when the server notices the session ended."""
    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", GAUGES_LOCK)


async def unfinished_counts(conn: AsyncConnection) -> list[tuple[int, str, int]]:
    """(destination id, status, count) of unfinished deliveries, every workspace's."""
    cur = await conn.execute(
        "SELECT destination_id, status, sum(n)::bigint FROM tenaz_unfinished_counts"
        " GROUP BY destination_id, status HAVING sum(n) <> 0 ORDER BY destination_id, status"
    )
    return [(r[0], r[1], int(r[2])) for r in await cur.fetchall()]


async def oldest_due(conn: AsyncConnection, *, now: dt.datetime) -> dict[int, dt.datetime]:
    """Per live destination with deliveries due at `now`: the due time of the oldest."""
    cur = await conn.execute(
        "SELECT d.id, due.next_attempt_at FROM tenaz_destinations d CROSS JOIN LATERAL ("
        "  SELECT next_attempt_at FROM tenaz_deliveries"
        f"  WHERE destination_id = d.id AND status IN {_DUE} AND next_attempt_at <= %s"
        "  ORDER BY next_attempt_at LIMIT 1) AS due"
        " WHERE d.deleted_at IS NULL",
        (now,),
    )
    return {r[0]: r[1] for r in await cur.fetchall()}


async def destination_flags(conn: AsyncConnection) -> list[DestinationFlags]:
    """Every live destination, its platform and whether it needs an operator's action."""
    cur = await conn.execute(
        "SELECT id, kind, needs_action FROM tenaz_destinations WHERE deleted_at IS NULL ORDER BY id"
    )
    return [DestinationFlags(r[0], r[1], r[2]) for r in await cur.fetchall()]
