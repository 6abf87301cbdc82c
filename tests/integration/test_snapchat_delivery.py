"""Snapchat end to end: a destination created over gRPC with SnapchatSettings, events
submitted with customer data and Snapchat's click id and cookie, delivered by the worker to
the fake Snapchat over loopback (and to the sandbox's fake in process)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_snapchat import Failure, FakeSnapchat, FakeSnapchatServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, only_delivery
from tests.support import logged, run_jobs

S = events_pb2
PIXEL = "1ec32188-754e-4be2-8e55-c949a984a39f"
TOKEN = "snap-good-capi-token"
HALF_HOUR = dt.timedelta(minutes=30)


@pytest.fixture
async def snapchat_server(clock: FakeClock) -> AsyncIterator[FakeSnapchatServer]:
    async with FakeSnapchatServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, snapchat_server: FakeSnapchatServer) -> Settings:
    return allowing(settings, snapchat_server.base_url)


def snapchat_destination(
    base_url: str, name: str = "snapchat", **options: Any
) -> destinations_pb2.Destination:
    return destinations_pb2.Destination(
        name=name,
        enabled=True,
        snapchat=destinations_pb2.SnapchatSettings(
            pixel_id=PIXEL, access_token=TOKEN, base_url=base_url, **options
        ),
    )


async def create_snapchat(
    client: TenazClient, server: FakeSnapchatServer, name: str = "snapchat", **options: Any
) -> str:
    await client.create_destination(snapchat_destination(server.base_url, name, **options))
    return name


@pytest.fixture
async def snapchat(client: TenazClient, snapchat_server: FakeSnapchatServer) -> str:
    return await create_snapchat(client, snapchat_server)


async def purchase(
    client: TenazClient, clock: FakeClock, event_id: str = "order-1", **fields: Any
) -> events_pb2.StoredEvent:
    customer: dict[str, Any] = {
        "email": "Person@Example.com",
        "phone": "+44 844 412 4653",
        "date_of_birth": "1990-07-14",
        "sc_click_id": "a3f4b5c6-d7e8-click",
        "sc_cookie1": "cookie-uuid",
        "client_ip_address": "203.0.113.7",
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
    "snapchat",
    fake=lambda now: FakeSnapchat(now=now, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    destination=snapchat_destination,
    submit=purchase,
    secrets=(TOKEN,),
)


async def test_an_event_reaches_snapchat_with_its_hashing_and_naming(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    snapchat_server: FakeSnapchatServer,
    snapchat: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stored = await purchase(client, clock)
    [delivery] = stored.deliveries
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == stored.event.event_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=37)

    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    fake = snapchat_server.fake
    assert fake.received_count("PURCHASE", "order-1") == 1
    [request] = fake.accepted
    [event] = request.events
    assert (event["event_name"], event["action_source"]) == ("PURCHASE", "WEB")
    # Snapchat's documented examples: Person@Example.com and +44 844 412 4653.
    assert event["user_data"] == {
        "em": ["542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"],
        "ph": ["dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383"],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0",
        "sc_click_id": "a3f4b5c6-d7e8-click",
        "sc_cookie1": "cookie-uuid",
    }
    assert event["custom_data"] == {"value": 99.9, "currency": "BRL"}
    assert snapchat_server.fake.requests[0].query == {"access_token": TOKEN}
    assert TOKEN not in logged(caplog.records)


async def test_a_refused_token_flags_the_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    snapchat_server: FakeSnapchatServer,
    snapchat: str,
) -> None:
    snapchat_server.fake.fail_next(1, Failure.unauthorized())
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination("snapchat")
    assert destination.needs_action
    assert "access token" in destination.needs_action_reason
    assert TOKEN not in str(delivery)


async def test_an_event_snapchat_cannot_take_is_refused_or_skipped(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    snapchat_server: FakeSnapchatServer,
    snapchat: str,
) -> None:
    await client.create_sandbox_destination("sandbox")
    with pytest.raises(TenazError) as refused:
        await purchase(client, clock, action_source="app", destinations=["snapchat"])
    [violation] = refused.value.violations
    assert "Snapchat" in violation.description
    assert "Snap App ID" in violation.description

    stored = await purchase(client, clock, "order-2", action_source="app")
    assert [d.destination for d in stored.deliveries] == ["sandbox"]
    await run_jobs(runtime)
    assert snapchat_server.fake.request_count == 0


async def test_a_validate_only_destination_sends_to_the_validation_endpoint(
    client: TenazClient, runtime: Runtime, clock: FakeClock, snapchat_server: FakeSnapchatServer
) -> None:
    await create_snapchat(client, snapchat_server, "snapchat-check", validate_only=True)
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert snapchat_server.fake.requests[0].path == f"/v3/{PIXEL}/events/validate"
    assert snapchat_server.fake.total_events_received == 0


async def test_a_sandbox_behaving_as_snapchat_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock, snapchat_server: FakeSnapchatServer
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-snapchat",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="snapchat"),
        )
    )
    stored = await purchase(client, clock)
    await run_jobs(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert '"status": "VALID"' in delivery.attempts[0].response_excerpt
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == stored.event.event_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=37)
    assert snapchat_server.fake.request_count == 0
