"""The status log keeps a row per move of many deliveries, and streams still get one change
per delivery: every change once, in order, through pages that end inside a row, with every
filter, and from a cursor inside a row."""

from __future__ import annotations

import asyncio

import pytest
from psycopg import sql
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2 as S

from jobs import keys, status_follower
from jobs.clock import FakeClock
from jobs.runtime import Runtime
from jobs.status_feed import Position
from tests.support import run_jobs

# (seq, delivery, status): what a reader of the log tells apart.
Seen = tuple[int, int, str]

EVENTS = 10


@pytest.fixture
async def workspace(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, api_key: str
) -> int:
    """Ten events, every other one a lead, to the Meta and the sandbox destination, all
    delivered: each destination's worker claims its ten in one batch and ends them at once,
    so the log holds a row of ten SENDING and one of ten SUCCEEDED per destination."""
    await client.create_sandbox_destination("sandbox")
    for n in range(EVENTS):
        await client.submit_event(
            make_event(
                event_id=f"e-{n}",
                event_name="Lead" if n % 2 else "Purchase",
                event_time=clock.now(),
                email="a@example.com",
            )
        )
    await run_jobs(runtime)
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT to_status, cardinality(delivery_ids) FROM tenaz_status_moves"
            " WHERE from_status IS NOT NULL"
        )
        assert (
            sorted(await cur.fetchall()) == [("SENDING", EVENTS)] * 2 + [("SUCCEEDED", EVENTS)] * 2
        )
    return (await keys.authenticate(runtime.pool, api_key)).workspace.id


async def logged(runtime: Runtime, workspace: int, where: str = "true") -> list[Seen]:
    """The workspace's changes that `where` keeps, read one per row from the log's view."""
    query = sql.SQL(
        "SELECT c.seq, c.delivery_id, c.to_status FROM tenaz_status_changes c"
        " JOIN tenaz_events e ON e.id = c.event_id"
        " JOIN tenaz_destinations dest ON dest.id = c.destination_id"
        " WHERE c.workspace_id = %s AND {} ORDER BY c.seq"
    ).format(sql.SQL(where))
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(query, (workspace,))
        return [(seq, delivery, status) for seq, delivery, status in await cur.fetchall()]


async def read_in_threes(
    runtime: Runtime, workspace: int, *, after: int = 0, filters: dict[str, list[str]] | None = None
) -> list[Seen]:
    """Everything the feed yields after `after`, three changes a page."""
    feed = runtime.feed
    where = await feed.filter(workspace, **(filters or {}))
    position = await feed.start(workspace, after)
    seen: list[Seen] = []
    while True:
        rows, position = await feed.read(workspace, position, where, 3)
        seen.extend((r.seq, r.delivery_id, r.to_status) for r in rows)
        if len(rows) < 3:
            return seen


async def test_pages_that_end_inside_rows_yield_every_change_once_in_order(
    runtime: Runtime, workspace: int
) -> None:
    everything = await logged(runtime, workspace)
    assert len(everything) == 3 * 2 * EVENTS
    assert await read_in_threes(runtime, workspace) == everything


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        ({"destinations": ["sandbox"]}, "dest.name = 'sandbox'"),
        ({"statuses": ["SUCCEEDED"]}, "c.to_status = 'SUCCEEDED'"),
        ({"event_names": ["Lead"]}, "e.event_name = 'Lead'"),
        ({"client_event_ids": ["e-3", "e-8"]}, "e.event_id IN ('e-3', 'e-8')"),
        (
            {"destinations": ["meta"], "statuses": ["SENDING"], "event_names": ["Purchase"]},
            "dest.name = 'meta' AND c.to_status = 'SENDING' AND e.event_name = 'Purchase'",
        ),
    ],
)
async def test_a_filtered_read_yields_the_matching_changes_in_order(
    runtime: Runtime, workspace: int, filters: dict[str, list[str]], where: str
) -> None:
    expected = await logged(runtime, workspace, where)
    assert expected  # the filter keeps some changes, and not all
    assert len(expected) < 3 * 2 * EVENTS
    assert await read_in_threes(runtime, workspace, filters=filters) == expected


async def test_a_read_resumes_from_a_cursor_inside_a_row(runtime: Runtime, workspace: int) -> None:
    everything = await logged(runtime, workspace)
    sending = [seen for seen in everything if seen[2] == "SENDING"]
    cursor = sending[3][0]  # the fourth change of a row of ten
    assert await read_in_threes(runtime, workspace, after=cursor) == [
        seen for seen in everything if seen[0] > cursor
    ]
    # A filtered read from there: the rest of that row's destination.
    feed = runtime.feed
    where = await feed.filter(workspace, statuses=["SENDING"])
    rows, position = await feed.read(workspace, Position(cursor, cursor), where, 100)
    assert [(r.seq, r.delivery_id, r.to_status) for r in rows] == sending[4:]
    assert position.sequence == everything[-1][0]


async def test_watch_status_streams_every_change_once_across_small_pages(
    client: TenazClient, runtime: Runtime, workspace: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_follower, "PAGE_SIZE", 3)
    everything = await logged(runtime, workspace)
    cursor = [seen for seen in everything if seen[2] == "SUCCEEDED"][6][0]
    for after, expected in [(0, everything), (cursor, [s for s in everything if s[0] > cursor])]:
        seen: list[Seen] = []
        async with asyncio.timeout(20):
            async for message in client.watch_status(after_sequence=after):
                if message.HasField("change"):
                    change = message.change
                    status = S.DeliveryStatus.Name(change.to_status).removeprefix(
                        "DELIVERY_STATUS_"
                    )
                    seen.append((change.sequence, int(change.delivery_id), status))
                    if len(seen) == len(expected):
                        break
        assert seen == expected
