"""API keys: made once, shown once, stored as a SHA-256 hash, each with a scope.

Keys are 32 random bytes, so a plain SHA-256 is enough to make a stolen
database useless for calling the API (no need for a slow password hash); the
lookup is by hash and the final comparison is constant-time. What a key may
do is its scope (`jobs.scopes`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from jobs.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from jobs.model import Caller, Workspace
from jobs.scopes import SCOPES, SUBMIT
from jobs.store import sessions, workspaces
from jobs.store.workspaces import ApiKeyRow

__all__ = [
    "DISPLAY_PREFIX_LENGTH",
    "KEY_PREFIX",
    "ApiKeyRow",
    "Caller",
    "NewKey",
    "Workspace",
    "authenticate",
    "create_key",
    "hash_key",
    "list_keys",
    "revoke_key",
]

KEY_PREFIX = "tz_"
# The start of a key that is stored in clear, to tell keys apart in listings.
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


@dataclass(frozen=True)
class NewKey:
    workspace: Workspace
    secret: str
    scope: str


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_key(
    pool: AsyncConnectionPool, *, workspace: str, name: str = "", scope: str = SUBMIT
) -> NewKey:
    """Create a key for `workspace` (creating the workspace if new)."""
    if scope not in SCOPES:
        raise InvalidArgument.one("scope", " or ".join(SCOPES))
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    async with pool.connection() as conn, conn.transaction():
        ws = await workspaces.ensure_workspace(conn, workspace)
        await workspaces.insert_api_key(
            conn,
            workspace_id=ws.id,
            name=name,
            key_hash=hash_key(secret),
            key_prefix=secret[:DISPLAY_PREFIX_LENGTH],
            scope=scope,
        )
    return NewKey(workspace=ws, secret=secret, scope=scope)


async def authenticate(pool: AsyncConnectionPool, secret: str) -> Caller:
    """The live key `secret` is: its id, workspace and scope; Unauthenticated otherwise."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise Unauthenticated("invalid API key")
    digest = hash_key(secret)
    async with pool.connection() as conn:
        found = await workspaces.caller_for_key(conn, digest)
    if found is None or not hmac.compare_digest(found[1], digest):
        raise Unauthenticated("invalid API key")
    return found[0]


async def list_keys(pool: AsyncConnectionPool, *, workspace: str | None = None) -> list[ApiKeyRow]:
    """Every key, live and revoked, of one workspace or of all of them."""
    async with pool.connection() as conn:
        return await workspaces.list_api_keys(conn, workspace=workspace)


async def revoke_key(
    pool: AsyncConnectionPool, prefix: str, *, workspace: str | None = None
) -> ApiKeyRow:
    """Revoke the one live key that `prefix` names, as `list_keys` shows it.

    A whole key is accepted too (it then names exactly one key). A prefix that
    names no live key, or several, changes nothing: revoking the wrong key
    would cut off a service that did nothing wrong. The key's dashboard
    sessions end in the same transaction.
    """
    prefix = prefix.strip()
    if not prefix.startswith(KEY_PREFIX) or len(prefix) < DISPLAY_PREFIX_LENGTH:
        raise InvalidArgument.one(
            "prefix",
            f"give the key's prefix as the key list shows it ({KEY_PREFIX} and 6 characters)",
        )
    whole_key = len(prefix) > DISPLAY_PREFIX_LENGTH
    async with pool.connection() as conn, conn.transaction():
        found = await workspaces.lock_api_keys(
            conn,
            prefix=prefix[:DISPLAY_PREFIX_LENGTH],
            key_hash=hash_key(prefix) if whole_key else None,
            workspace=workspace,
        )
        live = [key for key in found if key.revoked_at is None]
        where = f" in workspace {workspace!r}" if workspace else ""
        if not found:
            raise NotFound(f"no API key{where} starts with {prefix[:DISPLAY_PREFIX_LENGTH]}")
        if not live:
            raise FailedPrecondition(
                f"the key {found[0].prefix} was already revoked ({found[0].revoked_at:%Y-%m-%d})"
            )
        if len(live) > 1:
            names = ", ".join(sorted({key.workspace for key in live}))
            raise FailedPrecondition(
                f"{len(live)} live keys start with {live[0].prefix} (workspaces: {names});"
                " name the workspace, or give the whole key"
            )
        await sessions.delete_sessions_of_key(conn, live[0].id)
        return await workspaces.revoke_api_key(conn, live[0].id)
