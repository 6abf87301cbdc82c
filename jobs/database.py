"""Where the database is: the configured server, or an embedded PostgreSQL.

With `TENAZ_DATABASE_URL` unset, Tenaz runs the PostgreSQL server that the
`pgserver` wheel ships, with its data in `TENAZ_DATA_DIR/postgres`, so that
`make run` needs nothing installed. Production sets the URL, and any number of
Tenaz processes on any number of machines share that server.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool

from jobs.migrate import migrate
from jobs.settings import Settings, SettingsError

log = logging.getLogger(__name__)


# How long the first connection may take when the URL does not say (psycopg waits 130 s).
CONNECT_TIMEOUT = 10


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The URL to use; starts (and at exit stops) the embedded server when needed."""
    if settings.database_url:
        yield settings.database_url
        return
    with warnings.catch_warnings():
        # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers).
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded mode needs it

    data = (settings.data_dir / "postgres").resolve()
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"TENAZ_DATA_DIR {settings.data_dir}: cannot create {data} ({exc.strerror}); choose"
            " a directory Tenaz can write, or set TENAZ_DATABASE_URL"
        ) from None
    log.info("database.embedded.starting", extra={"data_dir": str(data)})
    try:
        server = pgserver.get_server(data, cleanup_mode="stop")
    except (OSError, subprocess.SubprocessError):
        raise SettingsError(
            f"TENAZ_DATA_DIR {settings.data_dir}: the embedded PostgreSQL did not start; its log"
            f" is {data / 'log'}"
        ) from None
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def _first_connection(url: str) -> str:
    """`url` with a bounded connect timeout, unless it sets its own."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise SettingsError(
            "TENAZ_DATABASE_URL: not a PostgreSQL URL such as postgresql://user@host:5432/tenaz"
        ) from None
    return (
        url if "connect_timeout" in given else make_conninfo(url, connect_timeout=CONNECT_TIMEOUT)
    )


async def migrate_reachable(url: str, settings: Settings) -> list[str]:
    """Apply the migrations (see `jobs.migrate`); the names applied now.

    A database that cannot be reached is a setting to fix, reported in one line
    with PostgreSQL's reason (which names host, port, user and database, never
    the password).
    """
    try:
        return await migrate(_first_connection(url))
    except psycopg.OperationalError as exc:
        reason = "; ".join(" ".join(line.split()) for line in str(exc).splitlines() if line)
        where = "TENAZ_DATABASE_URL" if settings.database_url else "TENAZ_DATA_DIR"
        raise SettingsError(
            f"{where}: cannot use the database: {reason}; check the URL, and that"
            " PostgreSQL is running and accepts this user"
        ) from None


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[str]:
    """The database's URL, reachable and migrated; the embedded one runs until exit."""
    with database_url(settings) as url:
        await migrate_reachable(url, settings)
        yield url


class IdleCheck:
    """Checks a connection before use only if it has been idle for a while.

    A check is a round trip to the database; on every checkout it cost about one
    query in eight on the busy paths. A connection that went back to the pool
    moments ago after working is all but certainly still working; one that sat idle
    may have been cut by a database restart or a proxy's idle timeout, so it is
    checked, and replaced if broken.
    """

    def __init__(self, idle_before_check: float = 1.0) -> None:
        self._idle_before_check = idle_before_check
        self._returned: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    async def returned(self, conn: AsyncConnection[Any]) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: AsyncConnection[Any]) -> None:
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned >= self._idle_before_check:
            await AsyncConnectionPool.check_connection(conn)


@contextlib.asynccontextmanager
async def open_pool(url: str, settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    async def configure(conn: AsyncConnection[Any]) -> None:
        # Event payloads are written once and read back on every attempt; orjson does
        # both several times faster than the json module (see jobs.json_values on NaN).
        set_json_loads(orjson.loads, conn)
        set_json_dumps(orjson.dumps, conn)
        if not settings.prepared_statements:
            conn.prepare_threshold = None
        # Tenaz writes its own times; the session zone only affects display.
        await conn.execute("SET TIME ZONE 'UTC'")
        await conn.commit()

    freshness = IdleCheck()
    pool = AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        configure=configure,
        # A connection broken by a database restart is replaced before use, not
        # handed to a caller that would fail on it.
        check=freshness.check,
        reset=freshness.returned,
        open=False,
        timeout=settings.pool_timeout.total_seconds(),
    )
    await pool.open(wait=True, timeout=30.0)
    try:
        yield pool
    finally:
        await pool.close()
