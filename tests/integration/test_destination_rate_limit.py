"""A destination's rate limit: never more events per window than allowed, and
waiting for it uses up no attempt."""

from __future__ import annotations

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.delivery import RATE_WINDOW
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import fire_due_retries, run_jobs

S = events_pb2


async def test_a_backlog_drains_at_the_destinations_rate(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    created = await client.create_destination(
        destinations_pb2.Destination(
            name="meta",
            enabled=True,
            rate_limit=50,
            meta=destinations_pb2.MetaSettings(
                pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
            ),
        )
    )
    assert created.rate_limit == 50
    await client.submit_events(
        make_event(
            event_id=f"o{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
        for i in range(180)
    )
    await run_jobs(runtime)
    assert fake_meta.fake.total_events_received == 50
    for _ in range(5):
        clock.advance(RATE_WINDOW)
        await fire_due_retries(runtime)
    assert fake_meta.fake.total_events_received == 180
    assert [r.event_count for r in fake_meta.fake.accepted] == [50, 50, 50, 30]

    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT started_at, number FROM tenaz_attempts ORDER BY started_at"
        )
        attempts = await cur.fetchall()
    assert {number for _, number in attempts} == {1}  # waiting used no attempt
    starts = [started for started, _ in attempts]
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s - start < RATE_WINDOW]
        assert len(in_window) <= 50
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
