"""Events and the reads that show them with their deliveries and attempts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from jobs.model import Attempt, Delivery, DeliveryFilter, Event
from jobs.status import BIRTH
from jobs.store.delivery_filter import delivery_clauses, event_clauses


# Not frozen: built for each event of each submission, and a frozen dataclass costs three
# times as much to build. Nothing changes one after it is built.
@dataclass(slots=True)
class NewEvent:
    event_name: str
    event_id: str
    event_time: dt.datetime
    order_id: str
    payload: dict[str, Any]

    def with_payload(self, payload: dict[str, Any]) -> NewEvent:
        """The same event with `payload` (dataclasses.replace, without its cost)."""
        return NewEvent(self.event_name, self.event_id, self.event_time, self.order_id, payload)


async def insert_events(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    events: Sequence[NewEvent],
    now: dt.datetime,
    trace_context: str | Sequence[str] = "",
) -> dict[tuple[str, str], tuple[int, bool]]:
    """Insert events that are new; map each (event_name, event_id) to (id, duplicate).

    `trace_context`, only when traces are on, is the trace context of the submission that
    sent every event (one value, however many events), or each event's, in order (single
    events of several submissions written together).
    """
    columns, values, arrays = "", "", ""
    params: list[Any] = [
        workspace_id,
        now,
        [e.event_name for e in events],
        [e.event_id for e in events],
        [e.event_time for e in events],
        [e.order_id for e in events],
        [Jsonb(e.payload) for e in events],
    ]
    if isinstance(trace_context, str):
        if trace_context:
            columns, values = ", trace_context", ", %s"
            params.insert(2, trace_context)
    else:
        columns, values, arrays = ", trace_context", ", tc", ", %b::text[]"
        params.append(list(trace_context))
    cur = await conn.execute(
        "INSERT INTO tenaz_events (workspace_id, event_name, event_id, event_time, order_id,"
        f" payload, received_at{columns})"
        f" SELECT %s, n, i, t, o, p, %s{values} FROM unnest("
        f"%b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::jsonb[]{arrays})"
        f"   AS x(n, i, t, o, p{', tc' if arrays else ''})"
        " ON CONFLICT (workspace_id, event_name, event_id) DO NOTHING"
        " RETURNING id, event_name, event_id",
        params,
    )
    result = {(name, eid): (id_, False) for id_, name, eid in await cur.fetchall()}
    missing = [
        (e.event_name, e.event_id) for e in events if (e.event_name, e.event_id) not in result
    ]
    if missing:
        cur = await conn.execute(
            "SELECT e.id, e.event_name, e.event_id FROM tenaz_events e"
            " JOIN unnest(%b::text[], %b::text[]) AS x(n, i)"
            "   ON e.event_name = x.n AND e.event_id = x.i"
            " WHERE e.workspace_id = %s",
            ([m[0] for m in missing], [m[1] for m in missing], workspace_id),
        )
        for id_, name, eid in await cur.fetchall():
            result[(name, eid)] = (id_, True)
    return result


async def insert_deliveries(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    rows: Sequence[tuple[int, int, dt.datetime]],
    now: dt.datetime,
) -> list[tuple[int, int, int]]:
    """Create PENDING deliveries for (event id, destination id, deadline) rows.

    Returns (delivery id, event id, destination id) for each one created.
    """
    cur = await conn.execute(
        "INSERT INTO tenaz_deliveries (workspace_id, event_id, destination_id, status,"
        " next_attempt_at, deadline, created_at, updated_at)"
        f" SELECT %s, e, d, '{BIRTH}', %s, dl, %s, %s"
        " FROM unnest(%b::bigint[], %b::bigint[], %b::timestamptz[]) AS x(e, d, dl)"
        " ON CONFLICT (event_id, destination_id) DO NOTHING"
        " RETURNING id, event_id, destination_id",
        (
            workspace_id,
            now,
            now,
            now,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
        ),
    )
    return [(r[0], r[1], r[2]) for r in await cur.fetchall()]


_DELIVERY_COLUMNS = (
    "d.id, d.event_id, d.destination_id, dest.name AS destination_name,"
    " dest.kind AS destination_kind, d.status,"
    " d.failure_reason, d.attempt_count, d.next_attempt_at, d.deadline, d.last_error,"
    " d.created_at, d.updated_at"
)


def _newest_with_status(
    where: DeliveryFilter, before_id: int | None, params: dict[str, Any]
) -> str:
    """The ids of the newest `limit` events with a delivery in one of `where.statuses` that
    match the rest of the filter.

    Read from the deliveries' (workspace, status, event) index, newest event first, one
    status at a time: reading events newest first instead would pass over every newer event
    without such a delivery (during a drain, all of them). The event's own conditions are a
    subquery per delivery, which keeps the index's order.
    """
    checks = delivery_clauses(dataclasses.replace(where, statuses=()), params)
    if before_id is not None:
        checks.append("d.event_id < %(before_id)s")
        params["before_id"] = before_id
    if of_event := event_clauses(where, params):
        checks.append(
            f"(SELECT {' AND '.join(of_event)} FROM tenaz_events e WHERE e.id = d.event_id)"
        )
    branches = []
    for index, status in enumerate(dict.fromkeys(where.statuses)):
        params[f"status_{index}"] = status
        conditions = ["d.workspace_id = %(ws)s", f"d.status = %(status_{index})s", *checks]
        branches.append(
            "(SELECT DISTINCT d.event_id FROM tenaz_deliveries d"
            f" WHERE {' AND '.join(conditions)} ORDER BY d.event_id DESC LIMIT %(limit)s)"
        )
    return (
        f"SELECT m.event_id FROM ({' UNION '.join(branches)}) AS m"
        " ORDER BY m.event_id DESC LIMIT %(limit)s"
    )


async def _deliveries_of(
    conn: AsyncConnection, event_ids: Sequence[int], *, with_attempts: bool
) -> dict[int, list[Delivery]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_DELIVERY_COLUMNS}, d.next_trigger, d.attempt_started_at"
        " FROM tenaz_deliveries d"
        " JOIN tenaz_destinations dest ON dest.id = d.destination_id"
        " WHERE d.event_id = ANY(%b::bigint[]) ORDER BY d.event_id, dest.name",
        (list(event_ids),),
    )
    rows = await cur.fetchall()
    attempts: dict[int, list[Attempt]] = defaultdict(list)
    if with_attempts and rows:
        acur = conn.cursor(row_factory=dict_row)
        await acur.execute(
            "SELECT delivery_id, number, trigger, started_at, finished_at, outcome, http_status,"
            " platform_code, platform_subcode, message, response_excerpt FROM tenaz_attempts"
            " WHERE delivery_id = ANY(%b::bigint[]) ORDER BY delivery_id, number",
            ([r["id"] for r in rows],),
        )
        for a in await acur.fetchall():
            attempts[a.pop("delivery_id")].append(Attempt(**a))
    by_event: dict[int, list[Delivery]] = defaultdict(list)
    for r in rows:
        trigger, started_at = r.pop("next_trigger"), r.pop("attempt_started_at")
        timeline = attempts.get(r["id"], [])
        if with_attempts and r["status"] in ("SENDING", "RESENDING") and started_at is not None:
            timeline = _with_running(timeline, r["attempt_count"], trigger, started_at)
        by_event[r["event_id"]].append(Delivery(**r, attempts=tuple(timeline)))
    return by_event


def _with_running(
    timeline: list[Attempt], number: int, trigger: str, started_at: dt.datetime
) -> list[Attempt]:
    """The timeline with the running attempt, which has no row until it ends."""
    if any(a.number == number for a in timeline):
        return timeline
    running = Attempt(
        number=number,
        trigger=trigger,
        started_at=started_at,
        finished_at=None,
        outcome="in_progress",
        http_status=None,
        platform_code=None,
        platform_subcode=None,
        message="",
        response_excerpt="",
    )
    return [*timeline, running]


_EVENT_COLUMNS = "id, workspace_id, event_name, event_id, event_time, payload, received_at"


async def get_events(
    conn: AsyncConnection, *, workspace_id: int, ids: Sequence[int], with_attempts: bool = False
) -> list[Event]:
    """Events of the workspace with these ids, in the order of `ids`."""
    cur = conn.cursor(row_factory=class_row(Event))
    await cur.execute(
        f"SELECT {_EVENT_COLUMNS} FROM tenaz_events"
        " WHERE workspace_id = %s AND id = ANY(%b::bigint[])",
        (workspace_id, list(ids)),
    )
    found = {e.id: e for e in await cur.fetchall()}
    deliveries = await _deliveries_of(conn, list(found), with_attempts=with_attempts)
    return [_with_deliveries(found[i], deliveries.get(i, [])) for i in ids if i in found]


def _with_deliveries(event: Event, deliveries: list[Delivery]) -> Event:
    return Event(
        id=event.id,
        workspace_id=event.workspace_id,
        event_name=event.event_name,
        event_id=event.event_id,
        event_time=event.event_time,
        payload=event.payload,
        received_at=event.received_at,
        deliveries=tuple(deliveries),
    )


async def list_events(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    where: DeliveryFilter,
    before_id: int | None,
    limit: int,
) -> list[Event]:
    """Newest first, keyset-paginated on the event id (stable under inserts)."""
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit}
    columns = ", ".join("e." + c for c in _EVENT_COLUMNS.split(", "))
    cur = conn.cursor(row_factory=class_row(Event))
    if where.statuses:
        await cur.execute(
            f"SELECT {columns} FROM tenaz_events e"
            f" WHERE e.id IN ({_newest_with_status(where, before_id, params)})"
            " ORDER BY e.id DESC",
            params,
        )
    else:
        clauses = ["e.workspace_id = %(ws)s", *event_clauses(where, params)]
        if before_id is not None:
            clauses.append("e.id < %(before_id)s")
            params["before_id"] = before_id
        # An event matches when one of its deliveries does.
        if sub := delivery_clauses(where, params):
            sub_sql = " AND ".join(["d.event_id = e.id", *sub])
            clauses.append(f"EXISTS (SELECT 1 FROM tenaz_deliveries d WHERE {sub_sql})")
        await cur.execute(
            f"SELECT {columns} FROM tenaz_events e WHERE {' AND '.join(clauses)}"
            " ORDER BY e.id DESC LIMIT %(limit)s",
            params,
        )
    events = await cur.fetchall()
    deliveries = await _deliveries_of(conn, [e.id for e in events], with_attempts=False)
    return [_with_deliveries(e, deliveries.get(e.id, [])) for e in events]
