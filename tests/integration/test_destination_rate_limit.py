"""A destination's rate limit: never more events per window than allowed, the
backlog drained window after window, and waiting for it uses up no attempt."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.delivery import RATE_WINDOW
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import limited_meta, run_jobs, scheduled_jobs

S = events_pb2


async def limited_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    *,
    events: int,
) -> int:
    """A Meta destination limited to 50 events/s with `events` waiting; returns its id."""
    created = await limited_meta(client, fake_meta, rate_limit=50)
    assert created.rate_limit == 50
    await client.submit_events(
        make_event(
            event_id=f"o{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
        for i in range(events)
    )
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenaz_destinations WHERE name = 'meta'")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def attempt_starts(runtime: Runtime) -> list[dt.datetime]:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT started_at FROM tenaz_attempts ORDER BY started_at")
        return [row[0] for row in await cur.fetchall()]


async def test_a_backlog_drains_at_the_destinations_rate(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=180)
    started = clock.now()
    # The job waits for the window to free up (on the fake clock, which moves when a
    # sleeper sleeps) and carries on until the backlog is gone.
    await run_jobs(runtime)
    assert fake_meta.fake.total_events_received == 180
    assert [r.event_count for r in fake_meta.fake.accepted] == [50, 50, 50, 30]
    assert clock.now() - started == 3 * RATE_WINDOW

    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT number FROM tenaz_attempts")
        assert await cur.fetchall() == [(1,)]  # waiting used no attempt
    starts = await attempt_starts(runtime)
    for i, start in enumerate(starts):
        assert len([s for s in starts[i:] if s - start < RATE_WINDOW]) <= 50
    done = await client.list_events(statuses=[S.DELIVERY_STATUS_SUCCEEDED], page_size=500)
    assert len(done.events) == 180


async def test_the_limit_can_be_changed_and_must_be_sensible(
    client: TenazClient, fake_meta: FakeMetaServer, meta: str
) -> None:
    destination = await client.get_destination("meta")
    assert destination.rate_limit == 0
    destination.rate_limit = 200
    assert (await client.update_destination(destination, ["rate_limit"])).rate_limit == 200
    destination.rate_limit = 0
    assert (await client.update_destination(destination, ["rate_limit"])).rate_limit == 0
    destination.rate_limit = 0.5
    with pytest.raises(TenazError) as caught:
        await client.update_destination(destination, ["rate_limit"])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in caught.value.violations} == {"destination.rate_limit"}


async def test_several_jobs_held_by_the_limit_send_everything_once_within_it(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    destination_id = await limited_destination(client, runtime, clock, fake_meta, events=300)

    attempted = await asyncio.gather(
        *(runtime.engine.deliver_due(destination_id) for _ in range(4))
    )

    assert sum(attempted) == 300
    assert fake_meta.fake.total_events_received == 300
    # The waiting happened in place: no job was scheduled for later (the one left is the
    # submission's, which this test did not run).
    assert [at for _, at in await scheduled_jobs(runtime) if at is not None] == []
    starts = await attempt_starts(runtime)
    assert len(starts) == 300
    for i, start in enumerate(starts):
        assert len([s for s in starts[i:] if s - start < RATE_WINDOW]) <= 50
