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
from bench.writes import DatabaseWrites, TableWrites

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

# Per table of the database: its write counters and how many indexes (partial ones) it has.
_TABLE_WRITES = """
SELECT s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,
    count(i.indexrelid), count(i.indexrelid) FILTER (WHERE i.indpred IS NOT NULL)
FROM pg_stat_user_tables s LEFT JOIN pg_index i ON i.indrelid = s.relid
GROUP BY s.relid, s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del
"""


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

    def writes(self, url: str) -> DatabaseWrites:
        """The write counters of the database at `url`'s tables, and the cluster's WAL bytes.

        Backends add to these counters lazily (at most once a second while busy, within
        10 s when idle, and when they exit): `writes_once_alone` reads them when they are
        complete.
        """
        with psycopg.connect(url, autocommit=True) as conn:
            # Statistics read in a transaction are cached: start from what is there now.
            conn.execute("SELECT pg_stat_clear_snapshot()")
            rows = conn.execute(_TABLE_WRITES).fetchall()
            wal = conn.execute("SELECT wal_bytes FROM pg_stat_wal").fetchone()
        assert wal is not None
        tables = {str(name): TableWrites(*(int(v) for v in values)) for name, *values in rows}
        return DatabaseWrites(tables, int(wal[0]))

    def writes_once_alone(self, url: str, timeout: float = 30.0) -> DatabaseWrites:
        """`writes(url)` once no other client is connected to that database.

        A backend flushes its counters when it exits, just after leaving pg_stat_activity:
        once every other client has gone, the counters are read until two readings agree.
        """
        deadline = time.monotonic() + timeout
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchone()
                if row is not None and row[0] == 0:
                    break
                if time.monotonic() > deadline:
                    raise BenchError("other clients stayed connected to the run's database")
                time.sleep(0.1)
        reading = self.writes(url)
        while True:
            time.sleep(0.2)
            again = self.writes(url)
            if again.tables == reading.tables or time.monotonic() > deadline:
                return again
            reading = again

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
