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


async def test_the_default_window_starts_on_the_first_bucket_edge_of_the_last_24_hours(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    now = clock.now()
    hour = now.replace(minute=0, second=0) + dt.timedelta(hours=1)
    clock.advance(hour + dt.timedelta(minutes=40) - now)
    await client.submit_event(  # at :40, after `until - 24 h` (:30), before the next hour
        make_event(event_id="early", event_name="Lead", event_time=clock.now(), email="a@b.com")
    )
    clock.advance(dt.timedelta(minutes=30))
    await client.submit_event(  # at :10 of the next hour
        make_event(event_id="late", event_name="Lead", event_time=clock.now(), email="a@b.com")
    )
    await run_jobs(runtime)
    until = hour + dt.timedelta(hours=24, minutes=30)
    clock.advance(until - clock.now())

    default = await client.get_stats()
    assert default.since.ToDatetime(tzinfo=dt.UTC) == hour + dt.timedelta(hours=1)
    assert default.until.ToDatetime(tzinfo=dt.UTC) == until
    assert [c.count for c in default.counts] == [1]
    assert len(default.attempts) == 24  # 23 whole hours, and the half hour `until` ends
    assert [b.start.ToDatetime(tzinfo=dt.UTC).minute for b in default.attempts] == [0] * 24
    # An explicit `since` is kept as given.
    given = await client.get_stats(since=until - dt.timedelta(hours=24))
    assert given.since.ToDatetime(tzinfo=dt.UTC) == hour + dt.timedelta(minutes=30)
    assert [c.count for c in given.counts] == [2]
    # Buckets of 90 minutes have their edges every 90 minutes from the Unix epoch.
    wide = await client.get_stats(bucket=dt.timedelta(minutes=90))
    since = wide.since.ToDatetime(tzinfo=dt.UTC)
    assert until - dt.timedelta(hours=24) <= since < until - dt.timedelta(hours=22, minutes=30)
    assert (since - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) % dt.timedelta(minutes=90) == (
        dt.timedelta(0)
    )
