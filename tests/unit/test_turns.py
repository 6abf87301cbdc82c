"""A long stretch of work in turns gives the event loop back between turns, and answers as
the plain loop would; while a read is in flight, it waits before its next turn (for a while)."""

from __future__ import annotations

import asyncio

import pytest

from jobs import turns
from jobs.turns import TURN, in_turns, reading


async def test_in_turns_answers_what_a_list_comprehension_would() -> None:
    items = range(TURN * 2 + 5)
    assert await in_turns(items, lambda i: i * i) == [i * i for i in items]
    assert await in_turns([], str) == []


async def test_another_task_runs_after_each_turn_not_after_the_whole_stretch() -> None:
    done: list[int] = []
    seen_by_other: list[int] = []

    async def other_call() -> None:
        for _ in range(3):
            seen_by_other.append(len(done))
            await asyncio.sleep(0)

    other = asyncio.create_task(other_call())
    await in_turns(range(TURN * 3 + 1), done.append)
    await other
    # The other call ran once the first turn was done, and again after each turn.
    assert seen_by_other == [TURN, TURN * 2, TURN * 3]


async def test_a_batch_waits_before_its_turns_while_a_read_is_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read goes first for a minute here: a machine however slow runs the loop's trips below
    # well within it.
    monkeypatch.setattr(turns, "READ_PRECEDENCE", 60.0)
    done: list[int] = []
    read_may_end = asyncio.Event()
    seen_by_read: list[int] = []

    async def read() -> None:
        with reading():
            for _ in range(5):  # the read's steps, each a trip through the loop
                seen_by_read.append(len(done))
                await asyncio.sleep(0)
            await read_may_end.wait()
            seen_by_read.append(len(done))

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)  # the read starts first
    batch = asyncio.create_task(in_turns(range(TURN * 3), done.append))
    for _ in range(20):
        await asyncio.sleep(0)
    # However many trips the loop made, the batch that came during the read waited before
    # its first turn...
    assert done == []
    assert seen_by_read == [0, 0, 0, 0, 0]
    read_may_end.set()
    await reader
    # ...and once the read ended, it went on to the end.
    assert await batch == [None] * (TURN * 3)
    assert len(done) == TURN * 3


async def test_a_read_that_lasts_delays_a_batch_once_not_at_every_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turns, "READ_PRECEDENCE", 0.5)
    never = asyncio.Event()

    async def endless_read() -> None:
        with reading():
            await never.wait()

    reader = asyncio.create_task(endless_read())
    await asyncio.sleep(0)
    try:
        # Waiting READ_PRECEDENCE at each of 100 turns would take 50 s; the read goes first
        # for its first 0.5 s only.
        items = range(TURN * 100)
        assert await asyncio.wait_for(in_turns(items, str), 10.0) == [str(i) for i in items]
    finally:
        reader.cancel()


async def test_reads_in_flight_are_counted_per_loop_and_released_on_error() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), reading(), reading():
        raise Boom
    # Both reads ended: a batch goes straight through its turns again.
    done: list[int] = []
    batch = asyncio.create_task(in_turns(range(TURN * 2), done.append))
    for _ in range(3):
        await asyncio.sleep(0)
    assert batch.done()
    assert len(done) == TURN * 2


async def test_a_batch_under_way_when_a_read_begins_waits_after_its_current_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turns, "READ_PRECEDENCE", 60.0)
    done: list[int] = []
    first_item = asyncio.Event()
    read_began = asyncio.Event()
    read_may_end = asyncio.Event()

    def step(item: int) -> None:
        done.append(item)
        if len(done) == 1:
            first_item.set()

    async def read() -> None:
        await first_item.wait()  # comes while the batch's first turn runs
        with reading():
            read_began.set()
            await read_may_end.wait()

    reader = asyncio.create_task(read())
    batch = asyncio.create_task(in_turns(range(TURN * 3), step))
    await read_began.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(done) == TURN
    read_may_end.set()
    await reader
    await batch
    assert len(done) == TURN * 3
