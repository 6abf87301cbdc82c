"""Workspaces (tenants) and their API keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from jobs.model import Caller, Workspace


@dataclass(frozen=True)
class ApiKeyRow:
    """What may be shown of a key: never its secret, nor the secret's hash."""

    id: int
    workspace: str
    name: str
    prefix: str
    scope: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


_KEY_COLUMNS = (
    "k.id, w.name AS workspace, k.name, k.key_prefix AS prefix, k.scope, k.created_at, k.revoked_at"
)


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
    conn: AsyncConnection,
    *,
    workspace_id: int,
    name: str,
    key_hash: bytes,
    key_prefix: str,
    scope: str,
) -> None:
    await conn.execute(
        "INSERT INTO tenaz_api_keys (workspace_id, name, key_hash, key_prefix, scope)"
        " VALUES (%s, %s, %s, %s, %s)",
        (workspace_id, name, key_hash, key_prefix, scope),
    )


# What authentication reads of a key (k) and its workspace (w); `caller_of` makes a Caller of it.
CALLER_COLUMNS = "k.id, w.id, w.name, k.scope"


def caller_of(row: Sequence[Any]) -> Caller:
    return Caller(key_id=row[0], workspace=Workspace(id=row[1], name=row[2]), scope=row[3])


async def caller_for_key(conn: AsyncConnection, key_hash: bytes) -> tuple[Caller, bytes] | None:
    """A live key's id, workspace and scope, with the stored hash for a constant-time check."""
    cur = await conn.execute(
        f"SELECT {CALLER_COLUMNS}, k.key_hash FROM tenaz_api_keys k"
        " JOIN tenaz_workspaces w ON w.id = k.workspace_id"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL",
        (key_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return caller_of(row), bytes(row[4])


async def list_api_keys(conn: AsyncConnection, *, workspace: str | None = None) -> list[ApiKeyRow]:
    """Every key (live and revoked), by workspace, oldest first."""
    cur = conn.cursor(row_factory=class_row(ApiKeyRow))
    await cur.execute(
        f"SELECT {_KEY_COLUMNS} FROM tenaz_api_keys k"
        " JOIN tenaz_workspaces w ON w.id = k.workspace_id"
        " WHERE %(workspace)s::text IS NULL OR w.name = %(workspace)s"
        " ORDER BY w.name, k.created_at, k.id",
        {"workspace": workspace},
    )
    return await cur.fetchall()


async def lock_api_keys(
    conn: AsyncConnection,
    *,
    prefix: str,
    key_hash: bytes | None = None,
    workspace: str | None = None,
) -> list[ApiKeyRow]:
    """Keys with this display prefix (and this hash, when given), locked for a change."""
    cur = conn.cursor(row_factory=class_row(ApiKeyRow))
    await cur.execute(
        f"SELECT {_KEY_COLUMNS} FROM tenaz_api_keys k"
        " JOIN tenaz_workspaces w ON w.id = k.workspace_id"
        " WHERE k.key_prefix = %(prefix)s"
        " AND (%(hash)s::bytea IS NULL OR k.key_hash = %(hash)s)"
        " AND (%(workspace)s::text IS NULL OR w.name = %(workspace)s)"
        " ORDER BY k.id FOR UPDATE OF k",
        {"prefix": prefix, "hash": key_hash, "workspace": workspace},
    )
    return await cur.fetchall()


async def revoke_api_key(conn: AsyncConnection, key_id: int) -> ApiKeyRow:
    """Mark a key revoked now; authentication refuses it from then on."""
    cur = conn.cursor(row_factory=class_row(ApiKeyRow))
    await cur.execute(
        "UPDATE tenaz_api_keys k SET revoked_at = now() FROM tenaz_workspaces w"
        " WHERE k.id = %s AND w.id = k.workspace_id"
        f" RETURNING {_KEY_COLUMNS}",
        (key_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return row
