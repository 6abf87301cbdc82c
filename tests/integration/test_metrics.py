"""Tenaz's Prometheus metrics move with what it does: events submitted and refused through
every edge (gRPC; on the ingest server, EventService over Connect, the Conversions API and
the checkout webhooks, over real HTTP), attempts by outcome, the statuses deliveries enter,
retry lateness, the size of group commits, and the gauges that one process at a time reads
from the database; /metrics serves them.

Deliveries go to the fake Meta over HTTP, one destination with a token it takes and one with
a token it refuses (so that attempts fail, deliveries wait for a retry, and the destination
needs action)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from tenaz.client import TenazClient, TenazError, make_event

from jobs import keys
from jobs.clock import FakeClock
from jobs.database_gauges import DatabaseGauges
from jobs.metrics import Metrics
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.webhook_sources import SourceSpec
from server.app import TenazServer
from server.ingest import IngestServer
from server.metrics_endpoint import start_metrics_endpoint
from tests import checkout_payloads as pay
from tests.ingest_payloads import connect_purchase, graph_event
from tests.support import fire_due_retries, run_jobs

EVENTS = 5
CALLS = "tenaz_submit_calls_total"
SUBMITTED = "tenaz_submitted_events_total"


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value now; 0 when the series does not exist (yet)."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


def total(metrics: Metrics, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


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

    submitted = "tenaz_submitted_events_total"
    assert value(metrics, submitted, edge="grpc", code="OK") == EVENTS
    assert value(metrics, submitted, edge="grpc", code="INVALID_ARGUMENT") == 2
    calls = "tenaz_submit_calls_total"
    assert value(metrics, calls, edge="grpc", method="SubmitEvents", code="OK") == 1
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
    single = value(
        metrics, "tenaz_submit_calls_total", edge="grpc", method="SubmitEvent", code="OK"
    )
    assert single == calls
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
    runtime.metrics.submitted("grpc", "SubmitEvent", "OK", 3)
    endpoint = await start_metrics_endpoint(runtime.metrics, "127.0.0.1:0")
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(endpoint.url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'tenaz_submitted_events_total{code="OK",edge="grpc"} 3.0' in response.text
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
    assert value(metrics, calls, edge="grpc", method="SubmitEvents", code="UNAUTHENTICATED") == 1
    submitted = "tenaz_submitted_events_total"
    assert value(metrics, submitted, edge="grpc", code="UNAUTHENTICATED") == 3
    assert value(metrics, submitted, edge="grpc", code="OK") == 0


# --- the edges of the ingest server -----------------------------------------------------------


@pytest.fixture
async def web(ingest: IngestServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ingest.url, trust_env=False, timeout=10) as http:
        yield http


async def test_connect_calls_count_under_their_edge_once(
    runtime: Runtime, web: httpx.AsyncClient, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    key = {"Authorization": f"Bearer {submit_api_key}"}
    service = "/tenaz.v1.EventService/"
    batch = [connect_purchase(clock, "c-1"), connect_purchase(clock, "c-2")]
    accepted = await web.post(service + "SubmitEvents", json={"events": batch}, headers=key)
    assert accepted.status_code == 200, accepted.text

    nameless = connect_purchase(clock, "c-3", eventName="")
    invalid = await web.post(service + "SubmitEvent", json={"event": nameless}, headers=key)
    stranger = await web.post(
        service + "SubmitEvents",
        json={"events": [connect_purchase(clock, "c-4")]},
        headers={"Authorization": "Bearer tz_not-a-key"},
    )
    form = await web.post(
        service + "SubmitEvent",
        content=b"event=1",
        headers={**key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    stats = await web.post(service + "GetStats", json={}, headers=key)
    assert [r.status_code for r in (invalid, stranger, form, stats)] == [400, 401, 415, 200]

    metrics = runtime.metrics
    assert value(metrics, CALLS, edge="connect", method="SubmitEvents", code="OK") == 1
    assert value(metrics, SUBMITTED, edge="connect", code="OK") == 2
    # The event without a name was read, so it counts; the form body never decoded: no event.
    assert value(metrics, CALLS, edge="connect", method="SubmitEvent", code="INVALID_ARGUMENT") == 2
    assert value(metrics, SUBMITTED, edge="connect", code="INVALID_ARGUMENT") == 1
    unknown_key = value(
        metrics, CALLS, edge="connect", method="SubmitEvents", code="UNAUTHENTICATED"
    )
    assert unknown_key == 1
    assert value(metrics, SUBMITTED, edge="connect", code="UNAUTHENTICATED") == 1
    # GetStats submits nothing, and no call is counted a second time as a gRPC one.
    assert total(metrics, CALLS) == total(metrics, CALLS, edge="connect") == 4
    assert total(metrics, SUBMITTED) == 4


async def test_conversions_api_calls_count_with_the_codes_of_their_refusals(
    runtime: Runtime, web: httpx.AsyncClient, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    key = {"Authorization": f"Bearer {submit_api_key}"}
    two = {"data": [graph_event(clock, "m-1"), graph_event(clock, "m-2")]}
    accepted = await web.post("/v25.0/111/events", json=two, headers=key)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["events_received"] == 2

    one = {"data": [graph_event(clock, "m-3")]}
    no_token = await web.post("/v25.0/111/events", json=one)
    other_pixel = await web.post("/v25.0/999/events", json=one, headers=key)
    opted_out = {"data": [{**graph_event(clock, "m-4"), "opt_out": True}]}
    unsupported = await web.post("/v25.0/111/events", json=opted_out, headers=key)
    # Neither is a submission: another edge of Graph, and a read of this one.
    other_edge = await web.post("/v25.0/111/customaudiences", json=one, headers=key)
    read = await web.get("/v25.0/111/events", headers=key)
    refusals = (no_token, other_pixel, unsupported, other_edge, read)
    assert [r.json()["error"]["code"] for r in refusals] == [104, 100, 100, 2500, 100]

    metrics = runtime.metrics
    edge = {"edge": "conversions_api", "method": "events"}
    assert value(metrics, CALLS, **edge, code="OK") == 1
    assert value(metrics, SUBMITTED, edge="conversions_api", code="OK") == 2
    assert value(metrics, CALLS, **edge, code="UNAUTHENTICATED") == 1
    assert value(metrics, CALLS, **edge, code="NOT_FOUND") == 1
    assert value(metrics, CALLS, **edge, code="INVALID_ARGUMENT") == 1
    # Events count once `data` is read, after the key and the pixel.
    assert value(metrics, SUBMITTED, edge="conversions_api", code="INVALID_ARGUMENT") == 1
    assert value(metrics, SUBMITTED, edge="conversions_api", code="UNAUTHENTICATED") == 0
    assert value(metrics, SUBMITTED, edge="conversions_api", code="NOT_FOUND") == 0
    assert total(metrics, CALLS) == total(metrics, CALLS, edge="conversions_api") == 4


async def test_webhook_calls_count_by_checkout_and_ignored_types_carry_no_event(
    runtime: Runtime, web: httpx.AsyncClient, api_key: str, meta: str, clock: FakeClock
) -> None:
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace.id
    await runtime.webhook_sources.create(
        workspace, SourceSpec("loja-hotmart", "hotmart", pay.HOTTOK)
    )

    async def post(path: str, event: str, token: str = pay.HOTTOK) -> httpx.Response:
        body = pay.encoded(pay.hotmart(event, clock.now()))
        return await web.post(path, content=body, headers=pay.hotmart_headers(token))

    sale = await post("/webhooks/hotmart/loja-hotmart", "PURCHASE_APPROVED")
    refund = await post("/webhooks/hotmart/loja-hotmart", "PURCHASE_REFUNDED")
    assert [sale.json()["status"], refund.json()["status"]] == ["accepted", "ignored"]
    forged = await post("/webhooks/hotmart/loja-hotmart", "PURCHASE_APPROVED", token="outro")
    elsewhere = await post("/webhooks/hotmart/outra-loja", "PURCHASE_APPROVED")
    # Not a checkout Tenaz has: a 404 like any unknown path, in no series.
    stranger = await post("/webhooks/shopify/loja-hotmart", "PURCHASE_APPROVED")
    assert [r.status_code for r in (forged, elsewhere, stranger)] == [401, 404, 404]

    metrics = runtime.metrics
    hotmart = {"edge": "webhook", "method": "hotmart"}
    # The refund was acknowledged (OK) but nothing was submitted: a call, no event.
    assert value(metrics, CALLS, **hotmart, code="OK") == 2
    assert value(metrics, SUBMITTED, edge="webhook", code="OK") == 1
    assert value(metrics, CALLS, **hotmart, code="UNAUTHENTICATED") == 1
    assert value(metrics, SUBMITTED, edge="webhook", code="UNAUTHENTICATED") == 1
    assert value(metrics, CALLS, **hotmart, code="NOT_FOUND") == 1
    assert total(metrics, CALLS) == total(metrics, CALLS, **hotmart) == 4
