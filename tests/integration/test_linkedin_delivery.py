"""A LinkedIn destination end to end: created over gRPC with its proto settings (conversion
rules per event name), events submitted over gRPC and delivered to a fake LinkedIn over HTTP
with LinkedIn's hashing and the event's conversion rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_linkedin import Failure, FakeLinkedIn
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, delivery, sha256, submitting
from tests.support import fire_due_retries, run_jobs

S = events_pb2
TOKEN = "linkedin-fake-token-for-tests"


@pytest.fixture
async def fake_linkedin(clock: FakeClock) -> AsyncIterator[FakeServer[FakeLinkedIn]]:
    async with FakeServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, fake_linkedin: FakeServer[FakeLinkedIn]) -> Settings:
    return allowing(settings, fake_linkedin.base_url)


@pytest.fixture
async def linkedin(client: TenazClient, fake_linkedin: FakeServer[FakeLinkedIn]) -> str:
    created = await client.create_destination(CASE.destination(fake_linkedin.base_url))
    assert created.linkedin.access_token_set and not created.linkedin.access_token
    assert dict(created.linkedin.conversion_rules) == {"Purchase": "104012"}
    return "linkedin"


def event(clock: FakeClock, event_id: str, **fields: Any) -> events_pb2.Event:
    fields.setdefault("event_name", "Purchase")
    fields.setdefault("email", " Maria.Silva+promo@Example.com")
    return make_event(
        event_id=event_id,
        event_time=clock.now() - dt.timedelta(minutes=1),
        destinations=["linkedin"],
        **fields,
    )


CASE = DeliveryCase(
    "linkedin",
    fake=lambda now: FakeLinkedIn(now=now, access_tokens={TOKEN}, conversion_rules={"104012"}),
    failure=Failure,
    destination=lambda base_url: destinations_pb2.Destination(
        name="linkedin",
        enabled=True,
        linkedin=destinations_pb2.LinkedInSettings(
            access_token=TOKEN, conversion_rules={"Purchase": "104012"}, base_url=base_url
        ),
    ),
    submit=submitting(lambda clock: event(clock, "order-1")),
    secrets=(TOKEN,),
)


async def test_an_event_reaches_linkedin_with_its_hashing_and_rule(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_linkedin: FakeServer[FakeLinkedIn],
    linkedin: str,
) -> None:
    submitted = event(
        clock, "order-1", li_fat_id="fat-1", value=1500.0, currency="brl", first_name="Maria"
    )
    stored = await client.submit_event(submitted)
    [pending] = stored.event.deliveries
    happened = submitted.event_time.ToDatetime(tzinfo=dt.UTC)
    assert pending.deadline.ToDatetime(tzinfo=dt.UTC) == happened + dt.timedelta(days=90)

    await run_jobs(runtime)

    assert (await delivery(client, "order-1")).status == S.DELIVERY_STATUS_SUCCEEDED
    [accepted] = fake_linkedin.fake.accepted
    [element] = accepted.taken
    assert element == {
        "conversion": "urn:lla:llaPartnerConversion:104012",
        "conversionHappenedAt": int(happened.timestamp()) * 1000,
        "conversionValue": {"currencyCode": "BRL", "amount": "1500.0"},
        "eventId": "order-1",
        "user": {
            "userIds": [
                # LinkedIn's rule: trimmed and lowercased, nothing removed.
                {"idType": "SHA256_EMAIL", "idValue": sha256("maria.silva+promo@example.com")},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "fat-1"},
            ]
        },
    }
    assert fake_linkedin.fake.received_count("104012", "order-1") == 1
    # Only the hashes LinkedIn reads are stored for it: no first name, in any form.
    assert stored.event.event.user_data.first_name == ""
    assert stored.event.event.user_data.email == sha256("maria.silva+promo@example.com")


async def test_a_throttled_request_waits_and_goes_at_the_next_attempt(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_linkedin: FakeServer[FakeLinkedIn],
    linkedin: str,
) -> None:
    fake_linkedin.fake.fail_next(1, Failure.throttled())
    await client.submit_event(event(clock, "order-1"))
    await run_jobs(runtime)

    waiting = await delivery(client, "order-1")
    assert waiting.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert waiting.attempts[0].http_status == 429
    clock.set(waiting.next_attempt_at.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(seconds=1))
    assert await fire_due_retries(runtime) == 1

    done = await delivery(client, "order-1")
    assert (done.status, done.attempt_count) == (S.DELIVERY_STATUS_SUCCEEDED, 2)
    assert fake_linkedin.fake.received_count("104012", "order-1") == 1


async def test_a_revoked_token_flags_the_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_linkedin: FakeServer[FakeLinkedIn],
    linkedin: str,
) -> None:
    fake_linkedin.fake.fail_next(1, Failure.token_revoked())
    await client.submit_event(event(clock, "order-1"))
    await run_jobs(runtime)

    waiting = await delivery(client, "order-1")
    assert waiting.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert waiting.attempts[0].platform_code == 65601
    destination = await client.get_destination(linkedin)
    assert destination.needs_action
    assert "REVOKED_ACCESS_TOKEN" in destination.needs_action_reason


async def test_an_element_linkedin_refuses_fails_alone(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_linkedin: FakeServer[FakeLinkedIn],
    linkedin: str,
) -> None:
    fake_linkedin.fake.refuse_event("order-2", 400, "conversionValue is invalid")
    for number in (1, 2, 3):
        await client.submit_event(event(clock, f"order-{number}"))
    await run_jobs(runtime)

    statuses = [(await delivery(client, f"order-{n}")).status for n in (1, 2, 3)]
    assert statuses == [
        S.DELIVERY_STATUS_SUCCEEDED,
        S.DELIVERY_STATUS_FAILED,
        S.DELIVERY_STATUS_SUCCEEDED,
    ]
    failed = await delivery(client, "order-2")
    assert "conversionValue is invalid" in failed.attempts[0].message


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param({"event_name": "Lead", "li_fat_id": "fat-1"}, "conversion rule for 'Lead'",
                     id="no-rule"),
        pytest.param({"email": "", "fbc": "fb.1.1.abc"}, "li_fat_id", id="no-identity"),
    ],
)  # fmt: skip
async def test_an_event_linkedin_cannot_take_is_refused_or_skipped(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_linkedin: FakeServer[FakeLinkedIn],
    linkedin: str,
    meta: str,
    fields: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(TenazError) as caught:
        await client.submit_event(event(clock, "event-1", **fields))
    [violation] = caught.value.violations
    assert violation.field.endswith("destinations[0]")
    assert "LinkedIn" in violation.description and problem in violation.description

    unnamed = event(clock, "event-2", **fields)
    del unnamed.destinations[:]
    stored = await client.submit_event(unnamed)
    assert [d.destination for d in stored.event.deliveries] == [meta]
    await run_jobs(runtime)
    assert fake_linkedin.fake.request_count == 0


async def test_a_sandbox_behaving_as_linkedin_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="linkedin"),
        )
    )
    purchase = event(clock, "order-1")
    del purchase.destinations[:]
    purchase.destinations.append("sandbox")
    stored = await client.submit_event(purchase)
    [pending] = stored.event.deliveries
    # LinkedIn's rules apply: its 90-day deadline, and its recipe's conversion rules.
    happened = purchase.event_time.ToDatetime(tzinfo=dt.UTC)
    assert pending.deadline.ToDatetime(tzinfo=dt.UTC) - happened == dt.timedelta(days=90)

    await run_jobs(runtime)

    done = await delivery(client, "order-1")
    assert done.status == S.DELIVERY_STATUS_SUCCEEDED
    assert '"status": 201' in done.attempts[0].response_excerpt

    custom = event(clock, "custom-1", event_name="SpinTheWheel")
    del custom.destinations[:]
    custom.destinations.append("sandbox")
    with pytest.raises(TenazError) as caught:
        await client.submit_event(custom)
    assert "conversion rule" in caught.value.violations[0].description
