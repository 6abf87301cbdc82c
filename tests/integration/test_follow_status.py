"""The Python client's resumable follow against real servers that stop, restart, start late
and go silent: every change once and in order, reconnects reported with their reasons, and
what reconnecting cannot cure raised."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
from collections.abc import AsyncIterator

import grpc
import pytest
from tenaz.client import Reconnecting, ReconnectPolicy, TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs import keys
from jobs.clock import FakeClock
from jobs.runtime import Runtime
from jobs.settings import Settings
from server.app import TenazServer, start_server
from tests.support import (
    all_sequences,
    free_port,
    process_env,
    run_jobs,
    start_tenaz,
    until,
)

QUICK = ReconnectPolicy(backoff=(0.05, 0.1))
SECOND = dt.timedelta(seconds=1)


async def submit(client: TenazClient, clock: FakeClock, event_id: str) -> None:
    await client.submit_event(
        make_event(
            event_id=event_id, event_name="Purchase", event_time=clock.now(), email="a@example.com"
        )
    )


async def next_changes(
    follow: AsyncIterator[events_pb2.WatchStatusResponse], count: int
) -> list[int]:
    """The sequences of the next `count` changes the follow yields."""
    seen: list[int] = []
    async with asyncio.timeout(20):
        async for message in follow:
            if message.HasField("change"):
                seen.append(message.change.sequence)
                if len(seen) == count:
                    return seen
    raise AssertionError(f"the follow ended after {seen}")


@contextlib.asynccontextmanager
async def restarted(runtime: Runtime, server: TenazServer) -> AsyncIterator[TenazServer]:
    """A new server on the stopped one's port, stopped at the end."""
    again = await start_server(runtime, f"127.0.0.1:{server.port}")
    try:
        yield again
    finally:
        await again.stop(grace=0.5)


async def test_a_follow_resumes_after_the_server_restarts_with_no_gap_and_no_repeat(
    client: TenazClient, server: TenazServer, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    await submit(client, clock, "a")
    reconnects: list[Reconnecting] = []
    follow = client.follow_status(
        after_sequence=0, heartbeat_interval=SECOND, reconnect=QUICK, on_reconnect=reconnects.append
    )
    [born] = await all_sequences(runtime)
    assert await next_changes(follow, 1) == [born]  # PENDING

    reading = asyncio.create_task(next_changes(follow, 2))
    await server.stop(grace=0.5)  # the stream ends cleanly, then nothing answers
    async with asyncio.timeout(30):
        await until(lambda: len(reconnects) >= 3)
    await run_jobs(runtime)  # SENDING and SUCCEEDED while no server is up
    async with restarted(runtime, server):
        assert await reading == (await all_sequences(runtime))[1:]  # SENDING, SUCCEEDED
        await submit(client, clock, "b")
        assert await next_changes(follow, 1) == (await all_sequences(runtime))[3:]
    await follow.aclose()

    first, second, third = reconnects[:3]
    assert (first.reason, first.resumes_after, first.delay) == (
        "the server ended the stream",
        born,
        0.05,
    )
    assert second.reason.startswith("UNAVAILABLE: ")
    assert [r.failures for r in reconnects[:3]] == [1, 2, 3]
    assert (second.delay, third.delay) == (0.1, 0.1)  # the last wait repeats
    assert {r.resumes_after for r in reconnects} == {born}


async def test_a_follow_resumes_after_the_last_heartbeat_when_its_filter_passed_nothing(
    client: TenazClient, server: TenazServer, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    reconnects: list[Reconnecting] = []
    follow = client.follow_status(
        after_sequence=0,
        heartbeat_interval=SECOND,
        reconnect=QUICK,
        on_reconnect=reconnects.append,
        event_ids=["wanted"],
    )
    await submit(client, clock, "other")  # a change the filter passes over
    [passed] = await all_sequences(runtime)
    async with asyncio.timeout(10):
        async for message in follow:
            assert message.HasField("heartbeat")
            if message.heartbeat.last_sequence == passed:
                break
    reading = asyncio.create_task(next_changes(follow, 1))
    await server.stop(grace=0.5)
    async with asyncio.timeout(30):
        await until(lambda: bool(reconnects))
    async with restarted(runtime, server):
        await submit(client, clock, "wanted")
        assert await reading == (await all_sequences(runtime))[1:]
    await follow.aclose()
    assert reconnects and {r.resumes_after for r in reconnects} == {passed}


async def test_a_follow_from_now_that_breaks_before_its_position_is_known_says_so(
    client: TenazClient, server: TenazServer, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    reconnects: list[Reconnecting] = []
    follow = client.follow_status(
        heartbeat_interval=dt.timedelta(minutes=5), reconnect=QUICK, on_reconnect=reconnects.append
    )
    reading = asyncio.create_task(next_changes(follow, 1))
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)  # the server has placed the stream
    await server.stop(grace=0.5)
    async with asyncio.timeout(30):
        await until(lambda: bool(reconnects))
    async with restarted(runtime, server):
        async with asyncio.timeout(30):
            await until(lambda: clock.waiters > 0)
        await submit(client, clock, "a")
        assert await reading == await all_sequences(runtime)
    await follow.aclose()
    assert reconnects[0].resumes_after is None  # from now again: a reader should reload


async def test_a_server_not_there_at_the_start_is_an_error_unless_the_follow_waits_for_it(
    runtime: Runtime, api_key: str, clock: FakeClock
) -> None:
    address = f"127.0.0.1:{free_port()}"
    async with TenazClient(address, api_key) as tenaz:
        reconnects: list[Reconnecting] = []
        with pytest.raises(TenazError) as caught:
            await anext(tenaz.follow_status(on_reconnect=reconnects.append))
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert reconnects == []

        waiting = ReconnectPolicy(backoff=(0.05,), wait_for_server=True)
        follow = tenaz.follow_status(
            after_sequence=0, reconnect=waiting, on_reconnect=reconnects.append
        )
        reading = asyncio.create_task(next_changes(follow, 1))
        async with asyncio.timeout(30):
            await until(lambda: bool(reconnects))
        server = await start_server(runtime, address)
        try:
            # A new client: this one's channel holds back after its failure (gRPC's backoff).
            async with TenazClient(address, api_key) as fresh:
                await fresh.create_sandbox_destination("sandbox")
                await submit(fresh, clock, "a")
            assert await reading == await all_sequences(runtime)
        finally:
            reading.cancel()
            await follow.aclose()
            await server.stop(grace=0.5)


async def test_a_purged_position_is_raised_not_retried(
    client: TenazClient, runtime: Runtime
) -> None:
    reconnects: list[Reconnecting] = []
    async with runtime.pool.connection() as conn:
        await conn.execute("UPDATE tenaz_stream_state SET purged_through = 5")
    with pytest.raises(TenazError) as caught:
        await anext(client.follow_status(after_sequence=2, on_reconnect=reconnects.append))
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert reconnects == []


async def test_a_key_revoked_while_following_is_raised_at_the_next_connection(
    client: TenazClient, server: TenazServer, runtime: Runtime, api_key: str, clock: FakeClock
) -> None:
    reconnects: list[Reconnecting] = []
    # Heartbeats five minutes apart, the first brought by the clock: no second one comes
    # while the server stops, however long that takes.
    follow = client.follow_status(
        heartbeat_interval=dt.timedelta(minutes=5), reconnect=QUICK, on_reconnect=reconnects.append
    )
    first = asyncio.create_task(anext(follow))
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)  # the server has placed the stream
    clock.advance(dt.timedelta(minutes=5))
    assert (await first).HasField("heartbeat")
    await keys.revoke_key(runtime.pool, api_key)
    reading = asyncio.create_task(anext(follow))
    await server.stop(grace=0.5)
    async with restarted(runtime, server):
        with pytest.raises(TenazError) as caught:
            async with asyncio.timeout(10):
                await reading
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert reconnects and not any("UNAUTHENTICATED" in r.reason for r in reconnects)


@pytest.mark.slow
async def test_a_connection_that_goes_silent_counts_as_broken(
    settings: Settings, api_key: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENAZ_")} | {
        **process_env(settings),
        "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "TENAZ_DASHBOARD_ADDRESS": "",
        "TENAZ_INGEST_ADDRESS": "",
        "TENAZ_LOG_LEVEL": "WARNING",
    }
    process = await start_tenaz(env, "serve", stdout=asyncio.subprocess.DEVNULL)
    reconnects: list[Reconnecting] = []
    policy = ReconnectPolicy(backoff=(0.1,), silent_heartbeats=2, wait_for_server=True)
    try:
        async with TenazClient(f"127.0.0.1:{port}", api_key) as tenaz:
            follow = tenaz.follow_status(
                heartbeat_interval=SECOND, reconnect=policy, on_reconnect=reconnects.append
            )
            async with asyncio.timeout(30):  # the server process starts meanwhile
                assert (await anext(follow)).HasField("heartbeat")
            process.send_signal(signal.SIGSTOP)  # the connection stays open, and says nothing
            reading = asyncio.create_task(anext(follow))
            async with asyncio.timeout(10):
                await until(lambda: any(r.reason == "nothing heard for 2 s" for r in reconnects))
            process.send_signal(signal.SIGCONT)
            async with asyncio.timeout(10):
                assert (await reading).HasField("heartbeat")
            await follow.aclose()
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        async with asyncio.timeout(10):
            await process.communicate()
