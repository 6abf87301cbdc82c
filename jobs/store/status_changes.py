"""The log of status changes: numbered, and read back by the status streams in order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from jobs.model import ChangeFilter, ChangeView, StatusChange

# A commit that adds changes sends a NOTIFY on this channel (the trigger of migrations 0003
# and 0022): a wake-up for status streams, which then read the rows themselves.
NOTIFY_CHANNEL = "tenaz_status_changes"

# The log holds moves, not changes: one row (tenaz_status_moves) for every delivery of a write
# that moved the same way at the same moment, as a submission's births, a worker's claim of a
# batch and its finish do by the hundred. Each change still has its own number: a row's changes
# are numbered first_seq, first_seq + 1, ... in the order of its arrays, and every row takes a
# whole block of BLOCK numbers (the sequence's increment), whatever it uses of them.
#
# Status-change numbers must reach readers in order, with none appearing later behind a
# reader's cursor, although writers commit in any order. Writers announce themselves without
# waiting for anyone: before taking numbers, each holds, until its commit, a shared advisory
# lock (one-key form) on the highest number issued at that moment; every number it takes is
# above that. A reader first notes the highest number issued, then the lowest announced one:
# no writer still running can add a number at or below the smaller of the two (`safe`, see
# `safe_sequence`).
#
# Readers take whole rows, those with first_seq <= safe. A row committed later starts above
# `safe`, and rows do not overlap, so no change it holds is below one a reader has passed.
# And every committed row lies wholly at or below `safe` or wholly above it: the sequence
# hands out blocks that start at its first value and follow each other without overlap;
# "the highest number issued" is always the end of a block (the last block's end, or the
# number below the first block before any is issued), so `safe`, the smaller of two such
# ends, is a block end too, and a row lies inside its block. A reader that took every row up
# to `safe` has thus read every change up to it (what a stream's `read_through` says, and
# what retention's mark is compared with). Numbers a row leaves unused are never anyone's:
# readers pass them like the numbers of a rolled-back writer or of another workspace.
_SEQUENCE = "tenaz_status_moves_seq"
BLOCK = 1024
_ISSUED = (
    f"SELECT CASE WHEN is_called THEN last_value + {BLOCK - 1} ELSE last_value - 1 END"
    f" FROM {_SEQUENCE}"
)


@dataclass(frozen=True)
class MoveRow:
    """One row of the log: deliveries that moved the same way at the same moment."""

    workspace_id: int
    destination_id: int
    from_status: str | None
    to_status: str
    at: dt.datetime
    changes: list[StatusChange]


def move_rows(changes: Sequence[StatusChange]) -> list[MoveRow]:
    """The rows that record `changes`, in the order they take their numbers.

    Only a delivery's own changes must keep their order: one write may move a delivery twice
    (PENDING -> SENDING -> FAILED). So a delivery's first change in the write goes in a row
    of the first generation, its second in one of the second, and so on; rows are written
    generation by generation, within one in the order their first change came.
    """
    generations: dict[int, int] = {}
    groups: dict[tuple[Any, ...], list[StatusChange]] = {}
    for change in changes:
        generation = generations.get(change.delivery_id, 0)
        generations[change.delivery_id] = generation + 1
        key = (
            generation,
            change.workspace_id,
            change.destination_id,
            change.from_status,
            change.to_status,
            change.at,
        )
        groups.setdefault(key, []).append(change)
    rows = []
    # sorted() is stable: groups of one generation stay in the order they came.
    for key, grouped in sorted(groups.items(), key=lambda group: group[0][0]):
        _, workspace_id, destination_id, from_status, to_status, at = key
        for start in range(0, len(grouped), BLOCK):
            rows.append(
                MoveRow(
                    workspace_id,
                    destination_id,
                    from_status,
                    to_status,
                    at,
                    grouped[start : start + BLOCK],
                )
            )
    return rows


async def record_status_changes(conn: AsyncConnection, changes: Sequence[StatusChange]) -> None:
    """Append status changes, announced to readers until this transaction ends."""
    if not changes:
        return
    await conn.execute(f"SELECT pg_advisory_xact_lock_shared(({_ISSUED}))")
    # One statement a row, each taking its block in the order written.
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO tenaz_status_moves (first_seq, workspace_id, destination_id,"
            " from_status, to_status, at, delivery_ids, event_ids, attempt_numbers, errors)"
            f" VALUES (nextval('{_SEQUENCE}'), %b, %b, %b, %b, %b,"
            " %b::bigint[], %b::bigint[], %b::int[], %b::text[])",
            [
                (
                    row.workspace_id,
                    row.destination_id,
                    row.from_status,
                    row.to_status,
                    row.at,
                    [c.delivery_id for c in row.changes],
                    [c.event_id for c in row.changes],
                    [c.attempt_number for c in row.changes],
                    [c.error for c in row.changes],
                )
                for row in move_rows(changes)
            ],
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
    params: dict[str, Any] = {"ws": workspace_id, "after": after, "limit": limit}
    # What a row must be, and what a change in it. Rows that start more than a block before
    # `after` end at or before it.
    of_rows = [
        "m.workspace_id = %(ws)s",
        f"m.first_seq > %(after)s - {BLOCK}",
        "m.first_seq <= %(safe)s",
        "m.first_seq + cardinality(m.delivery_ids) - 1 > %(after)s",
    ]
    if where.destination_ids:
        of_rows.append("m.destination_id = ANY(%(destinations)s)")
        params["destinations"] = list(where.destination_ids)
    if where.statuses:
        of_rows.append("m.to_status = ANY(%(statuses)s)")
        params["statuses"] = list(where.statuses)
    of_changes = ["m.first_seq + c.ordinal - 1 > %(after)s"]
    if where.event_names:
        of_changes.append("e.event_name = ANY(%(names)s)")
        params["names"] = list(where.event_names)
    if where.client_event_ids:
        of_changes.append("e.event_id = ANY(%(ids)s)")
        params["ids"] = list(where.client_event_ids)
        # A few events: rows that hold none of them are passed over without a join.
        of_rows.append(
            "m.event_ids && ARRAY(SELECT id FROM tenaz_events"
            " WHERE workspace_id = %(ws)s AND event_id = ANY(%(ids)s))"
        )
    if len(of_changes) > 1:
        # Every row picked must hold a change of the page, hence the check in each.
        of_rows.append(
            "EXISTS (SELECT FROM unnest(m.event_ids) WITH ORDINALITY AS c (event_id, ordinal)"
            f" JOIN tenaz_events e ON e.id = c.event_id WHERE {' AND '.join(of_changes)})"
        )
    # Only rows no running writer can still add below: the cursor never passes a gap that a
    # later commit would fill.
    safe = params["safe"] = await safe_sequence(conn)
    # One statement, so one snapshot: retention deletes changes and raises its mark in
    # one transaction, so changes missing from this page are missing from the mark too.
    # Every row `moves` picks holds a matching change, so `limit` rows, walked in order on
    # the index, hold the page; it may end inside a row.
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"WITH high AS (SELECT coalesce(({_NEWEST}), 0) AS seq),"
        " moves AS ("
        "  SELECT m.* FROM tenaz_status_moves m"
        f"  WHERE {' AND '.join(of_rows)} ORDER BY m.first_seq LIMIT %(limit)s),"
        " page AS ("
        "  SELECT m.first_seq + c.ordinal - 1 AS seq, c.event_id,"
        "   e.event_id AS client_event_id, e.event_name, c.delivery_id,"
        "   dest.name AS destination, m.from_status, m.to_status, m.at, c.attempt_number,"
        "   c.error"
        "  FROM moves m"
        "  CROSS JOIN LATERAL unnest(m.delivery_ids, m.event_ids, m.attempt_numbers, m.errors)"
        "   WITH ORDINALITY AS c (delivery_id, event_id, attempt_number, error, ordinal)"
        "  JOIN tenaz_events e ON e.id = c.event_id"
        "  JOIN tenaz_destinations dest ON dest.id = m.destination_id"
        f"  WHERE {' AND '.join(of_changes)}"
        "  ORDER BY m.first_seq, c.ordinal LIMIT %(limit)s)"
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
    # First the highest number issued: a writer that takes numbers after this read gets
    # higher ones. Then the announced writers: one that took numbers before it still holds
    # its lock, unless it has finished (and its rows are visible).
    cur = await conn.execute(_ISSUED)
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


# The number of the workspace's newest change in a row at or below %(safe)s: rows do not
# overlap, so the last change of the row that starts last.
_NEWEST = (
    "SELECT first_seq + cardinality(delivery_ids) - 1 FROM tenaz_status_moves"
    " WHERE workspace_id = %(ws)s AND first_seq <= %(safe)s ORDER BY first_seq DESC LIMIT 1"
)


async def latest_sequence(
    conn: AsyncConnection, *, workspace_id: int, through: int | None = None
) -> int:
    """The workspace's newest change at or below `through` (default: `safe_sequence`).

    `through` is a value of `safe_sequence`: rows are taken whole, as `changes_after` does.
    """
    safe = await safe_sequence(conn) if through is None else through
    cur = await conn.execute(_NEWEST, {"ws": workspace_id, "safe": safe})
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def purged_through(conn: AsyncConnection) -> int:
    cur = await conn.execute("SELECT purged_through FROM tenaz_stream_state")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
