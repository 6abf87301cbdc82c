"""Submitting over gRPC and delivering to a fake Meta over HTTP, end to end."""

from __future__ import annotations

import datetime as dt

from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import run_jobs

SUCCEEDED = events_pb2.DELIVERY_STATUS_SUCCEEDED
PENDING = events_pb2.DELIVERY_STATUS_PENDING


async def test_submitted_event_is_delivered_once(
    client: TenazClient, runtime: Runtime, fake_meta: FakeMetaServer, meta: str
) -> None:
    response = await client.submit_event(
        make_event(
            event_id="order-1",
            event_name="Purchase",
            event_time=runtime.clock.now() - dt.timedelta(minutes=1),
            email="Maria@Example.com",
            value=99.9,
            currency="brl",
        )
    )
    assert not response.duplicate
    [delivery] = response.event.deliveries
    assert delivery.status == PENDING
    assert delivery.destination == "meta"

    await run_jobs(runtime)

    event = await client.get_event(response.event.id)
    [delivery] = event.deliveries
    assert delivery.status == SUCCEEDED
    assert [a.outcome for a in delivery.attempts] == [events_pb2.ATTEMPT_OUTCOME_SUCCEEDED]
    assert fake_meta.fake.received_count("Purchase", "order-1") == 1
