"""Destinations: one configured connection to one platform account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from jobs.model import Destination

_COLUMNS = (
    "id, workspace_id, name, kind, enabled, settings, secret, retry_interval_seconds, rate_limit,"
    " needs_action, needs_action_reason, created_at, updated_at, event_filter, event_names,"
    " needs_action_code"
)


def _destination(row: dict[str, Any]) -> Destination:
    seconds = row.pop("retry_interval_seconds")
    row["event_filter"] = tuple(row["event_filter"])
    return Destination(
        **row, retry_interval=None if seconds is None else dt.timedelta(seconds=seconds)
    )


def _seconds(interval: dt.timedelta | None) -> float | None:
    return None if interval is None else interval.total_seconds()


async def insert_destination(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    name: str,
    kind: str,
    enabled: bool,
    settings: dict[str, Any],
    secret: str,
    retry_interval: dt.timedelta | None,
    rate_limit: float | None,
    event_filter: Sequence[str] = (),
    event_names: Mapping[str, str] | None = None,
    now: dt.datetime,
) -> Destination | None:
    """Insert a destination; None when the name is taken in the workspace."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO tenaz_destinations (workspace_id, name, kind, enabled, settings, secret,"
        " retry_interval_seconds, rate_limit, event_filter, event_names, created_at,"
        " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (workspace_id, name) WHERE deleted_at IS NULL DO NOTHING"
        f" RETURNING {_COLUMNS}",
        (
            workspace_id,
            name,
            kind,
            enabled,
            Jsonb(settings),
            secret,
            _seconds(retry_interval),
            rate_limit,
            list(event_filter),
            Jsonb(dict(event_names or {})),
            now,
            now,
        ),
    )
    row = await cur.fetchone()
    return None if row is None else _destination(row)


async def get_destination(
    conn: AsyncConnection, *, workspace_id: int, name: str, for_update: bool = False
) -> Destination | None:
    cur = conn.cursor(row_factory=dict_row)
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(
        f"SELECT {_COLUMNS} FROM tenaz_destinations"
        f" WHERE workspace_id = %s AND name = %s AND deleted_at IS NULL{lock}",
        (workspace_id, name),
    )
    row = await cur.fetchone()
    return None if row is None else _destination(row)


async def get_destination_by_id(conn: AsyncConnection, destination_id: int) -> Destination | None:
    """Any destination by id, deleted ones included (their deliveries still exist)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_COLUMNS} FROM tenaz_destinations WHERE id = %s", (destination_id,))
    row = await cur.fetchone()
    return None if row is None else _destination(row)


async def list_destinations(
    conn: AsyncConnection, *, workspace_id: int, for_key_share: bool = False
) -> list[Destination]:
    """The workspace's destinations.

    With `for_key_share`, they stay locked until the transaction ends against a
    change that takes FOR UPDATE (deleting, updating): a submission then delivers
    only to destinations as they are when it commits. A delete waits for it; one
    that came first makes the destination vanish from this read. KEY SHARE, not
    SHARE, so that a worker flagging the destination (a plain UPDATE) never waits.
    """
    cur = conn.cursor(row_factory=dict_row)
    lock = " FOR KEY SHARE" if for_key_share else ""
    await cur.execute(
        f"SELECT {_COLUMNS} FROM tenaz_destinations"
        f" WHERE workspace_id = %s AND deleted_at IS NULL ORDER BY name{lock}",
        (workspace_id,),
    )
    return [_destination(row) for row in await cur.fetchall()]


async def destinations_by_names(
    conn: AsyncConnection, *, workspace_id: int, names: Sequence[str]
) -> dict[str, Destination]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM tenaz_destinations"
        " WHERE workspace_id = %s AND name = ANY(%s) AND deleted_at IS NULL",
        (workspace_id, list(names)),
    )
    return {row["name"]: _destination(row) for row in await cur.fetchall()}


async def update_destination(
    conn: AsyncConnection,
    *,
    destination_id: int,
    enabled: bool,
    settings: dict[str, Any],
    secret: str,
    retry_interval: dt.timedelta | None,
    rate_limit: float | None,
    needs_action: bool,
    needs_action_reason: str,
    needs_action_code: str,
    event_filter: Sequence[str],
    event_names: Mapping[str, str],
    now: dt.datetime,
) -> Destination:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE tenaz_destinations SET enabled = %s, settings = %s, secret = %s,"
        " retry_interval_seconds = %s, rate_limit = %s, needs_action = %s,"
        " needs_action_reason = %s, needs_action_code = %s, event_filter = %s, event_names = %s,"
        f" updated_at = %s WHERE id = %s RETURNING {_COLUMNS}",
        (
            enabled,
            Jsonb(settings),
            secret,
            _seconds(retry_interval),
            rate_limit,
            needs_action,
            needs_action_reason,
            needs_action_code,
            list(event_filter),
            Jsonb(dict(event_names)),
            now,
            destination_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return _destination(row)


async def set_needs_action(
    conn: AsyncConnection,
    *,
    destination_id: int,
    needs_action: bool,
    reason: str,
    now: dt.datetime,
    code: str = "",
) -> bool:
    """Flag (or clear) a destination whose credentials the platform refused.

    Only writes when the flag changes (and says whether it did), so a busy destination's
    row is not rewritten by every batch.
    """
    cur = await conn.execute(
        "UPDATE tenaz_destinations SET needs_action = %s, needs_action_reason = %s,"
        " needs_action_code = %s, updated_at = %s WHERE id = %s"
        " AND (needs_action <> %s OR needs_action_reason <> %s OR needs_action_code <> %s)",
        (needs_action, reason, code, now, destination_id, needs_action, reason, code),
    )
    return cur.rowcount > 0


async def soft_delete_destination(
    conn: AsyncConnection, *, destination_id: int, now: dt.datetime
) -> None:
    await conn.execute(
        "UPDATE tenaz_destinations SET deleted_at = %s, enabled = false, secret = '' WHERE id = %s",
        (now, destination_id),
    )


async def secrets_of_all(conn: AsyncConnection) -> list[tuple[int, str]]:
    cur = await conn.execute(
        "SELECT id, secret FROM tenaz_destinations WHERE secret <> '' ORDER BY id FOR UPDATE"
    )
    return [(row[0], row[1]) for row in await cur.fetchall()]


async def set_secret(conn: AsyncConnection, *, destination_id: int, secret: str) -> None:
    await conn.execute(
        "UPDATE tenaz_destinations SET secret = %s WHERE id = %s", (secret, destination_id)
    )
