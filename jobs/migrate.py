"""Schema migrations: procrastinate's schema, then Tenaz's numbered SQL files.

Applied migrations are recorded in `tenaz_schema_migrations`, each under an
advisory lock, so running `tenaz migrate` twice (or from two machines at once) is
harmless. Procrastinate does not track its own schema; its pinned version's
schema is migration 0001.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib import resources

import psycopg
from procrastinate.schema import SchemaManager

log = logging.getLogger(__name__)

# Any constants shared by every Tenaz process: serialise concurrent migrators. The
# two-key form keeps these apart from the status log's one-key locks.
_ADVISORY_LOCK = (0x7E4A, 2)


def _migrations() -> Iterator[tuple[str, str]]:
    yield "0001_procrastinate_3.10", SchemaManager.get_schema()
    folder = resources.files("jobs") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            yield entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")


async def migrate(database_url: str) -> list[str]:
    """Apply every migration not yet applied; return the names applied now.

    Each migration runs in a transaction of its own that first takes a transaction-level
    advisory lock and then checks whether it is still to do, so concurrent migrators apply
    each once, and a transaction pooler (PgBouncer in transaction mode), which may run each
    transaction on another server connection, cannot strand a lock.
    """
    applied_now: list[str] = []
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, prepare_threshold=None
    ) as conn:
        for name, sql in _migrations():
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _ADVISORY_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS tenaz_schema_migrations ("
                    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                cursor = await conn.execute(
                    "SELECT 1 FROM tenaz_schema_migrations WHERE name = %s", (name,)
                )
                if await cursor.fetchone() is not None:
                    continue
                await conn.execute(sql.encode())
                await conn.execute(
                    "INSERT INTO tenaz_schema_migrations (name) VALUES (%s)", (name,)
                )
            log.info("migration.applied", extra={"migration": name})
            applied_now.append(name)
    return applied_now
