"""The one clock of the program.

Every "now" in Tenaz comes from a `Clock`, so tests can move time instead of
waiting: the 30-minute retry rule and the 7-day deadline are checked in
milliseconds with a `FakeClock`.

A task waits for a time in one of two ways. `sleep_until` is for a task whose
own waiting is the time passing (the delivery engine holding back for a rate
limit): a FakeClock jumps there at once. `wait_until` is for a task that
watches a time others bring (a status stream's next heartbeat): a FakeClock
returns when a test moves it there, and never moves for it. A watcher that
moved the clock would shift every other part's "now" (retries falling due,
sessions expiring) whenever a stream went idle.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep_until(self, when: dt.datetime) -> None:
        """Return at `when` (at once if it has passed); this task's time passes meanwhile."""
        ...

    async def wait_until(self, when: dt.datetime) -> None:
        """Return once the clock reads `when` or later, leaving the clock as it is."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    async def sleep_until(self, when: dt.datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))

    # Real time passes by itself: sleeping until a time and waiting for it are one thing.
    wait_until = sleep_until


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(UTC).replace(microsecond=0)
        self._moved = asyncio.Event()
        self._waiters = 0

    def now(self) -> dt.datetime:
        return self._now

    @property
    def waiters(self) -> int:
        """How many tasks are in `wait_until`: a test moves the clock once its watcher waits."""
        return self._waiters

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        if not isinstance(delta, dt.timedelta):
            delta = dt.timedelta(seconds=delta)
        self._move(self._now + delta)
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._move(when)

    async def sleep_until(self, when: dt.datetime) -> None:
        """Moves the clock to `when` (never back): a sleeper's time passes at once."""
        self._move(max(self._now, when))
        await asyncio.sleep(0)

    async def wait_until(self, when: dt.datetime) -> None:
        """Returns when a test (or a sleeper) has moved the clock to `when` or past it."""
        self._waiters += 1
        try:
            while self._now < when:
                await self._moved.wait()
        finally:
            self._waiters -= 1

    def _move(self, when: dt.datetime) -> None:
        self._now = when
        # Every waiter holds the current event; setting it wakes them all to look
        # at the time again, and later waiters get a fresh one.
        self._moved.set()
        self._moved = asyncio.Event()
