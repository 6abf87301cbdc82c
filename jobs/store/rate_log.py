"""What each rate-limited destination was sent lately: the window its limit is kept in."""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection


async def lock_destination(conn: AsyncConnection, destination_id: int) -> None:
    """Serialise the claims of one destination, so two workers cannot both spend its quota."""
    await conn.execute(
        "SELECT 1 FROM tenaz_destinations WHERE id = %s FOR NO KEY UPDATE", (destination_id,)
    )


async def sent_since(
    conn: AsyncConnection, destination_id: int, since: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """Events claimed for sending after `since`, and the oldest claim among them."""
    cur = await conn.execute(
        "SELECT coalesce(sum(events), 0), min(at) FROM tenaz_rate_log"
        " WHERE destination_id = %s AND at > %s",
        (destination_id, since),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), row[1]


async def record_sent(
    conn: AsyncConnection,
    destination_id: int,
    at: dt.datetime,
    events: int,
    *,
    forget_before: dt.datetime,
) -> None:
    await conn.execute(
        "DELETE FROM tenaz_rate_log WHERE destination_id = %s AND at <= %s",
        (destination_id, forget_before),
    )
    await conn.execute(
        "INSERT INTO tenaz_rate_log (destination_id, at, events) VALUES (%s, %s, %s)",
        (destination_id, at, events),
    )
