"""Webhook sources and the event types they acknowledged without sending (SQL for
jobs/webhook_sources.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from jobs.model import IgnoredType, WebhookSource

_SOURCE = "id, workspace_id, name, kind, secret, options, destinations, created_at, updated_at"


def _source(row: dict[str, Any], ignored: Sequence[IgnoredType] = ()) -> WebhookSource:
    row["destinations"] = tuple(row["destinations"])
    return WebhookSource(**row, ignored=tuple(ignored))


async def insert_source(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    name: str,
    kind: str,
    secret: str,
    options: dict[str, Any],
    destinations: Sequence[str],
    now: dt.datetime,
) -> WebhookSource | None:
    """The new source; None when the name (the route) is taken on the server."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO tenaz_webhook_sources (workspace_id, name, kind, secret, options,"
        " destinations, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (name) DO NOTHING RETURNING {_SOURCE}",
        (workspace_id, name, kind, secret, Jsonb(options), list(destinations), now, now),
    )
    row = await cur.fetchone()
    return _source(row) if row else None


async def list_sources(conn: AsyncConnection, *, workspace_id: int) -> list[WebhookSource]:
    """The workspace's sources by name, each with its acknowledged-only event types."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_SOURCE} FROM tenaz_webhook_sources WHERE workspace_id = %s ORDER BY name",
        (workspace_id,),
    )
    rows = await cur.fetchall()
    await cur.execute(
        "SELECT i.source_id, i.event_type, i.count, i.last_at FROM tenaz_webhook_source_ignored i"
        " JOIN tenaz_webhook_sources s ON s.id = i.source_id WHERE s.workspace_id = %s"
        " ORDER BY i.event_type",
        (workspace_id,),
    )
    ignored: dict[int, list[IgnoredType]] = {}
    for row in await cur.fetchall():
        ignored.setdefault(row.pop("source_id"), []).append(IgnoredType(**row))
    return [_source(row, ignored.get(row["id"], ())) for row in rows]


async def source_by_route(conn: AsyncConnection, *, name: str) -> WebhookSource | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_SOURCE} FROM tenaz_webhook_sources WHERE name = %s", (name,))
    row = await cur.fetchone()
    return _source(row) if row else None


async def update_source(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    name: str,
    changes: dict[str, Any],
    now: dt.datetime,
) -> bool:
    """Set `changes` (columns: secret, options, destinations) on the workspace's source;
    False when it has no source of that name."""
    columns = [c for c in ("secret", "options", "destinations") if c in changes]
    values = [Jsonb(changes[c]) if c == "options" else changes[c] for c in columns]
    assignments = "".join(f"{c} = %s, " for c in columns)
    cur = await conn.execute(
        f"UPDATE tenaz_webhook_sources SET {assignments}updated_at = %s"
        " WHERE workspace_id = %s AND name = %s",
        (*values, now, workspace_id, name),
    )
    return cur.rowcount == 1


async def delete_source(conn: AsyncConnection, *, workspace_id: int, name: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM tenaz_webhook_sources WHERE workspace_id = %s AND name = %s",
        (workspace_id, name),
    )
    return cur.rowcount == 1


async def count_ignored(
    conn: AsyncConnection, *, source_id: int, event_type: str, now: dt.datetime
) -> None:
    await conn.execute(
        "INSERT INTO tenaz_webhook_source_ignored (source_id, event_type, count, last_at)"
        " VALUES (%s, %s, 1, %s) ON CONFLICT (source_id, event_type)"
        " DO UPDATE SET count = tenaz_webhook_source_ignored.count + 1, last_at = EXCLUDED.last_at",
        (source_id, event_type, now),
    )


async def sealed_secrets(conn: AsyncConnection) -> list[tuple[int, str]]:
    """Every source's id and sealed secret, locked until the transaction ends (rotation)."""
    cur = await conn.execute("SELECT id, secret FROM tenaz_webhook_sources ORDER BY id FOR UPDATE")
    return [(row[0], row[1]) for row in await cur.fetchall()]


async def set_secret(conn: AsyncConnection, *, source_id: int, secret: str) -> None:
    await conn.execute(
        "UPDATE tenaz_webhook_sources SET secret = %s WHERE id = %s", (secret, source_id)
    )
