"""The systems under test: how to set each one up, start it, and read what it did.

Both answer the same questions from their own tables, so the workloads never need to know
which system they measure:

    unsettled(conn)            deliveries neither SUCCEEDED nor FAILED (0: the run is over)
    outcome_counts(conn)       (all deliveries, SUCCEEDED, FAILED)
    last_success(conn)         when the last successful attempt ended (epoch seconds)
    first_attempt_starts(conn) event_id -> when its first attempt started
    retry_gaps(conn)           per retry: start - end of the attempt before it (seconds)
    delivered_since(conn, t)   deliveries whose successful attempt ended after t (epoch s)
    waiting_for_retry(conn)    deliveries whose attempt failed and whose retry is scheduled:
                               how many, when the first and last retries are due, and the
                               most attempts any of them has made

and, where the system has the feature (Tenaz only; the baseline raises `BenchError`):

    set_rate_limit(target, n)  the destination's rate limit, as an operator sets it (gRPC)
    seed_backlog(url, n, ...)  n deliveries written straight into the tables, due now
    seed_history(url, n, ...)  n deliveries of the last 24 hours, mostly settled, written
                               straight into the tables with their attempts and status changes
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
import psycopg
from google.protobuf import field_mask_pb2
from psycopg import AsyncConnection, sql
from tenaz.v1 import destinations_pb2, destinations_pb2_grpc

from bench.baseline.schema import create_schema
from bench.fake_platform import ACCESS_TOKEN, PIXEL_ID
from bench.processes import REPO_ROOT, BenchError, Supervisor, child_env, wait_serving
from bench.revision import Checkout

DESTINATION = "meta"
# Deliveries per job queued by `seed_backlog`: Tenaz's largest batch to Meta.
SEED_JOB_DELIVERIES = 1000
SERVING_TIMEOUT = 90.0


@dataclass(frozen=True)
class Options:
    """How the systems run; the same for both so the comparison is fair."""

    workers: int = 2
    concurrency: int = 20
    http_timeout: float = 10.0
    log_level: str = "INFO"


@dataclass(frozen=True)
class Waiting:
    """Deliveries waiting for a retry (times in epoch seconds; NaN when none waits)."""

    count: int
    first_due: float
    last_due: float
    most_attempts: int


def _waiting(row: tuple[Any, ...]) -> Waiting:
    count, first_due, last_due, most_attempts = row
    return Waiting(
        int(count),
        math.nan if first_due is None else float(first_due),
        math.nan if last_due is None else float(last_due),
        int(most_attempts or 0),
    )


@dataclass(frozen=True)
class Target:
    """A started system: where to send load (and its dashboard's URL, when it serves one)."""

    address: str
    api_key: str
    dashboard_url: str = ""


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
        dashboard_address: str = "",
    ) -> Target: ...

    async def unsettled(self, conn: AsyncConnection[Any]) -> int: ...

    async def outcome_counts(self, conn: AsyncConnection[Any]) -> tuple[int, int, int]: ...

    async def last_success(self, conn: AsyncConnection[Any]) -> float | None: ...

    async def first_attempt_starts(self, conn: AsyncConnection[Any]) -> dict[str, float]: ...

    async def retry_gaps(self, conn: AsyncConnection[Any]) -> list[float]: ...

    async def delivered_since(self, conn: AsyncConnection[Any], since: float) -> int: ...

    async def waiting_for_retry(self, conn: AsyncConnection[Any]) -> Waiting: ...

    async def set_rate_limit(self, target: Target, events_per_second: float) -> None: ...

    async def seed_backlog(
        self, database_url: str, count: int, *, prefix: str, jobs: int
    ) -> None: ...

    async def seed_history(self, database_url: str, count: int, *, prefix: str) -> None: ...


async def _scalar(conn: AsyncConnection[Any], query: str) -> Any:
    cursor = await conn.execute(query)
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def _succeeded_since(conn: AsyncConnection[Any], attempts_table: str, since: float) -> int:
    """Successful attempts that ended after `since`: both systems' tables have the columns."""
    cursor = await conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {} WHERE finished_at > to_timestamp(%s) AND outcome = 'succeeded'"
        ).format(sql.Identifier(attempts_table)),
        (since,),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _pairs(conn: AsyncConnection[Any], query: str) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(query)
    return list(await cursor.fetchall())


def _settings_env(
    database_url: str,
    secret_key: str,
    address: str,
    platform_url: str,
    retry_interval: int,
    options: Options,
    dashboard_address: str = "",
) -> dict[str, str]:
    """The TENAZ_* settings of the server and workers (a revision ignores those it lacks)."""
    return {
        "TENAZ_DATABASE_URL": database_url,
        "TENAZ_SECRET_KEY": secret_key,
        "TENAZ_LISTEN_ADDRESS": address,
        "TENAZ_DASHBOARD_ADDRESS": dashboard_address,
        "TENAZ_INGEST_ADDRESS": "",
        # Several processes at once: each /metrics would need a port of its own.
        "TENAZ_METRICS_ADDRESS": "",
        "TENAZ_SUBMIT_RATE_LIMIT": "0",
        "TENAZ_RETRY_INTERVAL": f"{retry_interval}s",
        "TENAZ_HTTP_TIMEOUT": f"{options.http_timeout}s",
        "TENAZ_ALLOWED_PLATFORM_URLS": platform_url,
        "TENAZ_WORKER_CONCURRENCY": str(options.concurrency),
        "TENAZ_LOG_LEVEL": options.log_level,
    }


async def _start_processes(
    supervisor: Supervisor, env: dict[str, str], options: Options, cwd: Path = REPO_ROOT
) -> None:
    """Tenaz's server and workers, running the code found first from `cwd`."""
    await supervisor.start("tenaz-server", "server", ["-m", "server.cli", "serve"], env, cwd=cwd)
    for index in range(options.workers):
        await supervisor.start(
            f"tenaz-worker-{index}", "workers", ["-m", "server.cli", "worker"], env, cwd=cwd
        )


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
        dashboard_address: str = "",
    ) -> Target:
        """The server and workers; the server serves the dashboard too at
        `dashboard_address`, when one is given."""
        from jobs import keys
        from jobs.base_url import BaseUrl
        from jobs.destinations import DestinationSpec
        from jobs.runtime import open_runtime
        from jobs.scopes import ADMIN
        from jobs.secrets import generate_key
        from jobs.settings import Settings

        secret_key = generate_key()
        settings = Settings(
            database_url=database_url,
            secret_key=secret_key,
            pool_min_size=1,
            pool_max_size=2,
            # The fake platform is on loopback: the operator allows it, as in production.
            allowed_platform_urls=(BaseUrl.parse(platform_url),),
        )
        async with open_runtime(settings, database_url) as runtime:
            # Admin: the recovery workload sets the destination's rate limit over gRPC.
            new_key = await keys.create_key(runtime.pool, workspace="bench", scope=ADMIN)
            await runtime.destinations.create(
                new_key.workspace.id,
                DestinationSpec(
                    name=DESTINATION,
                    kind="meta",
                    settings={"pixel_id": PIXEL_ID, "base_url": platform_url},
                    secrets={"access_token": ACCESS_TOKEN},
                ),
            )
        env = child_env(
            _settings_env(
                database_url,
                secret_key,
                address,
                platform_url,
                retry_interval,
                options,
                dashboard_address,
            )
        )
        await _start_processes(supervisor, env, options)
        dashboard_url = f"http://{dashboard_address}" if dashboard_address else ""
        return Target(address, new_key.secret, dashboard_url)

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

    async def delivered_since(self, conn: AsyncConnection[Any], since: float) -> int:
        return await _succeeded_since(conn, "tenaz_attempts", since)

    async def waiting_for_retry(self, conn: AsyncConnection[Any]) -> Waiting:
        rows = await _pairs(
            conn,
            "SELECT count(*), extract(epoch FROM min(next_attempt_at)),"
            " extract(epoch FROM max(next_attempt_at)), max(attempt_count)"
            " FROM tenaz_deliveries WHERE status = 'WAITING_RETRY'",
        )
        return _waiting(rows[0])

    async def set_rate_limit(self, target: Target, events_per_second: float) -> None:
        """What `tenaz destinations update meta --rate-limit N` does: UpdateDestination."""
        async with grpc.aio.insecure_channel(target.address) as channel:
            await destinations_pb2_grpc.DestinationServiceStub(channel).UpdateDestination(
                destinations_pb2.UpdateDestinationRequest(
                    destination=destinations_pb2.Destination(
                        name=DESTINATION, rate_limit=events_per_second
                    ),
                    update_mask=field_mask_pb2.FieldMask(paths=["rate_limit"]),
                ),
                metadata=(("authorization", f"Bearer {target.api_key}"),),
                timeout=30,
            )

    async def seed_backlog(self, database_url: str, count: int, *, prefix: str, jobs: int) -> None:
        """`count` PENDING deliveries of valid purchases, written with one SQL statement
        rather than submitted (a million take minutes through gRPC), and up to `jobs`
        delivery jobs queued in the same transaction, as submitting them would have.

        The events' initial PENDING status changes are not written: nothing in a delivery
        reads them, and no one watches the stream during a benchmark. The two tables are
        analysed before the commit, as autovacuum would have done for a backlog that grew.
        """
        import procrastinate

        from jobs import queue
        from jobs.platforms import meta

        now = dt.datetime.now(dt.UTC)
        app = queue.build_app(
            procrastinate.PsycopgConnector(conninfo=database_url),
            sweep_interval=dt.timedelta(seconds=30),
        )
        async with (
            app.open_async(),
            await psycopg.AsyncConnection.connect(database_url) as conn,
            conn.transaction(),
        ):
            # The run's one destination (`start` made it).
            destination_id, workspace_id = (
                await _pairs(conn, "SELECT id, workspace_id FROM tenaz_destinations")
            )[0]
            await conn.execute(
                _SEED_BACKLOG,
                {
                    "workspace": workspace_id,
                    "destination": destination_id,
                    "prefix": prefix,
                    "count": count,
                    "now": now,
                    "epoch": int(now.timestamp()),
                    "deadline": meta.PLATFORM.deadline({}, now),
                },
            )
            # Autovacuum would have analysed tables that grew over time; a million rows
            # written at once would otherwise be planned as the empty tables they were.
            await conn.execute("ANALYZE tenaz_events, tenaz_deliveries")
            for _ in range(min(jobs, math.ceil(count / SEED_JOB_DELIVERIES))):
                await queue.defer_delivery(app, conn, destination_id=destination_id)

    async def seed_history(self, database_url: str, count: int, *, prefix: str) -> None:
        """`count` deliveries of events received over the last 24 hours, as a busy shop's
        workspace would hold them, written with a few SQL statements in one transaction.

        Three in five events are purchases (with an order id), one a lead, one an
        add-to-cart. Besides the run's destination, which takes every event, the workspace
        gets two more that take only leads and only add-to-carts (their event filters), so
        that the events submitted during the run still go to the run's destination alone.
        Of the deliveries, 88% SUCCEEDED (78% at the first attempt, 8% at the second, 2% at
        the third), 7% FAILED (rejected at the first attempt) and 5% wait for a retry due an
        hour from now, after the run; every attempt has its row and every delivery its
        status changes. The tables are analysed before the commit, as autovacuum would
        have done for tables that grew over a day.
        """
        from jobs.platforms import meta

        now = dt.datetime.now(dt.UTC)
        async with (
            await psycopg.AsyncConnection.connect(database_url) as conn,
            conn.transaction(),
        ):
            workspace_id, destination_id = (
                await _pairs(conn, "SELECT workspace_id, id FROM tenaz_destinations")
            )[0]
            await conn.execute(_HISTORY_DESTINATIONS, {"destination": destination_id})
            last_event = int(await _scalar(conn, "SELECT coalesce(max(id), 0) FROM tenaz_events"))
            last_delivery = int(
                await _scalar(conn, "SELECT coalesce(max(id), 0) FROM tenaz_deliveries")
            )
            params = {
                "workspace": workspace_id,
                "prefix": prefix,
                "kinds": list(HISTORY_KINDS),
                "events": history_events(count),
                "deliveries": count,
                "now": now,
                "last_event": last_event,
                "last_delivery": last_delivery,
                "max_age": meta.PLATFORM.deadline({}, now) - now,
            }
            for statement in _HISTORY:
                await conn.execute(statement, params)
            await conn.execute(
                "ANALYZE tenaz_events, tenaz_deliveries, tenaz_attempts, tenaz_status_moves"
            )


# Events of the history by kind, in each run of five: purchases go to the run's destination
# only, leads and add-to-carts to it and to the destination that takes only them.
HISTORY_KINDS = ("Purchase", "Purchase", "Purchase", "Lead", "AddToCart")


def history_events(deliveries: int) -> int:
    """How many events of the history make at least `deliveries` deliveries."""
    per_run = sum(1 if kind == "Purchase" else 2 for kind in HISTORY_KINDS)
    runs, left = divmod(deliveries, per_run)
    events = runs * len(HISTORY_KINDS)
    for kind in HISTORY_KINDS:
        if left <= 0:
            break
        left -= 1 if kind == "Purchase" else 2
        events += 1
    return events


_HISTORY_DESTINATIONS = """
INSERT INTO tenaz_destinations (workspace_id, name, kind, enabled, settings, secret,
    event_filter, created_at, updated_at)
SELECT workspace_id, name || '-' || lower(kind_name), kind, true, settings, secret,
    ARRAY[kind_name], created_at, updated_at
FROM tenaz_destinations, unnest(ARRAY['Lead', 'AddToCart']) AS kind_name
WHERE id = %(destination)s
"""

# The event at position n (from 1) of the history was received at now - 24 h + n/N of the
# day, up to 10 minutes ago, so that its last attempt (at most 2 minutes later) is past.
# A delivery's fate comes from a hash of its event and destination: spread, repeatable.
_HISTORY = (
    """
    INSERT INTO tenaz_events
        (workspace_id, event_name, event_id, event_time, order_id, payload, received_at)
    SELECT %(workspace)s, kind, %(prefix)s || n, at - interval '1 second',
        CASE WHEN kind = 'Purchase' THEN 'PED-' || (1000000 + n) ELSE '' END,
        jsonb_build_object(
            'event_name', kind,
            'event_time', extract(epoch FROM at)::bigint - 1,
            'event_id', %(prefix)s || n,
            'action_source', 'website',
            'event_source_url', 'https://loja.example.com.br/checkout/obrigado',
            'identifiers', jsonb_build_object(
                'client_ip_address', '203.0.113.7',
                'client_user_agent',
                    'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0'),
            'hashed', jsonb_build_object('meta', jsonb_build_object(
                'em', encode(sha256(convert_to('cliente.' || n || '@example.com.br', 'UTF8')),
                    'hex'),
                'external_id', encode(sha256(convert_to('cliente-' || n, 'UTF8')), 'hex'))))
            || CASE WHEN kind = 'Purchase' THEN jsonb_build_object('custom_data',
                jsonb_build_object('value', 197.0, 'currency', 'BRL',
                    'order_id', 'PED-' || (1000000 + n)))
                ELSE '{}' END,
        at
    FROM generate_series(1, %(events)s) AS n,
        LATERAL (SELECT (%(kinds)s::text[])[1 + (n - 1) %% cardinality(%(kinds)s::text[])]
            AS kind,
            %(now)s - interval '24 hours'
                + (interval '24 hours' - interval '10 minutes') * n / %(events)s AS at) AS x
    """,
    """
    INSERT INTO tenaz_deliveries (workspace_id, event_id, destination_id, status,
        failure_reason, attempt_count, next_attempt_at, deadline, last_error, created_at,
        updated_at)
    SELECT %(workspace)s, e.id, d.id, fate.status,
        CASE WHEN fate.status = 'FAILED' THEN 'rejected' ELSE '' END,
        fate.attempts,
        CASE WHEN fate.status = 'WAITING_RETRY' THEN %(now)s + interval '1 hour' END,
        e.event_time + %(max_age)s,
        CASE fate.status WHEN 'FAILED' THEN 'Invalid parameter'
            WHEN 'WAITING_RETRY' THEN 'HTTP 503' ELSE '' END,
        e.received_at,
        e.received_at + interval '1 minute' * (fate.attempts - 1) + interval '350 milliseconds'
    FROM tenaz_events e
    JOIN tenaz_destinations d ON d.workspace_id = e.workspace_id AND d.deleted_at IS NULL
        AND (d.event_filter = '{}' OR e.event_name = ANY(d.event_filter)),
        LATERAL (SELECT abs(hashint8(e.id * 8 + d.id)::bigint) %% 100 AS r) AS h,
        LATERAL (SELECT
            CASE WHEN r < 88 THEN 'SUCCEEDED' WHEN r < 95 THEN 'FAILED'
                ELSE 'WAITING_RETRY' END AS status,
            CASE WHEN r < 78 THEN 1 WHEN r < 86 THEN 2 WHEN r < 88 THEN 3 ELSE 1 END
                AS attempts) AS fate
    WHERE e.id > %(last_event)s
    ORDER BY e.id, d.id
    LIMIT %(deliveries)s
    """,
    """
    INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at, finished_at,
        outcome, http_status, message)
    SELECT d.id, k, 'automatic', started, started + interval '250 milliseconds', outcome,
        CASE outcome WHEN 'succeeded' THEN 200 WHEN 'rejected' THEN 400 ELSE 503 END,
        CASE outcome WHEN 'succeeded' THEN '' WHEN 'rejected' THEN 'Invalid parameter'
            ELSE 'HTTP 503' END
    FROM tenaz_deliveries d, generate_series(1, d.attempt_count) AS k,
        LATERAL (SELECT
            d.created_at + interval '1 minute' * (k - 1) + interval '100 milliseconds'
                AS started,
            CASE WHEN k < d.attempt_count THEN 'external_problem'
                WHEN d.status = 'SUCCEEDED' THEN 'succeeded'
                WHEN d.status = 'FAILED' THEN 'rejected'
                ELSE 'external_problem' END AS outcome) AS a
    WHERE d.id > %(last_delivery)s
    """,
    # The status log: one row per change (the log's largest form, as a log written before
    # moves were grouped into rows is migrated); the times of the history are all distinct,
    # so grouping them would save few rows.
    """
    INSERT INTO tenaz_status_moves (first_seq, workspace_id, destination_id, from_status,
        to_status, at, delivery_ids, event_ids, attempt_numbers, errors)
    SELECT nextval('tenaz_status_moves_seq'), %(workspace)s, change.destination_id,
        change.from_status, change.to_status, change.at, ARRAY[change.delivery_id],
        ARRAY[change.event_id], ARRAY[change.attempt_number], ARRAY[change.error]
    FROM (
        SELECT d.id AS delivery_id, d.event_id, d.destination_id, NULL AS from_status,
            'PENDING' AS to_status, 0 AS attempt_number, '' AS error, d.created_at AS at
        FROM tenaz_deliveries d WHERE d.id > %(last_delivery)s
        UNION ALL
        SELECT d.id, d.event_id, d.destination_id, change.from_status, change.to_status,
            a.number, change.error, change.at
        FROM tenaz_deliveries d JOIN tenaz_attempts a ON a.delivery_id = d.id,
            LATERAL (VALUES
                (CASE WHEN a.number = 1 THEN 'PENDING' ELSE 'WAITING_RETRY' END,
                 CASE WHEN a.number = 1 THEN 'SENDING' ELSE 'RESENDING' END, '',
                 a.started_at),
                (CASE WHEN a.number = 1 THEN 'SENDING' ELSE 'RESENDING' END,
                 CASE a.outcome WHEN 'succeeded' THEN 'SUCCEEDED' WHEN 'rejected' THEN 'FAILED'
                    ELSE 'WAITING_RETRY' END,
                 a.message, a.finished_at)) AS change (from_status, to_status, error, at)
        WHERE d.id > %(last_delivery)s
    ) AS change
    """,
)

# The payload is what SubmitEvent stores for bench.load's purchase: contact data hashed.
_SEED_BACKLOG = """
WITH new_events AS (
    INSERT INTO tenaz_events
        (workspace_id, event_name, event_id, event_time, order_id, payload, received_at)
    SELECT %(workspace)s, 'Purchase', %(prefix)s || n, %(now)s, %(prefix)s || n,
        jsonb_build_object(
            'event_name', 'Purchase',
            'event_time', %(epoch)s::bigint,
            'event_id', %(prefix)s || n,
            'action_source', 'website',
            'event_source_url', 'https://loja.example.com.br/checkout/obrigado',
            'identifiers', jsonb_build_object(
                'client_ip_address', '203.0.113.7',
                'client_user_agent',
                    'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0'),
            'hashed', jsonb_build_object('meta', jsonb_build_object(
                'em', encode(sha256(convert_to('cliente.' || n || '@example.com.br', 'UTF8')),
                    'hex'),
                'external_id', encode(sha256(convert_to('cliente-' || n, 'UTF8')), 'hex'))),
            'custom_data', jsonb_build_object(
                'value', 197.0, 'currency', 'BRL', 'order_id', %(prefix)s || n)),
        %(now)s
    FROM generate_series(1, %(count)s) AS n
    RETURNING id
)
INSERT INTO tenaz_deliveries (workspace_id, event_id, destination_id, status,
    next_attempt_at, deadline, created_at, updated_at)
SELECT %(workspace)s, id, %(destination)s, 'PENDING', %(now)s, %(deadline)s, %(now)s, %(now)s
FROM new_events
"""


class TenazAtRevision(TenazSystem):
    """Tenaz at an older revision, for the drain's cost per event before and after.

    Its server and workers run the checkout's code (`bench.revision`), and so does everything
    done to its database: migrating the template, making the API key and the destination
    go through that revision's own command line (`tenaz migrate`, `tenaz keys create`,
    `tenaz destinations create-meta`), never through the working tree's modules. The
    questions the drain asks (`unsettled`, `outcome_counts`, `last_success`) read columns
    that Tenaz's schema has had since its first migration, so they are Tenaz's own.
    """

    key = "before"

    def __init__(self, checkout: Checkout) -> None:
        self.checkout = checkout
        self.label = f"Tenaz {checkout.revision}"
        # The same key for every process and run of this system: the template holds no secret.
        self._secret_key = ""

    async def _secret(self) -> str:
        if not self._secret_key:
            self._secret_key = (await self.checkout.cli(["secrets", "generate-key"], {})).strip()
        return self._secret_key

    async def make_template(self, database_url: str) -> None:
        settings = {"TENAZ_DATABASE_URL": database_url, "TENAZ_SECRET_KEY": await self._secret()}
        await self.checkout.cli(["migrate"], settings)
        await self.checkout.check_schema(database_url)

    async def start(
        self,
        supervisor: Supervisor,
        database_url: str,
        address: str,
        platform_url: str,
        retry_interval: int,
        options: Options,
        dashboard_address: str = "",
    ) -> Target:
        """`tenaz keys create`, the server and workers, then `tenaz destinations create-meta`
        through the server (the revision's only way to make one; the workers wait idle)."""
        if dashboard_address:
            raise BenchError(f"{self.label} is measured without its dashboard")
        settings = _settings_env(
            database_url, await self._secret(), address, platform_url, retry_interval, options
        )
        api_key = await self._admin_key(settings)
        await _start_processes(supervisor, self.checkout.env(settings), options, self.checkout.path)
        await wait_serving(supervisor, ["tenaz-server"], address, within=SERVING_TIMEOUT)
        await self.checkout.cli(
            [
                *("destinations", "create-meta", DESTINATION, "--pixel-id", PIXEL_ID),
                *("--base-url", platform_url),
            ],
            {
                "TENAZ_SERVER": address,
                "TENAZ_API_KEY": api_key,
                "TENAZ_META_ACCESS_TOKEN": ACCESS_TOKEN,
            },
        )
        return Target(address, api_key)

    async def _admin_key(self, settings: Mapping[str, str]) -> str:
        """A key that may create destinations: `--scope admin` since keys have scopes (their
        default scope, submit, may not), no option before that (every key could)."""
        create = ["keys", "create", "--workspace", "bench"]
        help_text = await self.checkout.cli([*create[:2], "--help"], settings)
        scope = ["--scope", "admin"] if "--scope" in help_text else []
        printed = await self.checkout.cli([*create, *scope], settings)
        return printed.strip().splitlines()[-1]


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
        dashboard_address: str = "",
    ) -> Target:
        if dashboard_address:
            raise BenchError("the baseline has no dashboard")
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

    async def delivered_since(self, conn: AsyncConnection[Any], since: float) -> int:
        return await _succeeded_since(conn, "baseline_attempts", since)

    async def waiting_for_retry(self, conn: AsyncConnection[Any]) -> Waiting:
        # A job that failed goes back to 'todo', scheduled, with one more attempt counted.
        rows = await _pairs(
            conn,
            "SELECT count(*), extract(epoch FROM min(scheduled_at)),"
            " extract(epoch FROM max(scheduled_at)), max(attempts)"
            " FROM procrastinate_jobs WHERE status = 'todo' AND attempts > 0",
        )
        return _waiting(rows[0])

    async def set_rate_limit(self, target: Target, events_per_second: float) -> None:
        raise BenchError("the baseline has no rate limit")

    async def seed_backlog(self, database_url: str, count: int, *, prefix: str, jobs: int) -> None:
        raise BenchError("the backlog workload measures Tenaz only")

    async def seed_history(self, database_url: str, count: int, *, prefix: str) -> None:
        raise BenchError("the baseline has no history to read (no GetStats, no ListEvents)")


SYSTEMS: dict[str, System] = {"tenaz": TenazSystem(), "baseline": BaselineSystem()}
