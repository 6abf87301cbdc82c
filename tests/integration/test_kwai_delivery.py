"""Kwai end to end: a destination created over gRPC with KwaiSettings, events submitted over
gRPC and delivered to the fake Kwai over loopback by the worker; retries, needs_action,
eligibility, and a sandbox that behaves as Kwai."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_kwai import Failure, FakeKwai, FakeKwaiServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, only_delivery, submitting
from tests.support import fire_due_retries, run_jobs

S = events_pb2
PIXEL = "276454450988322"
TOKEN = "kwai-fake-token-for-tests"
HALF_HOUR = dt.timedelta(minutes=30)


@pytest.fixture
async def fake_kwai(clock: FakeClock) -> AsyncIterator[FakeKwaiServer]:
    async with FakeKwaiServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, fake_kwai: FakeKwaiServer) -> Settings:
    return allowing(settings, fake_kwai.base_url)


def kwai_destination(base_url: str, *, token: str = TOKEN) -> destinations_pb2.Destination:
    return destinations_pb2.Destination(
        name="kwai",
        enabled=True,
        kwai=destinations_pb2.KwaiSettings(
            pixel_id=PIXEL, access_token=token, test=True, base_url=base_url
        ),
    )


async def create_kwai(
    client: TenazClient, fake_kwai: FakeKwaiServer, *, token: str = TOKEN
) -> destinations_pb2.Destination:
    return await client.create_destination(kwai_destination(fake_kwai.base_url, token=token))


@pytest.fixture
async def kwai(client: TenazClient, fake_kwai: FakeKwaiServer) -> str:
    await create_kwai(client, fake_kwai)
    return "kwai"


def purchase(clock: FakeClock, number: int, **fields: Any) -> events_pb2.Event:
    fields.setdefault("kwai_click_id", f"click-{number}")
    return make_event(
        event_id=f"order-{number}",
        event_name=fields.pop("event_name", "Purchase"),
        event_time=clock.now() - dt.timedelta(minutes=1),
        email="maria@example.com",
        value=197.0,
        currency="BRL",
        **fields,
    )


CASE = DeliveryCase(
    "kwai",
    fake=lambda now: FakeKwai(now=now, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    destination=kwai_destination,
    submit=submitting(lambda clock: purchase(clock, 1)),
    secrets=(TOKEN,),
)


async def test_an_event_with_a_kwai_click_id_is_delivered_by_kwais_rules(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_kwai: FakeKwaiServer
) -> None:
    created = await create_kwai(client, fake_kwai)
    assert created.kwai.access_token == ""
    assert created.kwai.access_token_set and created.kwai.test
    assert (created.kwai.pixel_id, created.kwai.base_url) == (PIXEL, fake_kwai.base_url)

    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert fake_kwai.fake.received_count("EVENT_PURCHASE", "click-1") == 1
    [accepted] = fake_kwai.fake.accepted
    assert (accepted.pixel_id, accepted.test_flag) == (PIXEL, True)
    assert accepted.properties == {"value": 197.0, "currency": "BRL"}
    # Kwai matches by click id only: no customer data, hashed or not, is sent.
    [request] = fake_kwai.fake.requests
    assert set(json.loads(request.body)) == {
        *("access_token", "pixelId", "clickid", "event_name", "is_attributed", "mmpcode"),
        *("pixelSdkVersion", "properties", "testFlag", "trackFlag", "third_party"),
    }
    # And none is stored for it: Kwai reads no hashing family, so the email is dropped.
    assert stored.event.user_data == events_pb2.UserData(kwai_click_id="click-1")


async def test_a_busy_kwai_is_tried_again_after_the_retry_interval(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_kwai: FakeKwaiServer, kwai: str
) -> None:
    fake_kwai.fake.fail_next(1, Failure.busy())
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert "try again" in delivery.last_error

    clock.advance(HALF_HOUR)
    await fire_due_retries(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempt_count == 2
    assert fake_kwai.fake.received_count("EVENT_PURCHASE", "click-1") == 1


async def test_a_refused_token_flags_the_destination_and_the_event_waits(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_kwai: FakeKwaiServer
) -> None:
    await create_kwai(client, fake_kwai, token="kwai-revoked-token")
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    destination = await client.get_destination("kwai")
    assert destination.needs_action
    assert "access_token invalid" in destination.needs_action_reason
    assert "kwai-revoked-token" not in destination.needs_action_reason
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert "kwai-revoked-token" not in str(delivery)


async def test_an_event_kwai_refuses_fails_with_kwais_message(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_kwai: FakeKwaiServer, kwai: str
) -> None:
    # Kwai has no name for Search: the destination sends it as it is, and Kwai refuses it.
    stored = (await client.submit_event(purchase(clock, 1, event_name="Search"))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.last_error == "refused by Kwai: event_name invalid"
    assert not (await client.get_destination("kwai")).needs_action


async def test_an_event_without_a_kwai_click_id_is_refused_or_skipped(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_kwai: FakeKwaiServer, kwai: str
) -> None:
    await client.create_sandbox_destination("sandbox")
    named = purchase(clock, 1, kwai_click_id="", destinations=["kwai"])
    with pytest.raises(TenazError) as caught:
        await client.submit_event(named)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = caught.value.violations
    assert violation.field.endswith("destinations[0]")
    assert "kwai_click_id" in violation.description

    # Naming no destination, it goes where it can: the sandbox, not Kwai.
    stored = (await client.submit_event(purchase(clock, 2, kwai_click_id=""))).event
    assert [d.destination for d in stored.deliveries] == ["sandbox"]
    await run_jobs(runtime)
    assert fake_kwai.fake.request_count == 0


async def test_a_sandbox_behaves_as_kwai(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-kwai",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="kwai"),
        )
    )
    stored = (await client.submit_event(purchase(clock, 1))).event
    named = purchase(clock, 2, kwai_click_id="", destinations=["sandbox-kwai"])
    with pytest.raises(TenazError):
        await client.submit_event(named)
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    # Kwai's deadline (7 days, unverified) applies to it.
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    event_time = stored.event.event_time.ToDatetime(tzinfo=dt.UTC)
    assert deadline - event_time == dt.timedelta(days=7)
