"""The sweeper: the reason no delivery is ever stuck.

Run periodically by every worker (procrastinate's periodic task; the queueing
lock keeps one sweep at a time), it:

- recovers attempts whose lease ran out (the worker was killed or hung): the
  attempt is closed as `interrupted` and the delivery is due again at once,
  or FAILED `expired` when its deadline no longer allows a send;
- ends as FAILED `expired` every due delivery (PENDING or WAITING_RETRY) whose
  deadline passed before it could be attempted, whatever its destination's
  state (disabled, needing action, deleted): every delivery ends by its deadline;
- finishes what a destination's deletion left: a due delivery of a deleted
  destination (the deletion was cut short, a worker held the row at that
  instant, or a late answer left it waiting) ends as FAILED `destination_deleted`;
- re-queues a job for any destination with deliveries overdue by more than a
  sweep interval, whatever happened to the job that should have sent them;
- hands procrastinate's stalled jobs (their worker stopped sending heartbeats)
  back to the queue, as procrastinate does not do it by itself.
"""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool

from jobs import decisions, endings, queue
from jobs.clock import Clock
from jobs.metrics import Metrics
from jobs.moves import write
from jobs.settings import Settings
from jobs.store import deliveries

log = logging.getLogger(__name__)

_BATCH = 1000


class Sweeper:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        settings: Settings,
        app: queue.App,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._clock = clock
        self._settings = settings
        self._app = app
        self._rule = settings.deadline_rule

    async def sweep(self) -> dict[str, int]:
        counts = {
            "interrupted": await self.recover_interrupted(),
            "expired": await self.expire_past_deadline(),
            "deleted": await self.finish_deletions(),
            "requeued": await self.requeue_overdue(),
            "stalled_jobs": await self.retry_stalled_jobs(),
        }
        if any(counts.values()):
            log.info("sweep.finished", extra=counts)
        return counts

    async def recover_interrupted(self) -> int:
        total = 0
        while True:
            now = self._clock.now()
            async with self._pool.connection() as conn, conn.transaction():
                rows = await deliveries.lock_expired_leases(conn, now=now, limit=_BATCH)
                moves = [
                    decisions.after_interruption(row, now=now, rule=self._rule) for row in rows
                ]
                writes = await write(conn, self._app, moves, now=now)
            self._metrics.written(writes)
            if rows:
                log.warning("delivery.attempt.interrupted", extra={"deliveries": len(rows)})
            total += len(rows)
            if len(rows) < _BATCH:
                return total

    async def expire_past_deadline(self) -> int:
        batch = endings.past_deadline(self._app, self._rule)
        return await endings.in_batches(self._pool, self._clock, batch, self._metrics)

    async def finish_deletions(self) -> int:
        async with self._pool.connection() as conn:
            deleted = await deliveries.deleted_destinations_with_due(conn)
        total = 0
        for destination_id in deleted:
            batch = endings.of_deleted(self._app, destination_id)
            total += await endings.in_batches(self._pool, self._clock, batch, self._metrics)
        return total

    async def requeue_overdue(self) -> int:
        cutoff = self._clock.now() - self._settings.sweep_interval
        requeued = 0
        async with self._pool.connection() as conn, conn.transaction():
            for destination_id in await deliveries.overdue_destinations(conn, cutoff=cutoff):
                if await queue.defer_delivery(
                    self._app,
                    conn,
                    destination_id=destination_id,
                    queueing_lock=f"{queue.DELIVER_TASK}:sweep:{destination_id}",
                ):
                    requeued += 1
        return requeued

    async def retry_stalled_jobs(self) -> int:
        manager = self._app.job_manager
        stalled = list(await manager.get_stalled_jobs())
        for job in stalled:
            await manager.retry_job(job)
        return len(stalled)
