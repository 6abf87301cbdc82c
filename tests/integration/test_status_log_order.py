"""The status log under out-of-order commits: a reader never passes a sequence number
that a running transaction will still commit, and writers never wait for each other."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import psycopg
import pytest
from tenaz.client import TenazClient, make_event

from jobs.clock import FakeClock
from jobs.model import ChangeFilter
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
        async with asyncio.timeout(5):
            notice = await anext(listener.notifies())
    assert notice.channel == NOTIFY_CHANNEL
