"""Starting Tenaz as an operator does, with configuration it cannot use: the real `tenaz`
command in a subprocess. Each failure is one line on stderr that names the variable and
says what to do, exit status 2, no traceback, and nothing left running; a clean stop
prints only log lines, which TENAZ_LOG_FORMAT=json makes JSON objects for a log store.
Several `tenaz serve` share one gRPC and one dashboard address."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import psutil
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg.conninfo import make_conninfo

from jobs.secrets import generate_key
from tests.support import Pki, free_port, make_pki, start_tenaz

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Long enough for a cold Python start with grpc loaded, on a busy CI machine.
START_TIMEOUT = 30.0
# A line Tenaz's logging writes: time, level, logger, a dotted event name.
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (INFO|WARNING) [\w.]+ [a-z_]+\.[a-z_.]+")


@dataclass
class Ended:
    code: int
    err: str


def clean_environment() -> dict[str, str]:
    """The test's environment without Tenaz's settings, and without what importing Tenaz
    in this process set: the command must set it up itself."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TENAZ_") and key != "GRPC_ENABLE_FORK_SUPPORT"
    }


async def start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await start_tenaz(env, *args, stdout=asyncio.subprocess.DEVNULL)


async def tenaz(env: dict[str, str], *args: str) -> Ended:
    process = await start(env, *args)
    async with asyncio.timeout(START_TIMEOUT):
        _, err = await process.communicate()
    assert process.returncode is not None
    return Ended(process.returncode, err.decode())


def assert_refused(ended: Ended, variable: str, *fragments: str) -> str:
    """Exit status 2 and exactly one line, naming `variable`; the line."""
    assert ended.code == 2, ended.err
    assert "Traceback" not in ended.err
    lines = ended.err.splitlines()
    assert len(lines) == 1, ended.err
    assert lines[0].startswith(f"tenaz: {variable}"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    """A valid configuration on the test database; each test breaks one part of it."""
    return clean_environment() | {
        "TENAZ_DATABASE_URL": database_url,
        "TENAZ_SECRET_KEY": generate_key(),
        "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_DASHBOARD_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_INGEST_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def held() -> Iterator[str]:
    """A loopback address another program listens on (without SO_REUSEPORT)."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port()))
        other.listen()
        yield f"127.0.0.1:{other.getsockname()[1]}"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable",
    [
        "TENAZ_LISTEN_ADDRESS",
        "TENAZ_DASHBOARD_ADDRESS",
        "TENAZ_INGEST_ADDRESS",
        "TENAZ_METRICS_ADDRESS",
    ],
)
async def test_a_port_another_program_holds(env: dict[str, str], held: str, variable: str) -> None:
    ended = await tenaz(env | {variable: held}, "run")
    assert_refused(ended, f"{variable} {held}", "address already in use", "stop the program")


async def test_a_dashboard_off_loopback_without_tls_is_refused(env: dict[str, str]) -> None:
    ended = await tenaz(env | {"TENAZ_DASHBOARD_ADDRESS": f"0.0.0.0:{free_port()}"}, "serve")
    assert_refused(ended, "TENAZ_DASHBOARD_ADDRESS", "not loopback", "TENAZ_DASHBOARD_TLS_CERT")


@pytest.mark.parametrize(
    "dashboard_host",
    ["127.0.0.1", "0.0.0.0", "[::]"],  # noqa: S104 - refused before anything binds
)
async def test_grpc_and_the_dashboard_on_one_port_are_refused(
    env: dict[str, str], dashboard_host: str
) -> None:
    # Both bind with SO_REUSEPORT: nothing would fail, and the kernel would split connections.
    grpc_address = env["TENAZ_LISTEN_ADDRESS"]
    dashboard = f"{dashboard_host}:{grpc_address.rsplit(':', 1)[1]}"
    shared = env | {"TENAZ_DASHBOARD_ADDRESS": dashboard, "TENAZ_ALLOW_PLAINTEXT": "1"}
    ended = await tenaz(shared, "run")
    assert_refused(
        ended, f"TENAZ_DASHBOARD_ADDRESS {dashboard}", f"TENAZ_LISTEN_ADDRESS {grpc_address}"
    )


# --- the database ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["run"], ["serve"], ["worker"], ["migrate"], ["keys", "list"], ["secrets", "rotate"]],
    ids=" ".join,
)
async def test_a_database_that_refuses_connections(env: dict[str, str], command: list[str]) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/tenaz"
    ended = await tenaz(env | {"TENAZ_DATABASE_URL": closed}, *command)
    assert_refused(ended, "TENAZ_DATABASE_URL", "Connection refused")


@pytest.mark.parametrize(
    ("part", "value", "reason"),
    [
        ("dbname", "no_such_database", 'database "no_such_database" does not exist'),
        ("user", "no_such_role", 'role "no_such_role" does not exist'),
    ],
)
async def test_a_database_or_user_that_does_not_exist(
    env: dict[str, str], part: str, value: str, reason: str
) -> None:
    wrong = make_conninfo(env["TENAZ_DATABASE_URL"], **{part: value})
    ended = await tenaz(env | {"TENAZ_DATABASE_URL": wrong}, "worker")
    assert_refused(ended, "TENAZ_DATABASE_URL", reason)


async def test_a_database_that_does_not_answer(env: dict[str, str], held: str) -> None:
    # The port takes connections and never says a word, as a server behind a dead link.
    silent = f"postgresql://postgres@{held}/tenaz?connect_timeout=1"
    ended = await tenaz(env | {"TENAZ_DATABASE_URL": silent}, "serve")
    assert_refused(ended, "TENAZ_DATABASE_URL", "timeout expired")


async def test_a_url_that_is_not_one(env: dict[str, str]) -> None:
    ended = await tenaz(env | {"TENAZ_DATABASE_URL": "localhost tenaz"}, "keys", "list")
    assert_refused(ended, "TENAZ_DATABASE_URL", "not a PostgreSQL URL")


async def test_an_embedded_data_dir_that_cannot_be_made(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    embedded = {k: v for k, v in env.items() if k not in ("TENAZ_DATABASE_URL", "TENAZ_SECRET_KEY")}
    ended = await tenaz(embedded | {"TENAZ_DATA_DIR": str(tmp_path / "a-file" / "data")}, "run")
    assert_refused(ended, "TENAZ_DATA_DIR", "Not a directory")


# --- keys and certificates ---------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve"], ["keys", "list"]], ids=" ".join)
async def test_a_malformed_secret_key(env: dict[str, str], command: list[str]) -> None:
    ended = await tenaz(env | {"TENAZ_SECRET_KEY": "letmein"}, *command)
    assert_refused(ended, "TENAZ_SECRET_KEY", "tenaz secrets generate-key")


@pytest.mark.parametrize(
    ("broken", "variable", "reason"),
    [
        ({"TENAZ_TLS_CERT": "missing.pem"}, "TENAZ_TLS_CERT", "No such file or directory"),
        ({"TENAZ_TLS_CERT": "."}, "TENAZ_TLS_CERT", "Is a directory"),
        ({"TENAZ_TLS_CERT": "notes.txt"}, "TENAZ_TLS_CERT", "not a PEM certificate"),
        ({"TENAZ_TLS_KEY": "notes.txt"}, "TENAZ_TLS_KEY", "not an unencrypted PEM private key"),
        ({"TENAZ_TLS_CERT": "ca.pem"}, "TENAZ_TLS_KEY", "is not the key of the certificate"),
        ({"TENAZ_TLS_CLIENT_CA": "notes.txt"}, "TENAZ_TLS_CLIENT_CA", "not a PEM certificate"),
        (
            {"TENAZ_DASHBOARD_TLS_CERT": "missing.pem", "TENAZ_DASHBOARD_TLS_KEY": "server.key"},
            "TENAZ_DASHBOARD_TLS_CERT",
            "No such file or directory",
        ),
    ],
    ids=["missing", "directory", "cert-not-pem", "key-not-pem", "other-key", "ca", "dashboard"],
)
async def test_an_unusable_tls_file(
    env: dict[str, str],
    pki: Pki,
    tmp_path: Path,
    broken: dict[str, str],
    variable: str,
    reason: str,
) -> None:
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    good = {"TENAZ_TLS_CERT": str(pki.server_cert), "TENAZ_TLS_KEY": str(pki.server_key)}
    files = good | {name: str(tmp_path / value) for name, value in broken.items()}
    ended = await tenaz(env | files, "serve")
    assert_refused(ended, variable, reason)


# --- the embedded PostgreSQL: nothing half-started, nothing but logs ---------------------


def postgres_of(data: Path) -> list[psutil.Process]:
    """PostgreSQL servers running on `data` (the postmaster's command line names it)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(data) in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


@pytest.fixture
def embedded(tmp_path: Path) -> dict[str, str]:
    """Settings for `tenaz run` on an embedded PostgreSQL in a fresh data directory."""
    return clean_environment() | {
        "TENAZ_DATA_DIR": str(tmp_path / "data"),
        "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_DASHBOARD_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_INGEST_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
    }


async def test_what_started_is_stopped_when_the_dashboard_cannot_bind(
    embedded: dict[str, str], held: str, tmp_path: Path
) -> None:
    ended = await tenaz(embedded | {"TENAZ_DASHBOARD_ADDRESS": held}, "run")
    assert ended.code == 2, ended.err
    *logs, last = ended.err.splitlines()
    assert last.startswith(f"tenaz: TENAZ_DASHBOARD_ADDRESS {held}: cannot listen there")
    # Before it: only Tenaz's own log lines (the database started, the gRPC server too).
    assert all(LOG_RECORD.match(line) for line in logs), ended.err
    assert any("server.started" in line for line in logs)
    data = tmp_path / "data" / "postgres"
    assert (data / "PG_VERSION").exists()  # the embedded server had started ...
    assert not (data / "postmaster.pid").exists()  # ... and was stopped
    assert postgres_of(data) == []


async def test_a_clean_stop_prints_only_log_lines(embedded: dict[str, str], tmp_path: Path) -> None:
    process = await start(embedded, "run")
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(START_TIMEOUT * 2):
            while "tenaz.started" not in (line := (await process.stderr.readline()).decode()):
                assert line, "tenaz run ended before it started:\n" + "".join(seen)
                seen.append(line)
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(START_TIMEOUT):
            rest = (await process.stderr.read()).decode()
            await process.wait()
    assert process.returncode == 0, rest
    # Stopping the embedded PostgreSQL forks while gRPC's threads run: no word from gRPC.
    assert all(LOG_RECORD.match(line) for line in rest.splitlines()), rest
    assert "tenaz.stopped" in rest
    assert postgres_of(tmp_path / "data" / "postgres") == []


async def test_serve_answers_on_the_conversions_api_endpoint(env: dict[str, str]) -> None:
    serving = env | {"TENAZ_LOG_LEVEL": "INFO"}
    process = await start(serving, "serve")
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while "tenaz.started" not in (line := (await process.stderr.readline()).decode()):
                assert line, "tenaz serve ended before it started:\n" + "".join(seen)
                seen.append(line)
        url = f"http://{env['TENAZ_INGEST_ADDRESS']}"
        assert f"ingest={url} " in line, line
        async with httpx.AsyncClient(trust_env=False) as http:
            answer = await http.post(f"{url}/v25.0/111/events", json={"data": []})
        # No key: Graph's answer to a request without an access token.
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 104
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(START_TIMEOUT):
            await process.communicate()
    assert process.returncode == 0


# --- logs for a log store ----------------------------------------------------------------


async def test_an_unknown_log_format(env: dict[str, str]) -> None:
    ended = await tenaz(env | {"TENAZ_LOG_FORMAT": "logfmt"}, "migrate")
    assert_refused(ended, "TENAZ_LOG_FORMAT", "'logfmt'", "text or json")


async def test_json_logs_are_one_object_per_line(env: dict[str, str], empty_database: str) -> None:
    json_env = env | {
        "TENAZ_DATABASE_URL": empty_database,
        "TENAZ_LOG_LEVEL": "INFO",
        "TENAZ_LOG_FORMAT": "json",
    }
    ended = await tenaz(json_env, "migrate")

    assert ended.code == 0, ended.err
    logged = [json.loads(line) for line in ended.err.splitlines()]
    for line in logged:
        assert {"time", "level", "logger", "event"} <= set(line), line
        assert dt.datetime.fromisoformat(line["time"]).utcoffset() == dt.timedelta(0)
    applied = [line for line in logged if line["event"] == "migration.applied"]
    assert {(line["level"], line["logger"]) for line in applied} == {("INFO", "jobs.migrate")}
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute("SELECT name FROM tenaz_schema_migrations ORDER BY name").fetchall()
    assert [line["migration"] for line in applied] == [name for (name,) in rows]


# --- several servers on one address ------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`tenaz serve`, from its "started" line to its clean stop."""
    process = await start(env, "serve")
    assert process.stderr is not None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while b"tenaz.started" not in (line := await process.stderr.readline()):
                assert line, "tenaz serve ended before it started"
        drain = asyncio.create_task(process.stderr.read())
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(START_TIMEOUT):
            await process.wait()
    await drain
    assert process.returncode == 0


def listening_ports(process: asyncio.subprocess.Process) -> set[int]:
    return {
        c.laddr.port
        for c in psutil.Process(process.pid).net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }


async def answers(grpc_address: str, dashboard_address: str) -> bool:
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    async with httpx.AsyncClient(timeout=5) as http:
        page = await http.get(f"http://{dashboard_address}/login")
    return health.status == health_pb2.HealthCheckResponse.SERVING and page.status_code == 200


async def test_two_servers_serve_one_grpc_and_one_dashboard_address(
    env: dict[str, str],
) -> None:
    # /metrics is each process's own: two on one port is refused (see above).
    shared = env | {"TENAZ_LOG_LEVEL": "INFO", "TENAZ_METRICS_ADDRESS": ""}
    grpc_address, dashboard_address = (
        shared["TENAZ_LISTEN_ADDRESS"],
        shared["TENAZ_DASHBOARD_ADDRESS"],
    )
    ports = {int(a.rsplit(":", 1)[1]) for a in (grpc_address, dashboard_address)}
    async with serving(shared) as first, serving(shared) as second:
        assert ports <= listening_ports(first)
        assert ports <= listening_ports(second)
        assert await answers(grpc_address, dashboard_address)
        first.send_signal(signal.SIGINT)
        async with asyncio.timeout(START_TIMEOUT):
            await first.wait()
        # The second serves both addresses alone.
        assert await answers(grpc_address, dashboard_address)
