"""The baseline's tables (events with their status, attempts) and procrastinate's schema."""

from __future__ import annotations

import psycopg
from procrastinate.schema import SchemaManager

TABLES = """
CREATE TABLE baseline_events (
    id bigserial PRIMARY KEY,
    event_name text NOT NULL,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'WAITING_RETRY', 'SUCCEEDED', 'FAILED')),
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_name, event_id)
);

CREATE TABLE baseline_attempts (
    id bigserial PRIMARY KEY,
    event_ref bigint NOT NULL REFERENCES baseline_events (id),
    number integer NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome text NOT NULL,
    http_status integer,
    UNIQUE (event_ref, number)
);
"""


async def create_schema(database_url: str) -> None:
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
        conn.transaction(),
    ):
        await conn.execute(SchemaManager.get_schema().encode())
        await conn.execute(TABLES.encode())
