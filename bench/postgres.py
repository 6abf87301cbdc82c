"""The benchmark's own PostgreSQL: the server in the `pgserver` wheel, durable, in a temp dir.

Durability is set explicitly (`ALTER SYSTEM`: fsync and synchronous_commit on, full page
writes on) and read back, so the figures are those of a server that would not lose an
acknowledged event. Both systems use the same server; every run gets a fresh database made
from a template that was migrated once.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pgserver warns at import when XDG_RUNTIME_DIR is unset
    import pgserver

from bench.processes import BenchError

DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
REPORTED_SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "max_wal_size",
    "max_connections",
)


@dataclass(frozen=True)
class DatabaseCounters:
    """Cluster-wide counters read before and after a run."""

    commits: int
    wal_bytes: int
    wal_syncs: int

    def minus(self, earlier: DatabaseCounters) -> DatabaseCounters:
        return DatabaseCounters(
            self.commits - earlier.commits,
            self.wal_bytes - earlier.wal_bytes,
            self.wal_syncs - earlier.wal_syncs,
        )


class PrivatePostgres:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._server: Any = None

    def start(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self._data_dir, cleanup_mode="stop")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            for name, value in DURABLE_SETTINGS.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("SELECT pg_reload_conf()")
        self._wait_for_settings()

    def _wait_for_settings(self, timeout: float = 10.0) -> None:
        """A reload is asynchronous: poll (bounded) until every backend would see it."""
        deadline = time.monotonic() + timeout
        while True:
            settings = self.settings()
            if all(settings[k] == v for k, v in DURABLE_SETTINGS.items()):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"PostgreSQL did not take the durable settings: {settings}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def postmaster_pid(self) -> int:
        pid = self._server.get_pid() if self._server is not None else None
        if pid is None:
            raise BenchError("PostgreSQL is not running")
        return int(pid)

    def url(self, database: str = "postgres") -> str:
        if self._server is None:
            raise BenchError("PostgreSQL is not running")
        return str(self._server.get_uri(database))

    def settings(self) -> dict[str, str]:
        values: dict[str, str] = {}
        with psycopg.connect(self.url()) as conn:
            for name in REPORTED_SETTINGS:
                row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                values[name] = str(row[0]) if row else ""
        return values

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new, empty (or template's copy) database; one left by an earlier run is dropped."""
        self.drop_database(name)
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def counters(self) -> DatabaseCounters:
        with psycopg.connect(self.url()) as conn:
            row = conn.execute(
                "SELECT (SELECT sum(xact_commit) FROM pg_stat_database),"
                " wal_bytes, wal_sync FROM pg_stat_wal"
            ).fetchone()
        assert row is not None
        return DatabaseCounters(int(row[0]), int(row[1]), int(row[2]))

    def fdatasync_rate(self, seconds: float = 0.5) -> float:
        """8 kB write + fdatasync per second in the data directory's file system: the ceiling
        of one-commit-at-a-time with synchronous_commit on."""
        path = self._data_dir.parent / "fsync-probe"
        block = b"\0" * 8192
        count = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                os.pwrite(fd, block, 0)
                os.fdatasync(fd)
                count += 1
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
        return count / seconds
