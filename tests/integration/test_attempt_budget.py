"""An attempt has a time budget and a bounded cost: what the platform answered before the
budget ran out is kept, the rest waits for the next attempt; a request too large for a proxy
is halved at once; and every request, split or not, keeps within the destination's rate
limit."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from typing import Any

import psycopg
import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.delivery import SMALLER_BATCHES_FOR
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from jobs.store import rate_log
from tests.support import META_REFUSES, busiest_second, fire_due_retries, limited_meta, run_jobs

S = events_pb2
BUDGET = dt.timedelta(seconds=3)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, http_timeout=BUDGET, attempt_budget=BUDGET)


def purchase(clock: FakeClock, n: int, *, refused: bool = False, to: str = "") -> events_pb2.Event:
    return make_event(
        event_id=f"order-{n}",
        event_name="Purchase",
        event_time=clock.now() - dt.timedelta(minutes=1),
        email=f"buyer{n}@example.com",
        value=None if refused else 10.0,
        currency="BRL",
        extra=META_REFUSES if refused else None,
        destinations=[to] if to else [],
    )


async def deliveries(client: TenazClient) -> dict[str, events_pb2.Delivery]:
    """Each event's (only) delivery, with its attempts, by the event's id."""
    page = await client.list_events(page_size=100)
    found = {}
    for listed in page.events:
        event = await client.get_event(listed.id)
        found[event.event.event_id] = event.deliveries[0]
    return found


async def test_what_was_answered_before_the_budget_ran_out_is_kept(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake = fake_meta.fake
    # Every request is held until the test lets it go: five are answered, the sixth is
    # still unanswered when the attempt's time is up.
    fake.fail_next(6, Failure.hanging())
    await client.submit_events([purchase(clock, n, refused=n == 0) for n in range(8)])

    async def platform() -> None:
        for answered in range(1, 6):
            await fake.wait_for_hang(answered)
            fake.release()
        await fake.wait_for_hang(6)

    started = time.monotonic()
    await asyncio.gather(run_jobs(runtime), platform())
    took = dt.timedelta(seconds=time.monotonic() - started)
    fake.release()

    # All 8 (refused), 0-3 (refused), 0-1 (refused), 0 (refused), 1 (taken), then 2-3: cut.
    assert [r.event_count for r in fake.requests] == [8, 4, 2, 1, 1, 2]
    assert BUDGET <= took < runtime.settings.attempt_lease
    found = await deliveries(client)
    assert found["order-0"].status == S.DELIVERY_STATUS_FAILED
    assert found["order-0"].failure_reason == S.FAILURE_REASON_REJECTED
    assert found["order-1"].status == S.DELIVERY_STATUS_SUCCEEDED
    cut = [found[f"order-{n}"] for n in range(2, 8)]
    for delivery in cut:
        assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
        [attempt] = delivery.attempts
        assert attempt.outcome == S.ATTEMPT_OUTCOME_ATTEMPT_BUDGET
        assert "time budget" in attempt.message
        finished = attempt.finished_at.ToDatetime(tzinfo=dt.UTC)
        assert delivery.next_attempt_at.ToDatetime(tzinfo=dt.UTC) == finished + dt.timedelta(
            minutes=30
        )

    # Not taken for an interrupted attempt, and not sent again before the interval.
    clock.advance(runtime.settings.attempt_lease + dt.timedelta(seconds=1))
    assert await runtime.sweeper.recover_interrupted() == 0
    await fire_due_retries(runtime)
    assert len(fake.requests) == 6
    clock.advance(dt.timedelta(minutes=30))
    await fire_due_retries(runtime)
    found = await deliveries(client)
    assert {found[f"order-{n}"].status for n in range(2, 8)} == {S.DELIVERY_STATUS_SUCCEEDED}
    assert [r.event_count for r in list(fake.requests)[6:]] == [6]


async def test_too_large_for_a_proxy_is_sent_again_at_once_in_halves_and_remembered(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake = fake_meta.fake
    too_large = Failure.custom(
        413, b"<html>413 Request Entity Too Large</html>", content_type="text/html"
    )
    fake.fail_next(1, too_large)
    await client.submit_events([purchase(clock, n) for n in range(10)])
    await run_jobs(runtime)

    assert [r.event_count for r in fake.requests] == [10, 5, 5]
    found = await deliveries(client)
    for delivery in found.values():
        assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
        assert [a.outcome for a in delivery.attempts] == [S.ATTEMPT_OUTCOME_SUCCEEDED]

    # For a while the destination gets batches of the size that went through.
    await client.submit_events([purchase(clock, n) for n in range(10, 22)])
    await run_jobs(runtime)
    assert [r.event_count for r in list(fake.requests)[3:]] == [5, 5, 2]

    clock.advance(SMALLER_BATCHES_FOR)
    await client.submit_events([purchase(clock, n) for n in range(30, 42)])
    await run_jobs(runtime)
    assert [r.event_count for r in list(fake.requests)[6:]] == [12]


async def test_the_requests_of_a_split_keep_within_the_rate_limit(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    await limited_meta(client, fake_meta, rate_limit=10)
    await client.submit_events([purchase(clock, n, refused=n == 0) for n in range(8)])
    await run_jobs(runtime)

    requests = list(fake_meta.fake.requests)
    # 8, then 4, 2, 1 and 1, 2, 4 to isolate the refused one: 22 events for 8.
    assert [r.event_count for r in requests] == [8, 4, 2, 1, 1, 2, 4]
    assert busiest_second(fake_meta) <= 10
    found = await deliveries(client)
    assert found["order-0"].status == S.DELIVERY_STATUS_FAILED
    assert [found[f"order-{n}"].status for n in range(1, 8)] == [S.DELIVERY_STATUS_SUCCEEDED] * 7
    # Waiting for the limit used no attempt.
    assert {len(d.attempts) for d in found.values()} == {1}


async def test_an_error_mid_attempt_keeps_the_answers_and_retries_the_rest_later(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await limited_meta(client, fake_meta, rate_limit=1000)
    await client.submit_events([purchase(clock, n, refused=n == 0) for n in range(8)])
    calls = 0
    record_send = rate_log.record_send

    async def failing_on_the_fifth(*args: Any, **kwargs: Any) -> dt.datetime | None:
        # Each request's count (8, 4, 2, 1): the database goes away at the fifth's.
        nonlocal calls
        calls += 1
        if calls == 5:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return await record_send(*args, **kwargs)

    monkeypatch.setattr(rate_log, "record_send", failing_on_the_fifth)
    await run_jobs(runtime)
    monkeypatch.undo()

    # All 8, 0-3, 0-1, 0: the refused one was isolated before the error.
    assert [r.event_count for r in fake_meta.fake.requests] == [8, 4, 2, 1]
    found = await deliveries(client)
    assert found["order-0"].failure_reason == S.FAILURE_REASON_REJECTED
    for n in range(1, 8):
        delivery = found[f"order-{n}"]
        assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
        [attempt] = delivery.attempts
        assert attempt.outcome == S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM
        assert "stopped early (OperationalError)" in attempt.message
    # Nothing was left in progress for the sweeper to send again at once.
    clock.advance(runtime.settings.attempt_lease + dt.timedelta(seconds=1))
    assert await runtime.sweeper.recover_interrupted() == 0


async def test_a_worker_stopped_mid_attempt_records_it_before_it_goes(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake = fake_meta.fake
    fake.fail_next(2, Failure.hanging())
    await client.submit_events([purchase(clock, n, refused=n == 0) for n in range(4)])
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenaz_destinations WHERE name = %s", (meta,))
        [(destination_id,)] = await cur.fetchall()
    job = asyncio.create_task(runtime.engine.deliver_due(destination_id))
    await fake.wait_for_hang(1)
    fake.release()  # 0-3 refused
    await fake.wait_for_hang(2)  # 0-1 hangs: the worker is stopped now
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    fake.release()

    found = await deliveries(client)
    assert {d.status for d in found.values()} == {S.DELIVERY_STATUS_WAITING_RETRY}
    for delivery in found.values():
        [attempt] = delivery.attempts
        assert "the worker stopped during the attempt" in attempt.message
