"""Dashboard sessions: the hash of a session id, the key it was opened with, when it ends."""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection

from jobs.model import Caller
from jobs.store.workspaces import CALLER_COLUMNS, caller_of


async def insert_session(
    conn: AsyncConnection,
    *,
    session_hash: bytes,
    api_key_id: int,
    created_at: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    await conn.execute(
        "INSERT INTO tenaz_dashboard_sessions (session_hash, api_key_id, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s)",
        (session_hash, api_key_id, created_at, expires_at),
    )


async def caller_for_session(
    conn: AsyncConnection, session_hash: bytes, *, now: dt.datetime
) -> Caller | None:
    """The key behind a session that has not expired, while the key is live."""
    cur = await conn.execute(
        f"SELECT {CALLER_COLUMNS} FROM tenaz_dashboard_sessions s"
        " JOIN tenaz_api_keys k ON k.id = s.api_key_id"
        " JOIN tenaz_workspaces w ON w.id = k.workspace_id"
        " WHERE s.session_hash = %s AND s.expires_at > %s AND k.revoked_at IS NULL",
        (session_hash, now),
    )
    row = await cur.fetchone()
    return None if row is None else caller_of(row)


async def delete_session(conn: AsyncConnection, session_hash: bytes) -> None:
    await conn.execute(
        "DELETE FROM tenaz_dashboard_sessions WHERE session_hash = %s", (session_hash,)
    )


async def delete_sessions_of_key(conn: AsyncConnection, api_key_id: int) -> int:
    cur = await conn.execute(
        "DELETE FROM tenaz_dashboard_sessions WHERE api_key_id = %s", (api_key_id,)
    )
    return cur.rowcount


async def delete_expired_sessions(conn: AsyncConnection, *, now: dt.datetime) -> int:
    cur = await conn.execute("DELETE FROM tenaz_dashboard_sessions WHERE expires_at <= %s", (now,))
    return cur.rowcount
