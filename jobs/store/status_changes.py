"""The log of status changes: numbered, and read back by the status streams in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from jobs.model import ChangeFilter, ChangeView, StatusChange

# A commit that adds changes sends a NOTIFY on this channel (the trigger of migration 0003):
# a wake-up for status streams, which then read the rows themselves.
NOTIFY_CHANNEL = "tenaz_status_changes"

# Status-change sequence numbers must reach readers in order, with none appearing
# later behind a reader's cursor, although writers commit in any order. Writers
# announce themselves without waiting for anyone: before taking numbers, each holds,
# until its commit, a shared advisory lock (one-key form) on the sequence's value at
# that moment less one; every number it takes is above that. A reader first notes the
# sequence's value, then the lowest announced value: no writer still running can add
# a number at or below the smaller of the two (see `safe_sequence`).
_SEQUENCE = "tenaz_status_changes_seq_seq"


async def record_status_changes(conn: AsyncConnection, changes: Sequence[StatusChange]) -> None:
    """Append status changes, announced to readers until this transaction ends."""
    if not changes:
        return
    await conn.execute(
        f"SELECT pg_advisory_xact_lock_shared((SELECT last_value - 1 FROM {_SEQUENCE}))"
    )
    await conn.execute(
        "INSERT INTO tenaz_status_changes (workspace_id, delivery_id, event_id, destination_id,"
        " from_status, to_status, attempt_number, error, at)"
        " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[],"
        "   %b::text[], %b::text[], %b::int[], %b::text[], %b::timestamptz[])",
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
class ChangePage:
    """One read of the log: the matching changes and what the read covered."""

    rows: list[ChangeView]
    # The highest sequence the read covered: a filtered stream moves its cursor
    # past changes that did not match, so that it never reads them again.
    cursor: int
    # Every change of the workspace up to this sequence has now been read (sent
    # or filtered out), counting numbers other workspaces took.
    read_through: int
    # Retention's mark, seen in the same snapshot as the rows.
    purged_through: int


_CHANGE_COLUMNS = tuple(field.name for field in fields(ChangeView))


async def changes_after(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    after: int,
    where: ChangeFilter,
    limit: int,
) -> ChangePage:
    """Matching changes with seq > `after`, at most `limit` of them, in order."""
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
    # Only numbers no running writer can still add below: the cursor never passes a gap
    # that a later commit would fill.
    safe = params["safe"] = await safe_sequence(conn)
    # One statement, so one snapshot: retention deletes changes and raises its mark in
    # one transaction, so changes missing from this page are missing from the mark too.
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "WITH high AS ("
        "  SELECT coalesce(max(seq), 0) AS seq FROM tenaz_status_changes"
        "  WHERE workspace_id = %(ws)s AND seq <= %(safe)s),"
        " page AS ("
        "  SELECT c.seq, c.event_id, e.event_id AS client_event_id, e.event_name,"
        "   c.delivery_id, dest.name AS destination, c.from_status, c.to_status, c.at,"
        "   c.attempt_number, c.error"
        "  FROM tenaz_status_changes c"
        "  JOIN tenaz_events e ON e.id = c.event_id"
        "  JOIN tenaz_destinations dest ON dest.id = c.destination_id"
        f"  WHERE {' AND '.join(clauses)} AND c.seq <= (SELECT seq FROM high)"
        "  ORDER BY c.seq LIMIT %(limit)s)"
        " SELECT high.seq AS high_water, state.purged_through, page.*"
        " FROM high CROSS JOIN tenaz_stream_state state LEFT JOIN page ON true"
        " ORDER BY page.seq",
        params,
    )
    found = await cur.fetchall()
    high_water, purged = int(found[0]["high_water"]), int(found[0]["purged_through"])
    rows = [
        ChangeView(**{name: row[name] for name in _CHANGE_COLUMNS})
        for row in found
        if row["seq"] is not None
    ]
    if len(rows) == limit:
        covered = read_through = rows[-1].seq
    else:
        # Nothing of the workspace lies between its newest change and `safe`.
        covered, read_through = high_water, safe
    return ChangePage(rows, max(covered, after), max(read_through, after), purged)


async def safe_sequence(conn: AsyncConnection) -> int:
    """The highest sequence number below which nothing can still be committed."""
    # First the sequence's value: a writer that takes numbers after this read gets
    # higher ones. Then the announced writers: one that took numbers before it
    # still holds its lock, unless it has finished (and its rows are visible).
    # A sequence not yet used reads last_value 1 with is_called false: nothing issued.
    cur = await conn.execute(
        f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {_SEQUENCE}"
    )
    row = await cur.fetchone()
    assert row is not None
    issued = int(row[0])
    cur = await conn.execute(
        "SELECT min((classid::bigint << 32) | objid::bigint) FROM pg_locks"
        " WHERE locktype = 'advisory' AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    row = await cur.fetchone()
    announced = row[0] if row else None
    return issued if announced is None else min(issued, int(announced))


async def latest_sequence(
    conn: AsyncConnection, *, workspace_id: int, through: int | None = None
) -> int:
    """The workspace's newest change at or below `through` (default: `safe_sequence`)."""
    cur = await conn.execute(
        "SELECT coalesce(max(seq), 0) FROM tenaz_status_changes"
        " WHERE workspace_id = %s AND seq <= %s",
        (workspace_id, await safe_sequence(conn) if through is None else through),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def purged_through(conn: AsyncConnection) -> int:
    cur = await conn.execute("SELECT purged_through FROM tenaz_stream_state")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
