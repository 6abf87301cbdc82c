"""Deleting what is older than the retention period, in bounded chunks."""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection

from jobs.status import TERMINAL, sql_list


async def delete_old_events(conn: AsyncConnection, *, before: dt.datetime, limit: int) -> int:
    """Delete events received before `before` whose deliveries are all finished.

    Deliveries and attempts go with them (ON DELETE CASCADE).
    """
    cur = await conn.execute(
        "DELETE FROM tenaz_events WHERE id IN ("
        "  SELECT e.id FROM tenaz_events e WHERE e.received_at < %s"
        "  AND NOT EXISTS (SELECT 1 FROM tenaz_deliveries d WHERE d.event_id = e.id"
        f"    AND d.status NOT IN {sql_list(TERMINAL)})"
        "  ORDER BY e.id LIMIT %s)",
        (before, limit),
    )
    return cur.rowcount


async def delete_old_status_changes(
    conn: AsyncConnection, *, before: dt.datetime, limit: int
) -> tuple[int, int]:
    """Delete the oldest status changes made before `before`; (count, highest seq deleted)."""
    cur = await conn.execute(
        "WITH gone AS (DELETE FROM tenaz_status_changes WHERE seq IN ("
        "  SELECT seq FROM tenaz_status_changes WHERE at < %s ORDER BY seq LIMIT %s)"
        "  RETURNING seq)"
        " SELECT count(*), coalesce(max(seq), 0) FROM gone",
        (before, limit),
    )
    row = await cur.fetchone()
    assert row is not None
    count, highest = int(row[0]), int(row[1])
    if count:
        # Streams resuming before this point can no longer be served.
        await conn.execute(
            "UPDATE tenaz_stream_state SET purged_through = greatest(purged_through, %s)",
            (highest,),
        )
    return count, highest


async def delete_old_counters(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Delete the stats counters of minutes before `before` that count nothing any more.

    Deleting events takes their deliveries out of the delivery counts (the counting trigger
    sees them go), leaving rows at zero; attempts older than the retention period are no
    longer counted at all, even those of a delivery that is still unfinished. A few rows a
    minute and destination: one statement each.
    """
    cur = await conn.execute(
        "DELETE FROM tenaz_delivery_counts WHERE created_minute < %s AND n = 0", (before,)
    )
    deleted = cur.rowcount
    cur = await conn.execute(
        "DELETE FROM tenaz_attempt_counts WHERE finished_minute < %s", (before,)
    )
    return deleted + cur.rowcount


async def delete_old_operations(conn: AsyncConnection, *, before: dt.datetime) -> int:
    cur = await conn.execute(
        "DELETE FROM tenaz_operations WHERE state <> 'running' AND created_at < %s", (before,)
    )
    return cur.rowcount
