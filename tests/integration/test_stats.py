"""GetStats: counts by status and destination, success rate, attempts in buckets,
and each destination's health."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from tests.support import META_REFUSES, run_jobs

S = events_pb2


async def test_counts_rates_buckets_and_health(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    start = clock.now()
    await client.create_sandbox_destination("sandbox")
    await client.create_sandbox_destination("off")
    off = await client.get_destination("off")
    off.enabled = False
    await client.update_destination(off, ["enabled"])

    def event(i: int, **extra: object) -> events_pb2.Event:
        return make_event(
            event_id=f"o{i}",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            **extra,  # type: ignore[arg-type]
        )

    await client.submit_events([event(i, destinations=["sandbox"]) for i in range(3)])
    await client.submit_event(event(9, destinations=["sandbox"], extra=META_REFUSES))
    await run_jobs(runtime)  # 3 SUCCEEDED, 1 FAILED on the sandbox
    clock.advance(dt.timedelta(hours=1))
    fake_meta.fake.set_down(True)
    await client.submit_events([event(20 + i, destinations=["meta"]) for i in range(2)])
    await run_jobs(runtime)  # 2 WAITING_RETRY on meta
    clock.advance(dt.timedelta(minutes=1))

    stats = await client.get_stats(since=start, bucket=dt.timedelta(hours=1))
    counts = {(c.destination, c.status): c.count for c in stats.counts}
    assert counts == {
        ("sandbox", S.DELIVERY_STATUS_SUCCEEDED): 3,
        ("sandbox", S.DELIVERY_STATUS_FAILED): 1,
        ("meta", S.DELIVERY_STATUS_WAITING_RETRY): 2,
    }
    assert stats.success_rate == pytest.approx(0.75)
    assert [(b.succeeded, b.rejected, b.external_problem) for b in stats.attempts] == [
        (3, 1, 0),
        (0, 0, 2),
    ]
    health = {d.destination: d for d in stats.destinations}
    assert health["sandbox"].health == S.DESTINATION_HEALTH_HEALTHY
    assert health["sandbox"].success_rate == pytest.approx(0.75)
    assert health["meta"].health == S.DESTINATION_HEALTH_FAILING
    assert health["meta"].waiting_retry == 2
    assert health["meta"].reason
    assert health["off"].health == S.DESTINATION_HEALTH_DISABLED


async def test_credential_trouble_shows_as_needs_action(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await client.submit_event(
        make_event(event_id="o", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    await run_jobs(runtime)
    [meta_stats] = (await client.get_stats()).destinations
    assert meta_stats.health == S.DESTINATION_HEALTH_NEEDS_ACTION
    assert "access token" in meta_stats.reason


async def test_a_window_with_too_many_buckets_is_refused(client: TenazClient) -> None:
    with pytest.raises(TenazError) as caught:
        await client.get_stats(bucket=dt.timedelta(seconds=1))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
