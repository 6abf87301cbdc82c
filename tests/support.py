"""What several test modules share: driving the queue by hand instead of waiting for it,
holding the status log back, certificates for TLS, and log records as Tenaz writes them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tenaz.client import TenazClient
from tenaz.v1 import destinations_pb2

from jobs import logs
from jobs.model import StatusChange
from jobs.pii import META_CLEAR_FIELDS
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from jobs.store.status_changes import record_status_changes

DOCS = Path(__file__).parents[1] / "docs"
# The example alerting rules and the Grafana dashboard that docs/operations.md offers.
RULES = DOCS / "prometheus" / "tenaz-rules.yml"
DASHBOARD = DOCS / "grafana" / "tenaz-dashboard.json"


def dashboard_expressions() -> list[str]:
    """Every PromQL expression of the Grafana dashboard's panels."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def process_env(settings: Settings) -> dict[str, str]:
    """TENAZ_* variables for a `tenaz` process sharing the tests' database and fakes."""
    return {
        "TENAZ_DATABASE_URL": settings.database_url,
        "TENAZ_SECRET_KEY": settings.secret_key,
        "TENAZ_ALLOWED_PLATFORM_URLS": ",".join(str(u) for u in settings.allowed_platform_urls),
        # Several processes share these variables; each /metrics would need a port of its own.
        "TENAZ_METRICS_ADDRESS": "",
    }


def logged(records: Iterable[logging.LogRecord]) -> str:
    """`records` as Tenaz's log handlers write them, in both formats: the event, its fields
    and any traceback, which is what a test that looks for a secret in the logs must read."""
    formatters = (logs.TextFormatter(), logs.JsonFormatter())
    return "\n".join(formatter.format(record) for record in records for formatter in formatters)


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on now (for a process the test starts), never one
    this process was given before: the kernel may hand a just-closed port out again, and
    two settings of one test would then name the same port."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


async def start_tenaz(
    env: Mapping[str, str], *args: str, stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """The `tenaz` command as an operator runs it, with exactly `env`; stderr is piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


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


async def all_sequences(runtime: Runtime) -> list[int]:
    """The sequence numbers of every change in the log, in order."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT seq FROM tenaz_status_changes ORDER BY seq")
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


def stored_shape(meta_event: Mapping[str, Any]) -> dict[str, Any]:
    """A Meta server event as Tenaz stores it (jobs/canonical.py): its user_data split into
    the identifiers Meta takes in clear and the Meta family's hashes. Meta's connector turns
    it back into the same event."""
    stored = {k: v for k, v in meta_event.items() if k != "user_data"}
    user = meta_event.get("user_data", {})
    clear = {k: v for k, v in user.items() if k in META_CLEAR_FIELDS}
    hashed = {k: v for k, v in user.items() if k not in META_CLEAR_FIELDS}
    return {**stored, "identifiers": clear, "hashed": {"meta": hashed}}


def status_change(
    at: dt.datetime,
    *,
    ids: int = 1,
    from_status: str | None = "PENDING",
    to: str = "SENDING",
    delivery_id: int | None = None,
    event_id: int | None = None,
) -> StatusChange:
    """A status-change row for tests that write the log directly; `ids` stands for the
    workspace, delivery, event and destination unless a delivery or event is named."""
    return StatusChange(
        workspace_id=ids,
        delivery_id=ids if delivery_id is None else delivery_id,
        event_id=ids if event_id is None else event_id,
        destination_id=ids,
        from_status=from_status,
        to_status=to,
        attempt_number=0 if from_status is None else 1,
        error="",
        at=at,
    )


@contextlib.asynccontextmanager
async def writer_in_flight(database_url: str) -> AsyncIterator[None]:
    """A status-change writer that has taken its number and not committed, until the block
    ends (rolled back): no stream reads past that number meanwhile, so changes committed
    after it wait, unread, as they would for a stream that fell behind."""
    conn = await psycopg.AsyncConnection.connect(database_url)
    try:
        change = status_change(dt.datetime.now(dt.UTC), ids=0, from_status=None, to="PENDING")
        await record_status_changes(conn, [change])
        yield
    finally:
        await conn.rollback()
        await conn.close()


# --- certificates ---------------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclasses.dataclass
class Pki:
    """A test CA, a server certificate for localhost and 127.0.0.1 signed by it (files),
    and a client certificate (PEM)."""

    ca: bytes
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: bytes
    client_key: bytes


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Tenaz test CA", ca_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("localhost", server_key, (ca.subject, ca_key))
    client = _issue("a client", client_key, (ca.subject, ca_key))
    (directory / "server.pem").write_bytes(_pem(server))
    (directory / "server.key").write_bytes(_key_pem(server_key))
    (directory / "ca.pem").write_bytes(_pem(ca))
    return Pki(
        ca=_pem(ca),
        ca_file=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=_pem(client),
        client_key=_key_pem(client_key),
    )


# custom_data that Meta (and the fake Meta, and so the sandbox) refuses but Tenaz passes on
# as given, since fields a caller adds beyond Tenaz's own go to the platform unchecked: a
# text where Meta wants an integer. Tests use it for "the platform rejected this event's
# data".
META_REFUSES = {"num_items": "três"}


async def until(condition: Callable[[], bool], *, every: float = 0.05) -> None:
    """Return once `condition()` holds, checking every `every` seconds; the caller bounds
    the wait with `asyncio.timeout`. For state with no event to wait on (what a fake
    platform received from a worker)."""
    while not condition():  # noqa: ASYNC110 - nothing to await: the state is polled
        await asyncio.sleep(every)


def busiest_second(fake_meta: FakeMetaServer) -> int:
    """The most events the fake Meta received in any sliding second, by its clock: what a
    destination's rate limit promises to keep within."""
    requests = list(fake_meta.fake.requests)
    return max(
        (
            sum(r.event_count for r in requests if first.at <= r.at < first.at + 1)
            for first in requests
        ),
        default=0,
    )


async def limited_meta(
    client: TenazClient, fake_meta: FakeMetaServer, *, rate_limit: float, name: str = "meta"
) -> destinations_pb2.Destination:
    """A Meta destination on the fake Meta, kept to `rate_limit` events per second."""
    return await client.create_destination(
        destinations_pb2.Destination(
            name=name,
            enabled=True,
            rate_limit=rate_limit,
            meta=destinations_pb2.MetaSettings(
                pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
            ),
        )
    )


# The stats counters (migrations 0017, 0025 and 0026), their shards summed, and the same
# figures counted from the rows.
_COUNTERS_AND_RECOUNTS = {
    "deliveries by minute": (
        "SELECT workspace_id, created_minute, destination_id, status, sum(n)::bigint"
        " FROM tenaz_delivery_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0",
        "SELECT workspace_id, tenaz_minute(created_at), destination_id, status, count(*)"
        " FROM tenaz_deliveries GROUP BY 1, 2, 3, 4",
    ),
    "deliveries by hour": (
        "SELECT workspace_id, created_hour, destination_id, status, sum(n)::bigint"
        " FROM tenaz_delivery_counts_hourly GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0",
        "SELECT workspace_id, tenaz_hour(created_at), destination_id, status, count(*)"
        " FROM tenaz_deliveries GROUP BY 1, 2, 3, 4",
    ),
    "unfinished deliveries": (
        "SELECT workspace_id, destination_id, status, sum(n)::bigint"
        " FROM tenaz_unfinished_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0",
        "SELECT workspace_id, destination_id, status, count(*) FROM tenaz_deliveries"
        " WHERE status NOT IN ('SUCCEEDED', 'FAILED') GROUP BY 1, 2, 3",
    ),
    "attempts by minute": (
        "SELECT workspace_id, finished_minute, destination_id, outcome, sum(n)::bigint,"
        " max(last_at) FROM tenaz_attempt_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0",
        "SELECT d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome,"
        " count(*), max(a.finished_at) FROM tenaz_attempts a"
        " JOIN tenaz_deliveries d ON d.id = a.delivery_id"
        " WHERE a.finished_at IS NOT NULL GROUP BY 1, 2, 3, 4",
    ),
    "attempts by hour": (
        "SELECT workspace_id, finished_hour, destination_id, outcome, sum(n)::bigint"
        " FROM tenaz_attempt_counts_hourly GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0",
        "SELECT d.workspace_id, tenaz_hour(a.finished_at), d.destination_id, a.outcome,"
        " count(*) FROM tenaz_attempts a JOIN tenaz_deliveries d ON d.id = a.delivery_id"
        " WHERE a.finished_at IS NOT NULL GROUP BY 1, 2, 3, 4",
    ),
}


async def counters_that_differ(database_url: str) -> list[str]:
    """Which stats counters say something else than counting the rows does (none: [])."""
    differ = []
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for what, (kept, recounted) in _COUNTERS_AND_RECOUNTS.items():
            rows = []
            for query in (kept, recounted):
                cur = await conn.execute(query)
                rows.append({tuple(row) for row in await cur.fetchall()})
            if rows[0] != rows[1]:
                differ.append(what)
    return differ
