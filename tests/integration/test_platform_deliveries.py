"""What every destination does alike, whatever its platform, end to end: created over gRPC,
sent to by the worker, its fake on loopback. A 503 from the platform waits for the retry and
the next attempt delivers the event once; a base URL the operator did not allow is refused when
the destination is created; and no attempt, destination or log line shows a secret.

Each case is one platform as its own delivery test module describes it (the module's `CASE`),
so a platform that breaks one of these fails under its own name."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_http import FakeServer, ScriptedPlatform
from jobs.platforms.fake_meta import Failure as MetaFailure
from jobs.platforms.fake_meta import FakeMeta
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration import (
    test_ga4_delivery,
    test_google_ads_delivery,
    test_kwai_delivery,
    test_linkedin_delivery,
    test_pinterest_delivery,
    test_reddit_delivery,
    test_snapchat_delivery,
    test_tiktok_delivery,
    test_webhook_delivery,
)
from tests.integration.platform_helpers import DeliveryCase, allowing, only_delivery, submitting
from tests.support import fire_due_retries, logged, run_jobs, status_history

S = events_pb2
META_PIXEL = "111"
META_TOKEN = "EAAB-every-destination-token"


def meta_purchase(clock: FakeClock) -> events_pb2.Event:
    return make_event(
        event_id="order-1",
        event_name="Purchase",
        event_time=clock.now() - dt.timedelta(minutes=1),
        email="maria@example.com",
        value=99.9,
        currency="BRL",
    )


META = DeliveryCase(
    "meta",
    fake=lambda now: FakeMeta(now=now, access_tokens={META_PIXEL: META_TOKEN}),
    failure=MetaFailure,
    destination=lambda base_url: destinations_pb2.Destination(
        name="meta",
        enabled=True,
        meta=destinations_pb2.MetaSettings(
            pixel_id=META_PIXEL, access_token=META_TOKEN, base_url=base_url
        ),
    ),
    submit=submitting(meta_purchase),
    secrets=(META_TOKEN,),
)
CASES = [
    pytest.param(case, id=case.name)
    for case in (
        META,
        test_tiktok_delivery.CASE,
        test_google_ads_delivery.CASE,
        test_ga4_delivery.CASE,
        test_pinterest_delivery.CASE,
        test_snapchat_delivery.CASE,
        test_reddit_delivery.CASE,
        test_linkedin_delivery.CASE,
        test_kwai_delivery.CASE,
        test_webhook_delivery.CASE,
    )
]

Case = DeliveryCase[ScriptedPlatform[Any]]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def platform(case: Case, clock: FakeClock) -> AsyncIterator[FakeServer[Any]]:
    async with FakeServer(case.fake(lambda: clock.now().timestamp())) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, platform: FakeServer[Any]) -> Settings:
    return allowing(settings, platform.base_url)


@pytest.fixture
async def destination(client: TenazClient, case: Case, platform: FakeServer[Any]) -> str:
    created = await client.create_destination(case.destination(platform.base_url))
    return created.name


async def test_a_503_waits_for_the_retry_and_the_next_attempt_delivers_once(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    case: Case,
    platform: FakeServer[Any],
    destination: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    platform.fake.fail_next(1, case.failure.http_503())
    stored = await case.submit(client, clock)
    await run_jobs(runtime)

    waiting = await only_delivery(client, stored.id)
    assert waiting.status == S.DELIVERY_STATUS_WAITING_RETRY
    [attempt] = waiting.attempts
    assert (attempt.outcome, attempt.http_status) == (S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM, 503)
    assert not (await client.get_destination(destination)).needs_action

    clock.set(waiting.next_attempt_at.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(seconds=1))
    assert await fire_due_retries(runtime) == 1
    done = await only_delivery(client, stored.id)
    assert (done.status, done.attempt_count) == (S.DELIVERY_STATUS_SUCCEEDED, 2)
    assert await status_history(runtime, done.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]
    assert platform.fake.total_events_received == 1

    shown = logged(caplog.records) + repr(done) + repr(await client.get_destination(destination))
    assert "delivery.attempt.finished" in shown
    for secret in case.secrets:
        assert secret not in shown


async def test_a_base_url_the_operator_did_not_allow_is_refused_on_create(
    client: TenazClient, case: Case
) -> None:
    # Loopback is internal: only an operator's TENAZ_ALLOWED_PLATFORM_URLS lets it through.
    unlisted = case.destination("http://127.0.0.1:5432")
    with pytest.raises(TenazError) as refused:
        await client.create_destination(unlisted)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = [v.field for v in refused.value.violations]
    settings = f"destination.{unlisted.WhichOneof('platform')}."
    assert fields
    assert all(f.startswith(settings) and f.endswith("url") for f in fields), fields
    assert await client.list_destinations() == []
