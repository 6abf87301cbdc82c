"""The webhook end to end: a destination created over gRPC with WebhookSettings, events
submitted over gRPC and delivered, signed, to the fake receiver on loopback by the worker;
retries with the same webhook-id, needs_action, refusals, the egress policy, the signing
secret's format, and a sandbox that behaves as a webhook."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_webhook import Failure, FakeWebhookReceiver, FakeWebhookServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, only_delivery, submitting
from tests.support import fire_due_retries, free_port, run_jobs

S = events_pb2
SECRET = "whsec_" + base64.b64encode(b"tenaz-tests-webhook-signing-key-1").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"tenaz-tests-webhook-signing-key-2").decode()
HALF_HOUR = dt.timedelta(minutes=30)


@pytest.fixture
async def receiver(clock: FakeClock) -> AsyncIterator[FakeWebhookServer]:
    async with FakeWebhookServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, receiver: FakeWebhookServer) -> Settings:
    return allowing(settings, receiver.base_url)


def webhook_destination(url: str, secret: str = SECRET) -> destinations_pb2.Destination:
    return destinations_pb2.Destination(
        name="webhook",
        enabled=True,
        webhook=destinations_pb2.WebhookSettings(url=url, signing_secret=secret),
    )


@pytest.fixture
async def webhook(client: TenazClient, receiver: FakeWebhookServer) -> str:
    await client.create_destination(CASE.destination(receiver.base_url))
    return "webhook"


def purchase(clock: FakeClock, number: int) -> events_pb2.Event:
    return make_event(
        event_id=f"order-{number}",
        event_name="Purchase",
        event_time=clock.now() - dt.timedelta(minutes=1),
        email="Maria@Example.com",
        kwai_click_id="click-1",
        value=197.0,
        currency="BRL",
    )


CASE = DeliveryCase(
    "webhook",
    fake=lambda now: FakeWebhookReceiver(SECRET, now=now),
    failure=Failure,
    destination=lambda base_url: webhook_destination(base_url + "/hooks/tenaz"),
    submit=submitting(lambda clock: purchase(clock, 1)),
    secrets=(SECRET,),
)


async def refused(call: object) -> TenazError:
    with pytest.raises(TenazError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


async def test_an_event_is_delivered_signed_with_metas_hashes(
    client: TenazClient, runtime: Runtime, clock: FakeClock, receiver: FakeWebhookServer
) -> None:
    created = await client.create_destination(webhook_destination(receiver.base_url + "/hooks"))
    assert created.webhook.signing_secret == ""
    assert created.webhook.signing_secret_set
    assert created.webhook.url == receiver.base_url + "/hooks"

    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert receiver.fake.received_count("Purchase", "order-1") == 1
    assert receiver.fake.refused_signatures == 0
    [got] = receiver.fake.deliveries
    assert got.path == "/hooks"
    assert got.timestamp == int(clock.now().timestamp())
    assert got.data["hashed"] == {"em": hashlib.sha256(b"maria@example.com").hexdigest()}
    assert got.data["identifiers"] == {"kwai_click_id": "click-1"}
    assert got.data["custom_data"] == {"value": 197.0, "currency": "BRL"}
    body = receiver.fake.requests[0].body.decode()
    assert "maria@example.com" not in body.lower()


async def test_a_failing_receiver_gets_the_same_webhook_id_on_the_next_attempt(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    receiver: FakeWebhookServer,
    webhook: str,
) -> None:
    receiver.fake.fail_next(1, Failure.http_503())
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)
    assert (await only_delivery(client, stored.id)).status == S.DELIVERY_STATUS_WAITING_RETRY

    clock.advance(HALF_HOUR)
    await fire_due_retries(runtime)
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert [a.http_status for a in delivery.attempts] == [503, 204]
    first, second = receiver.fake.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) >= (
        HALF_HOUR.total_seconds()
    )
    assert receiver.fake.received_count("Purchase", "order-1") == 1


async def test_a_wrong_secret_flags_the_destination_and_the_event_waits(
    client: TenazClient, runtime: Runtime, clock: FakeClock, receiver: FakeWebhookServer
) -> None:
    await client.create_destination(
        webhook_destination(receiver.base_url + "/hooks", secret=OTHER_SECRET)
    )
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    destination = await client.get_destination("webhook")
    assert destination.needs_action
    assert "signing secret" in destination.needs_action_reason
    assert (await only_delivery(client, stored.id)).status == S.DELIVERY_STATUS_WAITING_RETRY
    assert receiver.fake.refused_signatures == 1


async def test_an_event_the_receiver_refuses_fails(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    receiver: FakeWebhookServer,
    webhook: str,
) -> None:
    receiver.fake.fail_next(1, Failure.bad_request())
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.last_error == "HTTP 400: refused by the receiver"
    assert not (await client.get_destination("webhook")).needs_action


async def test_an_internal_address_the_operator_did_not_allow_is_not_connected_to(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    # https passes the URL policy; the address guard refuses loopback when connecting.
    await client.create_destination(webhook_destination(f"https://127.0.0.1:{free_port()}/hooks"))
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    destination = await client.get_destination("webhook")
    assert destination.needs_action
    assert "TENAZ_ALLOWED_PLATFORM_URLS" in destination.needs_action_reason
    assert (await only_delivery(client, stored.id)).status == S.DELIVERY_STATUS_WAITING_RETRY


async def test_a_url_the_policy_refuses_or_a_malformed_secret_is_refused(
    client: TenazClient,
) -> None:
    error = await refused(
        client.create_destination(webhook_destination("http://hooks.example.com/x"))
    )
    assert [v.field for v in error.violations] == ["destination.webhook.url"]
    assert "https" in error.violations[0].description

    short = "whsec_" + base64.b64encode(b"too short").decode()
    for secret in (short, "not-a-whsec-secret", SECRET.removeprefix("whsec_")):
        error = await refused(
            client.create_destination(webhook_destination("https://hooks.example.com/x", secret))
        )
        [violation] = error.violations
        assert violation.field == "destination.webhook.signing_secret"
        assert "whsec_" in violation.description
        assert secret not in violation.description
    assert await client.list_destinations() == []


async def test_moving_the_webhook_needs_the_secret_again(
    client: TenazClient, receiver: FakeWebhookServer, webhook: str
) -> None:
    moved = destinations_pb2.Destination(name="webhook")
    moved.webhook.url = "https://hooks.example.com/elsewhere"
    error = await refused(client.update_destination(moved, ["webhook.url"]))
    assert [v.field for v in error.violations] == ["destination.webhook.signing_secret"]

    moved.webhook.signing_secret = OTHER_SECRET
    updated = await client.update_destination(moved, ["webhook.url", "webhook.signing_secret"])
    assert updated.webhook.url == "https://hooks.example.com/elsewhere"


async def test_a_sandbox_behaves_as_a_webhook(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-webhook",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="webhook"),
        )
    )
    stored = (await client.submit_event(purchase(clock, 1))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    event_time = stored.event.event_time.ToDatetime(tzinfo=dt.UTC)
    assert deadline - event_time == dt.timedelta(days=7)
    # It computed the Meta family's hashes, as a webhook reads them.
    assert stored.event.user_data.email == hashlib.sha256(b"maria@example.com").hexdigest()
