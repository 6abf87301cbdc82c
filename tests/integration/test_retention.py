"""Retention: old events, attempts and status changes are deleted; a stream cursor
from before the purge gets OUT_OF_RANGE, at its start or when a purge passes it later;
unfinished deliveries are kept, and a delivery that could never go out ends, so its event
goes too; expired dashboard sessions are deleted."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pytest
from psycopg import sql
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs import keys
from jobs.clock import FakeClock
from jobs.errors import OutOfRange
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.store import status_changes
from tests.support import all_sequences, count_rows, run_jobs, status_change, writer_in_flight


async def submit_finished(client: TenazClient, runtime: Runtime, clock: FakeClock, n: int) -> None:
    """`n` events delivered at once: three status changes each."""
    for i in range(n):
        await client.submit_event(
            make_event(
                event_id=f"e-{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
            )
        )
    await run_jobs(runtime)


def past_retention(runtime: Runtime, clock: FakeClock) -> None:
    clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))


S = events_pb2


async def test_old_history_is_purged_and_old_cursors_are_out_of_range(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    for i in range(3):
        await client.submit_event(
            make_event(
                event_id=f"old-{i}",
                event_name="Lead",
                event_time=clock.now(),
                email="a@example.com",
            )
        )
    await run_jobs(runtime)
    assert await runtime.retention.purge() == {
        "events": 0,
        "status_changes": 0,
        "operations": 0,
        "dashboard_sessions": 0,
        "counters": 0,
        "alert_notifications": 0,
    }

    clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))
    fake_meta.fake.set_down(True)
    fresh = await client.submit_event(
        make_event(event_id="new", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    await run_jobs(runtime)
    old_changes = (await all_sequences(runtime))[:9]

    counts = await runtime.retention.purge()
    assert counts["events"] == 3
    assert counts["status_changes"] == 9  # PENDING, SENDING, SUCCEEDED for each old event
    assert await count_rows(runtime, "tenaz_events") == 1
    assert await count_rows(runtime, "tenaz_attempts") == 1
    assert (await client.get_event(fresh.event.id)).deliveries
    with pytest.raises(TenazError) as caught:
        await anext(client.watch_status(after_sequence=old_changes[2]))
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE
    # From the purge point on, nothing is missing.
    stream = client.watch_status(after_sequence=old_changes[-1])
    first = await anext(stream)
    assert first.change.client_event_id == "new"
    await stream.aclose()


async def test_unfinished_deliveries_are_never_purged(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.set_down(True)
    await client.submit_event(
        make_event(
            event_id="waiting", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
    )
    await run_jobs(runtime)
    clock.advance(runtime.settings.retention + dt.timedelta(days=1))
    assert (await runtime.retention.purge())["events"] == 0
    assert await count_rows(runtime, "tenaz_events") == 1


async def test_expired_dashboard_sessions_are_deleted_and_live_ones_kept(
    runtime: Runtime, clock: FakeClock, api_key: str
) -> None:
    await runtime.sessions.open(api_key)
    clock.advance(runtime.sessions.ttl / 2)
    later = await runtime.sessions.open(api_key)
    clock.advance(runtime.sessions.ttl / 2)  # the first one's end
    assert (await runtime.retention.purge())["dashboard_sessions"] == 1
    assert await count_rows(runtime, "tenaz_dashboard_sessions") == 1
    assert (await runtime.sessions.caller_for(later.id)).key_id == later.caller.key_id


async def test_an_event_stuck_on_a_disabled_destination_expires_then_is_purged(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    stored = await client.submit_event(
        make_event(
            event_id="stuck", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
    )
    destination = await client.get_destination(meta)
    destination.enabled = False
    await client.update_destination(destination, ["enabled"])
    await run_jobs(runtime)
    received = clock.now()

    clock.advance(dt.timedelta(days=7))  # Meta's deadline
    await runtime.sweeper.sweep()
    [delivery] = (await client.get_event(stored.event.id)).deliveries
    assert (delivery.status, delivery.failure_reason) == (
        S.DELIVERY_STATUS_FAILED,
        S.FAILURE_REASON_EXPIRED,
    )
    clock.set(received + runtime.settings.retention - dt.timedelta(seconds=1))
    assert (await runtime.retention.purge())["events"] == 0
    clock.set(received + runtime.settings.retention + dt.timedelta(seconds=1))
    assert (await runtime.retention.purge())["events"] == 1
    assert await count_rows(runtime, "tenaz_events") == 0


async def test_the_feed_ends_a_stream_whose_unread_changes_were_purged_and_no_other(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
    api_key: str,
    other_api_key: str,
) -> None:
    acme = (await keys.authenticate(runtime.pool, api_key)).workspace.id
    globex = (await keys.authenticate(runtime.pool, other_api_key)).workspace.id
    await submit_finished(client, runtime, clock, 2)
    feed = runtime.feed
    where = await feed.filter(acme)
    behind = await feed.start(acme, 0)
    rows, behind = await feed.read(acme, behind, where, 2)  # 2 of its 6 changes read
    sequences = await all_sequences(runtime)
    assert [r.seq for r in rows] == sequences[:2]
    caught_up = await feed.start(acme, 0)
    rows, caught_up = await feed.read(acme, caught_up, where, 100)
    assert len(rows) == 6
    # An idle workspace's stream: its cursor stays 0, below everything the purge deletes.
    idle = await feed.start(globex, None)
    assert idle.sequence == 0

    past_retention(runtime, clock)
    assert (await runtime.retention.purge())["status_changes"] == 6

    with pytest.raises(OutOfRange, match=f"up to sequence {sequences[5]} "):
        await feed.read(acme, behind, where, 2)
    assert await feed.read(acme, caught_up, where, 100) == ([], caught_up)
    assert (await feed.read(globex, idle, where, 100))[0] == []


async def test_a_watch_that_falls_behind_a_purge_gets_out_of_range_then(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, database_url: str
) -> None:
    async with writer_in_flight(database_url):
        await submit_finished(client, runtime, clock, 2)  # committed, but not readable yet
        stream = client.watch_status(after_sequence=0, heartbeat_interval=dt.timedelta(seconds=1))
        first = await anext(stream)  # the stream has read, and passed nothing
        assert first.heartbeat.last_sequence == 0
        past_retention(runtime, clock)
        assert (await runtime.retention.purge())["status_changes"] == 6

        async def the_rest() -> None:
            async for message in stream:
                assert message.HasField("heartbeat")

        with pytest.raises(TenazError) as caught:
            await asyncio.wait_for(the_rest(), 10)
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE


async def test_the_log_is_purged_from_its_beginning_up_to_the_first_recent_move(
    runtime: Runtime, clock: FakeClock
) -> None:
    """Retention deletes the log's oldest rows (moves of many deliveries) whole and in order,
    and stops at the first one that is not old yet: everything up to the mark it raises is
    gone, nothing above it is."""
    old = clock.now() - runtime.settings.retention - dt.timedelta(hours=1)
    # Deliveries moved together, at once: one row each. A recent one third.
    moves = [(old, 3), (old, 1), (clock.now(), 2), (old, 1), (old, 2)]
    async with runtime.pool.connection() as conn:
        delivery = 0
        for at, size in moves:
            changes = []
            for _ in range(size):
                delivery += 1
                changes.append(status_change(at, ids=9, delivery_id=delivery))
            await status_changes.record_status_changes(conn, changes)
    assert await count_rows(runtime, "tenaz_status_moves") == 5
    sequences = await all_sequences(runtime)
    assert len(sequences) == 9

    assert (await runtime.retention.purge())["status_changes"] == 4
    assert await all_sequences(runtime) == sequences[4:]
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT purged_through FROM tenaz_stream_state")
        assert await cur.fetchone() == (sequences[3],)

    # Once the recent move is old too, the rest goes.
    clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))
    assert (await runtime.retention.purge())["status_changes"] == 5
    assert await count_rows(runtime, "tenaz_status_moves") == 0
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT purged_through FROM tenaz_stream_state")
        assert await cur.fetchone() == (sequences[-1],)


async def test_an_hours_counters_go_with_the_last_of_its_minutes(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    now = clock.now()
    hour = now.replace(minute=0, second=0) + dt.timedelta(hours=1)
    for minute in (10, 50):
        clock.set(hour + dt.timedelta(minutes=minute))
        await client.submit_event(
            make_event(
                event_id=f"at-{minute}",
                event_name="Lead",
                event_time=clock.now(),
                email="a@example.com",
            )
        )
        await run_jobs(runtime)

    async def counted(table: str) -> int:
        async with runtime.pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT coalesce(sum(n), 0) FROM {}").format(sql.Identifier(table))
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    # The cut-off at :30: the minutes before it go, the hour stays (its :50 is kept).
    clock.set(hour + runtime.settings.retention + dt.timedelta(minutes=30))
    assert (await runtime.retention.purge())["events"] == 1
    assert await counted("tenaz_attempt_counts") == 1
    assert await counted("tenaz_attempt_counts_hourly") == 2
    assert await counted("tenaz_delivery_counts_hourly") == 1
    # At the next hour, every minute of this one is past the cut-off: its rows go.
    clock.set(hour + runtime.settings.retention + dt.timedelta(hours=1))
    assert (await runtime.retention.purge())["events"] == 1
    for table in ("tenaz_delivery_counts", "tenaz_attempt_counts"):
        assert await count_rows(runtime, table) == 0
        assert await count_rows(runtime, f"{table}_hourly") == 0
