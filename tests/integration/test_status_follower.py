"""The follow behind every live stream, against the real log and the real NOTIFY listener:
heartbeats and the reader's check come on the program's clock (a moved FakeClock brings them
at once), real time still bounds them, and a follow ends with its server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from jobs import keys
from jobs.clock import FakeClock
from jobs.destinations import DestinationSpec
from jobs.model import ChangeView
from jobs.runtime import Runtime
from jobs.status_follower import Follow, Heartbeat, StatusFollower
from jobs.submission import EventInput
from server.app import TenazServer
from server.status_hub import StatusHub
from tests.support import until

LONG = dt.timedelta(minutes=5)  # a heartbeat interval no test waits for in real time


@pytest.fixture
def hub(server: TenazServer) -> StatusHub:
    """The wake-ups of a running server (its LISTEN connection)."""
    return server.hub


@pytest.fixture
def follower(runtime: Runtime, hub: StatusHub) -> StatusFollower:
    return StatusFollower(runtime.feed, runtime.clock, hub, ends=(hub.closing,))


@pytest.fixture
async def workspace(runtime: Runtime) -> int:
    workspace_id = (await keys.create_key(runtime.pool, workspace="acme")).workspace.id
    await runtime.destinations.create(workspace_id, DestinationSpec(name="sandbox", kind="sandbox"))
    return workspace_id


async def submit(runtime: Runtime, workspace_id: int, event_id: str) -> None:
    lead = EventInput(event_id, "Lead", runtime.clock.now(), user_data={"email": "a@example.com"})
    await runtime.submissions.submit(workspace_id, [lead], batch=False)


async def advance_once_waiting(clock: FakeClock, delta: dt.timedelta) -> None:
    """Move the clock once the follow waits on it: moved earlier, it would count from there."""
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)
    clock.advance(delta)


async def next_item(follow: Follow) -> ChangeView | Heartbeat:
    """The follow's next item, well before any real-time heartbeat of LONG could come."""
    async with asyncio.timeout(30):
        return await anext(aiter(follow))


async def test_moving_the_clock_past_the_heartbeat_interval_brings_a_heartbeat_at_once(
    runtime: Runtime, clock: FakeClock, follower: StatusFollower, workspace: int
) -> None:
    follow = await follower.open(workspace, after=None, heartbeat=LONG)
    assert follow.position.sequence == 0
    await submit(runtime, workspace, "lead-1")  # the NOTIFY wakes the follow
    change = await next_item(follow)
    assert isinstance(change, ChangeView)
    assert (change.client_event_id, change.to_status) == ("lead-1", "PENDING")

    waiting = asyncio.create_task(next_item(follow))
    await advance_once_waiting(clock, LONG)
    heartbeat = await waiting
    assert heartbeat == Heartbeat(last_sequence=change.seq, at=clock.now())
    # The next one is an interval after this one, by the same clock.
    waiting = asyncio.create_task(next_item(follow))
    await advance_once_waiting(clock, LONG)
    assert await waiting == Heartbeat(last_sequence=change.seq, at=clock.now())
    await follow.aclose()


async def test_the_reader_is_asked_every_interval_of_the_clock_even_while_changes_flow(
    runtime: Runtime, clock: FakeClock, follower: StatusFollower, workspace: int
) -> None:
    answers = [True, False]
    asked_at: list[dt.datetime] = []

    async def still_wanted() -> bool:
        asked_at.append(clock.now())
        return answers.pop(0)

    opened_at = clock.now()
    follow = await follower.open(workspace, after=None, heartbeat=LONG, still_wanted=still_wanted)
    waiting = asyncio.create_task(next_item(follow))
    await advance_once_waiting(clock, LONG)
    assert isinstance(await waiting, Heartbeat)  # asked first: still wanted
    assert asked_at == [opened_at + LONG]

    # Changes keep the stream busy (no heartbeat is due), and the reader is asked anyway.
    waiting = asyncio.create_task(next_item(follow))
    await advance_once_waiting(clock, LONG / 2)
    await submit(runtime, workspace, "lead-1")
    assert isinstance(await waiting, ChangeView)
    rest_task = asyncio.create_task(anext(aiter(follow), None))
    await advance_once_waiting(clock, LONG / 2)
    await submit(runtime, workspace, "lead-2")
    async with asyncio.timeout(30):
        assert await rest_task is None  # no longer wanted: lead-2 is not sent
    assert asked_at == [opened_at + LONG, opened_at + 2 * LONG]


async def test_a_clock_nobody_moves_still_gets_heartbeats_in_real_time(
    clock: FakeClock, follower: StatusFollower, workspace: int
) -> None:
    follow = await follower.open(workspace, after=None, heartbeat=dt.timedelta(seconds=1))
    async with asyncio.timeout(30):
        heartbeat = await anext(aiter(follow))
    assert heartbeat == Heartbeat(last_sequence=0, at=clock.now())
    await follow.aclose()


async def test_a_follow_ends_when_its_server_stops(
    runtime: Runtime, hub: StatusHub, workspace: int
) -> None:
    stopping = asyncio.Event()
    follower = StatusFollower(runtime.feed, runtime.clock, hub, ends=(hub.closing, stopping))
    follow = await follower.open(workspace, after=None, heartbeat=LONG)
    reading = asyncio.create_task(anext(aiter(follow)))
    stopping.set()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(30):
            await reading
