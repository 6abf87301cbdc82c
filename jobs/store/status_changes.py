"""The log of status changes: appended in commit order, read by the status streams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from jobs.store.rows import StatusChange

# Serialises the writers of status changes from their insert to their commit.
_STATUS_CHANGE_LOCK = 0x7E4A3


async def record_status_changes(conn: AsyncConnection, changes: Sequence[StatusChange]) -> None:
    """Append status changes; call it as the transaction's last statement.

    Sequence numbers must become visible in order, or a status stream reading
    `seq > cursor` could pass over a number that commits later. The advisory
    lock, held from here to the commit, makes allocation order commit order;
    being the last statement keeps that window to the insert and the commit.
    """
    if not changes:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_STATUS_CHANGE_LOCK,))
    await conn.execute(
        "INSERT INTO tenaz_status_changes (workspace_id, delivery_id, event_id, destination_id,"
        " from_status, to_status, attempt_number, error, at)"
        " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
        "   %s::text[], %s::text[], %s::int[], %s::text[], %s::timestamptz[])",
        (
            [c.workspace_id for c in changes],
            [c.delivery_id for c in changes],
            [c.event_id for c in changes],
            [c.destination_id for c in changes],
            [c.from_status for c in changes],
            [c.to_status for c in changes],
            [c.attempt_number for c in changes],
            [c.error for c in changes],
            [c.at for c in changes],
        ),
    )


@dataclass(frozen=True)
class ChangeView:
    """A status change with the names a dashboard shows."""

    seq: int
    event_id: int
    client_event_id: str
    event_name: str
    delivery_id: int
    destination: str
    from_status: str | None
    to_status: str
    at: dt.datetime
    attempt_number: int
    error: str


@dataclass(frozen=True)
class ChangeFilter:
    destination_ids: Sequence[int] = ()
    statuses: Sequence[str] = ()
    event_names: Sequence[str] = ()
    client_event_ids: Sequence[str] = ()


async def changes_after(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    after: int,
    where: ChangeFilter,
    limit: int,
) -> tuple[list[ChangeView], int]:
    """Matching changes with seq > `after`, and the highest seq the read covered.

    The second value lets a filtered stream move its cursor past changes that
    did not match, so that it never reads them again.
    """
    clauses = ["c.workspace_id = %(ws)s", "c.seq > %(after)s"]
    params: dict[str, Any] = {"ws": workspace_id, "after": after, "limit": limit}
    if where.destination_ids:
        clauses.append("c.destination_id = ANY(%(destinations)s)")
        params["destinations"] = list(where.destination_ids)
    if where.statuses:
        clauses.append("c.to_status = ANY(%(statuses)s)")
        params["statuses"] = list(where.statuses)
    if where.event_names:
        clauses.append("e.event_name = ANY(%(names)s)")
        params["names"] = list(where.event_names)
    if where.client_event_ids:
        clauses.append("e.event_id = ANY(%(ids)s)")
        params["ids"] = list(where.client_event_ids)
    # The high-water mark is read first: rows committed after it may be missed
    # by this read, and the cursor must not pass them.
    cur = await conn.execute(
        "SELECT coalesce(max(seq), 0) FROM tenaz_status_changes WHERE workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    high_water = int(row[0]) if row else 0
    params["high"] = high_water
    clauses.append("c.seq <= %(high)s")
    rows_cur = conn.cursor(row_factory=class_row(ChangeView))
    await rows_cur.execute(
        "SELECT c.seq, c.event_id, e.event_id AS client_event_id, e.event_name, c.delivery_id,"
        " dest.name AS destination, c.from_status, c.to_status, c.at, c.attempt_number, c.error"
        " FROM tenaz_status_changes c"
        " JOIN tenaz_events e ON e.id = c.event_id"
        " JOIN tenaz_destinations dest ON dest.id = c.destination_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY c.seq LIMIT %(limit)s",
        params,
    )
    rows = await rows_cur.fetchall()
    covered = rows[-1].seq if len(rows) == limit else high_water
    return rows, max(covered, after)


async def latest_sequence(conn: AsyncConnection, *, workspace_id: int) -> int:
    cur = await conn.execute(
        "SELECT coalesce(max(seq), 0) FROM tenaz_status_changes WHERE workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def purged_through(conn: AsyncConnection) -> int:
    cur = await conn.execute("SELECT purged_through FROM tenaz_stream_state")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
