"""Listing events by their deliveries' status reads the deliveries' index (newest event first),
not every newer event: the pages it gives are exactly the ones the plain definition gives
(events of the workspace, newest first, with a delivery in one of the statuses that also
matches the rest of the filter), page after page."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from jobs.model import DeliveryFilter
from jobs.store import events

STATUSES = ("PENDING", "SENDING", "WAITING_RETRY", "SUCCEEDED", "FAILED")


@pytest.fixture
def stored(database_url: str) -> dict[int, tuple[str, dict[int, str]]]:
    """60 events of workspace 1 (and some of workspace 2), each with deliveries to two
    destinations in statuses that repeat with different periods; event id -> (name,
    {destination id: status})."""
    expected: dict[int, tuple[str, dict[int, str]]] = {}
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme'), (2, 'globex');"
            " INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at,"
            "  updated_at) VALUES (1, 1, 'a', 'sandbox', now(), now()),"
            "  (2, 1, 'b', 'sandbox', now(), now()), (3, 2, 'c', 'sandbox', now(), now())"
        )
        for i in range(1, 71):
            workspace = 2 if i % 7 == 0 else 1
            name = "Purchase" if i % 3 else "Lead"
            statuses = (
                {3: STATUSES[i % 5]}
                if workspace == 2
                else {1: STATUSES[i % 5], 2: STATUSES[(i // 2) % 5]}
            )
            conn.execute(
                "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
                " payload, received_at) VALUES (%s, %s, %s, %s, now(), '{}', now())",
                (i, workspace, name, f"e-{i}"),
            )
            for destination, status in statuses.items():
                conn.execute(
                    "INSERT INTO tenaz_deliveries (workspace_id, event_id, destination_id,"
                    " status, deadline, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, now(), now(), now())",
                    (workspace, i, destination, status),
                )
            if workspace == 1:
                expected[i] = (name, statuses)
    return expected


@pytest.mark.parametrize(
    ("statuses", "destination", "event_name"),
    [
        (("FAILED",), None, ""),
        (("SUCCEEDED",), 2, ""),
        (("FAILED", "WAITING_RETRY"), None, "Purchase"),
        (("PENDING", "SENDING", "FAILED"), 1, "Lead"),
        (("WAITING_RETRY", "WAITING_RETRY"), None, ""),
    ],
)
async def test_pages_by_status_are_those_of_the_plain_definition(
    database_url: str,
    stored: dict[int, tuple[str, dict[int, str]]],
    statuses: tuple[str, ...],
    destination: int | None,
    event_name: str,
) -> None:
    wanted = [
        event_id
        for event_id, (name, deliveries) in sorted(stored.items(), reverse=True)
        if (not event_name or name == event_name)
        and any(
            status in statuses and destination in (None, to) for to, status in deliveries.items()
        )
    ]
    assert wanted  # the case selects something
    where = DeliveryFilter(statuses=statuses, destination_id=destination, event_name=event_name)
    seen: list[int] = []
    sizes: list[int] = []
    before: int | None = None
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for _ in itertools.count():
            page = await events.list_events(
                conn, workspace_id=1, where=where, before_id=before, limit=4
            )
            if not page:
                break
            seen += [int(event.id) for event in page]
            sizes.append(len(page))
            before = int(page[-1].id)
    assert seen == wanted
    # Every page but the last is full: a short page would tell the caller it was the last.
    assert all(size == 4 for size in sizes[:-1])
