"""Retention: personal data (even hashed) and delivery history are kept for
`TENAZ_RETENTION` (30 days by default), then deleted, as the LGPD asks of data
kept no longer than its purpose needs.

Events go only once every delivery is finished; status changes go by age, and
the stream remembers how far it purged so that a dashboard resuming from an
older cursor is told (OUT_OF_RANGE) instead of silently missing changes.
Expired dashboard sessions, which open nothing any more, go at the same time, and so
do alert notifications older than the period (they name destinations and rules, and would
otherwise grow for as long as alerts fire), and the stats counters of minutes (and of hours
whose every minute is that old) that count nothing any more, once the counters' shards are
folded (a minute's count is zero when its shards add up to zero, which a single row then
says).
"""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool

from jobs.clock import Clock
from jobs.counter_fold import CounterFold
from jobs.settings import Settings
from jobs.store import retention, sessions

log = logging.getLogger(__name__)

CHUNK = 5000
# Rows of the status log, each of up to 1,024 changes.
LOG_CHUNK = 500


class Retention:
    def __init__(
        self, pool: AsyncConnectionPool, clock: Clock, settings: Settings, fold: CounterFold
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._settings = settings
        self._fold = fold

    async def purge(self) -> dict[str, int]:
        now = self._clock.now()
        before = now - self._settings.retention
        counts = {
            "events": 0,
            "status_changes": 0,
            "operations": 0,
            "dashboard_sessions": 0,
            "counters": 0,
            "alert_notifications": 0,
        }
        while True:
            async with self._pool.connection() as conn, conn.transaction():
                deleted = await retention.delete_old_events(conn, before=before, limit=CHUNK)
            counts["events"] += deleted
            if deleted < CHUNK:
                break
        while True:
            async with self._pool.connection() as conn, conn.transaction():
                purged = await retention.delete_old_status_changes(
                    conn, before=before, limit=LOG_CHUNK
                )
            counts["status_changes"] += purged.changes
            if purged.rows < LOG_CHUNK:
                break
        # The events' deletions above counted into their backends' shards.
        await self._fold.fold()
        async with self._pool.connection() as conn, conn.transaction():
            counts["operations"] = await retention.delete_old_operations(conn, before=before)
            counts["dashboard_sessions"] = await sessions.delete_expired_sessions(conn, now=now)
            counts["counters"] = await retention.delete_old_counters(conn, before=before)
            counts["alert_notifications"] = await retention.delete_old_alert_notifications(
                conn, before=before
            )
        if any(counts.values()):
            log.info("retention.purged", extra=counts)
        return counts
