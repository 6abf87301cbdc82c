"""Google Ads end to end: a destination made over gRPC with its proto settings, events submitted
over gRPC, delivered by the worker to the fake Google Ads over HTTP (token endpoint and upload),
retried, flagged, refused when the platform cannot take them; and the sandbox behaving as
Google Ads in process."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_google_ads import Failure, FakeGoogleAds, FakeGoogleAdsServer, TokenFailure
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import (
    DeliveryCase,
    allowing,
    only_delivery,
    sha256,
    submitting,
)
from tests.support import fire_due_retries, run_jobs

S = events_pb2
CUSTOMER = "1234567890"
CREDENTIALS = {
    "client_id": "delivery-client.apps.googleusercontent.com",
    "client_secret": "delivery-client-secret",
    "refresh_token": "1//delivery-refresh-token",
}
DEVELOPER_TOKEN = "delivery-developer-token"
RETRY = dt.timedelta(seconds=10)


@pytest.fixture
async def google(clock: FakeClock) -> AsyncIterator[FakeGoogleAdsServer]:
    async with FakeGoogleAdsServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, google: FakeGoogleAdsServer) -> Settings:
    # The fake is on loopback, which the egress guard refuses unless the operator allows it.
    return allowing(settings, google.base_url)


def google_ads_destination(base_url: str, **changes: Any) -> destinations_pb2.Destination:
    fields: dict[str, Any] = {
        "customer_id": "123-456-7890",
        "developer_token": DEVELOPER_TOKEN,
        "conversion_actions": {"Purchase": "555"},
        "base_url": base_url,
        "token_base_url": base_url,
        **CREDENTIALS,
        **changes,
    }
    destination = destinations_pb2.Destination(
        name="google-ads", enabled=True, google_ads=destinations_pb2.GoogleAdsSettings(**fields)
    )
    destination.retry_interval.FromTimedelta(RETRY)
    return destination


async def create_google_ads(
    client: TenazClient, google: FakeGoogleAdsServer, **changes: Any
) -> destinations_pb2.Destination:
    return await client.create_destination(google_ads_destination(google.base_url, **changes))


def purchase(clock: FakeClock, event_id: str = "pedido-1", **fields: Any) -> events_pb2.Event:
    fields.setdefault("gclid", "Cj0KCQiA-delivery-gclid")
    fields.setdefault("event_name", "Purchase")
    return make_event(
        event_id=event_id,
        event_time=clock.now() - dt.timedelta(minutes=10),
        value=99.9,
        currency="brl",
        **fields,
    )


CASE = DeliveryCase(
    "google-ads",
    fake=lambda now: FakeGoogleAds(
        now=now,
        developer_token=DEVELOPER_TOKEN,
        customers={CUSTOMER: {"555", "556"}},
        **CREDENTIALS,
    ),
    failure=Failure,
    destination=google_ads_destination,
    submit=submitting(purchase),
    secrets=(DEVELOPER_TOKEN, CREDENTIALS["client_secret"], CREDENTIALS["refresh_token"]),
)


async def test_an_event_is_delivered_with_googles_hashing(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    created = await create_google_ads(client, google)
    shown = created.google_ads
    assert (shown.customer_id, dict(shown.conversion_actions)) == (
        "123-456-7890",
        {"Purchase": "555"},
    )
    assert shown.developer_token_set and shown.refresh_token_set and shown.client_secret_set
    assert not shown.developer_token and not shown.refresh_token

    response = await client.submit_event(
        purchase(
            clock, email=" Maria.Silva@Gmail.com", phone="(11) 98765-4321", order_id="pedido-1"
        )
    )
    await run_jobs(runtime)

    delivery = await only_delivery(client, response.event.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    [accepted] = google.fake.accepted
    conversion = accepted.conversion
    assert conversion["gclid"] == "Cj0KCQiA-delivery-gclid"
    assert conversion["conversionAction"] == f"customers/{CUSTOMER}/conversionActions/555"
    assert (conversion["orderId"], conversion["currencyCode"]) == ("pedido-1", "BRL")
    assert conversion["userIdentifiers"] == [
        {"hashedEmail": sha256("mariasilva@gmail.com")},
        {"hashedPhoneNumber": sha256("+5511987654321")},
    ]
    assert google.fake.received_count("555", "pedido-1") == 1
    # The deadline is the lookback window (90 days unless the destination says otherwise).
    deadline = delivery.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == clock.now() - dt.timedelta(minutes=10) + dt.timedelta(days=90)


async def test_a_transient_failure_waits_for_the_retry_and_succeeds(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    await create_google_ads(client, google)
    google.fake.fail_next(1, Failure.quota_exhausted())
    response = await client.submit_event(purchase(clock))

    await run_jobs(runtime)
    delivery = await only_delivery(client, response.event.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    [attempt] = delivery.attempts
    assert (attempt.outcome, attempt.http_status) == (S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM, 429)
    assert "RESOURCE_EXHAUSTED" in attempt.message

    clock.advance(RETRY + dt.timedelta(seconds=1))
    assert await fire_due_retries(runtime) == 1
    delivery = await only_delivery(client, response.event.id)
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempt_count == 2
    # The access token was kept across the attempts.
    assert google.fake.tokens_issued == 1
    assert google.fake.total_events_received == 1


async def test_refused_credentials_set_needs_action_until_an_attempt_goes_through(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    await create_google_ads(client, google)
    google.fake.fail_token_next(1, TokenFailure.invalid_grant())
    response = await client.submit_event(purchase(clock))

    await run_jobs(runtime)
    delivery = await only_delivery(client, response.event.id)
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination("google-ads")
    assert destination.needs_action
    assert "invalid_grant" in destination.needs_action_reason
    assert CREDENTIALS["refresh_token"] not in destination.needs_action_reason

    clock.advance(RETRY + dt.timedelta(seconds=1))
    await fire_due_retries(runtime)
    assert (await only_delivery(client, response.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    assert not (await client.get_destination("google-ads")).needs_action


async def test_a_conversion_google_refuses_fails_alone(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    await create_google_ads(client, google)
    google.fake.refuse("Cj0KCQiA-expired-click", "EXPIRED_EVENT")
    refused = await client.submit_event(purchase(clock, "pedido-1", gclid="Cj0KCQiA-expired-click"))
    taken = await client.submit_event(purchase(clock, "pedido-2"))

    await run_jobs(runtime)

    failed = await only_delivery(client, refused.event.id)
    assert failed.status == S.DELIVERY_STATUS_FAILED
    assert failed.attempts[0].message.startswith("EXPIRED_EVENT: ")
    assert (await only_delivery(client, taken.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    assert len([r for r in google.fake.requests if r.path != "/token"]) == 1


async def test_what_google_ads_cannot_take_is_refused_when_named_and_skipped_otherwise(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    await create_google_ads(client, google)
    await client.create_sandbox_destination("sandbox")
    for event, problem in (
        (purchase(clock, "lead-1", event_name="Lead"), "no conversion action for 'Lead'"),
        (purchase(clock, "p-2", gclid="", fbp="fb.1.1700000000000.42"), "needs a Google click id"),
    ):
        named = make_event(
            event_id=event.event_id,
            event_name=event.event_name,
            event_time=event.event_time.ToDatetime(tzinfo=dt.UTC),
            destinations=["google-ads"],
            gclid=event.user_data.gclid,
            fbp=event.user_data.fbp,
        )
        with pytest.raises(TenazError) as caught:
            await client.submit_event(named)
        [violation] = caught.value.violations
        assert violation.field.endswith("destinations[0]")
        assert problem in violation.description
        # Not named: it goes to the destinations that can take it.
        response = await client.submit_event(event)
        assert [d.destination for d in response.event.deliveries] == ["sandbox"]


async def test_an_event_with_only_an_email_is_an_enhanced_conversion_for_leads(
    client: TenazClient, runtime: Runtime, clock: FakeClock, google: FakeGoogleAdsServer
) -> None:
    await create_google_ads(client, google, conversion_actions={"Lead": "556"})
    response = await client.submit_event(
        purchase(clock, "lead-9", event_name="Lead", gclid="", email="lead@example.com")
    )
    await run_jobs(runtime)
    assert (await only_delivery(client, response.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    [accepted] = google.fake.accepted
    assert "gclid" not in accepted.conversion
    assert accepted.action_id == "556"


async def test_a_sandbox_behaving_as_google_ads_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox-google",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="google_ads"),
        )
    )
    good = await client.submit_event(purchase(clock, "lead-1", event_name="Lead"))
    bad_click = await client.submit_event(purchase(clock, "p-2", gclid="not a gclid"))
    switched = await client.submit_event(purchase(clock, "p-3", extra={"sandbox_reject": True}))
    with pytest.raises(TenazError) as caught:
        # What Google Ads cannot take, the sandbox cannot either.
        await client.submit_event(
            purchase(clock, "p-4", gclid="", fbp="fb.1.1.2", destinations=["sandbox-google"])
        )
    assert "needs a Google click id" in caught.value.violations[0].description

    await run_jobs(runtime)

    assert (await only_delivery(client, good.event.id)).status == S.DELIVERY_STATUS_SUCCEEDED
    refused = await only_delivery(client, bad_click.event.id)
    assert refused.status == S.DELIVERY_STATUS_FAILED
    assert refused.attempts[0].message.startswith("UNPARSEABLE_GCLID: ")
    assert (await only_delivery(client, switched.event.id)).status == S.DELIVERY_STATUS_FAILED
