"""Following a workspace's status changes as they commit: the one loop behind every live stream.

WatchStatus and the dashboard's live stream only encode what a follow yields:
each change that passes its filter, in order, and a `Heartbeat` when nothing
did for a heartbeat interval (proxies keep an idle connection open, and the
reader learns how far the stream has read). Between reads a follow waits for a
wake-up (a change may have committed), its next heartbeat, or the end of its
server, whichever comes first; it also reads every few seconds, because a
wake-up can be lost (a notification sent while the listener reconnects) and
then only costs latency.

Time here is the program's clock: a test that moves a FakeClock past the
heartbeat interval gets its heartbeat at once. Real time bounds it too, see
`_Due`.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from jobs.clock import Clock
from jobs.errors import InvalidArgument, TooManyStreams
from jobs.model import ChangeFilter, ChangeView
from jobs.status_feed import Position, StatusFeed

__all__ = [
    "DEFAULT_HEARTBEAT",
    "Follow",
    "Followed",
    "Heartbeat",
    "StatusFollower",
    "WakeUps",
]

DEFAULT_HEARTBEAT = dt.timedelta(seconds=15)
SHORTEST_HEARTBEAT = dt.timedelta(seconds=1)
LONGEST_HEARTBEAT = dt.timedelta(minutes=5)
# Seconds of real time between reads when no wake-up comes: the safety net for a lost one.
POLL_INTERVAL = 2.0
# Changes read at a time; a full page is read on from at once, without waiting.
PAGE_SIZE = 500


@dataclass(frozen=True)
class Heartbeat:
    """Nothing passed the follow's filter for a heartbeat interval."""

    # Every change up to here has been read: a reader resumes after it.
    last_sequence: int
    at: dt.datetime


Followed: TypeAlias = ChangeView | Heartbeat


class WakeUps(Protocol):
    """What tells follows that changes may have committed (`server.status_hub` listens
    for PostgreSQL's notifications)."""

    async def wait(self, at_most: float) -> None:
        """Return when a change may have committed, or after `at_most` seconds."""
        ...


StillWanted: TypeAlias = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class _Due:
    """A moment one interval from now: by the program's clock, and at the latest in real time.

    The clock decides, so that moving a FakeClock brings a heartbeat at once.
    Real time bounds it, because what heartbeats are for counts real seconds (a
    proxy's idle timeout, a client's dead-peer check): a clock that stands still
    (a test's FakeClock nobody moves, a system clock set back) must not silence
    a stream. With the system clock both say the same.
    """

    by_clock: dt.datetime
    by_loop: float

    @classmethod
    def after(cls, clock: Clock, interval: dt.timedelta) -> _Due:
        loop = asyncio.get_running_loop()
        return cls(clock.now() + interval, loop.time() + interval.total_seconds())

    def reached(self, clock: Clock) -> bool:
        return clock.now() >= self.by_clock or self.real_seconds_left() == 0.0

    def real_seconds_left(self) -> float:
        return max(0.0, self.by_loop - asyncio.get_running_loop().time())


@dataclass(frozen=True)
class _Sources:
    """What every follow of one endpoint reads from, waits on, and ends with."""

    feed: StatusFeed
    clock: Clock
    wake_ups: WakeUps
    ends: tuple[asyncio.Event, ...]

    def ended(self) -> bool:
        return any(end.is_set() for end in self.ends)

    async def wait(self, heartbeat: _Due) -> None:
        """Until a change may have committed, the heartbeat is due, or the follow ends."""
        waits = [
            asyncio.ensure_future(
                self.wake_ups.wait(min(POLL_INTERVAL, heartbeat.real_seconds_left()))
            ),
            asyncio.ensure_future(self.clock.wait_until(heartbeat.by_clock)),
            *(asyncio.ensure_future(end.wait()) for end in self.ends),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)


class StatusFollower:
    """Opens follows for one endpoint; each ends when any of `ends` is set (its server stops)."""

    def __init__(
        self,
        feed: StatusFeed,
        clock: Clock,
        wake_ups: WakeUps,
        *,
        ends: Sequence[asyncio.Event] = (),
        per_workspace: int = 0,
    ) -> None:
        self._sources = _Sources(feed, clock, wake_ups, tuple(ends))
        # Follows open at once per workspace (0: no limit). Every commit wakes every follow
        # of the process, so one tenant's thousand idle streams would slow everyone's.
        self._per_workspace = per_workspace
        self._open: collections.Counter[int] = collections.Counter()

    async def open(
        self,
        workspace_id: int,
        *,
        after: int | None,
        heartbeat: dt.timedelta | None = None,
        destinations: Sequence[str] = (),
        statuses: Sequence[str] = (),
        event_names: Sequence[str] = (),
        client_event_ids: Sequence[str] = (),
        still_wanted: StillWanted | None = None,
    ) -> Follow:
        """Check the request and place the follow after `after` (None: after the newest change).

        Everything a request can get wrong (a filter, a purged `after`) is raised
        here, before an endpoint starts its answer. `still_wanted` is asked once a
        heartbeat interval, busy or idle; the follow ends when it answers False.
        """
        interval = DEFAULT_HEARTBEAT if heartbeat is None else heartbeat
        if not SHORTEST_HEARTBEAT <= interval <= LONGEST_HEARTBEAT:
            raise InvalidArgument.one("heartbeat_interval", "between 1 second and 5 minutes")
        if self._per_workspace and self._open[workspace_id] >= self._per_workspace:
            raise TooManyStreams(
                f"the workspace already has {self._per_workspace} status streams open on this"
                " server (TENAZ_MAX_STREAMS_PER_WORKSPACE): close one, or retry later"
            )
        feed = self._sources.feed
        start = await feed.start(workspace_id, after)
        where = await feed.filter(
            workspace_id,
            destinations=destinations,
            statuses=statuses,
            event_names=event_names,
            client_event_ids=client_event_ids,
        )
        self._open[workspace_id] += 1
        return Follow(
            self._sources,
            workspace_id,
            start,
            where,
            interval,
            still_wanted,
            closed=lambda: self._closed(workspace_id),
        )

    def _closed(self, workspace_id: int) -> None:
        self._open[workspace_id] -= 1
        if not self._open[workspace_id]:
            del self._open[workspace_id]


class Follow:
    """One opened follow: iterate it for changes and heartbeats. `position` is how far it has
    read (where it starts, before the first item).

    Raises OutOfRange while iterated when retention deletes changes it has not
    read yet.
    """

    def __init__(
        self,
        sources: _Sources,
        workspace_id: int,
        start: Position,
        where: ChangeFilter,
        heartbeat: dt.timedelta,
        still_wanted: StillWanted | None,
        *,
        closed: Callable[[], None],
    ) -> None:
        self.position = start
        self._closed: Callable[[], None] | None = closed
        self._sources = sources
        self._workspace_id = workspace_id
        self._where = where
        self._heartbeat = heartbeat
        self._still_wanted = still_wanted
        self._items = self._follow()

    def __aiter__(self) -> AsyncIterator[Followed]:
        return self._items

    async def aclose(self) -> None:
        """End the follow; every opened follow must be closed (it counts against its
        workspace's streams until then)."""
        await self._items.aclose()
        if self._closed is not None:
            self._closed()
            self._closed = None

    async def _follow(self) -> AsyncGenerator[Followed, None]:
        sources, clock = self._sources, self._sources.clock
        heartbeat = asked = _Due.after(clock, self._heartbeat)
        while not sources.ended():
            if asked.reached(clock):
                if self._still_wanted is not None and not await self._still_wanted():
                    return
                asked = _Due.after(clock, self._heartbeat)
            rows, self.position = await sources.feed.read(
                self._workspace_id, self.position, self._where, PAGE_SIZE
            )
            for row in rows:
                yield row
            if rows:
                heartbeat = _Due.after(clock, self._heartbeat)
                if len(rows) == PAGE_SIZE:
                    continue
            if heartbeat.reached(clock):
                yield Heartbeat(self.position.sequence, clock.now())
                heartbeat = _Due.after(clock, self._heartbeat)
                continue
            await sources.wait(heartbeat)
