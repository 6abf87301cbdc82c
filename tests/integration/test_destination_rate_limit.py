"""A destination's rate limit: never more events in any second at the platform than
allowed, however late a request leaves after its claim; the backlog drained window after
window; and waiting for it uses up no attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import pytest
from psycopg import AsyncConnection
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.delivery import CLAIM_LEAD, CLAIM_WINDOW, PASS_VALID_FOR, RATE_WINDOW
from jobs.model import Destination
from jobs.platforms.base import (
    AttemptScope,
    Connector,
    Outcome,
    OutgoingEvent,
    WrappedConnector,
)
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.store import rate_log
from tests.support import bounded, busiest_second, limited_meta, run_jobs, scheduled_jobs

S = events_pb2


async def limited_destination(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    *,
    events: int,
) -> int:
    """A Meta destination limited to 50 events/s with `events` waiting; returns its id."""
    created = await limited_meta(client, fake_meta, rate_limit=50)
    assert created.rate_limit == 50
    await client.submit_events(
        make_event(
            event_id=f"o{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
        for i in range(events)
    )
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenaz_destinations WHERE name = 'meta'")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


Hook = Callable[[], Awaitable[None]]


async def nothing() -> None:
    pass


class Late(WrappedConnector):
    """A connector whose attempts start their requests only once `before_sending` returns:
    the time between a claim and its request leaving (the claim's commit, an event loop
    busy with other jobs) made as long as a test wants. `after_sending` runs once they
    are answered, before the job goes on."""

    def __init__(self, inner: Connector, before_sending: Hook, after_sending: Hook) -> None:
        super().__init__(inner)
        self._before_sending = before_sending
        self._after_sending = after_sending

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        await self._before_sending()
        outcomes = await self._inner.send(batch, scope)
        await self._after_sending()
        return outcomes


def make_late(
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    before_sending: Hook,
    after_sending: Hook = nothing,
) -> None:
    """Every connector the engine builds from now on is `Late`."""
    build = runtime.connectors.for_destination

    def late(destination: Destination) -> Connector:
        return Late(build(destination), before_sending, after_sending)

    monkeypatch.setattr(runtime.connectors, "for_destination", late)


def arrivals(fake_meta: FakeMetaServer) -> list[float]:
    """When each request reached the fake Meta, in seconds after the first."""
    times = [r.at for r in fake_meta.fake.requests]
    return [t - times[0] for t in times]


def logged_sends(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dt.datetime, int]]:
    """Every request's send as the rate gate logs it (its time, its events), from now on."""
    logged: list[tuple[dt.datetime, int]] = []
    record_send = rate_log.record_send

    async def logging(
        conn: AsyncConnection, destination_id: int, at: dt.datetime, events: int, **kw: Any
    ) -> dt.datetime | None:
        held_by = await record_send(conn, destination_id, at, events, **kw)
        if held_by is None:
            logged.append((at, events))
        return held_by

    monkeypatch.setattr(rate_log, "record_send", logging)
    return logged


def busiest_window(sends: Sequence[tuple[dt.datetime, int]]) -> int:
    """The most events logged as sent in any sliding RATE_WINDOW."""
    return max(sum(n for at, n in sends if first <= at < first + RATE_WINDOW) for first, _ in sends)


async def attempt_numbers(runtime: Runtime) -> list[tuple[int]]:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT number FROM tenaz_attempts")
        return await cur.fetchall()


async def test_a_backlog_drains_at_the_destinations_rate(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=180)
    started = clock.now()
    # The job waits for the window to free up (on the fake clock, which moves when a
    # sleeper sleeps) and carries on until the backlog is gone.
    await run_jobs(runtime)
    assert fake_meta.fake.total_events_received == 180
    assert [r.event_count for r in fake_meta.fake.accepted] == [50, 50, 50, 30]
    assert clock.now() - started == 3 * RATE_WINDOW
    assert await attempt_numbers(runtime) == [(1,)]  # waiting used no attempt
    assert busiest_second(fake_meta) <= 50
    done = await client.list_events(statuses=[S.DELIVERY_STATUS_SUCCEEDED], page_size=500)
    assert len(done.events) == 180


async def test_the_limit_can_be_changed_and_must_be_sensible(
    client: TenazClient, fake_meta: FakeMetaServer, meta: str
) -> None:
    destination = await client.get_destination("meta")
    assert destination.rate_limit == 0
    destination.rate_limit = 200
    assert (await client.update_destination(destination, ["rate_limit"])).rate_limit == 200
    destination.rate_limit = 0
    assert (await client.update_destination(destination, ["rate_limit"])).rate_limit == 0
    destination.rate_limit = 0.5
    with pytest.raises(TenazError) as caught:
        await client.update_destination(destination, ["rate_limit"])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in caught.value.violations} == {"destination.rate_limit"}


async def test_several_jobs_held_by_the_limit_send_everything_once_within_it(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination_id = await limited_destination(client, runtime, clock, fake_meta, events=300)
    sends = logged_sends(monkeypatch)

    attempted = await asyncio.gather(
        *(runtime.engine.deliver_due(destination_id) for _ in range(4))
    )

    assert sum(attempted) == 300
    assert fake_meta.fake.total_events_received == 300
    # The waiting happened in place: no job was scheduled for later (the one left is the
    # submission's, which this test did not run).
    assert [at for _, at in await scheduled_jobs(runtime) if at is not None] == []
    assert [r.event_count for r in fake_meta.fake.requests] == [50] * 6
    # Checked where the sends are logged: the platform's arrival times are no good here, as
    # every job that sleeps moves the fake clock, while other jobs' requests are on their way.
    assert busiest_window(sends) <= 50
    assert await attempt_numbers(runtime) == [(1,)]


async def test_a_request_that_leaves_late_is_counted_when_it_goes(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination_id = await limited_destination(client, runtime, clock, fake_meta, events=100)
    held, release, late_answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
    started = answered = 0

    async def the_first_attempt_waits_for_release() -> None:
        nonlocal started
        started += 1
        if started == 1:
            held.set()
            await release.wait()

    async def the_other_job_releases_it_once_answered() -> None:
        nonlocal answered
        answered += 1
        if answered == 1:
            # The other job's request was answered: the late one goes now, and this job
            # goes on (to its next claim and the wait that moves the clock) only after it.
            release.set()
            await late_answered.wait()
        else:
            late_answered.set()

    make_late(
        runtime,
        monkeypatch,
        the_first_attempt_waits_for_release,
        the_other_job_releases_it_once_answered,
    )
    late = asyncio.create_task(runtime.engine.deliver_due(destination_id))
    async with bounded(10):
        await held.wait()
    # Its claim took the first 50 events; its request has not left when, far more than the
    # window's margin later, another job claims the other 50 and sends them.
    clock.advance(CLAIM_WINDOW + dt.timedelta(seconds=0.1))
    async with bounded(10):
        assert await runtime.engine.deliver_due(destination_id) == 50
        assert await late == 50

    assert fake_meta.fake.total_events_received == 100
    # Counted at the claim, the late request would have gone with the other one.
    assert busiest_second(fake_meta) <= 50
    assert arrivals(fake_meta) == pytest.approx([0, RATE_WINDOW.total_seconds()])
    assert await attempt_numbers(runtime) == [(1,)]


async def test_the_way_from_claim_to_request_costs_the_drain_nothing(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=180)
    way = CLAIM_LEAD * 0.8

    async def on_a_loaded_host() -> None:
        await clock.sleep_until(clock.now() + way)

    make_late(runtime, monkeypatch, on_a_loaded_host)
    await run_jobs(runtime)

    assert [r.event_count for r in fake_meta.fake.accepted] == [50, 50, 50, 30]
    # The next batch is claimed while the window is still full, so each request leaves as
    # soon as the window lets it: one window apart, not one window and the way apart.
    window = RATE_WINDOW.total_seconds()
    assert arrivals(fake_meta) == pytest.approx([0, window, 2 * window, 3 * window])
    assert busiest_second(fake_meta) <= 50


async def test_a_reservation_never_sent_holds_the_claims_for_one_claim_window(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=100)
    started = clock.now()
    attempts = 0

    async def the_first_attempt_stops_before_sending() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("stopped before its first request")

    make_late(runtime, monkeypatch, the_first_attempt_stops_before_sending)
    await run_jobs(runtime)

    # The first 50 wait for their retry; the other 50 were claimed once the first claim's
    # reservation left the claims' window, and sent at once: no send held them back.
    [request] = fake_meta.fake.requests
    assert request.event_count == 50
    assert request.at == (started + CLAIM_WINDOW).timestamp()


async def test_the_gate_turns_a_reservation_into_the_request_it_lets_go(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    destination_id = await limited_destination(client, runtime, clock, fake_meta, events=1)
    claimed_at = clock.now()
    sent_at = claimed_at + CLAIM_LEAD

    async def log() -> list[tuple[dt.timedelta, int, bool]]:
        async with runtime.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT at, events, reserved FROM tenaz_rate_log ORDER BY at, events"
            )
            return [(at - claimed_at, n, reserved) for at, n, reserved in await cur.fetchall()]

    async def send(events: int, reservation: int | None) -> dt.datetime | None:
        async with runtime.pool.connection() as conn:
            return await rate_log.record_send(
                conn,
                destination_id,
                sent_at,
                events,
                limit=50,
                since=sent_at - RATE_WINDOW,
                reservation=reservation,
            )

    async with runtime.pool.connection() as conn:
        forget = claimed_at - RATE_WINDOW
        reservations = [
            await rate_log.reserve(conn, destination_id, claimed_at, 50, forget_before=forget)
            for _ in range(3)
        ]
        ours, another_batchs, empty = reservations
        await rate_log.trim_reservation(conn, another_batchs, 40)  # 40 events were due
        await rate_log.trim_reservation(conn, empty, 0)  # none was
        # The claims count reservations.
        assert await rate_log.logged_since(conn, destination_id, forget) == (90, claimed_at)

    # The gates do not: the first request, smaller than its batch (an event refused before
    # sending), turns the reservation into itself; the next gets a row of its own.
    assert await send(30, ours) is None
    assert await send(20, ours) is None
    assert await log() == [
        (dt.timedelta(0), 40, True),
        (CLAIM_LEAD, 20, False),
        (CLAIM_LEAD, 30, False),
    ]
    # The window is full: nothing is logged, and the gate learns when the oldest send leaves.
    assert await send(1, None) == sent_at
    assert len(await log()) == 3


async def test_a_pass_that_comes_back_late_goes_back_to_the_gate_once(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=50)
    logged = logged_sends(monkeypatch)
    record_send = rate_log.record_send
    gates = 0

    async def stalls_after_the_first_pass(*args: Any, **kw: Any) -> dt.datetime | None:
        # The first gate's answer comes back long after it logged the request (a worker
        # stalled between the gate and the request): the request must not leave then.
        nonlocal gates
        gates += 1
        held_by = await record_send(*args, **kw)
        if gates == 1:
            clock.advance(PASS_VALID_FOR + dt.timedelta(seconds=0.3))
        return held_by

    monkeypatch.setattr(rate_log, "record_send", stalls_after_the_first_pass)
    started = clock.now()
    await run_jobs(runtime)

    assert fake_meta.fake.total_events_received == 50
    assert [r.event_count for r in fake_meta.fake.accepted] == [50]
    # Logged twice: the stale pass stays counted, so the request that really went waited for
    # it to leave the window (the fake clock moves as the gate sleeps).
    assert [(at - started, n) for at, n in logged] == [
        (dt.timedelta(0), 50),
        (RATE_WINDOW, 50),
    ]
    assert busiest_window(logged) <= 50
    assert await attempt_numbers(runtime) == [(1,)]


async def test_a_gate_whose_every_pass_comes_back_late_still_lets_the_request_go(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await limited_destination(client, runtime, clock, fake_meta, events=50)
    logged = logged_sends(monkeypatch)
    record_send = rate_log.record_send

    async def always_late(*args: Any, **kw: Any) -> dt.datetime | None:
        # A machine whose commits always take longer than a pass lasts.
        held_by = await record_send(*args, **kw)
        clock.advance(PASS_VALID_FOR * 2)
        return held_by

    monkeypatch.setattr(rate_log, "record_send", always_late)
    async with bounded(10):
        await run_jobs(runtime)

    # Back to the gate once, not forever.
    assert fake_meta.fake.total_events_received == 50
    assert len(logged) == 2
    assert busiest_window(logged) <= 50
