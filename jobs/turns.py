"""Long stretches of Python on the event loop, cut into turns.

A batch of hundreds of events takes tens of milliseconds of Python to decode, check, hash
and answer. Done in one stretch, every other call the process serves meanwhile (an
operator's ListEvents, GetStats, a status stream) waits for the whole stretch at each of its
own steps, and a read that costs a few milliseconds takes hundreds while batches arrive.
Giving the loop back every TURN items bounds that wait by a few milliseconds per batch in
flight, at the price of one trip through the loop per turn (microseconds).

Threads would not do it: one thread of Python runs at a time, and a loop that must win the
GIL back from a thread crunching a batch at each of its system calls waits longer, not less.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

# Items per turn: about 2 ms of checking and hashing events.
TURN = 32


async def in_turns(items: Iterable[_T], step: Callable[[_T], _R]) -> list[_R]:
    """`[step(item) for item in items]`, giving the event loop a turn every TURN items."""
    done: list[_R] = []
    for item in items:
        if done and len(done) % TURN == 0:
            await asyncio.sleep(0)
        done.append(step(item))
    return done
