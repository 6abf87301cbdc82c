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
    """Delete the oldest status changes made before `before`; (count, highest seq deleted).

    What goes is always the log's beginning: of its `limit` lowest changes, those below the
    first one made at or after `before`. So every change up to the highest deleted is gone
    (what `purged_through` says), and the primary key finds them without an index on time.
    """
    cur = await conn.execute(
        "WITH oldest AS ("
        "  SELECT seq, at FROM tenaz_status_changes ORDER BY seq LIMIT %(limit)s),"
        " gone AS (DELETE FROM tenaz_status_changes WHERE seq IN ("
        "  SELECT seq FROM oldest WHERE seq < coalesce("
        "   (SELECT min(seq) FROM oldest WHERE at >= %(before)s), 9223372036854775807))"
        "  RETURNING seq)"
        " SELECT count(*), coalesce(max(seq), 0) FROM gone",
        {"before": before, "limit": limit},
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


async def delete_old_alert_notifications(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Delete the alert notifications made before `before`, whatever became of them: one
    still pending that long says nothing worth sending any more (its job finds it gone)."""
    cur = await conn.execute(
        "DELETE FROM tenaz_alert_notifications WHERE created_at < %s", (before,)
    )
    return cur.rowcount
