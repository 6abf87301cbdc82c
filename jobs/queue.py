"""The procrastinate app: Tenaz's tasks and how jobs are deferred.

    tenaz.deliver(destination_id)   send what is due for one destination, in batches
    tenaz.sweep                     periodic: recover interrupted attempts, expire
                                    what passed its deadline, re-queue orphans
    tenaz.operation(operation_id)   a bulk retry or cancel, chunk by chunk
    tenaz.purge                     hourly: delete what is older than the retention

Jobs carry only a destination id: the rows in `tenaz_deliveries` say what is
due, so a job that runs twice, early or late does no harm. Retries are jobs
deferred with `schedule_at` in the same transaction as the status rows
(`defer_delivery(connection=...)`), never in-process timers.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued
from psycopg import AsyncConnection

if TYPE_CHECKING:
    from jobs.runtime import Runtime


__all__ = ["App", "build_app", "defer_delivery", "sweep_cron"]

DELIVER_TASK = "tenaz.deliver"
SWEEP_TASK = "tenaz.sweep"
OPERATION_TASK = "tenaz.operation"
PURGE_TASK = "tenaz.purge"
DELIVERY_QUEUE = "tenaz_deliveries"
MAINTENANCE_QUEUE = "tenaz_maintenance"
QUEUES = (DELIVERY_QUEUE, MAINTENANCE_QUEUE)


def sweep_cron(interval: dt.timedelta) -> str:
    """A cron line (with procrastinate's seconds column) close to `interval`."""
    seconds = max(1, round(interval.total_seconds()))
    if seconds < 60:
        return f"* * * * * */{seconds}"
    minutes = max(1, seconds // 60)
    return f"*/{minutes} * * * *"


def _runtime(context: JobContext) -> Runtime:
    runtime: Runtime = context.additional_context["runtime"]
    return runtime


def build_app(connector: procrastinate.PsycopgConnector, *, sweep_interval: dt.timedelta) -> App:
    app = App(connector=connector)

    @app.task(name=DELIVER_TASK, queue=DELIVERY_QUEUE, pass_context=True)
    async def deliver(context: JobContext, destination_id: int) -> None:
        await _runtime(context).engine.deliver_due(destination_id)

    @app.periodic(cron=sweep_cron(sweep_interval))
    @app.task(name=SWEEP_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=SWEEP_TASK, pass_context=True)
    async def sweep(context: JobContext, timestamp: int) -> None:
        await _runtime(context).sweeper.sweep()

    @app.task(name=OPERATION_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)
    async def operation(context: JobContext, operation_id: int) -> None:
        await _runtime(context).operations.run(operation_id)

    @app.periodic(cron="17 * * * *")
    @app.task(name=PURGE_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=PURGE_TASK, pass_context=True)
    async def purge(context: JobContext, timestamp: int) -> None:
        await _runtime(context).retention.purge()

    del deliver, sweep, operation, purge
    return app


async def defer_delivery(
    app: App,
    conn: AsyncConnection[Any],
    *,
    destination_id: int,
    at: dt.datetime | None = None,
    queueing_lock: str | None = None,
) -> bool:
    """Queue a delivery job in the caller's transaction; False if the lock clashed.

    With a `queueing_lock`, the defer runs in a savepoint so that a clash (a
    job with that lock is already waiting) leaves the caller's transaction
    usable.
    """
    options: dict[str, Any] = {"connection": conn}
    if at is not None:
        options["schedule_at"] = at
    if queueing_lock is not None:
        options["queueing_lock"] = queueing_lock
    deferrer = app.configure_task(DELIVER_TASK, **options)
    if queueing_lock is None:
        await deferrer.defer_async(destination_id=destination_id)
        return True
    try:
        async with conn.transaction():
            await deferrer.defer_async(destination_id=destination_id)
    except AlreadyEnqueued:
        return False
    return True
