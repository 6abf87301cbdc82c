"""A Reddit destination end to end: created over gRPC with its proto settings, events submitted
over gRPC and delivered to a fake Reddit over HTTP with Reddit's hashing and event names."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_reddit import Failure, FakeReddit
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import DeliveryCase, allowing, delivery, sha256, submitting
from tests.support import fire_due_retries, run_jobs

S = events_pb2
ACCOUNT = "t2_abc123"
TOKEN = "reddit-fake-token-for-tests"


@pytest.fixture
async def fake_reddit(clock: FakeClock) -> AsyncIterator[FakeServer[FakeReddit]]:
    async with FakeServer(CASE.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, fake_reddit: FakeServer[FakeReddit]) -> Settings:
    return allowing(settings, fake_reddit.base_url)


@pytest.fixture
async def reddit(client: TenazClient, fake_reddit: FakeServer[FakeReddit]) -> str:
    await client.create_destination(CASE.destination(fake_reddit.base_url))
    return "reddit"


def event(clock: FakeClock, event_id: str, **fields: Any) -> events_pb2.Event:
    fields.setdefault("event_name", "CompleteRegistration")
    fields.setdefault("email", "Maria.Silva+promo@Example.com")
    return make_event(
        event_id=event_id,
        event_time=clock.now() - dt.timedelta(minutes=1),
        destinations=["reddit"],
        **fields,
    )


CASE = DeliveryCase(
    "reddit",
    fake=lambda now: FakeReddit(now=now, access_tokens={ACCOUNT: TOKEN}),
    failure=Failure,
    destination=lambda base_url: destinations_pb2.Destination(
        name="reddit",
        enabled=True,
        reddit=destinations_pb2.RedditSettings(
            ad_account_id=ACCOUNT, access_token=TOKEN, base_url=base_url
        ),
    ),
    submit=submitting(lambda clock: event(clock, "order-1")),
    secrets=(TOKEN,),
)


async def test_an_event_reaches_reddit_with_its_hashing_and_naming(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_reddit: FakeServer[FakeReddit],
    reddit: str,
) -> None:
    stored = await client.submit_event(
        event(
            clock,
            "signup-1",
            phone="(11) 98765-4321",
            client_ip_address="203.0.113.9",
            client_user_agent="Mozilla/5.0",
            rdt_click_id="rdt-click-1",
            fbc="fb.1.1.meta-only",
        )
    )
    [pending] = stored.event.deliveries
    deadline = pending.deadline.ToDatetime(tzinfo=dt.UTC)
    assert deadline == clock.now() - dt.timedelta(minutes=1) + dt.timedelta(days=7)

    await run_jobs(runtime)

    assert (await delivery(client, "signup-1")).status == S.DELIVERY_STATUS_SUCCEEDED
    [accepted] = fake_reddit.fake.accepted
    [sent] = accepted.events
    assert sent["event_type"] == {"tracking_type": "SignUp"}
    assert sent["click_id"] == "rdt-click-1"
    assert sent["event_metadata"] == {"conversion_id": "signup-1"}
    assert sent["user"] == {
        "email": sha256("mariasilva@example.com"),
        "phone_number": sha256("+5511987654321"),
        "ip_address": sha256("203.0.113.9"),
        "user_agent": "Mozilla/5.0",
    }
    assert "fb.1.1.meta-only" not in json.dumps(sent)
    assert fake_reddit.fake.received_count("SignUp", "signup-1") == 1


async def test_a_transient_failure_waits_and_goes_at_the_next_attempt(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_reddit: FakeServer[FakeReddit],
    reddit: str,
) -> None:
    fake_reddit.fake.fail_next(1, Failure.throttled())
    await client.submit_event(event(clock, "order-1", event_name="Purchase", value=10.0,
                                    currency="BRL"))  # fmt: skip
    await run_jobs(runtime)

    waiting = await delivery(client, "order-1")
    assert waiting.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert waiting.attempts[0].http_status == 429
    clock.set(waiting.next_attempt_at.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(seconds=1))
    assert await fire_due_retries(runtime) == 1

    done = await delivery(client, "order-1")
    assert done.status == S.DELIVERY_STATUS_SUCCEEDED
    assert done.attempt_count == 2
    assert fake_reddit.fake.received_count("Purchase", "order-1") == 1


async def test_a_credential_error_flags_the_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_reddit: FakeServer[FakeReddit],
    reddit: str,
) -> None:
    fake_reddit.fake.fail_next(1, Failure.unauthorized())
    await client.submit_event(event(clock, "signup-1"))
    await run_jobs(runtime)

    assert (await delivery(client, "signup-1")).status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination(reddit)
    assert destination.needs_action
    assert "UNAUTHORIZED" in destination.needs_action_reason
    assert TOKEN not in destination.needs_action_reason
    assert destination.reddit.access_token_set and not destination.reddit.access_token


async def test_an_event_reddit_cannot_attribute_is_refused_or_skipped(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_reddit: FakeServer[FakeReddit],
    reddit: str,
    meta: str,
) -> None:
    # No click id and no match key Reddit takes: only Meta's click id and Meta's names.
    anonymous: dict[str, Any] = {"email": "", "fbc": "fb.1.1.abc"}
    with pytest.raises(TenazError) as caught:
        await client.submit_event(event(clock, "signup-1", **anonymous))
    [violation] = caught.value.violations
    assert violation.field.endswith("destinations[0]")
    assert "Reddit" in violation.description and "rdt_click_id" in violation.description

    unnamed = event(clock, "signup-2", **anonymous)
    del unnamed.destinations[:]
    stored = await client.submit_event(unnamed)
    assert [d.destination for d in stored.event.deliveries] == [meta]
    await run_jobs(runtime)
    assert fake_reddit.fake.request_count == 0


async def test_a_sandbox_behaving_as_reddit_delivers_in_process(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_destination(
        destinations_pb2.Destination(
            name="sandbox",
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(platform="reddit"),
        )
    )
    signup = event(clock, "signup-1", rdt_click_id="rdt-click-1")
    del signup.destinations[:]
    signup.destinations.append("sandbox")
    stored = await client.submit_event(signup)
    [pending] = stored.event.deliveries
    # Reddit's rules apply: its 7-day deadline.
    assert pending.deadline.ToDatetime(tzinfo=dt.UTC) - signup.event_time.ToDatetime(
        tzinfo=dt.UTC
    ) == dt.timedelta(days=7)

    await run_jobs(runtime)

    done = await delivery(client, "signup-1")
    assert done.status == S.DELIVERY_STATUS_SUCCEEDED
    assert "Successfully processed 1 conversion events" in done.attempts[0].response_excerpt
