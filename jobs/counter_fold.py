"""The fold of the stats counters: their shards' rows moved into shard 0, every minute.

Transactions that move deliveries and attempts count into their backend's shard (migration
0025), so that they do not queue on each other's counter rows; left alone, a key would gain
a row for every shard that ever counted into it, and GetStats, the gauges and the alert rules
would sum up to seventeen rows where they summed one. The worker runs the fold as a periodic
task (`tenaz.counters.fold`, one at a time: the task's queueing lock, and the fold's
transaction lock across processes), and retention runs it before deleting counters.

Every minute, because a minute's rows are written while it is the current minute (and by the
few retries and finishes of older deliveries later): folding once a minute leaves readers one
row per key for every minute but the last one or two, as before shards. A fold then moves what
the writers made in one minute, a few rows per destination, status and shard: one short
statement per table. Folding more often would buy readers little, and would make writers
insert again, more often, the rows of the current minute that a fold has just moved (an
insert and its index entries, where an increment is a HOT update).
"""

from __future__ import annotations

import datetime as dt
import logging

from psycopg_pool import AsyncConnectionPool

from jobs.store import counters

log = logging.getLogger(__name__)

INTERVAL = dt.timedelta(minutes=1)
# Shard rows moved by one transaction: its locks on them are held for a few milliseconds.
CHUNK = 1000


class CounterFold:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def fold(self) -> dict[str, int]:
        """Move every counter's shard rows into shard 0, a chunk per transaction, skipping
        those a running transaction holds; the number of rows moved, by table."""
        moved: dict[str, int] = {}
        for counter in counters.COUNTERS:
            moved[counter.table] = 0
            while True:
                async with self._pool.connection() as conn, conn.transaction():
                    await counters.lock_fold(conn)
                    rows = await counters.fold_shards(conn, counter, limit=CHUNK)
                moved[counter.table] += rows
                if rows < CHUNK:
                    break
        if any(moved.values()):
            log.info("counters.folded", extra=moved)
        return moved
