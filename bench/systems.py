"""The systems under test: how to set each one up, start it, and read what it did.

Both answer the same questions from their own tables, so the workloads never need to know
which system they measure:

    unsettled(conn)            deliveries neither SUCCEEDED nor FAILED (0: the run is over)
    outcome_counts(conn)       (all deliveries, SUCCEEDED, FAILED)
    last_success(conn)         when the last successful attempt ended (epoch seconds)
    first_attempt_starts(conn) event_id -> when its first attempt started
    retry_gaps(conn)           per retry: start - end of the attempt before it (seconds)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import AsyncConnection

from bench.baseline.schema import create_schema
from bench.fake_platform import ACCESS_TOKEN, PIXEL_ID
from bench.processes import Supervisor, child_env


@dataclass(frozen=True)
class Options:
    """How the systems run; the same for both so the comparison is fair."""

    workers: int = 2
    concurrency: int = 20
    http_timeout: float = 10.0
    log_level: str = "INFO"


@dataclass(frozen=True)
class Target:
    """A started system: where to send load."""

    address: str
    api_key: str


class System(Protocol):
    key: str
    label: str

    async def make_template(self, database_url: str) -> None: ...

    async def start(
        self,
        supervisor: Supervisor,
        database_url: str,
        address: str,
        platform_url: str,
        retry_interval: int,
        options: Options,
    ) -> Target: ...

    async def unsettled(self, conn: AsyncConnection[Any]) -> int: ...

    async def outcome_counts(self, conn: AsyncConnection[Any]) -> tuple[int, int, int]: ...

    async def last_success(self, conn: AsyncConnection[Any]) -> float | None: ...

    async def first_attempt_starts(self, conn: AsyncConnection[Any]) -> dict[str, float]: ...

    async def retry_gaps(self, conn: AsyncConnection[Any]) -> list[float]: ...


async def _scalar(conn: AsyncConnection[Any], query: str) -> Any:
    cursor = await conn.execute(query)
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def _pairs(conn: AsyncConnection[Any], query: str) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(query)
    return list(await cursor.fetchall())


class TenazSystem:
    key = "tenaz"
    label = "Tenaz"

    async def make_template(self, database_url: str) -> None:
        from jobs.migrate import migrate

        await migrate(database_url)

    async def start(
        self,
        supervisor: Supervisor,
        database_url: str,
        address: str,
        platform_url: str,
        retry_interval: int,
        options: Options,
    ) -> Target:
        from jobs import keys
        from jobs.destinations import DestinationSpec
        from jobs.runtime import open_runtime
        from jobs.secrets import generate_key
        from jobs.settings import Settings

        secret_key = generate_key()
        settings = Settings(
            database_url=database_url, secret_key=secret_key, pool_min_size=1, pool_max_size=2
        )
        async with open_runtime(settings, database_url) as runtime:
            new_key = await keys.create_key(runtime.pool, workspace="bench")
            await runtime.destinations.create(
                new_key.workspace.id,
                DestinationSpec(
                    name="meta",
                    kind="meta",
                    settings={"pixel_id": PIXEL_ID, "base_url": platform_url},
                    secret=ACCESS_TOKEN,
                ),
            )
        env = child_env(
            {
                "TENAZ_DATABASE_URL": database_url,
                "TENAZ_SECRET_KEY": secret_key,
                "TENAZ_LISTEN_ADDRESS": address,
                "TENAZ_DASHBOARD_ADDRESS": "",
                "TENAZ_SUBMIT_RATE_LIMIT": "0",
                "TENAZ_RETRY_INTERVAL": f"{retry_interval}s",
                "TENAZ_HTTP_TIMEOUT": f"{options.http_timeout}s",
                "TENAZ_WORKER_CONCURRENCY": str(options.concurrency),
                "TENAZ_LOG_LEVEL": options.log_level,
            }
        )
        await supervisor.start("tenaz-server", "server", ["-m", "server.cli", "serve"], env)
        for index in range(options.workers):
            await supervisor.start(
                f"tenaz-worker-{index}", "workers", ["-m", "server.cli", "worker"], env
            )
        return Target(address, new_key.secret)

    async def unsettled(self, conn: AsyncConnection[Any]) -> int:
        return int(
            await _scalar(
                conn,
                "SELECT count(*) FROM tenaz_deliveries"
                " WHERE status IN ('PENDING', 'WAITING_RETRY', 'SENDING', 'RESENDING')",
            )
        )

    async def outcome_counts(self, conn: AsyncConnection[Any]) -> tuple[int, int, int]:
        rows = await _pairs(
            conn,
            "SELECT count(*), count(*) FILTER (WHERE status = 'SUCCEEDED'),"
            " count(*) FILTER (WHERE status = 'FAILED') FROM tenaz_deliveries",
        )
        total, succeeded, failed = rows[0]
        return int(total), int(succeeded), int(failed)

    async def last_success(self, conn: AsyncConnection[Any]) -> float | None:
        value = await _scalar(
            conn,
            "SELECT extract(epoch FROM max(finished_at)) FROM tenaz_attempts"
            " WHERE outcome = 'succeeded'",
        )
        return None if value is None else float(value)

    async def first_attempt_starts(self, conn: AsyncConnection[Any]) -> dict[str, float]:
        rows = await _pairs(
            conn,
            "SELECT e.event_id, extract(epoch FROM a.started_at) FROM tenaz_attempts a"
            " JOIN tenaz_deliveries d ON d.id = a.delivery_id"
            " JOIN tenaz_events e ON e.id = d.event_id WHERE a.number = 1",
        )
        return {str(event_id): float(started) for event_id, started in rows}

    async def retry_gaps(self, conn: AsyncConnection[Any]) -> list[float]:
        rows = await _pairs(
            conn,
            "SELECT extract(epoch FROM started_at - previous_end) FROM ("
            " SELECT number, started_at, lag(finished_at) OVER"
            " (PARTITION BY delivery_id ORDER BY number) AS previous_end"
            " FROM tenaz_attempts) a WHERE number > 1",
        )
        return [float(gap) for (gap,) in rows]


class BaselineSystem:
    key = "baseline"
    label = "baseline"

    async def make_template(self, database_url: str) -> None:
        await create_schema(database_url)

    async def start(
        self,
        supervisor: Supervisor,
        database_url: str,
        address: str,
        platform_url: str,
        retry_interval: int,
        options: Options,
    ) -> Target:
        api_key = secrets.token_hex(24)
        env = child_env({})
        await supervisor.start(
            "baseline-server",
            "server",
            [
                *("-m", "bench.baseline.server", "--database-url", database_url),
                # "=": a key may start with "-", which argparse would take for an option.
                *("--listen", address, f"--api-key={api_key}"),
            ],
            env,
        )
        for index in range(options.workers):
            await supervisor.start(
                f"baseline-worker-{index}",
                "workers",
                [
                    *("-m", "bench.baseline.worker", "--database-url", database_url),
                    *("--platform-url", platform_url, "--pixel-id", PIXEL_ID),
                    *("--access-token", ACCESS_TOKEN, "--retry-wait", str(retry_interval)),
                    *("--concurrency", str(options.concurrency)),
                    *("--http-timeout", str(options.http_timeout)),
                ],
                env,
            )
        return Target(address, api_key)

    async def unsettled(self, conn: AsyncConnection[Any]) -> int:
        # Successful jobs are deleted: what is left to do is the jobs still queued or running.
        return int(
            await _scalar(
                conn,
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
            )
        )

    async def outcome_counts(self, conn: AsyncConnection[Any]) -> tuple[int, int, int]:
        rows = await _pairs(
            conn,
            "SELECT count(*), count(*) FILTER (WHERE status = 'SUCCEEDED'),"
            " count(*) FILTER (WHERE status = 'FAILED') FROM baseline_events",
        )
        total, succeeded, failed = rows[0]
        return int(total), int(succeeded), int(failed)

    async def last_success(self, conn: AsyncConnection[Any]) -> float | None:
        value = await _scalar(
            conn,
            "SELECT extract(epoch FROM max(finished_at)) FROM baseline_attempts"
            " WHERE outcome = 'succeeded'",
        )
        return None if value is None else float(value)

    async def first_attempt_starts(self, conn: AsyncConnection[Any]) -> dict[str, float]:
        rows = await _pairs(
            conn,
            "SELECT e.event_id, extract(epoch FROM a.started_at) FROM baseline_attempts a"
            " JOIN baseline_events e ON e.id = a.event_ref WHERE a.number = 1",
        )
        return {str(event_id): float(started) for event_id, started in rows}

    async def retry_gaps(self, conn: AsyncConnection[Any]) -> list[float]:
        rows = await _pairs(
            conn,
            "SELECT extract(epoch FROM started_at - previous_end) FROM ("
            " SELECT number, started_at, lag(finished_at) OVER"
            " (PARTITION BY event_ref ORDER BY number) AS previous_end"
            " FROM baseline_attempts) a WHERE number > 1",
        )
        return [float(gap) for (gap,) in rows]


SYSTEMS: dict[str, System] = {"tenaz": TenazSystem(), "baseline": BaselineSystem()}
