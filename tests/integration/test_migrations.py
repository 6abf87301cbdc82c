"""Migrations are tracked: a second run (or a concurrent one) applies nothing."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg import sql

from jobs.migrate import migrate


async def test_migrating_twice_and_concurrently_is_harmless(postgres_url: str) -> None:
    name = "tenaz_test_migrations"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=name)
    try:
        first, second = await asyncio.gather(migrate(url), migrate(url))
        applied = [first, second]
        assert [] in applied
        names = next(a for a in applied if a)
        assert names[:2] == ["0001_procrastinate_3.10", "0002_tenaz"]
        assert names == sorted(names)
        assert await migrate(url) == []
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM tenaz_schema_migrations").fetchone()
            assert row == (len(names),)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
