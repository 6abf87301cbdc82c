"""GetStats' aggregates read whole hours from the counters by the hour (migration 0026) and the
rest from those by the minute, and say exactly what the minutes alone say, for any window and
any bucket."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import psycopg

from jobs.runtime import Runtime
from jobs.store import stats

START = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=3)

# Two workspaces of three destinations; deliveries created, and attempts ended, at random
# moments of three days from START.
DELIVERIES_AND_ATTEMPTS = (
    "SELECT setseed(0.26)",
    "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme'), (2, 'globex')",
    "INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at, updated_at)"
    " SELECT i, 1 + i %% 2, 'd-' || i, 'meta', now(), now() FROM generate_series(1, 6) AS i",
    "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time, payload,"
    "  received_at)"
    " SELECT i, 1 + i %% 2, 'Purchase', 'o-' || i, now(), '{}', now()"
    " FROM generate_series(1, %(events)s) AS i",
    "INSERT INTO tenaz_deliveries (id, workspace_id, event_id, destination_id, status,"
    "  attempt_count, next_attempt_at, deadline, created_at, updated_at)"
    " SELECT i, 1 + i %% 2, i, 2 - i %% 2 + 2 * floor(random() * 3)::int,"
    "  (ARRAY['SUCCEEDED', 'FAILED', 'WAITING_RETRY', 'PENDING'])[1 + floor(random() * 4)::int],"
    "  1, now(), now(), %(start)s + random() * %(span)s, now()"
    " FROM generate_series(1, %(events)s) AS i",
    "INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at, finished_at,"
    "  outcome, message)"
    " SELECT i, 1, 'automatic', now(), %(start)s + random() * %(span)s,"
    "  (ARRAY['succeeded', 'external_problem', 'rejected', 'attempt_budget'])"
    "   [1 + floor(random() * 4)::int], ''"
    " FROM generate_series(1, %(events)s) AS i",
)
# A third of the deliveries moved on, after a fold, by another backend each.
MOVED_ON = (
    "UPDATE tenaz_deliveries SET status = CASE status WHEN 'PENDING' THEN 'SENDING'"
    " ELSE 'SUCCEEDED' END WHERE id %% 3 = %(part)s AND status <> 'SUCCEEDED'"
)

# Today's queries, over the minutes alone.
MINUTES_BY_STATUS = (
    "SELECT destination_id, status, sum(n)::bigint FROM tenaz_delivery_counts"
    " WHERE workspace_id = %s AND created_minute >= %s AND created_minute < %s"
    " GROUP BY destination_id, status HAVING sum(n) <> 0 ORDER BY destination_id, status"
)
MINUTES_BY_BUCKET = (
    "SELECT floor(date_part('epoch', finished_minute - %s) / %s)::int AS b, outcome,"
    " sum(n)::bigint FROM tenaz_attempt_counts"
    " WHERE workspace_id = %s AND finished_minute >= %s AND finished_minute < %s"
    " GROUP BY b, outcome ORDER BY b, outcome"
)
BUCKETS = [
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=59, seconds=30),
    dt.timedelta(hours=1),
    dt.timedelta(minutes=90),
    dt.timedelta(hours=5),
    dt.timedelta(days=1),
    dt.timedelta(seconds=7777),
]


async def counted_in_shards_and_folded(runtime: Runtime) -> None:
    """The deliveries and attempts counted by several backends (several shards), some moved
    on after a fold: both kinds of counter rows, in shard 0 and in others."""
    url = runtime.settings.database_url
    params: dict[str, Any] = {"events": 20_000, "start": START, "span": SPAN}
    with psycopg.connect(url) as conn:
        for statement in DELIVERIES_AND_ATTEMPTS:
            conn.execute(statement, params)
    await runtime.counter_fold.fold()
    for part in range(3):
        with psycopg.connect(url) as conn:
            conn.execute(MOVED_ON, {"part": part})


def whole_minute(draw: random.Random) -> dt.datetime:
    return START + dt.timedelta(minutes=draw.randrange(int(SPAN / dt.timedelta(minutes=1))))


def window(draw: random.Random) -> tuple[dt.datetime, dt.datetime]:
    """A window of a few minutes to two days, starting on a whole minute (on the hour one
    time in four), ending on one or within one."""
    since = whole_minute(draw)
    if draw.random() < 0.25:
        since = since.replace(minute=0)
    length = dt.timedelta(minutes=draw.choice([draw.randrange(1, 120), draw.randrange(2880)]))
    until = since + length + dt.timedelta(seconds=draw.choice([0, 0, draw.uniform(0, 60)]))
    return since, until if until > since else since + dt.timedelta(seconds=1)


async def test_the_aggregates_say_what_the_minutes_alone_say_for_any_window_and_bucket(
    runtime: Runtime,
) -> None:
    await counted_in_shards_and_folded(runtime)
    draw = random.Random(26)
    async with runtime.pool.connection() as conn:
        for _ in range(300):
            since, until = window(draw)
            bucket = draw.choice(BUCKETS)
            workspace_id = draw.choice([1, 2])
            minutes = await conn.execute(MINUTES_BY_STATUS, (workspace_id, since, until))
            assert await stats.status_counts(
                conn, workspace_id=workspace_id, since=since, until=until
            ) == [tuple(r) for r in await minutes.fetchall()], (since, until)
            minutes = await conn.execute(
                MINUTES_BY_BUCKET,
                (since, bucket.total_seconds(), workspace_id, since, until),
            )
            found = await stats.attempt_buckets(
                conn, workspace_id=workspace_id, since=since, until=until, bucket=bucket
            )
            assert sorted(found) == [tuple(r) for r in await minutes.fetchall()], (
                since,
                until,
                bucket,
            )
