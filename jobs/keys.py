"""API keys: made once, shown once, stored as a SHA-256 hash.

Keys are 32 random bytes, so a plain SHA-256 is enough to make a stolen
database useless for calling the API (no need for a slow password hash); the
lookup is by hash and the final comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from jobs.errors import Unauthenticated
from jobs.store import workspaces as store
from jobs.store.rows import Workspace

__all__ = ["KEY_PREFIX", "NewKey", "Workspace", "authenticate", "create_key", "hash_key"]

KEY_PREFIX = "tz_"


@dataclass(frozen=True)
class NewKey:
    workspace: Workspace
    secret: str


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_key(pool: AsyncConnectionPool, *, workspace: str, name: str = "") -> NewKey:
    """Create a key for `workspace` (creating the workspace if new)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    async with pool.connection() as conn, conn.transaction():
        ws = await store.ensure_workspace(conn, workspace)
        await store.insert_api_key(
            conn,
            workspace_id=ws.id,
            name=name,
            key_hash=hash_key(secret),
            key_prefix=secret[: len(KEY_PREFIX) + 6],
        )
    return NewKey(workspace=ws, secret=secret)


async def authenticate(pool: AsyncConnectionPool, secret: str) -> Workspace:
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise Unauthenticated("invalid API key")
    digest = hash_key(secret)
    async with pool.connection() as conn:
        found = await store.workspace_for_key(conn, digest)
    if found is None or not hmac.compare_digest(found[1], digest):
        raise Unauthenticated("invalid API key")
    return found[0]
