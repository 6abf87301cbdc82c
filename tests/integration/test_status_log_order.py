"""The status log under out-of-order commits: a reader never passes a sequence number
that a running transaction will still commit, and writers never wait for each other."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from tenaz.client import TenazClient, make_event

from jobs.clock import FakeClock
from jobs.model import ChangeFilter, ChangeView, StatusChange
from jobs.runtime import Runtime
from jobs.status_feed import NOTIFY_CHANNEL
from jobs.store import status_changes
from tests.support import all_sequences, status_change


async def test_a_reader_waits_for_an_earlier_number_still_in_flight(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, database_url: str
) -> None:
    stored = await client.submit_event(
        make_event(event_id="e", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    delivery = stored.event.deliveries[0]
    change = status_change(clock.now(), delivery_id=int(delivery.id), event_id=int(stored.event.id))
    async with runtime.pool.connection() as reader:
        cursor = await status_changes.latest_sequence(reader, workspace_id=1)
    first = await psycopg.AsyncConnection.connect(database_url)
    second = await psycopg.AsyncConnection.connect(database_url)
    try:
        # Takes its numbers, stays open.
        await status_changes.record_status_changes(first, [replace(change, error="first")])
        # Takes higher numbers ...
        await status_changes.record_status_changes(second, [replace(change, error="second")])
        await second.commit()  # ... and commits first: writers do not wait
        async with runtime.pool.connection() as reader:
            page = await status_changes.changes_after(
                reader, workspace_id=1, after=cursor, where=ChangeFilter(), limit=100
            )
        assert page.rows == []
        assert page.cursor == cursor  # the cursor does not pass the number in flight
        await first.commit()
        async with runtime.pool.connection() as reader:
            page = await status_changes.changes_after(
                reader, workspace_id=1, after=cursor, where=ChangeFilter(), limit=100
            )
        assert [r.error for r in page.rows] == ["first", "second"]
        assert cursor < page.rows[0].seq < page.rows[1].seq == page.cursor
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("rollback", [True, False])
async def test_a_rolled_back_writer_leaves_a_gap_readers_pass(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
    database_url: str,
    rollback: bool,
) -> None:
    await client.submit_event(
        make_event(event_id="e", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    async with runtime.pool.connection() as reader:
        before = await status_changes.latest_sequence(reader, workspace_id=1)
    writer = await psycopg.AsyncConnection.connect(database_url)
    try:
        change = status_change(clock.now())
        await status_changes.record_status_changes(writer, [change])
        if rollback:
            await writer.rollback()
        else:
            await writer.commit()
        await client.submit_event(
            make_event(
                event_id="f", event_name="Lead", event_time=clock.now(), email="a@example.com"
            )
        )
        async with runtime.pool.connection() as reader:
            page = await status_changes.changes_after(
                reader, workspace_id=1, after=before, where=ChangeFilter(), limit=100
            )
        expected = ["f"] if rollback else ["e", "f"]
        assert [r.client_event_id for r in page.rows] == expected
        assert page.cursor == max(await all_sequences(runtime))
    finally:
        await writer.close()


async def test_a_commit_of_changes_notifies_the_channel_streams_listen_on(
    runtime: Runtime, database_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        async with runtime.pool.connection() as conn, conn.transaction():
            await status_changes.record_status_changes(
                conn,
                [status_change(runtime.clock.now(), from_status=None, to="PENDING")],
            )
        async with asyncio.timeout(30):
            notice = await anext(listener.notifies())
    assert notice.channel == NOTIFY_CHANNEL


async def test_concurrent_writers_committing_out_of_order_never_let_a_reader_pass_a_change(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, database_url: str
) -> None:
    """Writers of several rows each (one delivery moving twice) take their numbers in one
    order and commit in another, while a reader pages through the log two changes at a time
    (so pages end inside rows): the reader never passes a number a writer still running
    holds, and in the end it has read every change once, in order."""
    ids: list[tuple[int, int]] = []
    for n in range(8):
        stored = await client.submit_event(
            make_event(
                event_id=f"e-{n}", event_name="Lead", event_time=clock.now(), email="a@example.com"
            )
        )
        ids.append((int(stored.event.deliveries[0].id), int(stored.event.id)))
    async with runtime.pool.connection() as reader:
        start = await status_changes.latest_sequence(reader, workspace_id=1)

    def write_of(writer: int) -> list[StatusChange]:
        (first, first_event), (second, second_event) = ids[2 * writer : 2 * writer + 2]
        sending = status_change(clock.now(), delivery_id=first, event_id=first_event)
        return [
            replace(sending, error=f"w{writer}"),
            replace(sending, delivery_id=second, event_id=second_event, error=f"w{writer}"),
            replace(sending, from_status="SENDING", to_status="SUCCEEDED", error=f"w{writer}"),
        ]

    writers: dict[int, psycopg.AsyncConnection[Any]] = {}
    reads: list[tuple[int, set[int]]] = []  # (cursor after the read, writers still running)
    read: list[ChangeView] = []
    cursor = start

    async def step(action: str, writer: int = -1) -> None:
        nonlocal cursor
        if action == "start":
            writers[writer] = await psycopg.AsyncConnection.connect(database_url)
            await status_changes.record_status_changes(writers[writer], write_of(writer))
        elif action == "commit":
            await writers[writer].commit()
            await writers.pop(writer).close()
        else:
            async with runtime.pool.connection() as conn:
                while True:
                    page = await status_changes.changes_after(
                        conn, workspace_id=1, after=cursor, where=ChangeFilter(), limit=2
                    )
                    read.extend(page.rows)
                    cursor = page.cursor
                    if len(page.rows) < 2:
                        break
            reads.append((cursor, set(writers)))

    try:
        for action, writer in [
            ("start", 0), ("start", 1), ("commit", 1), ("read", -1), ("start", 2),
            ("commit", 0), ("read", -1), ("start", 3), ("commit", 3), ("read", -1),
            ("commit", 2), ("read", -1),
        ]:  # fmt: skip
            await step(action, writer)
    finally:
        for conn in writers.values():
            await conn.close()

    async with runtime.pool.connection() as conn:
        found = await conn.execute(
            "SELECT error, min(seq) FROM tenaz_status_changes WHERE seq > %s GROUP BY error",
            (start,),
        )
        lowest: dict[str, int] = dict(await found.fetchall())
        logged = await all_sequences(runtime)
    assert sorted(lowest) == ["w0", "w1", "w2", "w3"]
    # While writer 0, which took the lowest numbers, ran, nothing was read; after, never a
    # number of a writer still running.
    assert reads[0] == (start, {0})
    for passed, running in reads:
        assert all(passed < lowest[f"w{w}"] for w in running)
    assert [r.seq for r in read] == [seq for seq in logged if seq > start]
    for writer in range(4):
        mine = [(r.delivery_id, r.to_status) for r in read if r.error == f"w{writer}"]
        (first, _), (second, _) = ids[2 * writer : 2 * writer + 2]
        assert mine == [(first, "SENDING"), (second, "SENDING"), (first, "SUCCEEDED")]
