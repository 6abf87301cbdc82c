"""Waiting on the clock: a FakeClock releases a waiter when a test (or a sleeper) moves it
there, and waiting never moves it; the system clock's wait is real time."""

from __future__ import annotations

import asyncio
import datetime as dt

from jobs.clock import FakeClock, SystemClock

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def let_the_waiter_look() -> None:
    """Give every ready task its turn (no time passes): a woken waiter checks the clock."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_waiter_returns_once_the_clock_is_moved_past_its_time_and_never_moves_it() -> None:
    clock = FakeClock(T0)
    waiter = asyncio.create_task(clock.wait_until(T0 + dt.timedelta(minutes=5)))
    await let_the_waiter_look()
    assert clock.now() == T0  # waiting moved nothing

    clock.advance(dt.timedelta(minutes=4))
    await let_the_waiter_look()
    assert not waiter.done()  # woken, looked, still early
    assert clock.waiters == 1

    clock.advance(dt.timedelta(minutes=2))
    async with asyncio.timeout(10):
        await waiter
    assert clock.now() == T0 + dt.timedelta(minutes=6)
    assert clock.waiters == 0


async def test_set_and_a_sleepers_time_release_waiters_and_a_past_time_returns_at_once() -> None:
    clock = FakeClock(T0)
    by_set = asyncio.create_task(clock.wait_until(T0 + dt.timedelta(hours=1)))
    by_sleeper = asyncio.create_task(clock.wait_until(T0 + dt.timedelta(hours=2)))
    clock.set(T0 + dt.timedelta(hours=1))
    async with asyncio.timeout(10):
        await by_set
    await clock.sleep_until(T0 + dt.timedelta(hours=2))
    async with asyncio.timeout(10):
        await by_sleeper
        await clock.wait_until(T0)


async def test_the_system_clock_waits_in_real_time() -> None:
    clock = SystemClock()
    when = clock.now() + dt.timedelta(milliseconds=50)
    async with asyncio.timeout(5):
        await clock.wait_until(when)
    assert clock.now() >= when
