"""Every delivery ends: past its deadline whatever its destination's state, and when its
destination is deleted; and a deletion racing a submission never leaves a delivery behind.

The races are played with a second connection holding a lock, and the test waits (with a
bound) until PostgreSQL reports the other side waiting for it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import grpc
import psycopg
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs import endings
from jobs.clock import FakeClock
from jobs.delivery import Sent
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from jobs.status import TRANSITIONS, Status
from jobs.store import destinations as destination_store
from tests.support import count_rows, run_jobs, status_history

S = events_pb2
DEADLINE = dt.timedelta(days=7)  # Meta's


async def submit(client: TenazClient, clock: FakeClock, event_id: str) -> str:
    response = await client.submit_event(
        make_event(
            event_id=event_id, event_name="Purchase", event_time=clock.now(), email="a@example.com"
        )
    )
    return response.event.id


async def delivery_of(client: TenazClient, event_id: str) -> events_pb2.Delivery:
    [delivery] = (await client.get_event(event_id)).deliveries
    return delivery


async def last_sequence(runtime: Runtime) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM tenaz_status_changes")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def watched(client: TenazClient, after: int, count: int) -> list[events_pb2.StatusChange]:
    """The next `count` changes WatchStatus streams after sequence `after`."""
    seen: list[events_pb2.StatusChange] = []
    async with asyncio.timeout(10):
        async for message in client.watch_status(after_sequence=after):
            if message.HasField("change"):
                seen.append(message.change)
                if len(seen) == count:
                    return seen
    raise AssertionError(f"the stream ended after {len(seen)} changes")


async def assert_every_change_is_legal(runtime: Runtime) -> None:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT from_status, to_status FROM tenaz_status_changes WHERE from_status IS NOT NULL"
        )
        pairs = {(Status(a), Status(b)) for a, b in await cur.fetchall()}
    assert pairs <= TRANSITIONS, pairs - TRANSITIONS


def expiry_cutoff_for(clock: FakeClock, settings: Settings) -> dt.datetime:
    """The first moment the sweeper may expire an event that happened at `clock.now()`:
    when an attempt using its whole budget could no longer end in time."""
    return settings.deadline_rule.last_start(clock.now() + DEADLINE)


# Past the deadline, whatever the destination's state


async def test_a_pending_delivery_of_a_disabled_destination_fails_expired_at_its_deadline(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    cutoff = expiry_cutoff_for(clock, runtime.settings)
    event_id = await submit(client, clock, "order-1")
    destination = await client.get_destination(meta)
    destination.enabled = False
    await client.update_destination(destination, ["enabled"])
    await run_jobs(runtime)  # a disabled destination's job sends nothing
    assert (await delivery_of(client, event_id)).status == S.DELIVERY_STATUS_PENDING
    before = await last_sequence(runtime)

    clock.set(cutoff - dt.timedelta(seconds=1))
    assert (await runtime.sweeper.sweep())["expired"] == 0
    clock.set(cutoff)
    assert (await runtime.sweeper.sweep())["expired"] == 1

    delivery = await delivery_of(client, event_id)
    assert delivery.status == S.DELIVERY_STATUS_FAILED
    assert delivery.failure_reason == S.FAILURE_REASON_EXPIRED
    [attempt] = delivery.attempts  # nothing was sent: the attempt says so
    assert attempt.outcome == S.ATTEMPT_OUTCOME_EXPIRED
    assert await status_history(runtime, delivery.id) == ["PENDING", "SENDING", "FAILED"]
    await assert_every_change_is_legal(runtime)
    streamed = await watched(client, before, 2)
    assert [(c.from_status, c.to_status) for c in streamed] == [
        (S.DELIVERY_STATUS_PENDING, S.DELIVERY_STATUS_SENDING),
        (S.DELIVERY_STATUS_SENDING, S.DELIVERY_STATUS_FAILED),
    ]
    assert {c.client_event_id for c in streamed} == {"order-1"}


async def test_a_destination_needing_action_has_its_waiting_and_pending_deliveries_expired(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    cutoff = expiry_cutoff_for(clock, runtime.settings)
    fake_meta.fake.fail_next(1, Failure.token_expired())
    waiting = await submit(client, clock, "order-1")
    await run_jobs(runtime)
    assert (await client.get_destination(meta)).needs_action
    # Never claimed (as when a destination's connector cannot be built).
    pending = await submit(client, clock, "order-2")
    assert (await delivery_of(client, waiting)).status == S.DELIVERY_STATUS_WAITING_RETRY

    clock.set(cutoff)
    assert (await runtime.sweeper.sweep())["expired"] == 2

    for event_id in (waiting, pending):
        delivery = await delivery_of(client, event_id)
        assert (delivery.status, delivery.failure_reason) == (
            S.DELIVERY_STATUS_FAILED,
            S.FAILURE_REASON_EXPIRED,
        )
    assert await status_history(runtime, (await delivery_of(client, waiting)).id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "FAILED",
    ]
    assert await status_history(runtime, (await delivery_of(client, pending)).id) == [
        "PENDING",
        "SENDING",
        "FAILED",
    ]
    await assert_every_change_is_legal(runtime)


# Deleting a destination


async def test_deleting_a_destination_ends_every_unfinished_delivery_and_ignores_late_answers(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    done = await submit(client, clock, "done")
    await run_jobs(runtime)
    fake_meta.fake.fail_next(1, Failure.http_503())
    waiting = await submit(client, clock, "waiting")
    await run_jobs(runtime)
    sending = await submit(client, clock, "sending")
    async with runtime.pool.connection() as conn:
        [destination] = await destination_store.list_destinations(conn, workspace_id=1)
    # A worker claims the delivery and is still waiting for the platform.
    claimed = (await runtime.engine._claim(destination, 1000)).claimed
    pending = await submit(client, clock, "pending")
    statuses = {e: (await delivery_of(client, e)).status for e in (waiting, sending, pending)}
    assert statuses == {
        waiting: S.DELIVERY_STATUS_WAITING_RETRY,
        sending: S.DELIVERY_STATUS_SENDING,
        pending: S.DELIVERY_STATUS_PENDING,
    }
    before = await last_sequence(runtime)

    await client.delete_destination(meta)

    for event_id in (waiting, sending, pending):
        delivery = await delivery_of(client, event_id)
        assert (delivery.status, delivery.failure_reason) == (
            S.DELIVERY_STATUS_FAILED,
            S.FAILURE_REASON_DESTINATION_DELETED,
        )
        assert delivery.destination == "meta"  # the history keeps the name
        assert "destination was deleted" in delivery.last_error
    assert (await delivery_of(client, done)).status == S.DELIVERY_STATUS_SUCCEEDED
    # The waiting delivery had no attempt running; the others' attempt ended unsent.
    assert [a.outcome for a in (await delivery_of(client, waiting)).attempts] == [
        S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM
    ]
    for event_id in (sending, pending):
        [attempt] = (await delivery_of(client, event_id)).attempts
        assert attempt.outcome == S.ATTEMPT_OUTCOME_INTERRUPTED
    assert await status_history(runtime, (await delivery_of(client, pending)).id) == [
        "PENDING",
        "SENDING",
        "FAILED",
    ]
    streamed = await watched(client, before, 4)
    assert sorted((c.client_event_id, c.to_status) for c in streamed) == [
        ("pending", S.DELIVERY_STATUS_SENDING),
        ("pending", S.DELIVERY_STATUS_FAILED),
        ("sending", S.DELIVERY_STATUS_FAILED),
        ("waiting", S.DELIVERY_STATUS_FAILED),
    ]

    # The worker's answer comes after the deletion: it changes nothing.
    await runtime.engine._finish(
        destination,
        claimed,
        Sent([Outcome(c.delivery_id, OutcomeKind.SUCCEEDED) for c in claimed], frozenset()),
        started=0.0,
    )
    assert (await delivery_of(client, sending)).status == S.DELIVERY_STATUS_FAILED
    # Nothing can send it any more: an operator's retry skips it.
    retried = await client.retry_deliveries([(await delivery_of(client, waiting)).id])
    assert (retried.changed, retried.skipped) == (0, 1)
    assert (await delivery_of(client, waiting)).status == S.DELIVERY_STATUS_FAILED
    await assert_every_change_is_legal(runtime)
    with pytest.raises(TenazError) as caught:
        await client.get_destination(meta)
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    counts = await runtime.sweeper.sweep()
    assert (counts["expired"], counts["deleted"]) == (0, 0)


async def test_a_large_deletion_goes_in_batches_and_the_sweeper_finishes_one_cut_short(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(endings, "BATCH", 2)
    events = [await submit(client, clock, f"order-{i}") for i in range(5)]

    async def stopped(*_: object) -> int:
        raise RuntimeError("the process stopped")

    with monkeypatch.context() as patched:
        patched.setattr(endings, "in_batches", stopped)
        with pytest.raises(RuntimeError):
            await runtime.destinations.delete(1, meta)
    # The first transaction committed: the destination is gone, a first batch ended.
    with pytest.raises(TenazError):
        await client.get_destination(meta)
    statuses = [(await delivery_of(client, e)).status for e in events]
    assert statuses.count(S.DELIVERY_STATUS_FAILED) == 2
    assert statuses.count(S.DELIVERY_STATUS_PENDING) == 3

    assert (await runtime.sweeper.sweep())["deleted"] == 3
    for event_id in events:
        delivery = await delivery_of(client, event_id)
        assert delivery.failure_reason == S.FAILURE_REASON_DESTINATION_DELETED

    await client.create_sandbox_destination("sandbox")
    more = [await submit(client, clock, f"more-{i}") for i in range(5)]
    assert await runtime.destinations.delete(1, "sandbox") == 5
    for event_id in more:
        assert (await delivery_of(client, event_id)).status == S.DELIVERY_STATUS_FAILED


# A deletion racing a submission


async def waiting_for_locks(runtime: Runtime) -> int:
    """How many sessions of this test's database are waiting for a lock."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll `condition` every 10 ms until it holds; give up after 1,000 tries."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still not so after 1,000 tries")


async def test_a_deletion_waits_for_a_submission_in_flight_then_ends_its_delivery(
    client: TenazClient, runtime: Runtime, clock: FakeClock, settings: Settings, meta: str
) -> None:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as holder:
        # Another transaction writing the same event key holds the submission up after it
        # has chosen its destinations and before it writes its deliveries.
        now = clock.now()
        await holder.execute(
            "INSERT INTO tenaz_events (workspace_id, event_name, event_id, event_time, payload,"
            " received_at) VALUES (1, 'Purchase', 'race-1', %s, '{}', %s)",
            (now, now),
        )
        submission = asyncio.create_task(submit(client, clock, "race-1"))
        await until(lambda: _at_least(runtime, 1))
        deletion = asyncio.create_task(client.delete_destination(meta))
        await until(lambda: _deletion_waits_or_ended(runtime, deletion))
        assert not deletion.done(), "the deletion did not wait for the submission"
        await holder.rollback()
    event_id = await submission
    await deletion

    delivery = await delivery_of(client, event_id)
    assert (delivery.status, delivery.failure_reason) == (
        S.DELIVERY_STATUS_FAILED,
        S.FAILURE_REASON_DESTINATION_DELETED,
    )
    assert await status_history(runtime, delivery.id) == ["PENDING", "SENDING", "FAILED"]


async def _at_least(runtime: Runtime, sessions: int) -> bool:
    return await waiting_for_locks(runtime) >= sessions


async def _deletion_waits_or_ended(runtime: Runtime, deletion: asyncio.Task[None]) -> bool:
    return deletion.done() or await waiting_for_locks(runtime) >= 2


async def test_a_submission_during_a_deletion_waits_and_finds_the_destination_gone(
    client: TenazClient, runtime: Runtime, clock: FakeClock, settings: Settings, meta: str
) -> None:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as deleter:
        # A deletion's first steps, not yet committed: the destination locked and deleted.
        found = await destination_store.get_destination(
            deleter, workspace_id=1, name=meta, for_update=True
        )
        assert found is not None
        await destination_store.soft_delete_destination(
            deleter, destination_id=found.id, now=clock.now()
        )
        submission = asyncio.create_task(submit(client, clock, "race-2"))
        await until(lambda: _at_least(runtime, 1))
        await deleter.commit()
    with pytest.raises(TenazError) as caught:
        await submission
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert await count_rows(runtime, "tenaz_deliveries") == 0
