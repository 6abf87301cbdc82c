"""A long stretch of work in turns gives the event loop back between turns, and answers as
the plain loop would."""

from __future__ import annotations

import asyncio

from jobs.turns import TURN, in_turns


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
