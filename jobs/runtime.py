"""The composition root of the delivery domain: every long-lived object, built once.

`open_runtime` turns one `Settings` into the pool, the procrastinate app, the
HTTP client and the services, and closes them in reverse order. The gRPC
server and the worker both start from here; tests call it with a `FakeClock`
and their own `Settings`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import procrastinate
from psycopg_pool import AsyncConnectionPool

from jobs import queue
from jobs.alert_channels import ChannelSender
from jobs.alerts import AlertService
from jobs.clock import Clock, SystemClock
from jobs.connectors import ConnectorFactory
from jobs.counter_fold import CounterFold
from jobs.database import open_pool
from jobs.database_gauges import DatabaseGauges
from jobs.delivery import DeliveryEngine
from jobs.destinations import DestinationService
from jobs.egress import EgressPolicy, platform_client
from jobs.event_reads import EventReads
from jobs.metrics import Metrics
from jobs.operations import OperationService
from jobs.retention import Retention
from jobs.secrets import SecretBox, key_from_file
from jobs.sessions import SessionService
from jobs.settings import Settings
from jobs.stats import StatsService
from jobs.status_feed import StatusFeed
from jobs.submission import SubmissionService
from jobs.sweeper import Sweeper
from jobs.tracing import Tracing, open_tracing
from jobs.webhook_sources import WebhookSourceService


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database_url: str
    clock: Clock
    pool: AsyncConnectionPool
    app: queue.App
    engine: DeliveryEngine
    sweeper: Sweeper
    submissions: SubmissionService
    destinations: DestinationService
    reads: EventReads
    operations: OperationService
    stats: StatsService
    feed: StatusFeed
    retention: Retention
    counter_fold: CounterFold
    sessions: SessionService
    connectors: ConnectorFactory
    tracing: Tracing
    alerts: AlertService
    # This process's metrics (served on TENAZ_METRICS_ADDRESS), the database's gauges among
    # them; `gauges.run()` keeps those fresh.
    metrics: Metrics
    gauges: DatabaseGauges
    webhook_sources: WebhookSourceService

    async def run_worker(self, **options: object) -> None:
        """Run a procrastinate worker on Tenaz's queues until cancelled or signalled."""
        worker_options: dict[str, object] = {
            "queues": list(queue.QUEUES),
            "concurrency": self.settings.worker_concurrency,
            "additional_context": queue.TaskServices(
                clock=self.clock,
                metrics=self.metrics,
                engine=self.engine,
                sweeper=self.sweeper,
                operations=self.operations,
                retention=self.retention,
                alerts=self.alerts,
                counter_fold=self.counter_fold,
            ).context(),
            "delete_jobs": "successful",
            "shutdown_graceful_timeout": 30.0,
            # Retries are scheduled jobs, which only polling finds: poll often so
            # that a retry starts well within a second of its due time. An idle
            # worker's poll is one indexed query, four times a second.
            "fetch_job_polling_interval": 0.25,
        }
        worker_options.update(options)
        await self.app.run_worker_async(**worker_options)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    database_url: str,
    *,
    clock: Clock | None = None,
) -> AsyncIterator[Runtime]:
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        # Opened first, closed last: the spans of everything below are exported at the end.
        tracing = await stack.enter_async_context(open_tracing(settings))
        pool = await stack.enter_async_context(open_pool(database_url, settings))
        app = queue.build_app(
            procrastinate.PsycopgConnector(),
            sweep_interval=settings.sweep_interval,
            alert_interval=settings.alert_interval,
        )
        await stack.enter_async_context(app.open_async(pool))
        egress = EgressPolicy(settings.allowed_platform_urls)
        http_client = await stack.enter_async_context(
            platform_client(egress, timeout=settings.http_timeout.total_seconds(), tracing=tracing)
        )
        secrets = SecretBox.from_setting(
            settings.secret_key or key_from_file(settings.data_dir / "secret-key")
        )
        connectors = ConnectorFactory(
            http_client, clock, secrets, egress, timeout=settings.http_timeout.total_seconds()
        )
        stack.push_async_callback(connectors.aclose)
        metrics = Metrics()
        gauges = DatabaseGauges(database_url, clock, settings.metrics_interval)
        metrics.register(gauges)
        stack.push_async_callback(gauges.close)
        submissions = SubmissionService(pool, clock, settings, app, metrics)
        fold = CounterFold(pool)
        yield Runtime(
            settings=settings,
            database_url=database_url,
            clock=clock,
            pool=pool,
            app=app,
            engine=DeliveryEngine(pool, clock, settings, connectors, app, tracing, metrics=metrics),
            sweeper=Sweeper(pool, clock, settings, app, metrics),
            submissions=submissions,
            destinations=DestinationService(pool, clock, app, secrets, egress, metrics),
            reads=EventReads(pool),
            operations=OperationService(pool, clock, app, settings.deadline_rule, metrics),
            stats=StatsService(pool, clock),
            feed=StatusFeed(pool),
            retention=Retention(pool, clock, settings, fold),
            counter_fold=fold,
            sessions=SessionService(pool, clock, settings.session_ttl),
            connectors=connectors,
            tracing=tracing,
            alerts=AlertService(
                pool,
                clock,
                app,
                secrets,
                ChannelSender(
                    http_client,
                    egress,
                    http_deadline=settings.http_timeout.total_seconds(),
                    smtp_timeout=settings.smtp_timeout.total_seconds(),
                    smtp_ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
                ),
                attempts=settings.alert_attempts,
                retry_wait=settings.alert_retry_wait,
            ),
            metrics=metrics,
            gauges=gauges,
            webhook_sources=WebhookSourceService(pool, clock, secrets, submissions),
        )
