"""WatchStatus over real gRPC: order, resumption with no gap and no repeat under
concurrent writers and forced reconnects, filters, heartbeats (on the server's clock),
retention, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.settings import Settings
from server.app import TenazServer, start_server
from tests.support import all_sequences, run_jobs, until

S = events_pb2


async def submit(client: TenazClient, clock: FakeClock, event_id: str, **extra: object) -> str:
    response = await client.submit_event(
        make_event(
            event_id=event_id,
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            **extra,  # type: ignore[arg-type]
        )
    )
    return response.event.id


async def test_a_watcher_sees_each_transition_in_order_with_names(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    seen: list[events_pb2.StatusChange] = []

    async def watch() -> None:
        async for message in client.watch_status(after_sequence=0):
            if message.HasField("change"):
                seen.append(message.change)
                if message.change.to_status == S.DELIVERY_STATUS_WAITING_RETRY:
                    return

    watcher = asyncio.create_task(watch())
    await submit(client, clock, "order-1")
    await run_jobs(runtime)
    async with asyncio.timeout(10):
        await watcher
    assert [(c.from_status, c.to_status) for c in seen] == [
        (S.DELIVERY_STATUS_UNSPECIFIED, S.DELIVERY_STATUS_PENDING),
        (S.DELIVERY_STATUS_PENDING, S.DELIVERY_STATUS_SENDING),
        (S.DELIVERY_STATUS_SENDING, S.DELIVERY_STATUS_WAITING_RETRY),
    ]
    assert [c.sequence for c in seen] == sorted(c.sequence for c in seen)
    last = seen[-1]
    assert (last.client_event_id, last.event_name, last.destination) == (
        "order-1",
        "Purchase",
        "meta",
    )
    assert last.attempt_number == 1
    assert "unavailable" in last.error.lower()


async def test_resuming_after_forced_reconnects_under_concurrent_writers_loses_and_repeats_nothing(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    settings: Settings,
) -> None:
    rng = random.Random(7)
    received: list[int] = []
    writers_done = asyncio.Event()
    work_done = asyncio.Event()

    async def writer(name: str, count: int) -> None:
        for i in range(count):
            await submit(client, clock, f"{name}-{i}")

    async def workers() -> None:
        async with open_runtime(settings, settings.database_url, clock=clock) as second:
            while not writers_done.is_set():
                await asyncio.gather(
                    runtime.run_worker(wait=False, install_signal_handlers=False, concurrency=4),
                    second.run_worker(wait=False, install_signal_handlers=False, concurrency=4),
                )
                await asyncio.sleep(0)
            await run_jobs(runtime)
        work_done.set()

    async def consumer() -> None:
        cursor = 0
        while True:
            budget = rng.randint(1, 40)  # reconnect after this many messages
            async for message in client.watch_status(
                after_sequence=cursor, heartbeat_interval=dt.timedelta(seconds=1)
            ):
                if message.HasField("change"):
                    received.append(message.change.sequence)
                    cursor = message.change.sequence
                    budget -= 1
                    if budget == 0:
                        break  # the client drops the stream; it reconnects from cursor
                elif work_done.is_set() and message.heartbeat.last_sequence >= max(
                    await all_sequences(runtime), default=0
                ):
                    return

    consuming = asyncio.create_task(consumer())
    working = asyncio.create_task(workers())
    await asyncio.gather(*(writer(f"w{n}", 25) for n in range(4)))
    writers_done.set()
    async with asyncio.timeout(60):
        await working
        await consuming

    expected = await all_sequences(runtime)
    assert len(expected) == 4 * 25 * 3  # PENDING, SENDING, SUCCEEDED for each
    assert received == expected


async def test_filters_and_workspace_isolation(
    client: TenazClient,
    server: TenazServer,
    other_api_key: str,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    await client.create_sandbox_destination("sandbox")
    await submit(client, clock, "a", destinations=["meta"])
    await submit(client, clock, "b", destinations=["sandbox"])
    await run_jobs(runtime)

    async def collect(tenaz: TenazClient, **filters: object) -> list[tuple[str, int]]:
        out = []
        async for message in tenaz.watch_status(
            after_sequence=0, heartbeat_interval=dt.timedelta(seconds=1), **filters
        ):
            if message.HasField("heartbeat"):
                return out
            out.append((message.change.client_event_id, message.change.to_status))
        return out

    succeeded = await collect(client, statuses=[S.DELIVERY_STATUS_SUCCEEDED])
    assert sorted(succeeded) == [
        ("a", S.DELIVERY_STATUS_SUCCEEDED),
        ("b", S.DELIVERY_STATUS_SUCCEEDED),
    ]
    to_sandbox = await collect(client, destinations=["sandbox"])
    assert {e for e, _ in to_sandbox} == {"b"} and len(to_sandbox) == 3
    only_a = await collect(client, event_ids=["a"])
    assert {e for e, _ in only_a} == {"a"}
    async with TenazClient(f"127.0.0.1:{server.port}", other_api_key) as other:
        assert await collect(other) == []
    with pytest.raises(TenazError) as caught:
        await collect(client, destinations=["nowhere"])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_heartbeats_carry_the_position_and_a_purged_cursor_is_out_of_range(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    await submit(client, clock, "a")
    stream = client.watch_status(heartbeat_interval=dt.timedelta(seconds=1))
    first = await anext(stream)
    assert first.HasField("heartbeat")
    assert first.heartbeat.last_sequence == 1
    await stream.aclose()

    async with runtime.pool.connection() as conn:
        await conn.execute("UPDATE tenaz_stream_state SET purged_through = 5")
    with pytest.raises(TenazError) as caught:
        await anext(client.watch_status(after_sequence=2))
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE
    with pytest.raises(TenazError) as caught:
        await anext(client.watch_status(heartbeat_interval=dt.timedelta(seconds=0.5)))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    # What the request shows by itself is checked before names are looked up.
    with pytest.raises(TenazError) as caught:
        await anext(client.watch_status(after_sequence=-1, destinations=["nowhere"]))
    assert [v.field for v in caught.value.violations] == ["after_sequence"]


async def test_moving_the_servers_clock_past_the_heartbeat_interval_sends_a_heartbeat_at_once(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    await submit(client, clock, "a")
    interval = dt.timedelta(minutes=5)  # the longest there is: real time plays no part here
    stream = client.watch_status(heartbeat_interval=interval)
    first = asyncio.create_task(anext(stream))
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)  # the stream is placed and idle
    clock.advance(interval)
    async with asyncio.timeout(30):
        heartbeat = (await first).heartbeat
    assert heartbeat.last_sequence == 1
    assert heartbeat.at.ToDatetime(tzinfo=dt.UTC) == clock.now()
    await stream.aclose()


async def test_a_client_that_does_not_read_stalls_no_one(
    client: TenazClient,
    server: TenazServer,
    api_key: str,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
) -> None:
    # A stream nobody reads: its server side blocks on flow control, alone.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    from tenaz.v1 import events_pb2_grpc

    stuck = events_pb2_grpc.EventServiceStub(channel).WatchStatus(
        events_pb2.WatchStatusRequest(after_sequence=0),
        metadata=(("authorization", f"Bearer {api_key}"),),
    )
    await client.submit_events(
        make_event(
            event_id=f"e{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
        for i in range(1000)
    )
    count = 0
    async with asyncio.timeout(20):
        async for message in client.watch_status(after_sequence=0):
            count += message.HasField("change")
            if count == 1000:
                break
    assert count == 1000
    stuck.cancel()
    await channel.close()


async def test_stopping_the_server_ends_streams_cleanly(
    runtime: Runtime, api_key: str, meta: str
) -> None:
    from server.app import start_server

    server = await start_server(runtime, "127.0.0.1:0")
    opened = asyncio.Event()
    ended = asyncio.Event()

    async def watch() -> None:
        async with TenazClient(f"127.0.0.1:{server.port}", api_key) as tenaz:
            async for _ in tenaz.watch_status(heartbeat_interval=dt.timedelta(seconds=1)):
                opened.set()
        ended.set()

    watcher = asyncio.create_task(watch())
    async with asyncio.timeout(30):
        await opened.wait()
    async with asyncio.timeout(30):
        await server.stop(grace=3)
        await watcher
    assert ended.is_set()


async def test_a_workspace_holds_at_most_its_share_of_a_servers_streams(
    settings: Settings, clock: FakeClock, api_key: str, other_api_key: str, meta: str
) -> None:
    narrow = dataclasses.replace(settings, max_streams_per_workspace=2)
    second = dt.timedelta(seconds=1)
    async with open_runtime(narrow, narrow.database_url, clock=clock) as limited:
        server = await start_server(limited, "127.0.0.1:0")
        address = f"127.0.0.1:{server.port}"
        try:
            async with (
                TenazClient(address, api_key) as acme,
                TenazClient(address, other_api_key) as globex,
            ):
                held = [acme.watch_status(heartbeat_interval=second) for _ in range(2)]
                for stream in held:
                    await anext(stream)
                with pytest.raises(TenazError) as caught:
                    await anext(acme.watch_status(heartbeat_interval=second))
                assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "TENAZ_MAX_STREAMS_PER_WORKSPACE" in caught.value.message
                # Another workspace has a share of its own.
                other = globex.watch_status(heartbeat_interval=second)
                await anext(other)
                await other.aclose()
                # A closed stream gives its place back.
                await held[0].aclose()
                async with asyncio.timeout(10):
                    while True:
                        again = acme.watch_status(heartbeat_interval=second)
                        try:
                            await anext(again)
                            break
                        except TenazError:
                            await asyncio.sleep(0.1)  # the server has yet to see the close
                await again.aclose()
                await held[1].aclose()
        finally:
            await server.stop(grace=0.5)
