"""GA4 end to end: a destination made over gRPC with its proto settings, events submitted over
gRPC, delivered by the worker to the fake GA4 over HTTP (validation server, then collect),
retried, flagged, refused when GA4 cannot take them; and the sandbox behaving as GA4."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_ga4 import Failure, FakeGa4, FakeGa4Server
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import (
    DeliveryCase,
    allowing,
    only_delivery,
    sha256,
    submitting,
)
from tests.support import run_jobs

S = events_pb2
MEASUREMENT_ID = "G-DELIVERY1"
API_SECRET = "delivery-api-secret"
RETRY = dt.timedelta(seconds=10)


@pytest.fixture
async def analytics(clock: FakeClock) -> AsyncIterator[FakeGa4Server]:
    async with FakeGa4Server(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, analytics: FakeGa4Server) -> Settings:
    return allowing(settings, analytics.base_url)


def ga4_destination(
    base_url: str, *, event_names: dict[str, str] | None = None
) -> destinations_pb2.Destination:
    destination = destinations_pb2.Destination(
        name="ga4",
        enabled=True,
        ga4=destinations_pb2.Ga4Settings(
            measurement_id=MEASUREMENT_ID,
            api_secret=API_SECRET,
            base_url=base_url,
            validate_first=True,
        ),
        event_names=event_names or {},
    )
    destination.retry_interval.FromTimedelta(RETRY)
    return destination


async def create_ga4(
    client: TenazClient, analytics: FakeGa4Server, *, event_names: dict[str, str] | None = None
) -> destinations_pb2.Destination:
    return await client.create_destination(
        ga4_destination(analytics.base_url, event_names=event_names)
    )


def event(clock: FakeClock, event_id: str = "pedido-1", **fields: Any) -> events_pb2.Event:
    fields.setdefault("ga_client_id", "GA1.1.1234567890.1700000000")
    fields.setdefault("event_name", "Purchase")
    fields.setdefault("event_time", clock.now() - dt.timedelta(minutes=10))
    return make_event(event_id=event_id, value=59.8, currency="BRL", **fields)


CASE = DeliveryCase(
    "ga4",
    fake=lambda now: FakeGa4(now=now, api_secrets={MEASUREMENT_ID: API_SECRET}),
    failure=Failure,
    destination=ga4_destination,
    submit=submitting(event),
    secrets=(API_SECRET,),
)


async def test_an_event_is_delivered_with_googles_hashing_and_naming(
    client: TenazClient, runtime: Runtime, clock: FakeClock, analytics: FakeGa4Server
) -> None:
    created = await create_ga4(client, analytics, event_names={"Lead": "qualified_lead"})
    assert created.ga4.api_secret_set and not created.ga4.api_secret
    purchase = await client.submit_event(
        event(clock, email="Ana.Souza@GoogleMail.com", extra={"user_id": "cliente-7"})
    )
    lead = await client.submit_event(event(clock, "lead-1", event_name="Lead"))

    await run_jobs(runtime)

    for response in (purchase, lead):
        delivery = await only_delivery(client, response.event.id)
        assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    fake = analytics.fake
    first, second = fake.accepted
    assert (first.name, first.client_id, first.user_id) == (
        "purchase",
        "1234567890.1700000000",
        "cliente-7",
    )
    assert first.user_data == {"sha256_email_address": [sha256("anasouza@googlemail.com")]}
    assert first.params == {"value": 59.8, "currency": "BRL", "transaction_id": "pedido-1"}
    assert (second.name, second.user_data) == ("qualified_lead", None)
    assert fake.received_count("purchase", "pedido-1") == 1
    # Each request is validated first; the two events have users of their own, so they go
    # in a request each.
    assert fake.validations == 2
    assert [r.path for r in fake.requests] == ["/debug/mp/collect", "/mp/collect"] * 2
    # The deadline is GA4's 72 hours of backdating.
    delivery = await only_delivery(client, purchase.event.id)
    assert delivery.deadline.ToDatetime(tzinfo=dt.UTC) == (
        clock.now() - dt.timedelta(minutes=10) + dt.timedelta(hours=72)
    )


async def test_an_answer_that_is_not_ga4s_sets_needs_action(
    client: TenazClient, runtime: Runtime, clock: FakeClock, analytics: FakeGa4Server
) -> None:
    await create_ga4(client, analytics)
    analytics.fake.fail_next(1, Failure.custom(403, b"<html>Forbidden by policy</html>"))
    response = await client.submit_event(event(clock))

    await run_jobs(runtime)

    assert (
        await only_delivery(client, response.event.id)
    ).status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination("ga4")
    assert destination.needs_action
    assert "HTTP 403" in destination.needs_action_reason
    assert API_SECRET not in destination.needs_action_reason


async def test_an_event_the_validation_server_refuses_fails_with_its_message(
    client: TenazClient, runtime: Runtime, clock: FakeClock, analytics: FakeGa4Server
) -> None:
    await create_ga4(client, analytics, event_names={"Purchase": "first_visit"})
    refused = await client.submit_event(event(clock))
    taken = await client.submit_event(event(clock, "lead-1", event_name="Lead"))

    await run_jobs(runtime)

    failed = await only_delivery(client, refused.event.id)
    assert failed.status == S.DELIVERY_STATUS_FAILED
    assert failed.attempts[0].message.startswith("NAME_RESERVED: ")
    assert (await only_delivery(client, taken.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    assert [a.name for a in analytics.fake.accepted] == ["generate_lead"]


async def test_what_ga4_cannot_take_is_refused_when_named_and_skipped_otherwise(
    client: TenazClient, runtime: Runtime, clock: FakeClock, analytics: FakeGa4Server
) -> None:
    await create_ga4(client, analytics)
    await client.create_sandbox_destination("sandbox")
    with pytest.raises(TenazError) as caught:
        await client.submit_event(
            event(clock, ga_client_id="", email="a@example.com", destinations=["ga4"])
        )
    [violation] = caught.value.violations
    assert "needs user_data.ga_client_id" in violation.description
    response = await client.submit_event(event(clock, ga_client_id="", email="a@example.com"))
    assert [d.destination for d in response.event.deliveries] == ["sandbox"]

    # Older than GA4's 72 hours: refused at submission, not sent to fail there.
    with pytest.raises(TenazError) as caught:
        await client.submit_event(
            event(
                clock,
                "old-1",
                event_time=clock.now() - dt.timedelta(hours=73),
                destinations=["ga4"],
            )
        )
    assert "older than the platform accepts (Google Analytics 4" in str(caught.value)


async def test_a_sandbox_behaving_as_ga4_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-ga4",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="ga4"),
        )
    )
    good = await client.submit_event(event(clock))
    invalid = await client.submit_event(event(clock, "p-2", extra={"firebase_thing": "x"}))
    with pytest.raises(TenazError):
        await client.submit_event(
            event(
                clock, "p-3", ga_client_id="", email="a@example.com", destinations=["sandbox-ga4"]
            )
        )

    await run_jobs(runtime)

    assert (await only_delivery(client, good.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    refused = await only_delivery(client, invalid.event.id)
    assert refused.status == S.DELIVERY_STATUS_FAILED
    assert refused.attempts[0].message.startswith("NAME_RESERVED: ")
