"""The retry rules against a fake Meta over HTTP, with the clock moved by hand:
30 minutes after the end of the last attempt, to the second; the per-destination
interval; the last attempt before the 7-day deadline; never a send past it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from tests.support import META_REFUSES, fire_due_retries, run_jobs, scheduled_jobs, status_history

S = events_pb2
HALF_HOUR = dt.timedelta(minutes=30)


def slow_platform(fake_meta: FakeMetaServer, clock: FakeClock, seconds: float) -> None:
    """Each request takes `seconds` of (fake) time, so attempts have a real duration."""
    original = fake_meta.fake.handle

    async def handle(*args: Any, **kwargs: Any) -> Any:
        clock.advance(seconds)
        return await original(*args, **kwargs)

    fake_meta.fake.handle = handle  # type: ignore[method-assign]


async def submit_one(
    client: TenazClient, clock: FakeClock, event_id: str = "order-1", **fields: Any
) -> events_pb2.StoredEvent:
    fields.setdefault("event_time", clock.now() - dt.timedelta(minutes=1))
    fields.setdefault("email", "maria@example.com")
    response = await client.submit_event(
        make_event(event_id=event_id, event_name="Purchase", **fields)
    )
    return response.event


async def test_retry_is_due_30_minutes_after_the_end_of_the_failed_attempt(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    slow_platform(fake_meta, clock, seconds=7)
    fake_meta.fake.fail_next(1, Failure.http_500())
    stored = await submit_one(client, clock)
    started = clock.now()

    await run_jobs(runtime)

    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    [attempt] = delivery.attempts
    assert attempt.outcome == S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM
    assert attempt.http_status == 500
    ended = attempt.finished_at.ToDatetime(tzinfo=dt.UTC)
    assert ended == started + dt.timedelta(seconds=7)
    due = delivery.next_attempt_at.ToDatetime(tzinfo=dt.UTC)
    assert due == ended + HALF_HOUR
    assert [at for _, at in await scheduled_jobs(runtime)] == [due]

    clock.set(due - dt.timedelta(seconds=1))
    await fire_due_retries(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert delivery.attempt_count == 1

    clock.set(due)
    assert await fire_due_retries(runtime) == 1
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempt_count == 2
    assert delivery.attempts[1].started_at.ToDatetime(tzinfo=dt.UTC) == due
    assert await status_history(runtime, delivery.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]
    assert fake_meta.fake.received_count("Purchase", "order-1") == 1


async def test_a_persisting_problem_is_retried_every_30_minutes_until_it_clears(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.throttle())
    fake_meta.fake.fail_next(1, Failure.unavailable())
    fake_meta.fake.fail_next(1, Failure.buc_throttle())
    stored = await submit_one(client, clock)
    await run_jobs(runtime)
    for _ in range(3):
        clock.advance(HALF_HOUR)
        await fire_due_retries(runtime)

    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    starts = [a.started_at.ToDatetime(tzinfo=dt.UTC) for a in delivery.attempts]
    assert [b - a for a, b in itertools.pairwise(starts)] == [HALF_HOUR] * 3
    assert [a.platform_code for a in delivery.attempts] == [17, 2, 80004, 0]
    assert await status_history(runtime, delivery.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "WAITING_RETRY",
        "RESENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]


async def test_a_destination_can_override_the_retry_interval(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    await client.create_meta_destination(
        "fast",
        pixel_id="111",
        access_token="good-token",
        base_url=fake_meta.base_url,
        retry_interval=dt.timedelta(seconds=10),
    )
    fake_meta.fake.fail_next(1, Failure.http_503())
    stored = await submit_one(client, clock)
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.next_attempt_at.ToDatetime(tzinfo=dt.UTC) == clock.now() + dt.timedelta(
        seconds=10
    )


async def test_invalid_data_fails_at_once_with_metas_message(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    stored = await submit_one(client, clock, extra=META_REFUSES)
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.failure_reason == S.FAILURE_REASON_REJECTED
    [attempt] = delivery.attempts
    assert attempt.outcome == S.ATTEMPT_OUTCOME_REJECTED
    assert (attempt.http_status, attempt.platform_code) == (400, 100)
    assert attempt.message and attempt.message in delivery.last_error
    assert await scheduled_jobs(runtime) == []


async def test_the_last_attempt_happens_before_the_deadline_then_the_delivery_expires(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    # Meta keeps an event for 7 days: this one has 35 minutes left.
    event_time = clock.now() - dt.timedelta(days=7) + dt.timedelta(minutes=35)
    deadline = event_time + dt.timedelta(days=7)
    last_call = deadline - runtime.settings.deadline_margin
    fake_meta.fake.set_down(True)
    stored = await submit_one(client, clock, event_time=event_time)
    assert stored.deliveries[0].deadline.ToDatetime(tzinfo=dt.UTC) == deadline

    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    # 30 minutes would be after the last call: the retry moves up to it.
    assert delivery.next_attempt_at.ToDatetime(tzinfo=dt.UTC) == last_call

    clock.set(last_call)
    await fire_due_retries(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.failure_reason == S.FAILURE_REASON_EXPIRED
    assert delivery.attempt_count == 2
    assert all(a.started_at.ToDatetime(tzinfo=dt.UTC) < deadline for a in delivery.attempts)
    assert await scheduled_jobs(runtime) == []


async def test_nothing_is_sent_once_the_deadline_has_passed(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    event_time = clock.now() - dt.timedelta(days=7) + dt.timedelta(minutes=5)
    stored = await submit_one(client, clock, event_time=event_time)
    clock.advance(dt.timedelta(minutes=10))  # the workers were down meanwhile
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.failure_reason == S.FAILURE_REASON_EXPIRED
    assert [a.outcome for a in delivery.attempts] == [S.ATTEMPT_OUTCOME_EXPIRED]
    assert fake_meta.fake.request_count == 0
    assert await status_history(runtime, delivery.id) == ["PENDING", "SENDING", "FAILED"]


async def test_credential_errors_wait_and_a_new_token_sends_at_once(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.token_expired())
    stored = await submit_one(client, clock)
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    destination = await client.get_destination("meta")
    assert destination.needs_action
    assert "access token" in destination.needs_action_reason
    assert destination.needs_action_code == "credentials"

    clock.advance(dt.timedelta(minutes=2))
    destination.meta.access_token = "good-token"
    updated = await client.update_destination(destination, ["meta.access_token"])
    assert not updated.needs_action and not updated.needs_action_code
    assert not updated.meta.access_token  # write-only
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempts[1].started_at.ToDatetime(tzinfo=dt.UTC) == clock.now()
