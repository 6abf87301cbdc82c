"""The one clock of the program.

Every "now" in Tenaz comes from a `Clock`, so tests can move time instead of
waiting: the 30-minute retry rule and the 7-day deadline are checked in
milliseconds with a `FakeClock`.
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
        """Return at `when` (at once if it has passed)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    async def sleep_until(self, when: dt.datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(UTC).replace(microsecond=0)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        if not isinstance(delta, dt.timedelta):
            delta = dt.timedelta(seconds=delta)
        self._now += delta
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._now = when

    async def sleep_until(self, when: dt.datetime) -> None:
        """Moves the clock to `when` (never back): a sleeper's time passes at once."""
        self._now = max(self._now, when)
        await asyncio.sleep(0)
