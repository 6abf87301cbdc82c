"""Workspaces (tenants) and their API keys."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import class_row

from jobs.store.rows import Workspace


async def ensure_workspace(conn: AsyncConnection, name: str) -> Workspace:
    cur = conn.cursor(row_factory=class_row(Workspace))
    await cur.execute(
        "INSERT INTO tenaz_workspaces (name) VALUES (%s)"
        " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name"
        " RETURNING id, name",
        (name,),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def insert_api_key(
    conn: AsyncConnection, *, workspace_id: int, name: str, key_hash: bytes, key_prefix: str
) -> None:
    await conn.execute(
        "INSERT INTO tenaz_api_keys (workspace_id, name, key_hash, key_prefix)"
        " VALUES (%s, %s, %s, %s)",
        (workspace_id, name, key_hash, key_prefix),
    )


async def workspace_for_key(
    conn: AsyncConnection, key_hash: bytes
) -> tuple[Workspace, bytes] | None:
    """The workspace of a live key, with the stored hash for a constant-time check."""
    cur = await conn.execute(
        "SELECT w.id, w.name, k.key_hash FROM tenaz_api_keys k"
        " JOIN tenaz_workspaces w ON w.id = k.workspace_id"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL",
        (key_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return Workspace(id=row[0], name=row[1]), bytes(row[2])
