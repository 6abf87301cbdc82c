"""The procrastinate app: Tenaz's tasks and how jobs are deferred.

    tenaz.deliver(destination_id)   send what is due for one destination, in batches
    tenaz.sweep                     periodic: recover interrupted attempts, expire
                                    what passed its deadline, re-queue orphans
    tenaz.operation(operation_id)   a bulk retry or cancel, chunk by chunk
    tenaz.purge                     hourly: delete what is older than the retention
    tenaz.counters.fold             every minute: fold the stats counters' shards
                                    (jobs/counter_fold.py)
    tenaz.alerts.evaluate           periodic: apply the alert rules (jobs/alerts.py)
    tenaz.alerts.notify(id)         send one alert notification; a failed try defers the next

Jobs carry only a destination id: the rows in `tenaz_deliveries` say what is
due, so a job that runs twice, early or late does no harm. Retries are jobs
deferred with `schedule_at` in the same transaction as the status rows
(`defer_delivery(connection=...)`), never in-process timers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued
from psycopg import AsyncConnection

from jobs.counter_fold import INTERVAL as FOLD_INTERVAL
from jobs.counter_fold import CounterFold

if TYPE_CHECKING:
    from jobs.alerts import AlertService
    from jobs.clock import Clock
    from jobs.delivery import DeliveryEngine
    from jobs.metrics import Metrics
    from jobs.operations import OperationService
    from jobs.retention import Retention
    from jobs.sweeper import Sweeper


__all__ = [
    "App",
    "TaskServices",
    "build_app",
    "defer_delivery",
    "defer_notification",
    "sweep_cron",
]

DELIVER_TASK = "tenaz.deliver"
SWEEP_TASK = "tenaz.sweep"
OPERATION_TASK = "tenaz.operation"
PURGE_TASK = "tenaz.purge"
FOLD_COUNTERS_TASK = "tenaz.counters.fold"
EVALUATE_ALERTS_TASK = "tenaz.alerts.evaluate"
NOTIFY_TASK = "tenaz.alerts.notify"
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


@dataclass(frozen=True)
class TaskServices:
    """What the tasks work with, given to the worker that runs them (`TaskServices.context`):
    each task gets the one service it needs, never the whole runtime; the clock and the
    metrics time how long each job waited past its due time."""

    clock: Clock
    metrics: Metrics
    engine: DeliveryEngine
    sweeper: Sweeper
    operations: OperationService
    retention: Retention
    alerts: AlertService
    counter_fold: CounterFold

    def context(self) -> dict[str, object]:
        return {_SERVICES: self}


_SERVICES = "tenaz_services"


def _started(context: JobContext, due: dt.datetime | None = None) -> TaskServices:
    """The services of a job that has just started, its wait counted from its due time: the
    time it was scheduled for, or `due` (a periodic task's tick). A job queued to run at
    once has neither; what it sends counts its own wait (`tenaz_first_attempt_wait_seconds`)."""
    services: TaskServices = context.additional_context[_SERVICES]
    job = context.job
    services.metrics.job_started(
        job.task_name, services.clock.now(), job.scheduled_at if due is None else due
    )
    return services


def _tick(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


# The tasks, declared once here. They are added to each app `build_app` makes rather than
# kept in a procrastinate Blueprint: adding a Blueprint to an app renames its tasks and
# binds them to that app, and Tenaz builds one app per runtime (a test process runs many).


async def deliver(context: JobContext, destination_id: int) -> None:
    await _started(context).engine.deliver_due(destination_id)


async def sweep(context: JobContext, timestamp: int) -> None:
    await _started(context, _tick(timestamp)).sweeper.sweep()


async def operation(context: JobContext, operation_id: int) -> None:
    await _started(context).operations.run(operation_id)


async def purge(context: JobContext, timestamp: int) -> None:
    await _started(context, _tick(timestamp)).retention.purge()


async def fold_counters(context: JobContext, timestamp: int) -> None:
    await _started(context, _tick(timestamp)).counter_fold.fold()


async def evaluate_alerts(context: JobContext, timestamp: int) -> None:
    await _started(context, _tick(timestamp)).alerts.evaluate()


async def notify(context: JobContext, notification_id: int) -> None:
    await _started(context).alerts.notify(notification_id)


def build_app(
    connector: procrastinate.PsycopgConnector,
    *,
    sweep_interval: dt.timedelta,
    alert_interval: dt.timedelta = dt.timedelta(seconds=30),
) -> App:
    app = App(connector=connector)
    app.task(name=DELIVER_TASK, queue=DELIVERY_QUEUE, pass_context=True)(deliver)
    _periodic(app, sweep_cron(sweep_interval), SWEEP_TASK, sweep)
    app.task(name=OPERATION_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)(operation)
    _periodic(app, "17 * * * *", PURGE_TASK, purge)
    _periodic(app, sweep_cron(FOLD_INTERVAL), FOLD_COUNTERS_TASK, fold_counters)
    _periodic(app, sweep_cron(alert_interval), EVALUATE_ALERTS_TASK, evaluate_alerts)
    app.task(name=NOTIFY_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)(notify)
    return app


def _periodic(
    app: App, cron: str, name: str, job: Callable[[JobContext, int], Awaitable[None]]
) -> None:
    """A maintenance job that runs on `cron`: one at a time, as its queueing lock (its name)
    keeps a second from being queued while one waits."""
    app.periodic(cron=cron)(
        app.task(name=name, queue=MAINTENANCE_QUEUE, queueing_lock=name, pass_context=True)(job)
    )


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


async def defer_notification(
    app: App, conn: AsyncConnection[Any], *, notification_id: int, at: dt.datetime | None = None
) -> None:
    """Queue the sending of an alert notification in the caller's transaction."""
    options: dict[str, Any] = {"connection": conn}
    if at is not None:
        options["schedule_at"] = at
    await app.configure_task(NOTIFY_TASK, **options).defer_async(notification_id=notification_id)
