"""Shared fixtures: a real PostgreSQL with a fresh database per test, a fake clock,
Tenaz's runtime, gRPC server and HTTP ingest server on loopback ports, a fake Meta over
HTTP, an httpx client for connectors and a module's fake `platform` served on loopback; and
the tier of every test, from its folder.

The database server is TENAZ_TEST_DATABASE_URL when set, else the machine's
PostgreSQL on 127.0.0.1:5432 when it answers, else an embedded one (pgserver).
Each test gets `CREATE DATABASE ... TEMPLATE` of a database migrated once. No
fixture starts anything unless a test asks for it, so the unit tier needs none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

# Tests start Tenaz's processes (the chaos run kills and restarts them, and PostgreSQL) while
# their own gRPC clients run: gRPC's fork handlers would then run in the forked child, and can
# crash it. Set before gRPC starts, as `make chaos` does.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import httpx
import psycopg
import pytest
from psycopg import sql
from tenaz.client import TenazClient

from jobs import keys, queue
from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.migrate import migrate
from jobs.platforms.fake_http import FakeServer, ScriptedPlatform
from jobs.platforms.fake_meta import FakeMeta, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.scopes import ADMIN, SUBMIT
from jobs.secrets import generate_key
from jobs.settings import Settings
from server.app import TenazServer, start_server
from server.ingest import IngestServer, start_ingest
from server.rate_limit import SubmissionLimiter

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
TESTS = Path(__file__).parent
# The marker of each folder's tests (declared in pyproject.toml): `make test-<tier>` runs one
# tier, `pytest -m "not browser"` leaves one out.
TIERS = {
    "unit": "unit",
    "integration": "integration",
    "acceptance": "e2e",
    "browser": "browser",
    "interop": "interop",
    "chaos": "chaos",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: tests belong in a tier's folder ({', '.join(TIERS)})"
            )
        item.add_marker(TIERS[folder])


def _with_database(url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a server database where tests may create databases."""
    configured = os.environ.get("TENAZ_TEST_DATABASE_URL")
    if configured:
        yield configured
    elif _answers(LOCAL_POSTGRES):
        yield LOCAL_POSTGRES
    else:
        import pgserver

        with tempfile.TemporaryDirectory(prefix="tenaz-test-pg-") as data:
            server = pgserver.get_server(Path(data), cleanup_mode="stop")
            try:
                yield str(server.get_uri())
            finally:
                server.cleanup()


def _admin(url: str, statement: sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@contextlib.contextmanager
def _new_database(postgres_url: str, name: str, template: str = "") -> Iterator[str]:
    """The URL of a new database `name` (a copy of `template`, if any), dropped afterwards."""
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    _admin(postgres_url, create)
    try:
        yield _with_database(postgres_url, name)
    finally:
        _admin(
            postgres_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


@pytest.fixture(scope="session")
def template_database(postgres_url: str) -> Iterator[str]:
    name = f"tenaz_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _new_database(postgres_url, name) as url:
        asyncio.run(migrate(url))
        yield name


@pytest.fixture
def database_url(postgres_url: str, template_database: str) -> Iterator[str]:
    with _new_database(
        postgres_url, f"tenaz_test_{uuid.uuid4().hex[:12]}", template=template_database
    ) as url:
        yield url


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """The URL of a database with nothing in it, not even migrations."""
    with _new_database(postgres_url, f"tenaz_test_empty_{uuid.uuid4().hex[:8]}") as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str, fake_meta: FakeMetaServer) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=generate_key(),
        http_timeout=dt.timedelta(seconds=2),
        attempt_budget=dt.timedelta(seconds=10),
        # The fake Meta is on loopback, which the egress guard refuses unless allowed.
        allowed_platform_urls=(BaseUrl.parse(fake_meta.base_url),),
    )


@pytest.fixture
async def runtime(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, settings.database_url, clock=clock) as rt:
        yield rt


@pytest.fixture
def manual_alert_evaluation(runtime: Runtime) -> None:
    """Alert rules are evaluated only when the test calls `runtime.alerts.evaluate()`. The
    worker's periodic evaluation ticks by real time (every 30 s): among the jobs `run_jobs`
    runs it would now and then evaluate first, at the same fake-clock time, and queue the
    notifications a test expects its own evaluation to queue."""
    periodic = runtime.app.periodic_registry.periodic_tasks
    for key in [k for k in periodic if k[0] == queue.EVALUATE_ALERTS_TASK]:
        del periodic[key]


@pytest.fixture
async def api_key(runtime: Runtime) -> str:
    """An admin key of workspace acme: tests set up destinations and retry with it."""
    return (await keys.create_key(runtime.pool, workspace="acme", scope=ADMIN)).secret


@pytest.fixture
async def other_api_key(runtime: Runtime) -> str:
    return (await keys.create_key(runtime.pool, workspace="globex", scope=ADMIN)).secret


@pytest.fixture
async def submit_api_key(runtime: Runtime) -> str:
    """A submit key of workspace acme, beside `api_key`: it may send and read, not manage."""
    return (await keys.create_key(runtime.pool, workspace="acme", scope=SUBMIT)).secret


@pytest.fixture
async def server(runtime: Runtime) -> AsyncIterator[TenazServer]:
    started = await start_server(runtime, "127.0.0.1:0")
    try:
        yield started
    finally:
        await started.stop(grace=0.5)


@pytest.fixture
async def ingest(runtime: Runtime) -> AsyncIterator[IngestServer]:
    """The HTTP ingest server (the Conversions API endpoint, EventService in Connect JSON)."""
    started = await start_ingest(runtime, SubmissionLimiter(5000, 10_000), "127.0.0.1:0")
    yield started
    await started.stop()


@pytest.fixture
async def client(server: TenazServer, api_key: str) -> AsyncIterator[TenazClient]:
    async with TenazClient(f"127.0.0.1:{server.port}", api_key, timeout=10) as tenaz:
        yield tenaz


@pytest.fixture
async def fake_meta(clock: FakeClock) -> AsyncIterator[FakeMetaServer]:
    fake = FakeMeta(now=lambda: clock.now().timestamp(), access_tokens={"111": "good-token"})
    async with FakeMetaServer(fake) as served:
        yield served


@pytest.fixture
async def meta(client: TenazClient, fake_meta: FakeMetaServer) -> str:
    """A Meta destination named 'meta' pointing at the fake Meta; returns its name."""
    await client.create_meta_destination(
        "meta", pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
    )
    return "meta"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The httpx client a connector under test sends with (no proxy from the environment)."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
async def served(platform: ScriptedPlatform[Any]) -> AsyncIterator[FakeServer[Any]]:
    """The test module's `platform` fixture, served over HTTP on loopback."""
    async with FakeServer(platform) as server:
        yield server
