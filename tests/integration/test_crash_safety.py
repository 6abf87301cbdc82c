"""Nothing stuck, nothing sent twice by Tenaz's own doing: interrupted attempts,
a worker process killed mid-request, two workers on one database, and a
database that goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from typing import Any

import grpc
import psycopg
import pytest
from psycopg import sql
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.delivery import Sent
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.settings import Settings
from jobs.store import destinations as destination_store
from tests.support import count_rows, process_env, run_jobs, status_history

S = events_pb2


async def submit_one(client: TenazClient, clock: FakeClock, event_id: str = "order-1") -> str:
    response = await client.submit_event(
        make_event(
            event_id=event_id,
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=1),
            email="maria@example.com",
        )
    )
    return response.event.id


async def test_an_attempt_that_outlives_its_lease_is_recorded_interrupted_and_retried(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    event_id = await submit_one(client, clock)
    async with runtime.pool.connection() as conn:
        [destination] = await destination_store.list_destinations(conn, workspace_id=1)
    # A worker claims the delivery and then dies: it never finishes.
    claimed = (await runtime.engine._claim(destination, 1000)).claimed
    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SENDING

    clock.advance(runtime.settings.attempt_lease - dt.timedelta(seconds=1))
    assert await runtime.sweeper.recover_interrupted() == 0
    clock.advance(dt.timedelta(seconds=1))
    assert await runtime.sweeper.recover_interrupted() == 1

    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert delivery.attempts[0].outcome == S.ATTEMPT_OUTCOME_INTERRUPTED
    assert delivery.next_attempt_at.ToDatetime(tzinfo=dt.UTC) == clock.now()

    # The dead worker's late answer changes nothing.
    await runtime.engine._finish(
        destination,
        claimed,
        Sent([Outcome(c.delivery_id, OutcomeKind.SUCCEEDED) for c in claimed], frozenset()),
        started=0.0,
    )
    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY

    await run_jobs(runtime)
    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert [a.outcome for a in delivery.attempts] == [
        S.ATTEMPT_OUTCOME_INTERRUPTED,
        S.ATTEMPT_OUTCOME_SUCCEEDED,
    ]
    assert await status_history(runtime, delivery.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]


@pytest.mark.slow
async def test_a_worker_process_killed_mid_attempt_leaves_nothing_stuck(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    settings: Settings,
) -> None:
    fake_meta.fake.fail_next(1, Failure.hanging())
    event_id = await submit_one(client, clock)
    env = {
        **os.environ,
        **process_env(settings),
        "TENAZ_LOG_LEVEL": "WARNING",
        # The hanging request must still be in flight when the kill comes, however slowly
        # the machine gets there.
        "TENAZ_HTTP_TIMEOUT": "60s",
        "TENAZ_ATTEMPT_BUDGET": "60s",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "worker", env=env
    )
    try:
        async with asyncio.timeout(30):
            await fake_meta.fake.wait_for_hang(1)
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SENDING
    assert delivery.attempts[0].outcome == S.ATTEMPT_OUTCOME_IN_PROGRESS

    # The lease (4 minutes by default) runs out; the sweeper recovers the delivery.
    clock.set(dt.datetime.now(dt.UTC) + runtime.settings.attempt_lease + dt.timedelta(seconds=5))
    assert (await runtime.sweeper.sweep())["interrupted"] == 1
    await run_jobs(runtime)

    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert [a.outcome for a in delivery.attempts] == [
        S.ATTEMPT_OUTCOME_INTERRUPTED,
        S.ATTEMPT_OUTCOME_SUCCEEDED,
    ]
    assert fake_meta.fake.received_count("Purchase", "order-1") == 1


async def test_two_workers_on_one_database_never_attempt_the_same_delivery(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    settings: Settings,
) -> None:
    original = fake_meta.fake.handle

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.005)  # a platform with some latency, so claims overlap
        return await original(*args, **kwargs)

    fake_meta.fake.handle = slow  # type: ignore[method-assign]
    total = 150
    for i in range(total):
        await submit_one(client, clock, event_id=f"order-{i}")

    async with open_runtime(settings, settings.database_url, clock=clock) as second:
        await asyncio.gather(
            runtime.run_worker(wait=False, install_signal_handlers=False, concurrency=8),
            second.run_worker(wait=False, install_signal_handlers=False, concurrency=8),
        )

    counts = [fake_meta.fake.received_count("Purchase", f"order-{i}") for i in range(total)]
    assert counts == [1] * total
    assert await count_rows(runtime, "tenaz_attempts") == total
    succeeded = await client.list_events(statuses=[S.DELIVERY_STATUS_SUCCEEDED], page_size=500)
    assert len(succeeded.events) == total


async def test_an_unreachable_database_is_unavailable_and_stores_nothing(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
    settings: Settings,
    postgres_url: str,
) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(settings.database_url)["dbname"]
    assert isinstance(dbname, str)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(dbname))
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
    try:
        with pytest.raises(TenazError) as caught:
            await submit_one(client, clock, event_id="during-outage")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(dbname))
            )
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM tenaz_events").fetchone()
        assert row == (0,)
    # Once the database is back (the pool reconnects by itself), the same call works.
    codes = []
    async with asyncio.timeout(30):
        while True:
            try:
                await submit_one(client, clock, event_id="after-outage")
                break
            except TenazError as exc:
                codes.append(exc.code)
    assert set(codes) <= {grpc.StatusCode.UNAVAILABLE}
    assert await count_rows(runtime, "tenaz_events") == 1


async def test_the_periodic_sweep_task_recovers_through_the_queue(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    event_id = await submit_one(client, clock)
    async with runtime.pool.connection() as conn:
        [destination] = await destination_store.list_destinations(conn, workspace_id=1)
    await runtime.engine._claim(destination, 1000)  # a worker claims, then dies
    clock.advance(runtime.settings.attempt_lease)
    await runtime.app.configure_task("tenaz.sweep").defer_async(timestamp=0)
    await run_jobs(runtime)  # the sweep, which queues a delivery job
    await run_jobs(runtime)  # that job
    [delivery] = (await client.get_event(event_id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_SUCCEEDED
    assert delivery.attempts[0].outcome == S.ATTEMPT_OUTCOME_INTERRUPTED
