"""Long stretches of Python on the event loop, cut into turns, and reads served first.

A batch of hundreds of events takes tens of milliseconds of Python to decode, check, hash
and answer. Done in one stretch, every other call the process serves meanwhile (an
operator's ListEvents, GetStats, a status stream) waits for the whole stretch at each of its
own steps, and a read that costs a few milliseconds takes hundreds while batches arrive.
Giving the loop back every TURN items bounds that wait by a few milliseconds per batch in
flight, at the price of one trip through the loop per turn (microseconds).

Turns alone still make a read wait, at each of its steps (a query sent, its answer read,
the reply written), for one turn of every batch in flight: with a handful of batches that
is tens of milliseconds per step, hundreds per read. So a call that an operator waits for
marks itself `reading()`, and while such a call is in flight in the loop, batches wait
before each of their turns, for the call's first READ_PRECEDENCE seconds at most (so that
a call that lasts delays them once, and a stream of reads slows them but never stops
them). Reads are few and short; batches lose milliseconds, and the screen stays fast while
a drain saturates the machine.

Threads would not do it: one thread of Python runs at a time, and a loop that must win the
GIL back from a thread crunching a batch at each of its system calls waits longer, not less.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

# Items per turn: about 1 ms of checking and hashing events.
TURN = 16

# How long a read goes before batches, in seconds from its start: a read takes a few
# milliseconds of this process when served first, and tens when the machine's cores are
# busy with a drain's other processes.
READ_PRECEDENCE = 0.1


class _Reads:
    """The reads in flight in one event loop: when each began, and an event set when one ends."""

    def __init__(self) -> None:
        self.began: dict[object, float] = {}
        self.ended = asyncio.Event()

    def end(self, read: object) -> None:
        del self.began[read]
        self.ended.set()
        self.ended = asyncio.Event()


_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reads] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Mark the code inside as a read someone waits for: batches in this loop give way to it
    for its first READ_PRECEDENCE seconds."""
    loop = asyncio.get_running_loop()
    reads = _reads.get(loop)
    if reads is None:
        reads = _reads[loop] = _Reads()
    read = object()
    reads.began[read] = loop.time()
    try:
        yield
    finally:
        reads.end(read)


def reads_in_flight() -> int:
    """How many calls marked `reading()` the running loop is serving now."""
    reads = _reads.get(asyncio.get_running_loop())
    return len(reads.began) if reads is not None else 0


async def give_way() -> None:
    """Let the loop run everything else that is ready, then wait while a read in flight
    began less than READ_PRECEDENCE ago.

    A read's precedence is bounded in time, not per turn: a call that lasts (a test message
    to an alert channel, a slow query) delays a batch by READ_PRECEDENCE once, not at every
    one of its turns.
    """
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    reads = _reads.get(loop)
    while reads is not None and reads.began:
        left = max(reads.began.values()) + READ_PRECEDENCE - loop.time()
        if left <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reads.ended.wait(), left)


async def in_turns(items: Iterable[_T], step: Callable[[_T], _R]) -> list[_R]:
    """`[step(item) for item in items]`, giving way every TURN items (`give_way`), and
    before the first when a read is in flight."""
    done: list[_R] = []
    if reads_in_flight():
        await give_way()
    for item in items:
        if done and len(done) % TURN == 0:
            await give_way()
        done.append(step(item))
    return done
