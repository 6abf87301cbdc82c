"""What a run wrote to PostgreSQL, per table, from the server's cumulative statistics.

`pg_stat_user_tables` counts the rows inserted, updated and deleted in each table, and how
many of the updates were HOT (the new row version stays on its page and no index is
touched). With the number of indexes of each table that gives the index entries written:
an insert, or an update that is not HOT, adds an entry to every index of the table; a delete
adds none. A partial index takes only the rows that match its predicate, so for a table with
one the count is an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TableWrites:
    """One table's write counters (cumulative, or between two readings) and its indexes."""

    inserted: int
    updated: int
    hot_updated: int
    deleted: int
    indexes: int
    partial_indexes: int = 0

    @property
    def rows(self) -> int:
        """Row versions written: an update writes a new one, a delete marks the old one."""
        return self.inserted + self.updated + self.deleted

    @property
    def index_entries(self) -> int:
        """At most this many index entries written (exactly, without partial indexes)."""
        return (self.inserted + self.updated - self.hot_updated) * self.indexes

    def minus(self, earlier: TableWrites) -> TableWrites:
        return TableWrites(
            inserted=self.inserted - earlier.inserted,
            updated=self.updated - earlier.updated,
            hot_updated=self.hot_updated - earlier.hot_updated,
            deleted=self.deleted - earlier.deleted,
            indexes=self.indexes,
            partial_indexes=self.partial_indexes,
        )


NO_WRITES = TableWrites(0, 0, 0, 0, 0)


@dataclass(frozen=True)
class DatabaseWrites:
    """A reading of the run's database: its tables' counters and the cluster's WAL bytes."""

    tables: Mapping[str, TableWrites]
    wal_bytes: int

    def minus(self, earlier: DatabaseWrites) -> DatabaseWrites:
        """What was written since `earlier`, leaving out the tables nothing was written to
        (a table made meanwhile counts from zero)."""
        tables = {
            name: now.minus(earlier.tables.get(name, NO_WRITES))
            for name, now in self.tables.items()
        }
        return DatabaseWrites(
            {name: t for name, t in sorted(tables.items()) if t.rows},
            self.wal_bytes - earlier.wal_bytes,
        )


@dataclass(frozen=True)
class WriteCosts:
    """Per event delivered: rows and index entries written, WAL bytes."""

    rows: float
    index_entries: float
    wal_bytes: float
    # Whether a table written to has a partial index (the index entries are an upper bound).
    upper_bound: bool


def per_event(writes: DatabaseWrites, events: int) -> WriteCosts:
    """The run's writes divided by the events it delivered (NaN-free: at least one)."""
    count = max(events, 1)
    tables = writes.tables.values()
    return WriteCosts(
        rows=sum(t.rows for t in tables) / count,
        index_entries=sum(t.index_entries for t in tables) / count,
        wal_bytes=writes.wal_bytes / count,
        upper_bound=any(t.partial_indexes for t in tables),
    )


def table_lines(writes: DatabaseWrites, events: int) -> list[str]:
    """One line per table written to: what it took per event delivered."""
    count = max(events, 1)
    lines = []
    for name, t in writes.tables.items():
        partial = f", {t.partial_indexes} partial" if t.partial_indexes else ""
        lines.append(
            f"{name}: {_each(t.inserted / count)} inserted, {_each(t.updated / count)} updated"
            f" ({_each(t.hot_updated / count)} HOT), {_each(t.deleted / count)} deleted,"
            f" {_each(t.index_entries / count)} index entries ({t.indexes} indexes{partial})"
            " per event"
        )
    return lines


def _each(value: float) -> str:
    """Two decimals, or two significant digits below 0.1 (a job per thousand events), never
    in exponent notation."""
    if value == 0 or value >= 0.1:
        return f"{value:.2f}"
    return format(Decimal(f"{value:.2g}"), "f")
