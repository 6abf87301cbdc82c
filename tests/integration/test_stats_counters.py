"""The stats counters (migrations 0017 and 0025): whatever moves deliveries and attempts
(submissions, workers, retries, an operator's retry and cancel, a destination's deletion,
retention, the fold of their shards), the counters say what counting the rows says, and an
upgrade counts what was already there. Transactions of different backends count into
different shards, so they do not wait on each other's counter rows; the fold moves the
shards into one row per key without changing a sum, and without waiting for those
transactions."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

import jobs.migrate
from jobs.clock import FakeClock
from jobs.decisions import after_outcome
from jobs.delivery import claims
from jobs.migrate import migrate
from jobs.moves import write
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.store import counters, deliveries, events, stats
from tests.support import (
    META_REFUSES,
    bounded,
    count_rows,
    counters_that_differ,
    fire_due_retries,
    run_jobs,
)

S = events_pb2


def event(clock: FakeClock, event_id: str, *to: str, **fields: Any) -> events_pb2.Event:
    return make_event(
        event_id=event_id,
        event_name="Purchase",
        event_time=clock.now(),
        email="a@example.com",
        destinations=list(to),
        **fields,
    )


async def test_every_writer_keeps_the_counters_equal_to_the_rows(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.create_sandbox_destination("sandbox")
    await client.submit_events([event(clock, f"ok-{i}") for i in range(5)])
    await client.submit_event(event(clock, "refused", "sandbox", extra=META_REFUSES))
    assert await counters_that_differ(url) == []  # births
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # claims, successes and a refusal

    clock.advance(dt.timedelta(minutes=3))  # another minute's rows
    fake_meta.fake.set_down(True)
    waiting = await client.submit_events([event(clock, f"late-{i}", "meta") for i in range(3)])
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # waiting for a retry
    clock.advance(dt.timedelta(minutes=30))
    assert await fire_due_retries(runtime) == 1
    assert await counters_that_differ(url) == []  # resent, waiting again

    first, second, third = (r.deliveries[0].id for r in waiting.results)
    await client.cancel_deliveries([first])
    fake_meta.fake.set_down(False)
    await client.retry_deliveries([second])
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # an operator's cancel and retry
    [still_waiting] = (await client.get_event(waiting.results[2].id)).deliveries
    assert (still_waiting.id, still_waiting.status) == (third, S.DELIVERY_STATUS_WAITING_RETRY)

    await client.delete_destination("meta")
    assert await counters_that_differ(url) == []  # a deletion ends what was open

    # Every minute of the hours counted is past the cut-off.
    clock.advance(runtime.settings.retention + dt.timedelta(hours=1))
    counts = await runtime.retention.purge()
    assert counts["events"] == 9
    assert counts["counters"] > 0
    assert await counters_that_differ(url) == []  # retention took everything out of the counts
    for by_minute in ("tenaz_delivery_counts", "tenaz_attempt_counts"):
        for table in (by_minute, f"{by_minute}_hourly"):
            assert (table, await count_rows(runtime, table)) == (table, 0)


async def test_stats_windows_begin_on_a_whole_minute(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    created = clock.now()
    await client.submit_event(event(clock, "o-1"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=5))

    # A window starting after the event, within the minute it was created in, counts it.
    since = created.replace(second=59, microsecond=999_000)
    stats = await client.get_stats(since=since, bucket=dt.timedelta(minutes=1))
    assert stats.since.ToDatetime(tzinfo=dt.UTC) == created.replace(second=0, microsecond=0)
    assert [(c.destination, c.status, c.count) for c in stats.counts] == [
        ("meta", S.DELIVERY_STATUS_SUCCEEDED, 1)
    ]
    assert stats.attempts[0].succeeded == 1
    # The next minute's window does not.
    later = await client.get_stats(since=since + dt.timedelta(seconds=1))
    assert list(later.counts) == []
    assert sum(bucket.succeeded for bucket in later.attempts) == 0


async def migrate_before(url: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply the migrations before `name`: the database as an older version left it."""
    everything = list(jobs.migrate._migrations())
    with monkeypatch.context() as patched:
        patched.setattr(
            jobs.migrate, "_migrations", lambda: iter(m for m in everything if m[0] < name)
        )
        await migrate(url)


# Four deliveries of workspace 1's destination 1 created a minute apart, three SUCCEEDED and
# one WAITING_RETRY, with an attempt each, written by hand into an older schema.
FOUR_DELIVERIES = (
    "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme');"
    " INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at,"
    "  updated_at) VALUES (1, 1, 'meta', 'meta', now(), now());"
    " INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
    "  payload, received_at)"
    " SELECT i, 1, 'Purchase', 'o-' || i, now(), '{}', now()"
    " FROM generate_series(1, 4) AS i;"
    " INSERT INTO tenaz_deliveries (id, workspace_id, event_id, destination_id, status,"
    "  attempt_count, next_attempt_at, deadline, created_at, updated_at)"
    " SELECT i, 1, i, 1, CASE WHEN i < 4 THEN 'SUCCEEDED' ELSE 'WAITING_RETRY' END, 1,"
    "  now(), now() + interval '7 days', now() - i * interval '1 minute', now()"
    " FROM generate_series(1, 4) AS i;"
    " INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at,"
    "  finished_at, outcome, message)"
    " SELECT i, 1, 'automatic', now(), now(),"
    "  CASE WHEN i < 4 THEN 'succeeded' ELSE 'external_problem' END, 'HTTP 503'"
    " FROM generate_series(1, 4) AS i"
)


async def test_an_upgrade_counts_the_deliveries_and_attempts_already_stored(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database
    await migrate_before(url, "0017", monkeypatch)
    with psycopg.connect(url) as conn:
        conn.execute(FOUR_DELIVERIES)
    assert "0017_stats_counters" in await migrate(url)

    assert await counters_that_differ(url) == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, n FROM tenaz_unfinished_counts").fetchall() == [
            ("WAITING_RETRY", 1)
        ]


async def test_an_upgrade_to_shards_keeps_the_counts_in_shard_0_and_counts_on_in_shards(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database
    await migrate_before(url, "0025", monkeypatch)
    with psycopg.connect(url) as conn:
        conn.execute(FOUR_DELIVERIES)  # counted by the triggers of 0017 and 0019
    assert "0025_counters_in_shards" in await migrate(url)

    assert await counters_that_differ(url) == []
    assert await rows_to_fold(url) == 0
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE tenaz_deliveries SET status = 'RESENDING' WHERE id = 4")
        conn.commit()
        [(shard,)] = conn.execute("SELECT tenaz_counter_shard()").fetchall()
        assert conn.execute(
            "SELECT status, shard, n FROM tenaz_unfinished_counts ORDER BY status, shard"
        ).fetchall() == [
            ("RESENDING", shard, 1),
            ("WAITING_RETRY", 0, 1),
            ("WAITING_RETRY", shard, -1),
        ]
    assert await counters_that_differ(url) == []


async def test_an_upgrade_to_hours_counts_the_minutes_already_counted_and_counts_on_in_both(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database
    await migrate_before(url, "0026", monkeypatch)
    with psycopg.connect(url) as conn:
        conn.execute(FOUR_DELIVERIES)  # counted by the minute, in the shard of this backend
        conn.commit()
        conn.execute(  # and one of two hours before
            "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
            "  payload, received_at) VALUES (5, 1, 'Purchase', 'o-5', now(), '{}', now());"
            " INSERT INTO tenaz_deliveries (id, workspace_id, event_id, destination_id, status,"
            "  attempt_count, next_attempt_at, deadline, created_at, updated_at)"
            " VALUES (5, 1, 5, 1, 'SUCCEEDED', 1, now(), now(), now() - interval '2 hours',"
            "  now())"
        )
    assert "0026_counters_by_the_hour" in await migrate(url)

    assert await counters_that_differ(url) == []
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "SELECT DISTINCT shard FROM tenaz_delivery_counts_hourly"
            " UNION SELECT DISTINCT shard FROM tenaz_attempt_counts_hourly"
        ).fetchall() == [(0,)]
        conn.execute("UPDATE tenaz_deliveries SET status = 'RESENDING' WHERE id = 4")
        conn.execute(
            "INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at, finished_at,"
            "  outcome, message) VALUES (4, 2, 'automatic', now(), now(), 'succeeded', '')"
        )
        conn.commit()
        [(shard,)] = conn.execute("SELECT tenaz_counter_shard()").fetchall()
        assert conn.execute(
            "SELECT status, shard, n FROM tenaz_delivery_counts_hourly"
            " WHERE status IN ('RESENDING', 'WAITING_RETRY') ORDER BY status, shard"
        ).fetchall() == [
            ("RESENDING", shard, 1),
            ("WAITING_RETRY", 0, 1),
            ("WAITING_RETRY", shard, -1),
        ]
        assert conn.execute(
            "SELECT outcome, shard, n FROM tenaz_attempt_counts_hourly WHERE shard <> 0"
        ).fetchall() == [("succeeded", shard, 1)]
    assert await counters_that_differ(url) == []


async def test_a_destinations_last_success_and_failure_are_its_newest(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    succeeded_at = clock.now()
    await client.submit_event(event(clock, "o-1"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=5))
    failed_at = clock.now()
    fake_meta.fake.set_down(True)
    await client.submit_event(event(clock, "o-2"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=1))

    [health] = (await client.get_stats()).destinations
    assert health.last_success_at.ToDatetime(tzinfo=dt.UTC) == succeeded_at
    assert health.last_failure_at.ToDatetime(tzinfo=dt.UTC) == failed_at
    assert health.health == S.DESTINATION_HEALTH_FAILING
    # A window that ends before the failure knows only the success.
    [earlier] = (await client.get_stats(until=failed_at - dt.timedelta(minutes=2))).destinations
    assert earlier.last_success_at.ToDatetime(tzinfo=dt.UTC) == succeeded_at
    assert not earlier.HasField("last_failure_at")
    assert earlier.health == S.DESTINATION_HEALTH_HEALTHY


# -- shards and their fold ------------------------------------------------------------------

Connection = psycopg.AsyncConnection[Any]


@contextlib.asynccontextmanager
async def backends_in_distinct_shards(url: str, count: int) -> AsyncIterator[list[Connection]]:
    """`count` connections whose backends count into different shards. A backend's shard
    follows from its pid, which the server chooses: connections are opened until enough
    differ (one in sixteen is a second one's shard), and all are closed at the end."""
    by_shard: dict[int, Connection] = {}
    async with contextlib.AsyncExitStack() as opened:
        for _ in range(20 * count):
            if len(by_shard) == count:
                break
            conn = await opened.enter_async_context(
                await psycopg.AsyncConnection.connect(url, autocommit=True)
            )
            row = await (await conn.execute("SELECT tenaz_counter_shard()")).fetchone()
            assert row is not None
            by_shard.setdefault(row[0], conn)
        assert len(by_shard) == count
        for conn in by_shard.values():
            await conn.set_autocommit(False)
        yield list(by_shard.values())


async def meta_ids(url: str) -> tuple[int, int]:
    """(workspace id, destination id) of the destination named 'meta'."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT workspace_id, id FROM tenaz_destinations WHERE name = 'meta'"
        )
        row = await cur.fetchone()
        assert row is not None
        return row[0], row[1]


async def birth(runtime: Runtime, conn: Connection, to: tuple[int, int], event_id: str) -> None:
    """What a submission counts: an event's delivery to destination `to` (workspace id,
    destination id) inserted PENDING, in `conn`'s transaction."""
    workspace_id, destination_id = to
    now = runtime.clock.now()
    new = events.NewEvent("Purchase", event_id, now, "", {})
    [(id_, _)] = (
        await events.insert_events(conn, workspace_id=workspace_id, events=[new], now=now)
    ).values()
    rows = [(id_, destination_id, now + dt.timedelta(days=7))]
    await events.insert_deliveries(conn, workspace_id=workspace_id, rows=rows, now=now)


async def claim_one(runtime: Runtime, conn: Connection, destination_id: int) -> int:
    """A worker's claim of one due delivery (PENDING to SENDING), in `conn`'s transaction;
    the delivery's id."""
    now = runtime.clock.now()
    due = await deliveries.lock_due(conn, destination_id=destination_id, now=now, limit=1)
    claim = claims(
        due, now=now, lease=runtime.settings.attempt_lease, rule=runtime.settings.deadline_rule
    )
    [claimed] = claim.claimed
    await write(conn, runtime.app, claim.moves, now=now)
    return claimed.delivery_id


async def finish(runtime: Runtime, conn: Connection, delivery_id: int, outcome: Outcome) -> None:
    """A worker's record of an attempt's `outcome`, in `conn`'s transaction."""
    now = runtime.clock.now()
    [row] = await deliveries.lock_deliveries(conn, [delivery_id])
    move = after_outcome(
        row,
        outcome,
        out_of_time=False,
        now=now,
        interval=runtime.settings.retry_interval,
        rule=runtime.settings.deadline_rule,
    )
    await write(conn, runtime.app, [move], now=now)


async def move_one_of_each(
    runtime: Runtime, conn: Connection, to: tuple[int, int], name: str
) -> None:
    """What a submission, a claim and a finish count, in `conn`'s transaction: a delivery
    born, one claimed and sent."""
    await birth(runtime, conn, to, name)
    delivery_id = await claim_one(runtime, conn, to[1])
    await finish(runtime, conn, delivery_id, Outcome(delivery_id, OutcomeKind.SUCCEEDED))


async def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def per_counter(url: str, template: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows `template` reads from each counter table (its {table} and {key} filled in)."""
    found = {}
    for counter in counters.COUNTERS:
        sql = template.format(table=counter.table, key=counter.key)
        found[counter.table] = sorted(await query(url, sql))
    return found


async def sums(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every counter's keys with their shards summed."""
    return await per_counter(url, "SELECT {key}, sum(n) FROM {table} GROUP BY {key}")


async def rows_of_the_busiest_key(url: str) -> dict[str, int]:
    """Per counter: the most rows any key has (one per shard that holds it)."""
    most = await per_counter(
        url,
        "SELECT coalesce(max(rows), 0)"
        " FROM (SELECT count(*) AS rows FROM {table} GROUP BY {key}) AS keys",
    )
    return {table: rows[0][0] for table, rows in most.items()}


async def rows_to_fold(url: str) -> int:
    """How many rows of the counters are in a shard other than 0."""
    rows = await per_counter(url, "SELECT count(*) FROM {table} WHERE shard <> 0")
    return sum(found[0][0] for found in rows.values())


async def test_transactions_moving_one_destinations_deliveries_do_not_wait_on_each_others_counters(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.submit_events([event(clock, f"o-{i}") for i in range(2)])
    workspace_id, destination_id = to = await meta_ids(url)

    async with backends_in_distinct_shards(url, 2) as (first, second):
        # Both count into the destination's PENDING, SENDING and SUCCEEDED rows of the current
        # minute, and its unfinished ones, and neither commits before the other has counted:
        # had they counted into the same rows, the second would wait for the first's commit,
        # and give up.
        await move_one_of_each(runtime, first, to, "first")
        await second.execute("SET lock_timeout = '5s'")
        await move_one_of_each(runtime, second, to, "second")
        await first.commit()
        await second.commit()

    assert await counters_that_differ(url) == []
    assert await query(
        url,
        "SELECT status, count(*), sum(n) FROM tenaz_delivery_counts"
        " WHERE workspace_id = %s AND destination_id = %s AND status = 'SUCCEEDED'"
        " GROUP BY status",
        (workspace_id, destination_id),
    ) == [("SUCCEEDED", 2, 2)]  # a row each


async def test_a_fold_keeps_every_sum_and_leaves_one_row_per_key(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.submit_events([event(clock, f"ok-{i}") for i in range(4)])
    await run_jobs(runtime)
    fake_meta.fake.set_down(True)
    await client.submit_events([event(clock, f"late-{i}") for i in range(3)])
    await run_jobs(runtime)
    await client.submit_events([event(clock, f"new-{i}") for i in range(3)])
    to = await meta_ids(url)
    async with backends_in_distinct_shards(url, 3) as backends:
        for i, conn in enumerate(backends):
            await move_one_of_each(runtime, conn, to, f"b-{i}")
            await conn.commit()
    assert all(rows >= 3 for rows in (await rows_of_the_busiest_key(url)).values())
    counted, shown = await sums(url), await client.get_stats()

    moved = await runtime.counter_fold.fold()

    assert all(moved.values())
    assert await sums(url) == counted
    assert await client.get_stats() == shown
    assert await rows_of_the_busiest_key(url) == {c.table: 1 for c in counters.COUNTERS}
    assert await rows_to_fold(url) == 0
    assert await counters_that_differ(url) == []
    assert await runtime.counter_fold.fold() == {c.table: 0 for c in counters.COUNTERS}


async def test_the_newest_attempt_is_read_across_shards_and_the_fold_keeps_it(
    runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    url = runtime.settings.database_url
    workspace_id, destination_id = await meta_ids(url)
    minute = clock.now().replace(second=0)

    def at(seconds: int) -> dt.datetime:
        return minute + dt.timedelta(seconds=seconds)

    rows = [
        # (outcome, shard, n, last_at, last_message): the newest of each outcome is in a
        # shard of its own, and the newest of all is in shard 0.
        ("succeeded", 3, 2, at(5), ""),
        ("external_problem", 0, 1, at(10), "HTTP 503"),
        ("external_problem", 9, 4, at(20), "HTTP 502"),
        ("external_problem", 5, 1, at(15), "timeout"),
        ("rejected", 0, 1, at(30), "invalid email"),
        ("rejected", 7, 2, at(25), "invalid phone"),
    ]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO tenaz_attempt_counts (workspace_id, finished_minute,"
                " destination_id, outcome, shard, n, last_at, last_message)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(workspace_id, minute, destination_id, *row) for row in rows],
            )
        await conn.commit()

    async def last() -> Any:
        async with runtime.pool.connection() as conn:
            found = await stats.last_attempts(
                conn, workspace_id=workspace_id, since=minute, until=at(60)
            )
        return found[destination_id]

    newest = (stats.LastAttempt("rejected", "invalid email", at(30)), at(5), at(30))
    assert await last() == newest
    await runtime.counter_fold.fold()
    assert await last() == newest
    assert await query(
        url,
        "SELECT outcome, shard, n, last_at, last_message FROM tenaz_attempt_counts"
        " ORDER BY outcome",
    ) == [
        ("external_problem", 0, 6, at(20), "HTTP 502"),
        ("rejected", 0, 3, at(30), "invalid email"),
        ("succeeded", 0, 2, at(5), ""),
    ]


async def test_a_fold_skips_the_rows_a_running_transaction_holds_and_never_waits_for_it(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.submit_events([event(clock, f"o-{i}") for i in range(2)])
    to = await meta_ids(url)
    async with backends_in_distinct_shards(url, 1) as [writer]:
        await birth(runtime, writer, to, "w-1")
        await writer.commit()
        [(shard,)] = await (await writer.execute("SELECT tenaz_counter_shard()")).fetchall()
        await claim_one(runtime, writer, to[1])  # holds its shard's rows until it commits

        async with bounded(10):  # a fold that waited for the writer would never end
            await runtime.counter_fold.fold()

        held = await query(
            url, "SELECT DISTINCT shard FROM tenaz_unfinished_counts WHERE shard <> 0"
        )
        assert held == [(shard,)]
        await writer.commit()
    assert await counters_that_differ(url) == []
    await runtime.counter_fold.fold()
    assert await rows_to_fold(url) == 0
    assert await counters_that_differ(url) == []


async def waiting_for_a_lock(url: str, pid: int) -> None:
    """Return once backend `pid` waits for a lock (the caller bounds the wait)."""
    while not await query(  # noqa: ASYNC110 - nothing to await: the server's state is polled
        url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", (pid,)
    ):
        await asyncio.sleep(0.02)


async def test_a_transaction_counting_into_a_row_a_fold_moves_waits_then_counts_anew(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.submit_events([event(clock, "o-1")])
    to = await meta_ids(url)
    async with backends_in_distinct_shards(url, 2) as (writer, folder):
        await birth(runtime, writer, to, "w-1")
        await writer.commit()
        # A fold that has moved the writer's row of PENDING deliveries, not yet committed.
        await counters.lock_fold(folder)
        assert await counters.fold_shards(folder, counters.UNFINISHED, limit=100) > 0

        async with bounded(10):
            claiming = asyncio.create_task(claim_one(runtime, writer, to[1]))
            await waiting_for_a_lock(url, writer.info.backend_pid)
            await folder.commit()
            await claiming
        await writer.commit()
    assert await counters_that_differ(url) == []


async def test_counters_equal_the_rows_when_folds_run_among_every_kind_of_writer(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    url = runtime.settings.database_url

    async def submit(batch: str) -> None:
        for i in range(4):
            await client.submit_events([event(clock, f"{batch}-{i}-{j}") for j in range(5)])

    async def fold(times: int) -> None:
        for _ in range(times):
            await runtime.counter_fold.fold()

    await asyncio.gather(submit("a"), submit("b"), fold(6), run_jobs(runtime))
    assert await counters_that_differ(url) == []
    fake_meta.fake.set_down(True)
    await asyncio.gather(submit("c"), run_jobs(runtime), fold(4), run_jobs(runtime))
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []
    fake_meta.fake.set_down(False)
    clock.advance(dt.timedelta(minutes=31))
    await asyncio.gather(fire_due_retries(runtime), fold(4))
    assert await counters_that_differ(url) == []

    clock.advance(runtime.settings.retention + dt.timedelta(hours=1))
    purged, _ = await asyncio.gather(runtime.retention.purge(), fold(4))
    assert purged["events"] == 60
    assert await counters_that_differ(url) == []
    await runtime.counter_fold.fold()
    assert await rows_to_fold(url) == 0
