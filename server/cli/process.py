"""Process commands: `run`, `serve`, `worker` (Tenaz itself) and `migrate`.

They talk to the database, not to a server: they are the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from jobs import logs
from jobs.settings import Settings, SettingsError


def configure_logging(level: str, log_format: str) -> None:
    """Log records of `level` and above to stderr, as `log_format` (see jobs/logs.py) has them."""
    logging.basicConfig(level=level, handlers=[logs.handler(log_format, sys.stderr)])
    # Tenaz logs one line per unit of work; these libraries' INFO lines (every request,
    # every job, every step of the embedded server's start) would drown them.
    for chatty in ("httpx", "procrastinate"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # pgserver logs its failures with the server's whole log, then raises: Tenaz reports
    # the failure in one line that names the log file.
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def _listening(variable: str, address: str) -> Iterator[None]:
    """Turn a failure to bind `address` into one line about the variable that chose it."""
    try:
        yield
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror
        advice = (
            f"stop the program that holds the port, or set {variable} to another address"
            if exc.errno == errno.EADDRINUSE
            else f"set {variable} to an address this machine can listen on"
        )
        raise SettingsError(
            f"{variable} {address}: cannot listen there ({(reason or str(exc)).lower()}); {advice}"
        ) from None


# Python's defaults are (700, 10, 10): see tune_garbage_collection.
GC_THRESHOLDS = (5_000, 20, 100)


def tune_garbage_collection() -> None:
    """Collect cyclic garbage less often than Python's defaults would.

    A batch of 500 events is thousands of objects that live across the awaits of its
    transaction, so with the defaults nearly every young collection promotes them, and full
    collections follow one another: in `make bench`'s drain the server spent 8.4 of its 24
    CPU seconds collecting (a full collection of about 90 ms every 1.3 s, each a pause of
    every call in flight), and the workers 3 of 10. With these thresholds the server spent
    2.1 s, the CPU per event fell by about 16% in the server and 12% in the workers (the
    drain beside the defaults, in one run) and peak RSS did not move (108 MB):
    Tenaz's objects are freed by reference counting, and the few cycles (exceptions and
    their tracebacks, mostly) wait a little longer for a collection.
    """
    gc.set_threshold(*GC_THRESHOLDS)


async def run(settings: Settings, *, serve: bool, work: bool) -> None:
    """Serve gRPC and/or run a delivery worker until SIGINT or SIGTERM.

    What fails to start stops what had started, in reverse order (the embedded
    PostgreSQL last), before the error is reported. A normal stop ends the
    listeners first, so that no call arrives while the worker finishes.
    """
    tune_garbage_collection()
    from jobs.database import open_database
    from jobs.runtime import open_runtime
    from server.app import start_server
    from server.dashboard import start_dashboard
    from server.ingest import start_ingest
    from server.metrics_endpoint import start_metrics_endpoint
    from server.tls import check_files

    log = logging.getLogger("tenaz")
    if serve:
        check_files(settings)  # a wrong certificate stops us before anything starts
    async with contextlib.AsyncExitStack() as started:
        url = await started.enter_async_context(open_database(settings))
        runtime = await started.enter_async_context(open_runtime(settings, url))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        started.push_async_callback(_end, waiters)
        worker = None
        async with contextlib.AsyncExitStack() as listening:
            server = dashboard = ingest = metrics = None
            if settings.metrics_address:
                with _listening("TENAZ_METRICS_ADDRESS", settings.metrics_address):
                    metrics = await start_metrics_endpoint(
                        runtime.metrics, settings.metrics_address
                    )
                listening.push_async_callback(metrics.stop)
                gauges = asyncio.create_task(runtime.gauges.run())
                listening.push_async_callback(_end, [gauges])
            if serve:
                with _listening("TENAZ_LISTEN_ADDRESS", settings.listen_address):
                    server = await start_server(runtime, settings.listen_address)
                listening.push_async_callback(server.stop, 5.0)
            if server is not None and settings.dashboard_address:
                with _listening("TENAZ_DASHBOARD_ADDRESS", settings.dashboard_address):
                    dashboard = await start_dashboard(
                        runtime, server.hub, settings.dashboard_address
                    )
                listening.push_async_callback(dashboard.stop)
            if server is not None and settings.ingest_address:
                with _listening("TENAZ_INGEST_ADDRESS", settings.ingest_address):
                    ingest = await start_ingest(runtime, server.limiter, settings.ingest_address)
                listening.push_async_callback(ingest.stop)
            if work:
                worker = asyncio.create_task(runtime.run_worker(install_signal_handlers=False))
                waiters.append(worker)
            log.info(
                "tenaz.started",
                extra={
                    "server": settings.listen_address if serve else "off",
                    "dashboard": dashboard.url if dashboard is not None else "off",
                    "ingest": ingest.url if ingest is not None else "off",
                    "metrics": metrics.url if metrics is not None else "off",
                    "worker": "on" if work else "off",
                },
            )
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            log.info("tenaz.stopping")
        await _end(waiters)
        if worker is not None and not worker.cancelled():
            worker.result()  # a crashed worker is an error exit
    log.info("tenaz.stopped")


async def _end(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def migrate_database(settings: Settings) -> None:
    from jobs.database import database_url, migrate_reachable

    with database_url(settings) as url:
        applied = await migrate_reachable(url, settings)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
