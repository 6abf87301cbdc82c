"""Folding the stats counters' shards into shard 0 (migrations 0025 and 0026).

Transactions that move deliveries and attempts count into the shard of their backend, so
that concurrent ones do not queue on the same counter rows; the fold moves those rows into
shard 0, one statement per table and chunk: it deletes up to a chunk of shard rows and adds
what they held to the key's shard-0 row, in the same statement, so that at every commit a
key's shards still add up to what they did. It skips the shard rows a running transaction
holds (`SKIP LOCKED`): those are folded next time, and the fold waits for no such transaction.
A transaction counting into a row the fold has just deleted waits for the fold's commit and
then makes the row anew (an upsert inserts when the row it conflicted with is gone).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

# A transaction-level lock (the two-key form, beside the gauges' (0x7E4A, 3)): one fold
# transaction at a time, and none while retention deletes counters. Each writes shard-0 rows
# in its own order; holding this lock, they never wait for each other's rows.
FOLD_LOCK = (0x7E4A, 4)

_SUM = "n = c.n + excluded.n"


@dataclass(frozen=True)
class CounterTable:
    """A counter table: its key (without the shard), its values, what a key's folded rows
    add up to, and how its shard-0 row takes that in (as the counting triggers do)."""

    table: str
    key: str
    values: str = "n"
    totals: str = "sum(n)"
    take_in: str = _SUM


DELIVERIES = CounterTable(
    "tenaz_delivery_counts", "workspace_id, created_minute, destination_id, status"
)
UNFINISHED = CounterTable("tenaz_unfinished_counts", "workspace_id, destination_id, status")
ATTEMPTS = CounterTable(
    "tenaz_attempt_counts",
    "workspace_id, finished_minute, destination_id, outcome",
    values="n, last_at, last_message",
    totals="sum(n), max(last_at), (array_agg(last_message ORDER BY last_at DESC))[1]",
    take_in=f"{_SUM}, last_at = greatest(c.last_at, excluded.last_at),"
    " last_message = CASE WHEN excluded.last_at >= c.last_at"
    " THEN excluded.last_message ELSE c.last_message END",
)
# The same counts by the hour (migration 0026), which long windows read.
DELIVERIES_HOURLY = CounterTable(
    "tenaz_delivery_counts_hourly", "workspace_id, created_hour, destination_id, status"
)
ATTEMPTS_HOURLY = CounterTable(
    "tenaz_attempt_counts_hourly", "workspace_id, finished_hour, destination_id, outcome"
)
COUNTERS = (DELIVERIES, DELIVERIES_HOURLY, UNFINISHED, ATTEMPTS, ATTEMPTS_HOURLY)


def _fold_statement(counter: CounterTable) -> str:
    key, table = counter.key, counter.table
    return (
        f"WITH moved AS (DELETE FROM {table} WHERE ({key}, shard) IN ("
        f"  SELECT {key}, shard FROM {table} WHERE shard <> 0"
        f"  ORDER BY {key}, shard LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        f"  RETURNING {key}, {counter.values}),"
        f" folded AS (INSERT INTO {table} AS c ({key}, shard, {counter.values})"
        f"  SELECT {key}, 0, {counter.totals} FROM moved GROUP BY {key} ORDER BY {key}"
        f"  ON CONFLICT ({key}, shard) DO UPDATE SET {counter.take_in})"
        " SELECT count(*) FROM moved"
    )


_FOLDS = {counter: _fold_statement(counter) for counter in COUNTERS}


async def lock_fold(conn: AsyncConnection) -> None:
    """Wait until no other transaction folds or deletes counters; held until this one ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", FOLD_LOCK)


async def fold_shards(conn: AsyncConnection, counter: CounterTable, *, limit: int) -> int:
    """Move up to `limit` of `counter`'s shard rows into shard 0; how many were moved.

    Run in a transaction that holds the fold's lock (`lock_fold`).
    """
    cur = await conn.execute(_FOLDS[counter], {"limit": limit})
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
