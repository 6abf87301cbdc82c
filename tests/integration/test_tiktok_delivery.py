"""TikTok end to end: a destination created over gRPC with its own settings message, events
submitted over gRPC and delivered by the worker to a fake TikTok over HTTP, with TikTok's
hashing and event names; retries, credentials, eligibility, and the sandbox as TikTok."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_tiktok import Code, Failure, FakeTikTok, FakeTikTokServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import (
    DeliveryCase,
    allowing,
    only_delivery,
    sha256,
    submitting,
)
from tests.support import fire_due_retries, run_jobs, status_history

S = events_pb2
D = destinations_pb2
PIXEL = "C4A1B2C3D4E5F6G7H8I9"
TOKEN = "tt-good-token"
HALF_HOUR = dt.timedelta(minutes=30)


def tiktok_destination(base_url: str) -> D.Destination:
    return D.Destination(
        name="tiktok",
        enabled=True,
        tiktok=D.TikTokSettings(
            pixel_code=PIXEL, access_token=TOKEN, test_event_code="TEST1234", base_url=base_url
        ),
    )


def purchase(clock: FakeClock, event_id: str = "pedido-1", **fields: Any) -> events_pb2.Event:
    fields.setdefault("ttclid", "E.C.P.v3RlY2xpZA")
    return make_event(
        event_id=event_id,
        event_name="Purchase",
        event_time=clock.now() - dt.timedelta(minutes=1),
        **fields,
    )


CASE = DeliveryCase(
    "tiktok",
    fake=lambda now: FakeTikTok(now=now, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    destination=tiktok_destination,
    submit=submitting(purchase),
    secrets=(TOKEN,),
)


@pytest.fixture
async def fake_tiktok(clock: FakeClock) -> AsyncIterator[FakeTikTokServer]:
    async with FakeTikTokServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, fake_tiktok: FakeTikTokServer) -> Settings:
    # The fake TikTok is on loopback, which the egress guard refuses unless allowed.
    return allowing(settings, fake_tiktok.base_url)


@pytest.fixture
async def tiktok(client: TenazClient, fake_tiktok: FakeTikTokServer) -> str:
    """A TikTok destination named 'tiktok' on the fake TikTok; returns its name."""
    created = await client.create_destination(CASE.destination(fake_tiktok.base_url))
    assert created.tiktok.access_token_set
    assert not created.tiktok.access_token  # write-only
    return created.name


async def test_an_event_goes_to_tiktok_with_its_hashing_and_event_names(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_tiktok: FakeTikTokServer,
    tiktok: str,
) -> None:
    response = await client.submit_event(
        purchase(
            clock,
            email=" Maria@Example.com",
            phone="(11) 98765-4321",
            first_name="Mary Ann",
            city="São Paulo",
            client_ip_address="203.0.113.7",
            client_user_agent="Mozilla/5.0",
            event_source_url="https://loja.example.com/obrigado",
            value=99.9,
            currency="brl",
        )
    )
    [delivery] = response.event.deliveries
    event_time = clock.now() - dt.timedelta(minutes=1)
    assert delivery.deadline.ToDatetime(tzinfo=dt.UTC) == event_time + dt.timedelta(days=7)

    await run_jobs(runtime)

    delivery = await only_delivery(client, response.event.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    fake = fake_tiktok.fake
    assert fake.received_count("CompletePayment", "pedido-1") == 1
    [request] = fake.requests
    assert request.headers["access-token"] == TOKEN
    [accepted] = fake.accepted
    assert (accepted.event_source, accepted.event_source_id, accepted.test_event_code) == (
        "web",
        PIXEL,
        "TEST1234",
    )
    [event] = accepted.events
    assert event["user"] == {
        "email": sha256("maria@example.com"),
        "phone": sha256("+5511987654321"),
        "first_name": sha256("maryann"),
        "ttclid": "E.C.P.v3RlY2xpZA",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    }
    assert event["properties"] == {"currency": "BRL", "value": 99.9}
    assert event["page"] == {"url": "https://loja.example.com/obrigado"}
    # Nothing raw went out or was kept.
    for raw in (b"maria", b"98765", b"Mary", b"Paulo"):
        assert raw not in request.body
    shown = (await client.get_event(response.event.id)).event.user_data
    assert shown.phone == sha256("+5511987654321")


async def test_a_transient_failure_waits_and_the_next_attempt_succeeds(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_tiktok: FakeTikTokServer,
    tiktok: str,
) -> None:
    fake_tiktok.fake.fail_next(1, Failure.too_frequent())
    stored = (await client.submit_event(purchase(clock))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    [attempt] = delivery.attempts
    assert (attempt.outcome, attempt.http_status, attempt.platform_code) == (
        S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM,
        200,
        Code.REQUEST_TOO_FREQUENT,
    )
    assert not (await client.get_destination(tiktok)).needs_action

    clock.advance(HALF_HOUR)
    assert await fire_due_retries(runtime) == 1
    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert await status_history(runtime, delivery.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]
    assert fake_tiktok.fake.received_count("CompletePayment", "pedido-1") == 1


async def test_an_expired_token_flags_the_destination_and_a_new_one_sends_at_once(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_tiktok: FakeTikTokServer,
    tiktok: str,
) -> None:
    fake_tiktok.fake.fail_next(1, Failure.token_expired())
    stored = (await client.submit_event(purchase(clock))).event
    await run_jobs(runtime)

    delivery = await only_delivery(client, stored.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert delivery.attempts[0].platform_code == Code.ACCESS_TOKEN_EXPIRE
    destination = await client.get_destination(tiktok)
    assert destination.needs_action
    assert "expired" in destination.needs_action_reason
    assert TOKEN not in destination.needs_action_reason

    destination.tiktok.access_token = TOKEN
    updated = await client.update_destination(destination, ["tiktok.access_token"])
    assert not updated.needs_action
    await run_jobs(runtime)
    assert (await only_delivery(client, stored.id)).status == S.DELIVERY_STATUS_SUCCEEDED


async def test_an_event_tiktok_refuses_fails_with_its_message(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_tiktok: FakeTikTokServer,
    tiktok: str,
) -> None:
    fake_tiktok.fake.refuse(["pedido-2"])
    good = (await client.submit_event(purchase(clock, "pedido-1"))).event
    bad = (await client.submit_event(purchase(clock, "pedido-2"))).event
    await run_jobs(runtime)

    assert (await only_delivery(client, good.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    failed = await only_delivery(client, bad.id)
    assert failed.status == S.DELIVERY_STATUS_FAILED
    assert failed.attempts[-1].platform_code in (Code.PARAM_ERROR, Code.PARTIAL_OK)
    assert failed.last_error
    assert fake_tiktok.fake.received_count("CompletePayment", "pedido-2") == 0


async def test_an_event_tiktok_cannot_match_is_refused_when_named_and_skipped_otherwise(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_tiktok: FakeTikTokServer,
    tiktok: str,
    meta: str,
) -> None:
    # A Meta browser id alone: Tenaz and Meta take it, TikTok could tie it to no one.
    unmatched = {"ttclid": "", "fbp": "fb.1.1700000000000.123456"}
    with pytest.raises(TenazError) as refused:
        await client.submit_event(purchase(clock, destinations=[tiktok], **unmatched))
    [violation] = refused.value.violations
    assert violation.field == "event.destinations[0]"
    assert "ttclid" in violation.description
    assert "TikTok" in violation.description

    stored = (await client.submit_event(purchase(clock, **unmatched))).event
    assert [d.destination for d in stored.deliveries] == [meta]
    await run_jobs(runtime)
    assert fake_tiktok.fake.request_count == 0


async def test_a_sandbox_behaving_as_tiktok_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_tiktok: FakeTikTokServer
) -> None:
    await client.create_destination(
        D.Destination(name="sandbox", enabled=True, sandbox=D.SandboxSettings(platform="tiktok"))
    )
    ok = (await client.submit_event(purchase(clock, "pedido-1", email="a@example.com"))).event
    rejected = (
        await client.submit_event(purchase(clock, "pedido-2", extra={"sandbox_reject": True}))
    ).event
    with pytest.raises(TenazError):
        # The sandbox takes TikTok's rules: an event it cannot match is refused.
        await client.submit_event(
            purchase(clock, "pedido-3", ttclid="", fbp="fb.1.1.2", destinations=["sandbox"])
        )
    await run_jobs(runtime)

    delivery = await only_delivery(client, ok.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert json.loads(delivery.attempts[0].response_excerpt)["code"] == 0
    assert (await only_delivery(client, rejected.id)).status == S.DELIVERY_STATUS_FAILED
    # In process: nothing reached the fake on loopback.
    assert fake_tiktok.fake.request_count == 0
