"""Long platform outages in virtual time: days of retries checked in seconds.

Meta down for 3 days, then back: every delivery is retried every 30 minutes
(count and spacing checked) and all succeed. Meta down for 8 days: each delivery
gets its last attempt before the 7-day deadline and is FAILED `expired` after it.
"""

from __future__ import annotations

import datetime as dt
import itertools

from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import fire_due_retries, run_jobs

S = events_pb2
HALF_HOUR = dt.timedelta(minutes=30)
EVENTS = 20


async def live_through(runtime: Runtime, clock: FakeClock, until: dt.datetime) -> None:
    """Move the clock from due time to due time, running what is due, up to `until`."""
    while True:
        async with runtime.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT min(scheduled_at) FROM procrastinate_jobs"
                " WHERE status = 'todo' AND task_name = 'tenaz.deliver'"
            )
            row = await cur.fetchone()
        due = row[0] if row else None
        if due is None or due > until:
            clock.set(until)
            return
        clock.set(max(due, clock.now()))
        await fire_due_retries(runtime)


async def submit_events(client: TenazClient, clock: FakeClock) -> list[str]:
    response = await client.submit_events(
        make_event(
            event_id=f"order-{i}",
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=5),
            email=f"buyer{i}@example.com",
        )
        for i in range(EVENTS)
    )
    return [r.id for r in response.results]


async def test_three_days_down_then_back_every_30_minutes_then_all_succeed(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.set_down(True)
    ids = await submit_events(client, clock)
    start = clock.now()
    await run_jobs(runtime)
    await live_through(runtime, clock, start + dt.timedelta(days=3))
    fake_meta.fake.set_down(False)
    await live_through(runtime, clock, start + dt.timedelta(days=3, hours=1))

    for event_id in ids:
        [delivery] = (await client.get_event(event_id)).deliveries
        assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
        starts = [a.started_at.ToDatetime(tzinfo=dt.UTC) for a in delivery.attempts]
        # One attempt at once, then one every 30 minutes for 3 days, then the success.
        assert len(starts) == 3 * 48 + 2
        assert {b - a for a, b in itertools.pairwise(starts)} == {HALF_HOUR}
        assert [a.outcome for a in delivery.attempts[:-1]] == [
            S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM
        ] * (3 * 48 + 1)
    assert all(fake_meta.fake.received_count("Purchase", f"order-{i}") == 1 for i in range(EVENTS))


async def test_eight_days_down_last_attempt_before_the_deadline_then_expired(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.set_down(True)
    ids = await submit_events(client, clock)
    await run_jobs(runtime)
    await live_through(runtime, clock, clock.now() + dt.timedelta(days=8))

    for event_id in ids:
        [delivery] = (await client.get_event(event_id)).deliveries
        deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
        assert delivery.status == S.DELIVERY_STATUS_FAILED
        assert delivery.failure_reason == S.FAILURE_REASON_EXPIRED
        starts = [a.started_at.ToDatetime(tzinfo=dt.UTC) for a in delivery.attempts]
        assert all(start < deadline for start in starts)
        assert starts[-1] == deadline - runtime.settings.deadline_margin  # the last call
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert set(gaps[:-1]) == {HALF_HOUR}
        assert gaps[-1] <= HALF_HOUR
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
            " AND task_name = 'tenaz.deliver'"
        )
        assert await cur.fetchone() == (0,)
