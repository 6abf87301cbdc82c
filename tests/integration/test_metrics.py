"""Tenaz's Prometheus metrics move with what it does: events submitted and refused, attempts
by outcome, the statuses deliveries enter, retry lateness, the size of group commits, and
the gauges that one process at a time reads from the database; /metrics serves them.

Deliveries go to the fake Meta over HTTP, one destination with a token it takes and one with
a token it refuses (so that attempts fail, deliveries wait for a retry, and the destination
needs action)."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import httpx
import pytest
from tenaz.client import TenazClient, TenazError, make_event

from jobs.clock import FakeClock
from jobs.database_gauges import DatabaseGauges
from jobs.metrics import Metrics
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from server.app import TenazServer
from server.metrics_endpoint import start_metrics_endpoint
from tests.support import fire_due_retries, run_jobs

EVENTS = 5


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value now; 0 when the series does not exist (yet)."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


def events(prefix: str, clock: FakeClock, count: int) -> list[object]:
    return [
        make_event(
            event_id=f"{prefix}-{i}",
            event_name="Purchase",
            event_time=clock.now(),
            email=f"buyer{i}@example.com",
        )
        for i in range(count)
    ]


async def destination_ids(runtime: Runtime) -> dict[str, str]:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT name, id FROM tenaz_destinations")
        return {name: str(id_) for name, id_ in await cur.fetchall()}


@pytest.fixture
async def two_destinations(
    client: TenazClient, fake_meta: FakeMetaServer, runtime: Runtime
) -> dict[str, str]:
    """'meta' takes every event; 'refused' has a token the fake Meta refuses. Their ids."""
    await client.create_meta_destination(
        "meta", pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
    )
    await client.create_meta_destination(
        "refused", pixel_id="111", access_token="revoked-token", base_url=fake_meta.base_url
    )
    return await destination_ids(runtime)


async def test_counters_follow_submissions_attempts_and_statuses(
    runtime: Runtime,
    client: TenazClient,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    two_destinations: dict[str, str],
) -> None:
    metrics = runtime.metrics
    good, bad = two_destinations["meta"], two_destinations["refused"]

    await client.submit_events(events("ok", clock, EVENTS))
    with pytest.raises(TenazError) as refused:
        # The second event has no name: the whole batch is refused, and counted as such.
        await client.submit_events(
            [*events("bad", clock, 1), make_event(event_id="x", event_name="")]
        )
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT

    assert value(metrics, "tenaz_submitted_events_total", code="OK") == EVENTS
    assert value(metrics, "tenaz_submitted_events_total", code="INVALID_ARGUMENT") == 2
    assert value(metrics, "tenaz_submit_calls_total", method="SubmitEvents", code="OK") == 1
    for destination in (good, bad):
        entered = value(
            metrics, "tenaz_deliveries_entered_total", destination=destination, status="PENDING"
        )
        assert entered == EVENTS

    await run_jobs(runtime)

    assert fake_meta.fake.total_events_received == EVENTS
    attempts = "tenaz_delivery_attempts_total"
    assert value(metrics, attempts, platform="meta", destination=good, outcome="succeeded") == 5
    assert (
        value(metrics, attempts, platform="meta", destination=bad, outcome="external_problem")
        == EVENTS
    )
    assert value(metrics, attempts, platform="meta", destination=bad, outcome="succeeded") == 0
    entered = "tenaz_deliveries_entered_total"
    assert value(metrics, entered, destination=good, status="SENDING") == EVENTS
    assert value(metrics, entered, destination=good, status="SUCCEEDED") == EVENTS
    assert value(metrics, entered, destination=bad, status="WAITING_RETRY") == EVENTS
    # One request a destination (a batch of five), each timed.
    requests = "tenaz_platform_request_duration_seconds_count"
    assert value(metrics, requests, platform="meta", destination=good) == 1
    assert value(metrics, requests, platform="meta", destination=bad) == 1
    assert value(metrics, "tenaz_first_attempt_wait_seconds_count", platform="meta") == 2

    # The retries become due 30 minutes after the attempt; a worker gets to them 12 s late.
    clock.advance(dt.timedelta(minutes=30, seconds=12))
    await fire_due_retries(runtime)
    assert value(metrics, "tenaz_retry_lateness_seconds_count", platform="meta") == 1
    assert value(metrics, "tenaz_retry_lateness_seconds_sum", platform="meta") == 12
    assert value(metrics, entered, destination=bad, status="RESENDING") == EVENTS
    assert value(metrics, entered, destination=bad, status="WAITING_RETRY") == 2 * EVENTS
    assert value(
        metrics, attempts, platform="meta", destination=bad, outcome="external_problem"
    ) == (2 * EVENTS)


async def test_group_commit_size_counts_the_calls_of_each_transaction(
    runtime: Runtime, client: TenazClient, clock: FakeClock, meta: str
) -> None:
    calls = 30
    await asyncio.gather(*(client.submit_event(e) for e in events("single", clock, calls)))

    metrics = runtime.metrics
    assert value(metrics, "tenaz_submit_calls_total", method="SubmitEvent", code="OK") == calls
    # Every call was in exactly one transaction, however they were grouped.
    assert value(metrics, "tenaz_group_commit_calls_sum") == calls
    transactions = value(metrics, "tenaz_group_commit_calls_count")
    assert 1 <= transactions <= calls


async def test_one_process_computes_the_database_gauges(
    runtime: Runtime,
    client: TenazClient,
    clock: FakeClock,
    two_destinations: dict[str, str],
) -> None:
    good, bad = two_destinations["meta"], two_destinations["refused"]
    await client.submit_events(events("gauged", clock, EVENTS))
    await run_jobs(runtime)
    metrics = runtime.metrics
    await runtime.gauges.refresh()

    assert value(metrics, "tenaz_database_gauges_leader") == 1
    unfinished = "tenaz_deliveries_unfinished"
    assert value(metrics, unfinished, destination=bad, status="WAITING_RETRY") == EVENTS
    assert metrics.registry.get_sample_value(unfinished, {"destination": good}) is None
    needs_action = "tenaz_destination_needs_action"
    assert value(metrics, needs_action, destination=bad, platform="meta") == 1
    assert value(metrics, needs_action, destination=good, platform="meta") == 0
    oldest = "tenaz_oldest_due_delivery_age_seconds"
    assert value(metrics, oldest, destination=bad, platform="meta") == 0  # not due yet

    clock.advance(dt.timedelta(minutes=31))
    await runtime.gauges.refresh()
    assert value(metrics, oldest, destination=bad, platform="meta") == 60

    # A second process finds the lock taken: it serves none of the database's gauges.
    other = Metrics()
    second = DatabaseGauges(runtime.database_url, clock, dt.timedelta(seconds=1))
    other.register(second)
    try:
        await second.refresh()
        assert value(other, "tenaz_database_gauges_leader") == 0
        assert (
            other.registry.get_sample_value(needs_action, {"destination": bad, "platform": "meta"})
            is None
        )
        # The leader stops: the next process to try takes over.
        await runtime.gauges.close()
        await second.refresh()
        assert value(other, "tenaz_database_gauges_leader") == 1
        assert value(other, needs_action, destination=bad, platform="meta") == 1
    finally:
        await second.close()


async def test_metrics_are_served_and_a_taken_port_is_refused(runtime: Runtime) -> None:
    runtime.metrics.submitted("SubmitEvent", "OK", 3)
    endpoint = await start_metrics_endpoint(runtime.metrics, "127.0.0.1:0")
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(endpoint.url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'tenaz_submitted_events_total{code="OK"} 3.0' in response.text
        assert "tenaz_database_gauges_leader 0.0" in response.text
        with pytest.raises(OSError, match="address already in use"):
            await start_metrics_endpoint(Metrics(), f"127.0.0.1:{endpoint.port}")
    finally:
        await endpoint.stop()


async def test_calls_refused_before_the_handler_count_under_their_code(
    runtime: Runtime, server: TenazServer, clock: FakeClock
) -> None:
    async with TenazClient(f"127.0.0.1:{server.port}", "not-a-key", timeout=10) as stranger:
        with pytest.raises(TenazError) as refused:
            await stranger.submit_events(events("stranger", clock, 3))
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED

    metrics = runtime.metrics
    calls = "tenaz_submit_calls_total"
    assert value(metrics, calls, method="SubmitEvents", code="UNAUTHENTICATED") == 1
    assert value(metrics, "tenaz_submitted_events_total", code="UNAUTHENTICATED") == 3
    assert value(metrics, "tenaz_submitted_events_total", code="OK") == 0
