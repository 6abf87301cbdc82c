"""Helpers for tests that drive the queue by hand instead of waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import psycopg

from jobs.runtime import Runtime
from jobs.store.rows import StatusChange
from jobs.store.status_changes import record_status_changes


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


@contextlib.asynccontextmanager
async def writer_in_flight(database_url: str) -> AsyncIterator[None]:
    """A status-change writer that has taken its number and not committed, until the block
    ends (rolled back): no stream reads past that number meanwhile, so changes committed
    after it wait, unread, as they would for a stream that fell behind."""
    conn = await psycopg.AsyncConnection.connect(database_url)
    try:
        change = StatusChange(0, 0, 0, 0, None, "PENDING", 0, "", dt.datetime.now(dt.UTC))
        await record_status_changes(conn, [change])
        yield
    finally:
        await conn.rollback()
        await conn.close()
