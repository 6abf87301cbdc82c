"""Deleting what is older than the retention period, in bounded chunks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg import AsyncConnection

from jobs.status import TERMINAL, sql_list
from jobs.store import counters

# From the start of an hour to the start of its last minute.
_LAST_MINUTE = dt.timedelta(minutes=59)


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


@dataclass(frozen=True)
class PurgedMoves:
    """What one `delete_old_status_changes` deleted."""

    rows: int
    changes: int
    # The highest sequence number of the changes deleted (0 when none were).
    through: int


async def delete_old_status_changes(
    conn: AsyncConnection, *, before: dt.datetime, limit: int
) -> PurgedMoves:
    """Delete the oldest rows of the status log made before `before`, at most `limit`.

    What goes is always the log's beginning: of its `limit` lowest rows, those below the
    first one made at or after `before`. So every change up to the highest deleted is gone
    (what `purged_through` says), and the primary key finds them without an index on time.
    A row goes whole: its changes were all made at the same moment.
    """
    cur = await conn.execute(
        "WITH oldest AS ("
        "  SELECT first_seq, at FROM tenaz_status_moves ORDER BY first_seq LIMIT %(limit)s),"
        " gone AS (DELETE FROM tenaz_status_moves WHERE first_seq IN ("
        "  SELECT first_seq FROM oldest WHERE first_seq < coalesce("
        "   (SELECT min(first_seq) FROM oldest WHERE at >= %(before)s), 9223372036854775807))"
        "  RETURNING first_seq, cardinality(delivery_ids) AS n)"
        " SELECT count(*), coalesce(sum(n), 0), coalesce(max(first_seq + n - 1), 0) FROM gone",
        {"before": before, "limit": limit},
    )
    row = await cur.fetchone()
    assert row is not None
    purged = PurgedMoves(rows=int(row[0]), changes=int(row[1]), through=int(row[2]))
    if purged.rows:
        # Streams resuming before this point can no longer be served.
        await conn.execute(
            "UPDATE tenaz_stream_state SET purged_through = greatest(purged_through, %s)",
            (purged.through,),
        )
    return purged


async def delete_old_counters(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Delete the stats counters of minutes before `before` that count nothing any more, and
    those of hours whose every minute is before it.

    Deleting events takes their deliveries out of the delivery counts (the counting trigger
    sees them go), leaving rows at zero once the shards are folded (a row at zero adds
    nothing to its key's sum, whatever its shard); attempts older than the retention period
    are no longer counted at all, even those of a delivery that is still unfinished. An hour's
    rows go with its last minute's: while a minute's rows are kept, so are its hour's. A few
    rows a minute and destination: one statement each, under the fold's lock (the fold
    and these deletes write the same shard-0 rows, each in its own order).
    """
    await counters.lock_fold(conn)
    # The hours whose last minute is before `before`.
    hours_before = before - _LAST_MINUTE
    deleted = 0
    for statement, cut_off in (
        ("DELETE FROM tenaz_delivery_counts WHERE created_minute < %s AND n = 0", before),
        (
            "DELETE FROM tenaz_delivery_counts_hourly WHERE created_hour < %s AND n = 0",
            hours_before,
        ),
        ("DELETE FROM tenaz_attempt_counts WHERE finished_minute < %s", before),
        ("DELETE FROM tenaz_attempt_counts_hourly WHERE finished_hour < %s", hours_before),
    ):
        cur = await conn.execute(statement, (cut_off,))
        deleted += cur.rowcount
    return deleted


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
