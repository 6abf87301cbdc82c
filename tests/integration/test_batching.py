"""Batches: due deliveries of a destination go out together, at most 1,000 a request,
and one bad event in a batch fails alone while its neighbours are delivered."""

from __future__ import annotations

import datetime as dt

from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import META_REFUSES, run_jobs

S = events_pb2


async def test_due_deliveries_go_out_in_requests_of_at_most_1000(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    when = clock.now() - dt.timedelta(minutes=1)
    for batch in range(5):
        await client.submit_events(
            make_event(
                event_id=f"order-{batch}-{i}",
                event_name="Purchase",
                event_time=when,
                external_id=f"customer-{i}",
            )
            for i in range(500)
        )
    await run_jobs(runtime)

    sizes = [request.event_count for request in fake_meta.fake.accepted]
    assert sum(sizes) == 2500
    # The first claim sees every due delivery; jobs running at once may split the rest
    # between them (SKIP LOCKED), but a request never carries more than 1,000.
    assert max(sizes) == 1000
    assert len(sizes) <= 5
    page = await client.list_events(statuses=[S.DELIVERY_STATUS_SUCCEEDED], page_size=500)
    assert len(page.events) == 500 and page.next_page_token


async def test_one_invalid_event_fails_alone_and_its_batch_neighbours_are_delivered(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    when = clock.now() - dt.timedelta(minutes=1)
    events = [
        make_event(
            event_id=f"order-{i}",
            event_name="Purchase",
            event_time=when,
            email=f"buyer{i}@example.com",
            value=None if i == 6 else 10.0 + i,
            currency="BRL",
            extra=META_REFUSES if i == 6 else None,
        )
        for i in range(10)
    ]
    response = await client.submit_events(events)
    await run_jobs(runtime)

    statuses = {}
    for result in response.results:
        [delivery] = (await client.get_event(result.id)).deliveries
        statuses[result.index] = (delivery.status, delivery.failure_reason)
    assert statuses.pop(6) == (S.DELIVERY_STATUS_FAILED, S.FAILURE_REASON_REJECTED)
    assert set(statuses.values()) == {(S.DELIVERY_STATUS_SUCCEEDED, 0)}
    assert [fake_meta.fake.received_count("Purchase", f"order-{i}") for i in range(10)] == [
        1,
        1,
        1,
        1,
        1,
        1,
        0,
        1,
        1,
        1,
    ]
