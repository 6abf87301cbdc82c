"""Group commit: concurrent callers share one transaction instead of one each.

A durable commit waits for the disk, so a transaction per single-event call caps
a server at a few hundred calls a second however fast the rest is. `GroupCommit`
queues each call and lets a flusher (or a few) write whatever has queued up as
one transaction: at low load a call is written at once, alone; under load the
calls that arrive while a transaction is in flight share the next one. A call's answer
comes only after the transaction holding it has committed, so acknowledging
still means stored.

Each call keeps its own outcome: the writer returns one result or one exception
per call, so one caller's invalid input fails that caller alone. A failure of
the whole transaction goes to every call in it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Key = TypeVar("Key", bound=Hashable)


@dataclass
class _Call(Generic[Item, Result]):
    item: Item
    answer: asyncio.Future[Result]


class GroupCommit(Generic[Key, Item, Result]):
    """Writes calls with the same key together, at most `flushers` transactions at a time.

    `max_items` bounds one transaction; the rest waits for the next one. `written`, if
    given, hears how many calls each transaction held (the group's size).
    """

    def __init__(
        self,
        # One transaction for the items of several calls: one result or exception each.
        write: Callable[[Key, Sequence[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        flushers: int = 2,
        max_items: int = 1000,
        written: Callable[[int], None] | None = None,
    ) -> None:
        self._write = write
        self._written = written
        self._flushers = flushers
        self._max_items = max_items
        self._queued: dict[Key, list[_Call[Item, Result]]] = defaultdict(list)
        self._running: dict[Key, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: Key, item: Item) -> Result:
        call: _Call[Item, Result] = _Call(item, asyncio.get_running_loop().create_future())
        self._queued[key].append(call)
        if self._running[key] < self._flushers:
            self._running[key] += 1
            task = asyncio.create_task(self._flush(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await call.answer

    async def _flush(self, key: Key) -> None:
        try:
            while queued := self._queued.get(key):
                calls = queued[: self._max_items]
                del queued[: self._max_items]
                if not queued:
                    del self._queued[key]
                await self._write_calls(key, calls)
        finally:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]

    async def _write_calls(self, key: Key, calls: list[_Call[Item, Result]]) -> None:
        if self._written is not None:
            self._written(len(calls))
        try:
            outcomes = await self._write(key, [c.item for c in calls])
        except Exception as exc:  # the whole transaction failed: every call in it did
            for call in calls:
                if not call.answer.done():
                    call.answer.set_exception(exc)
            return
        except BaseException:
            for call in calls:
                if not call.answer.done():
                    call.answer.cancel()
            raise
        for call, outcome in zip(calls, outcomes, strict=True):
            if call.answer.done():  # the caller gave up (cancelled); its write stands
                continue
            if isinstance(outcome, Exception):
                call.answer.set_exception(outcome)
            else:
                call.answer.set_result(outcome)
