"""The baseline's worker: one procrastinate job per event, one HTTP request per job.

`python -m bench.baseline.worker --database-url URL --platform-url URL --pixel-id ID
--access-token TOKEN --retry-wait 5 --concurrency 20` runs until SIGTERM.

The task posts the event (alone in `data`) to the platform, then records the attempt and the
event's status in one transaction. An external problem (timeout, 5xx, throttling: Tenaz's own
classification of Meta's answers) raises `ExternalProblem`, and procrastinate's built-in
`RetryStrategy(wait=...)` schedules the job again; a rejection ends it as FAILED.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

import httpx
import procrastinate
from procrastinate import JobContext, RetryStrategy
from psycopg_pool import AsyncConnectionPool

from jobs.platforms.base import OutcomeKind
from jobs.platforms.meta import classify

DELIVER_TASK = "baseline.deliver"
QUEUE = "baseline"
API_VERSION = "v25.0"


class ExternalProblem(Exception):
    """The platform could not take the event now; procrastinate retries the job."""


def build_app(*, retry_wait: int = 0) -> procrastinate.App:
    """The app with its one task; only the worker's `retry_wait` matters (the server defers)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())

    @app.task(
        name=DELIVER_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=RetryStrategy(wait=retry_wait, retry_exceptions=[ExternalProblem]),
    )
    async def deliver(context: JobContext, event_ref: int, payload: dict[str, Any]) -> None:
        deps: Dependencies = context.additional_context["deps"]
        await deps.deliver(event_ref, payload, attempt=context.job.attempts + 1)

    del deliver
    return app


class Dependencies:
    def __init__(
        self, pool: AsyncConnectionPool, http: httpx.AsyncClient, url: str, token: str
    ) -> None:
        self._pool = pool
        self._http = http
        self._url = url
        self._token = token

    async def deliver(self, event_ref: int, payload: dict[str, Any], *, attempt: int) -> None:
        started = dt.datetime.now(dt.UTC)
        http_status: int | None = None
        try:
            response = await self._http.post(
                self._url, json={"data": [payload], "access_token": self._token}
            )
            http_status, body = response.status_code, response.content
        except httpx.HTTPError:
            body = b""
        kind = classify(http_status, body).kind
        finished = dt.datetime.now(dt.UTC)
        status, outcome = {
            OutcomeKind.SUCCEEDED: ("SUCCEEDED", "succeeded"),
            OutcomeKind.EXTERNAL_PROBLEM: ("WAITING_RETRY", "external_problem"),
            OutcomeKind.REJECTED: ("FAILED", "rejected"),
        }[kind]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO baseline_attempts"
                " (event_ref, number, started_at, finished_at, outcome, http_status)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_ref, number) DO NOTHING",
                (event_ref, attempt, started, finished, outcome, http_status),
            )
            await conn.execute(
                "UPDATE baseline_events SET status = %s WHERE id = %s", (status, event_ref)
            )
        if kind is OutcomeKind.EXTERNAL_PROBLEM:
            raise ExternalProblem(f"HTTP {http_status}" if http_status else "no answer")


async def work(args: argparse.Namespace) -> None:
    pool = AsyncConnectionPool(args.database_url, min_size=2, max_size=10, open=False)
    await pool.open(wait=True, timeout=30.0)
    app = build_app(retry_wait=args.retry_wait)
    url = f"{args.platform_url.rstrip('/')}/{API_VERSION}/{args.pixel_id}/events"
    try:
        async with (
            httpx.AsyncClient(
                timeout=args.http_timeout,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            ) as http,
            app.open_async(pool),
        ):
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=args.concurrency,
                additional_context={"deps": Dependencies(pool, http, url, args.access_token)},
                delete_jobs="successful",
                # As Tenaz's worker: retries are scheduled jobs that only polling finds.
                fetch_job_polling_interval=1.0,
                shutdown_graceful_timeout=30.0,
            )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--platform-url", required=True)
    parser.add_argument("--pixel-id", required=True)
    parser.add_argument("--access-token", required=True)
    parser.add_argument("--retry-wait", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--http-timeout", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(work(args))


if __name__ == "__main__":
    main()
