"""Process commands: `run`, `serve`, `worker` (Tenaz itself) and `migrate`.

They talk to the database, not to a server: they are the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from jobs.settings import Settings, SettingsError
from server.cli.errors import CliError


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # Tenaz logs one line per unit of work; these libraries' INFO lines (every request,
    # every job, every step of the embedded server's start) would drown them.
    for chatty in ("httpx", "procrastinate", "pgserver"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


async def run(settings: Settings, *, serve: bool, work: bool) -> None:
    """Serve gRPC and/or run a delivery worker until SIGINT or SIGTERM."""
    from jobs.database import database_url
    from jobs.migrate import migrate
    from jobs.runtime import open_runtime
    from server.app import start_server
    from server.dashboard import start_dashboard

    log = logging.getLogger("tenaz")
    with database_url(settings) as url:
        await migrate(url)
        async with open_runtime(settings, url) as runtime:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            server = await start_server(runtime, settings.listen_address) if serve else None
            dashboard = (
                await start_dashboard(runtime, server.hub, settings.dashboard_address)
                if server is not None and settings.dashboard_address
                else None
            )
            worker = (
                asyncio.create_task(runtime.run_worker(install_signal_handlers=False))
                if work
                else None
            )
            waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
            if worker is not None:
                waiters.append(worker)
            log.info(
                "tenaz.started server=%s dashboard=%s worker=%s",
                settings.listen_address if serve else "off",
                dashboard.url if dashboard is not None else "off",
                "on" if work else "off",
            )
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            log.info("tenaz.stopping")
            if dashboard is not None:
                await dashboard.stop()
            if server is not None:
                await server.stop(grace=5.0)
            if worker is not None and not worker.done():
                worker.cancel()
            for task in waiters:
                task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            if worker is not None and worker.done() and not worker.cancelled():
                worker.result()  # a crashed worker is an error exit
    log.info("tenaz.stopped")


async def migrate_database(settings: Settings) -> None:
    from jobs.database import database_url
    from jobs.migrate import migrate

    with database_url(settings) as url:
        applied = await migrate(url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
