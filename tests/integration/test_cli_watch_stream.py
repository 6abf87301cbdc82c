"""The stream under `tenaz watch` and `events show --follow`, against a real server: where
changes may be missing it says so (a Resync), and it starts again from now after a purge
only when asked."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator

import grpc
import pytest
from tenaz.client import Reconnecting, TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.runtime import Runtime
from server.app import TenazServer, start_server
from server.cli.watch import Resync, watched_changes
from tests.support import run_jobs, until

Item = events_pb2.WatchStatusResponse | Resync


async def submit(client: TenazClient, clock: FakeClock, event_id: str) -> None:
    await client.submit_event(
        make_event(
            event_id=event_id, event_name="Purchase", event_time=clock.now(), email="a@example.com"
        )
    )


async def until_change(items: AsyncGenerator[Item, None]) -> list[Item]:
    """Items up to and including the next change."""
    seen: list[Item] = []
    async with asyncio.timeout(20):
        async for item in items:
            seen.append(item)
            if not isinstance(item, Resync) and item.HasField("change"):
                return seen
    raise AssertionError(f"the stream ended after {seen}")


async def test_a_stream_from_now_that_dropped_before_its_position_was_known_says_so(
    client: TenazClient, server: TenazServer, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    reconnects: list[Reconnecting] = []
    items = watched_changes(client, after=None, filters={}, on_reconnect=reconnects.append)
    reading = asyncio.create_task(until_change(items))
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)  # placed at "now", and nothing heard yet
    await server.stop(grace=0.5)
    async with asyncio.timeout(30):
        await until(lambda: bool(reconnects))
    again = await start_server(runtime, f"127.0.0.1:{server.port}")
    try:
        async with asyncio.timeout(30):
            await until(lambda: clock.waiters > 0)
        await submit(client, clock, "a")
        resync, change = await reading
    finally:
        await items.aclose()
        await again.stop(grace=0.5)
    assert resync == Resync("the stream dropped before its position was known")
    assert isinstance(change, events_pb2.WatchStatusResponse)
    assert change.change.client_event_id == "a"


async def test_after_a_purge_the_stream_starts_again_from_now_only_when_asked(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    await submit(client, clock, "old")
    await run_jobs(runtime)
    clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))
    assert (await runtime.retention.purge())["status_changes"] == 3
    reconnects: list[Reconnecting] = []

    with pytest.raises(TenazError) as caught:
        await anext(watched_changes(client, after=0, filters={}, on_reconnect=reconnects.append))
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE

    items = watched_changes(
        client, after=0, filters={}, on_reconnect=reconnects.append, restart_when_out_of_range=True
    )
    async with asyncio.timeout(30):
        resync = await anext(items)
    assert isinstance(resync, Resync)
    assert "no longer kept" in resync.reason
    reading = asyncio.create_task(until_change(items))
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)  # following from now
    await submit(client, clock, "new")
    try:
        [change] = await reading
    finally:
        await items.aclose()
    assert isinstance(change, events_pb2.WatchStatusResponse)
    assert change.change.client_event_id == "new"
    assert reconnects == []  # a restart from now is not a reconnect
