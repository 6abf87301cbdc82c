"""Pinterest end to end: a destination created over gRPC with PinterestSettings, events
submitted with customer data and the Pinterest click id, delivered by the worker to the fake
Pinterest over loopback (and to the sandbox's fake in process)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_pinterest import Failure, FakePinterest, FakePinterestServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, only_delivery, sha256
from tests.support import fire_due_retries, run_jobs

S = events_pb2
ACCOUNT = "549755885175"
TOKEN = "pina_good-token"
HALF_HOUR = dt.timedelta(minutes=30)


@pytest.fixture
async def pinterest_server(clock: FakeClock) -> AsyncIterator[FakePinterestServer]:
    async with FakePinterestServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, pinterest_server: FakePinterestServer) -> Settings:
    return allowing(settings, pinterest_server.base_url)


@pytest.fixture
async def pinterest(client: TenazClient, pinterest_server: FakePinterestServer) -> str:
    await client.create_destination(CASE.destination(pinterest_server.base_url))
    return "pinterest"


async def purchase(
    client: TenazClient, clock: FakeClock, event_id: str = "order-1", **fields: Any
) -> events_pb2.StoredEvent:
    customer: dict[str, Any] = {
        "email": " Maria@Example.com ",
        "phone": "(11) 98765-4321",
        "zip": "12400-000",
        "epik": "dj0yJnU9-epik",
        "client_user_agent": "Mozilla/5.0",
        "event_source_url": "https://shop.example.com/checkout",
        "value": 99.9,
        "currency": "BRL",
        **fields,
    }
    response = await client.submit_event(
        make_event(
            event_id=event_id,
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=1),
            **customer,
        )
    )
    return response.event


CASE = DeliveryCase(
    "pinterest",
    fake=lambda now: FakePinterest(now=now, access_tokens={ACCOUNT: TOKEN}),
    failure=Failure,
    destination=lambda base_url: destinations_pb2.Destination(
        name="pinterest",
        enabled=True,
        pinterest=destinations_pb2.PinterestSettings(
            ad_account_id=ACCOUNT, access_token=TOKEN, base_url=base_url
        ),
    ),
    submit=purchase,
    secrets=(TOKEN,),
)


async def test_an_event_reaches_pinterest_with_its_hashing_and_naming(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    pinterest_server: FakePinterestServer,
    pinterest: str,
) -> None:
    stored = await purchase(client, clock)
    [delivery] = stored.deliveries
    assert delivery.destination == "pinterest"
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == stored.event.event_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=7)

    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    fake = pinterest_server.fake
    assert fake.received_count("checkout", "order-1") == 1
    [request] = fake.accepted
    [event] = request.events
    assert event["event_name"] == "checkout"
    assert event["action_source"] == "web"
    assert event["user_data"] == {
        "em": [sha256("maria@example.com")],
        "ph": [sha256("5511987654321")],
        "zp": [sha256("12400000")],
        "client_user_agent": "Mozilla/5.0",
        "click_id": "dj0yJnU9-epik",
    }
    assert event["custom_data"] == {"value": "99.9", "currency": "BRL"}
    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_rate_limit_waits_for_the_retry_and_then_succeeds(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    pinterest_server: FakePinterestServer,
    pinterest: str,
) -> None:
    pinterest_server.fake.fail_next(1, Failure.rate_limited())
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert (delivery.attempts[0].http_status, delivery.attempts[0].platform_code) == (429, 8)
    assert not (await client.get_destination("pinterest")).needs_action

    clock.advance(HALF_HOUR)
    assert await fire_due_retries(runtime) == 1
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempt_count == 2
    assert pinterest_server.fake.received_count("checkout", "order-1") == 1


async def test_a_refused_token_flags_the_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    pinterest_server: FakePinterestServer,
    pinterest: str,
) -> None:
    pinterest_server.fake.fail_next(1, Failure.unauthorized())
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination("pinterest")
    assert destination.needs_action
    assert "access token" in destination.needs_action_reason
    assert TOKEN not in destination.needs_action_reason
    assert destination.pinterest.access_token_set


async def test_an_event_pinterest_cannot_take_is_refused_or_skipped(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    pinterest_server: FakePinterestServer,
    pinterest: str,
) -> None:
    await client.create_sandbox_destination("sandbox")
    # A phone number alone: Pinterest needs an email, or the IP address and user agent.
    phone_only = {"email": "", "client_user_agent": "", "event_source_url": ""}
    with pytest.raises(TenazError) as refused:
        await purchase(client, clock, destinations=["pinterest"], **phone_only)
    [violation] = refused.value.violations
    assert violation.field.endswith("destinations[0]")
    assert "Pinterest" in violation.description
    assert "email" in violation.description

    stored = await purchase(client, clock, "order-2", **phone_only)
    assert [d.destination for d in stored.deliveries] == ["sandbox"]
    await run_jobs(runtime)
    assert pinterest_server.fake.request_count == 0


async def test_test_mode_destination_sends_test_true(
    client: TenazClient, runtime: Runtime, clock: FakeClock, pinterest_server: FakePinterestServer
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="pinterest-test",
            enabled=True,
            pinterest=destinations_pb2.PinterestSettings(
                ad_account_id=ACCOUNT,
                access_token=TOKEN,
                test=True,
                base_url=pinterest_server.base_url,
            ),
        )
    )
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert pinterest_server.fake.requests[0].query == {"test": "true"}
    assert (await client.get_destination("pinterest-test")).pinterest.test


async def test_a_sandbox_behaving_as_pinterest_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock, pinterest_server: FakePinterestServer
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-pinterest",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="pinterest"),
        )
    )
    stored = await purchase(client, clock)
    rejected = await purchase(client, clock, "order-2", extra={"sandbox_reject": True})
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert '"num_events_processed": 1' in delivery.attempts[0].response_excerpt
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == stored.event.event_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=7)
    delivery = await only_delivery(client, rejected.id)
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert pinterest_server.fake.request_count == 0
