"""GroupCommit: concurrent calls share writes, and each keeps its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jobs.group_commit import GroupCommit


class Recorder:
    """A writer that records each transaction's items; odd numbers are refused."""

    def __init__(self) -> None:
        self.transactions: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_with: Exception | None = None
        self.started = asyncio.Event()

    async def write(self, key: str, items: Sequence[int]) -> list[int | Exception]:
        self.transactions.append(list(items))
        self.started.set()
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_calls_that_arrive_together_share_one_write() -> None:
    recorder = Recorder()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.write, flushers=2)

    results = await asyncio.gather(*(group.submit("ws", i * 2) for i in range(20)))

    assert results == [i * 20 for i in range(20)]
    assert recorder.transactions == [[i * 2 for i in range(20)]]


async def test_a_refused_item_fails_its_own_call_only() -> None:
    recorder = Recorder()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.write)

    results = await asyncio.gather(
        *(group.submit("ws", i) for i in range(4)), return_exceptions=True
    )

    assert [r if isinstance(r, int) else str(r) for r in results] == [0, "odd 1", 20, "odd 3"]
    assert len(recorder.transactions) == 1


async def test_a_failed_write_fails_every_call_in_it() -> None:
    recorder = Recorder()
    recorder.fail_with = ConnectionError("database unreachable")
    group: GroupCommit[str, int, int] = GroupCommit(recorder.write)

    results = await asyncio.gather(
        *(group.submit("ws", 2) for _ in range(3)), return_exceptions=True
    )

    assert all(isinstance(r, ConnectionError) for r in results)


async def test_calls_arriving_during_a_write_go_in_the_next_one_and_keys_stay_apart() -> None:
    recorder = Recorder()
    recorder.release.clear()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.write, flushers=1, max_items=3)

    first = asyncio.create_task(group.submit("ws", 0))
    await recorder.started.wait()
    later = [asyncio.create_task(group.submit("ws", i)) for i in (2, 4, 6, 8)]
    other = asyncio.create_task(group.submit("other", 100))
    await asyncio.sleep(0)
    recorder.release.set()

    assert await first == 0
    assert [await t for t in later] == [20, 40, 60, 80]
    assert await other == 1000
    assert sorted(recorder.transactions) == sorted([[0], [100], [2, 4, 6], [8]])


async def test_a_caller_that_gives_up_does_not_disturb_the_others() -> None:
    recorder = Recorder()
    recorder.release.clear()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.write, flushers=1)

    quitter = asyncio.create_task(group.submit("ws", 2))
    stayer = asyncio.create_task(group.submit("ws", 4))
    await recorder.started.wait()
    quitter.cancel()
    recorder.release.set()

    assert await stayer == 40
    with pytest.raises(asyncio.CancelledError):
        await quitter
