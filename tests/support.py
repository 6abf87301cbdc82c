"""Helpers for tests that drive the queue by hand instead of waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from jobs.runtime import Runtime
from jobs.settings import Settings


def process_env(settings: Settings) -> dict[str, str]:
    """TENAZ_* variables for a `tenaz` process sharing the tests' database and fakes."""
    return {
        "TENAZ_DATABASE_URL": settings.database_url,
        "TENAZ_SECRET_KEY": settings.secret_key,
        "TENAZ_ALLOWED_PLATFORM_URLS": ",".join(str(u) for u in settings.allowed_platform_urls),
    }


async def run_jobs(runtime: Runtime) -> None:
    """Run every queued job that is due now (by the database's clock), then return."""
    await runtime.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)


async def fire_due_retries(runtime: Runtime) -> int:
    """Make jobs scheduled up to the fake clock's now runnable, then run them.

    Retry jobs are scheduled at fake-clock times; this maps "due by the fake
    clock" onto "due by the database's clock" without waiting.
    """
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now()"
            " WHERE status = 'todo' AND scheduled_at IS NOT NULL AND scheduled_at <= %s",
            (runtime.clock.now(),),
        )
        fired = cur.rowcount
    await run_jobs(runtime)
    return fired


@contextlib.asynccontextmanager
async def bounded(seconds: float) -> AsyncIterator[None]:
    async with asyncio.timeout(seconds):
        yield


async def status_history(runtime: Runtime, delivery_id: str | int) -> list[str]:
    """Every status the delivery went through, from its status-change rows, in order."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT to_status FROM tenaz_status_changes WHERE delivery_id = %s ORDER BY seq",
            (int(delivery_id),),
        )
        return [row[0] for row in await cur.fetchall()]


async def scheduled_jobs(runtime: Runtime) -> list[tuple[int, object]]:
    """(destination id, scheduled_at) of every delivery job still waiting to run."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT (args->>'destination_id')::bigint, scheduled_at FROM procrastinate_jobs"
            " WHERE status = 'todo' AND task_name = 'tenaz.deliver' ORDER BY id"
        )
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def count_rows(runtime: Runtime, table: str) -> int:
    assert table.startswith("tenaz_") and table.isidentifier()
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - checked name
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


# custom_data that Meta (and the fake Meta, and so the sandbox) refuses but Tenaz passes on
# as given, since fields a caller adds beyond Tenaz's own go to the platform unchecked: a
# text where Meta wants a number. Tests use it for "the platform rejected this event's
# data"; an event carrying it sets no `value` of its own (Tenaz's would replace it).
META_REFUSES = {"value": "dez reais"}


async def until(condition: Callable[[], bool], *, every: float = 0.05) -> None:
    """Return once `condition()` holds, checking every `every` seconds; the caller bounds
    the wait with `asyncio.timeout`. For state with no event to wait on (what a fake
    platform received from a worker)."""
    while not condition():  # noqa: ASYNC110 - nothing to await: the state is polled
        await asyncio.sleep(every)
