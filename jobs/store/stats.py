"""Aggregates for GetStats and the dashboard: counts, attempt buckets, destination health.

Each reads the counters that migration 0017's triggers keep by the minute, and 0026's by the
hour, in the same transactions that write deliveries and attempts, so a read costs the same
whatever the workspace's size: a window's counts are the sum of its whole hours' rows and of
the rows of the minutes left over (jobs/window_ranges.py), a few hundred rows for a day where
its minutes are thousands. A key's count may be in several rows, one per shard (migration
0025: each writing backend counts into its own, and the fold moves them into shard 0 every
minute), so every read sums them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg import AsyncConnection

from jobs.status import Status
from jobs.window_ranges import WindowRanges, ranges_to_read


@dataclass(frozen=True)
class LastAttempt:
    outcome: str
    message: str
    finished_at: dt.datetime


def _counted(table: str, time: str, key: str) -> str:
    """The sums of `n` by `key` (two columns, in which `{at}` is the row's minute or hour)
    of the workspace's rows of `table` (by the minute) and of its twin by the hour, each
    read in its ranges of the window (jobs/window_ranges.py), one index range scan a range:
    a row per key and table, for the caller to add up."""
    return " UNION ALL ".join(
        f"SELECT {key.format(at=f'c.{time}_{unit}')}, sum(c.n) AS n"
        f" FROM unnest(%({unit}s_first)s::timestamptz[], %({unit}s_last)s::timestamptz[])"
        "  AS r(first_at, last_at)"
        f" JOIN {table}{suffix} c ON c.workspace_id = %(workspace_id)s"
        f"  AND c.{time}_{unit} BETWEEN r.first_at AND r.last_at GROUP BY 1, 2"
        for unit, suffix in (("hour", "_hourly"), ("minute", ""))
    )


def _in(ranges: WindowRanges, **params: object) -> dict[str, object]:
    """The query's parameters: `params`, and the first and last of each of `ranges`."""
    for unit, found in (("hours", ranges.hours), ("minutes", ranges.minutes)):
        params[f"{unit}_first"] = [first for first, _ in found]
        params[f"{unit}_last"] = [last for _, last in found]
    return params


_DELIVERIES = _counted("tenaz_delivery_counts", "created", "c.destination_id, c.status")
# An hour's row is counted in the bucket of its first minute.
_ATTEMPTS = _counted(
    "tenaz_attempt_counts",
    "finished",
    "floor(date_part('epoch', {at} - %(since)s) / %(bucket)s)::int AS b, c.outcome",
)


async def status_counts(
    conn: AsyncConnection, *, workspace_id: int, since: dt.datetime, until: dt.datetime
) -> list[tuple[int, str, int]]:
    """(destination id, status, count) of deliveries created in the minutes from `since` (a
    whole minute) to the one `until` falls in."""
    cur = await conn.execute(
        f"SELECT destination_id, status, sum(n)::bigint FROM ({_DELIVERIES}) AS counted"
        " GROUP BY destination_id, status HAVING sum(n) <> 0 ORDER BY destination_id, status",
        _in(ranges_to_read(since, until), workspace_id=workspace_id),
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
    """(bucket index, outcome, count) of attempts that ended in the window's minutes, buckets
    counted from `since` (a whole minute). An hour's row is read only when the hour falls in
    one bucket (jobs.window_ranges.bucket_index reckons them as this query does)."""
    cur = await conn.execute(
        f"SELECT b, outcome, sum(n)::bigint FROM ({_ATTEMPTS}) AS counted"
        " GROUP BY b, outcome ORDER BY b",
        _in(
            ranges_to_read(since, until, bucket),
            workspace_id=workspace_id,
            since=since,
            bucket=bucket.total_seconds(),
        ),
    )
    return [(r[0], r[1], int(r[2])) for r in await cur.fetchall()]


async def waiting_retry_counts(conn: AsyncConnection, *, workspace_id: int) -> dict[int, int]:
    """Per destination: its deliveries waiting for a retry now, whenever they were created."""
    cur = await conn.execute(
        "SELECT destination_id, sum(n)::bigint FROM tenaz_unfinished_counts"
        f" WHERE workspace_id = %s AND status = '{Status.WAITING_RETRY}'"
        " GROUP BY destination_id HAVING sum(n) > 0",
        (workspace_id,),
    )
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


_FAILED = "c.outcome <> 'succeeded'"


def _newest(outcomes: str) -> str:
    """The newest counter row of destination `d` in the window whose outcome is `outcomes`
    (an SQL condition on `c.outcome`), read from the index newest minute first. Of that
    minute's rows (one per outcome and shard), the one with the newest `last_at` holds the
    newest message: each row's message is that of its own `last_at`."""
    return (
        "SELECT c.outcome, c.last_message, c.last_at FROM tenaz_attempt_counts c"
        " WHERE c.workspace_id = d.workspace_id AND c.destination_id = d.id"
        f" AND {outcomes} AND c.finished_minute >= %(since)s AND c.finished_minute < %(until)s"
        " ORDER BY c.finished_minute DESC, c.last_at DESC LIMIT 1"
    )


async def last_attempts(
    conn: AsyncConnection, *, workspace_id: int, since: dt.datetime, until: dt.datetime
) -> dict[int, tuple[LastAttempt, dt.datetime | None, dt.datetime | None]]:
    """Per destination: its last attempt in the window's minutes, last success, last failure
    (a few index entries per destination, however long the window)."""
    last, ok, bad = _newest("true"), _newest("c.outcome = 'succeeded'"), _newest(_FAILED)
    cur = await conn.execute(
        "SELECT d.id, last.outcome, last.last_message, last.last_at, ok.last_at, bad.last_at"
        " FROM tenaz_destinations d"
        f" CROSS JOIN LATERAL ({last}) AS last"
        f" LEFT JOIN LATERAL ({ok}) AS ok ON true"
        f" LEFT JOIN LATERAL ({bad}) AS bad ON true"
        " WHERE d.workspace_id = %(ws)s",
        {"ws": workspace_id, "since": since, "until": until},
    )
    return {
        r[0]: (LastAttempt(outcome=r[1], message=r[2], finished_at=r[3]), r[4], r[5])
        for r in await cur.fetchall()
    }
