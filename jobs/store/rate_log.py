"""What each rate-limited destination was sent lately, and what its claims reserved: the
window its limit is kept in (jobs/delivery.py says how the two are counted).

A row is a request sent (`at` is when it went) or a claim's reservation for its batch's
first request (`reserved`, `at` is when the claim was made), which that request turns into
its own row when it goes.
"""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection


async def lock_destination(conn: AsyncConnection, destination_id: int) -> None:
    """Serialise the claims and the requests of one destination, so that two workers cannot
    both spend its quota.

    NO KEY UPDATE excludes the other claims as FOR UPDATE would, but not the key-share
    lock submissions hold on the destination until they commit: claims need not wait
    for them.
    """
    await conn.execute(
        "SELECT 1 FROM tenaz_destinations WHERE id = %s FOR NO KEY UPDATE", (destination_id,)
    )


async def logged_since(
    conn: AsyncConnection, destination_id: int, since: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """Events sent or reserved after `since`, and the oldest of their times."""
    cur = await conn.execute(
        "SELECT coalesce(sum(events), 0), min(at) FROM tenaz_rate_log"
        " WHERE destination_id = %s AND at > %s",
        (destination_id, since),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), row[1]


async def reserve(
    conn: AsyncConnection,
    destination_id: int,
    at: dt.datetime,
    events: int,
    *,
    forget_before: dt.datetime,
) -> int:
    """Reserve `events` of the destination's window for a batch about to be claimed, and
    forget what is older than anything a window still counts; returns the reservation,
    which the batch's first request hands to `record_send`."""
    await conn.execute(
        "DELETE FROM tenaz_rate_log WHERE destination_id = %s AND at <= %s",
        (destination_id, forget_before),
    )
    cur = await conn.execute(
        "INSERT INTO tenaz_rate_log (destination_id, at, events, reserved)"
        " VALUES (%s, %s, %s, true) RETURNING id",
        (destination_id, at, events),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def trim_reservation(conn: AsyncConnection, reservation: int, events: int) -> None:
    """Keep `events` of a reservation (none: forget it): what its claim found to take."""
    if events:
        await conn.execute(
            "UPDATE tenaz_rate_log SET events = %s WHERE id = %s", (events, reservation)
        )
    else:
        await conn.execute("DELETE FROM tenaz_rate_log WHERE id = %s", (reservation,))


# One statement, so that as little time as possible passes between `at` and the request
# leaving. The reservation is turned into the request, or the request gets a row of its own
# (a request after a batch's first, or a reservation a claim already forgot).
_RECORD_SEND = """
WITH sent AS (
    SELECT coalesce(sum(events), 0) AS events, min(at) AS oldest FROM tenaz_rate_log
    WHERE destination_id = %(destination)s AND at > %(since)s AND NOT reserved
), fits AS (
    SELECT oldest IS NULL OR events + %(events)s <= %(limit)s AS fits, oldest FROM sent
), moved AS (
    UPDATE tenaz_rate_log SET at = %(at)s, events = %(events)s, reserved = false
    WHERE id = %(reservation)s AND reserved AND (SELECT fits FROM fits)
    RETURNING id
), added AS (
    INSERT INTO tenaz_rate_log (destination_id, at, events)
    SELECT %(destination)s, %(at)s, %(events)s
    WHERE (SELECT fits FROM fits) AND NOT EXISTS (SELECT FROM moved)
)
SELECT fits, oldest FROM fits
"""


async def record_send(
    conn: AsyncConnection,
    destination_id: int,
    at: dt.datetime,
    events: int,
    *,
    limit: float,
    since: dt.datetime,
    reservation: int | None,
) -> dt.datetime | None:
    """Log a request of `events` events leaving `at` if it keeps what was sent after `since`
    within `limit` (a request alone always goes), turning `reservation` into it; if it does
    not, log nothing and return the oldest send that holds it back."""
    cur = await conn.execute(
        _RECORD_SEND,
        {
            "destination": destination_id,
            "since": since,
            "at": at,
            "events": events,
            "limit": limit,
            "reservation": reservation,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    fits, oldest = row
    return None if fits else oldest
