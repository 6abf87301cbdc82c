"""Dashboard sessions: what a browser holds after logging in with an API key.

The browser gets a random session id, never the key, so a cookie that leaks
(a shared machine, a proxy log) does not hand over a key that works for gRPC
forever. The database keeps only the id's SHA-256 (the id is 32 random bytes:
no slow hash needed), so reading the table opens no session either.

A session ends at its expiry (`TENAZ_SESSION_TTL` after login, by the
program's clock), at logout, or when its key is revoked: `revoke_key` deletes
the key's sessions in its own transaction, and every lookup also checks that
the key is live. Each of these takes effect at once: every request looks its
session up, one indexed query, and nothing is cached in the process. Expired
rows are deleted by the retention purge.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from jobs import keys
from jobs.clock import Clock
from jobs.errors import Unauthenticated
from jobs.model import Caller
from jobs.store import sessions

# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
_MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class NewSession:
    id: str
    caller: Caller
    expires_at: dt.datetime


class SessionService:
    def __init__(self, pool: AsyncConnectionPool, clock: Clock, ttl: dt.timedelta) -> None:
        self._pool = pool
        self._clock = clock
        self.ttl = ttl

    async def open(self, api_key: str) -> NewSession:
        """Check `api_key` (not from a cache: a key revoked a moment ago cannot log in)."""
        caller = await keys.authenticate(self._pool, api_key)
        session_id = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._pool.connection() as conn:
            await sessions.insert_session(
                conn,
                session_hash=keys.hash_key(session_id),
                api_key_id=caller.key_id,
                created_at=now,
                expires_at=now + self.ttl,
            )
        return NewSession(session_id, caller, now + self.ttl)

    async def caller_for(self, session_id: str) -> Caller:
        """The key behind a live session; Unauthenticated when it is unknown, expired or revoked."""
        session_hash = _stored_hash(session_id)
        found = None
        if session_hash is not None:
            async with self._pool.connection() as conn:
                found = await sessions.caller_for_session(conn, session_hash, now=self._clock.now())
        if found is None:
            raise Unauthenticated("the session has ended: log in again")
        return found

    async def close(self, session_id: str) -> None:
        """Log out: the session id opens nothing from now on (an unknown one is ignored)."""
        session_hash = _stored_hash(session_id)
        if session_hash is not None:
            async with self._pool.connection() as conn:
                await sessions.delete_session(conn, session_hash)


def _stored_hash(session_id: str) -> bytes | None:
    """The hash a session id is stored under; None for what cannot be a session id."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    return keys.hash_key(session_id)
