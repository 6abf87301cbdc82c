"""Bulk operations (retry, cancel) and the deliveries they select."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from jobs.model import DeliveryFilter, OperationRow
from jobs.store.delivery_filter import delivery_clauses, event_clauses


@dataclass(frozen=True)
class SelectedDelivery:
    id: int
    workspace_id: int
    event_id: int
    destination_id: int
    status: str
    attempt_count: int
    deadline: dt.datetime
    last_error: str
    # Nothing can send a delivery of a deleted destination: a retry skips it.
    destination_deleted: bool


_COLUMNS = (
    "id, workspace_id, kind, state, filter, total, processed, changed, skipped,"
    " last_delivery_id, error, created_at, finished_at"
)
_SELECTED = (
    "d.id, d.workspace_id, d.event_id, d.destination_id, d.status, d.attempt_count,"
    " d.deadline, d.last_error,"
    " EXISTS (SELECT 1 FROM tenaz_destinations dest"
    "   WHERE dest.id = d.destination_id AND dest.deleted_at IS NOT NULL) AS destination_deleted"
)


def _where(workspace_id: int, where: DeliveryFilter) -> tuple[list[str], dict[str, Any]]:
    params: dict[str, Any] = {"ws": workspace_id}
    clauses = [
        "d.workspace_id = %(ws)s",
        *delivery_clauses(where, params),
        *event_clauses(where, params),
    ]
    return clauses, params


async def count_matching(conn: AsyncConnection, *, workspace_id: int, where: DeliveryFilter) -> int:
    clauses, params = _where(workspace_id, where)
    cur = await conn.execute(
        "SELECT count(*) FROM tenaz_deliveries d JOIN tenaz_events e ON e.id = d.event_id"
        f" WHERE {' AND '.join(clauses)}",
        params,
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def lock_matching(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    where: DeliveryFilter,
    after_id: int,
    limit: int,
) -> list[SelectedDelivery]:
    """The next `limit` matching deliveries by id after `after_id`, locked."""
    clauses, params = _where(workspace_id, where)
    clauses.append("d.id > %(after_id)s")
    params.update(after_id=after_id, limit=limit)
    cur = conn.cursor(row_factory=class_row(SelectedDelivery))
    await cur.execute(
        f"SELECT {_SELECTED} FROM tenaz_deliveries d JOIN tenaz_events e ON e.id = d.event_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY d.id LIMIT %(limit)s FOR UPDATE OF d",
        params,
    )
    return await cur.fetchall()


async def lock_by_ids(
    conn: AsyncConnection, *, workspace_id: int, ids: Sequence[int]
) -> list[SelectedDelivery]:
    cur = conn.cursor(row_factory=class_row(SelectedDelivery))
    await cur.execute(
        f"SELECT {_SELECTED} FROM tenaz_deliveries d"
        " WHERE d.workspace_id = %s AND d.id = ANY(%s) ORDER BY d.id FOR UPDATE",
        (workspace_id, list(ids)),
    )
    return await cur.fetchall()


async def mark_manual(conn: AsyncConnection, *, ids: Sequence[int], now: dt.datetime) -> None:
    """Make deliveries due now, their next attempt recorded as manual."""
    await conn.execute(
        "UPDATE tenaz_deliveries SET next_trigger = 'manual', next_attempt_at = %s,"
        " updated_at = %s WHERE id = ANY(%s)",
        (now, now, list(ids)),
    )


async def insert_operation(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    kind: str,
    where: DeliveryFilter | None,
    total: int,
    now: dt.datetime,
) -> OperationRow:
    cur = conn.cursor(row_factory=class_row(OperationRow))
    await cur.execute(
        "INSERT INTO tenaz_operations (workspace_id, kind, state, filter, total, created_at)"
        f" VALUES (%s, %s, 'running', %s, %s, %s) RETURNING {_COLUMNS}",
        (workspace_id, kind, Jsonb(where.to_json() if where else {}), total, now),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def get_operation(
    conn: AsyncConnection,
    *,
    operation_id: int,
    workspace_id: int | None = None,
    for_update: bool = False,
) -> OperationRow | None:
    cur = conn.cursor(row_factory=class_row(OperationRow))
    scope = "" if workspace_id is None else " AND workspace_id = %(ws)s"
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(
        f"SELECT {_COLUMNS} FROM tenaz_operations WHERE id = %(id)s{scope}{lock}",
        {"id": operation_id, "ws": workspace_id},
    )
    return await cur.fetchone()


async def record_progress(
    conn: AsyncConnection,
    *,
    operation_id: int,
    processed: int,
    changed: int,
    skipped: int,
    last_delivery_id: int,
    state: str,
    error: str = "",
    finished_at: dt.datetime | None = None,
) -> None:
    await conn.execute(
        "UPDATE tenaz_operations SET processed = processed + %s, changed = changed + %s,"
        " skipped = skipped + %s, last_delivery_id = greatest(last_delivery_id, %s),"
        " state = %s, error = %s, finished_at = %s WHERE id = %s",
        (processed, changed, skipped, last_delivery_id, state, error, finished_at, operation_id),
    )
