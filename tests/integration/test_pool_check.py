"""The pool checks a connection before use only when it sat idle, and replaces broken ones."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from jobs.database import IdleCheck, open_pool
from jobs.settings import Settings


async def backend_pid(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        return int(row[0])


async def test_a_connection_back_moments_ago_is_used_without_a_round_trip(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Any] = []
    original = AsyncConnectionPool.check_connection

    async def spy(conn: Any) -> None:
        checked.append(conn)
        await original(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", spy)
    freshness = IdleCheck(idle_before_check=3600)
    async with AsyncConnectionPool(
        database_url, min_size=1, max_size=1, check=freshness.check, reset=freshness.returned
    ) as pool:
        first = await backend_pid(pool)  # never returned yet: checked
        assert len(checked) == 1
        assert [await backend_pid(pool) for _ in range(5)] == [first] * 5
        assert len(checked) == 1


async def test_an_idle_connection_cut_by_the_database_is_replaced_before_use(
    database_url: str,
) -> None:
    freshness = IdleCheck(idle_before_check=0.0)
    async with AsyncConnectionPool(
        database_url, min_size=1, max_size=1, check=freshness.check, reset=freshness.returned
    ) as pool:
        first = await backend_pid(pool)
        with psycopg.connect(database_url, autocommit=True) as admin:
            # pg_terminate_backend waits (up to its timeout) for the backend to exit.
            row = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (first,)).fetchone()
            assert row == (True,)
        second = await backend_pid(pool)
        assert second != first


@pytest.mark.parametrize("prepared", [True, False])
async def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(
    database_url: str, prepared: bool
) -> None:
    """Behind PgBouncer in transaction mode (before 1.21) a statement prepared on one server
    connection is missing on the next: with prepared statements off, none is ever made."""
    settings = Settings(database_url=database_url, prepared_statements=prepared)
    async with open_pool(database_url, settings) as pool, pool.connection() as conn:
        for _ in range(10):  # psycopg prepares a query from its fifth run
            await conn.execute("SELECT count(*) FROM tenaz_deliveries WHERE id = %s", (1,))
        cur = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
        row = await cur.fetchone()
    assert row is not None
    assert (row[0] > 0) is prepared
