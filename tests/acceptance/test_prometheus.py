"""Tenaz as Prometheus sees it: Debian's real `prometheus` scrapes a `tenaz run` that
delivers to two fake Metas (one answers 503 once, so its deliveries wait and are retried),
and its query API gives back the figures of what was delivered. The same Prometheus loads
the example alerting rules and evaluates every expression of the Grafana dashboard, and
`promtool` checks the rules file. `make prometheus` installs both programs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tenaz.client import TenazClient, TenazError, make_event

from jobs import keys
from jobs.base_url import BaseUrl
from jobs.database import open_pool
from jobs.platforms.fake_meta import Failure, FakeMeta, FakeMetaServer
from jobs.scopes import ADMIN
from jobs.secrets import generate_key
from jobs.settings import Settings
from tests.support import RULES, dashboard_expressions, free_port, process_env, start_tenaz

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

EVENTS = 20
REFUSED = 2
# A cold start of Tenaz or Prometheus on a busy machine, and deliveries with one retry.
DEADLINE = 60.0


def program(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make prometheus` installs Debian's prometheus package"
    return path


async def eventually(check: Callable[[], Awaitable[bool]], *, every: float = 0.25) -> None:
    """Return once `check()` holds; the caller bounds the wait. For state in another process
    (Prometheus, Tenaz), which has no event to wait on."""
    while not await check():  # noqa: ASYNC110 - the state is polled over HTTP
        await asyncio.sleep(every)


async def run(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_promtool_accepts_the_example_rules_and_refuses_a_broken_copy(
    tmp_path: Path,
) -> None:
    code, out = await run(program("promtool"), "check", "rules", str(RULES))
    assert code == 0, out
    assert "SUCCESS" in out
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 300", "> > 300", 1))
    code, out = await run(program("promtool"), "check", "rules", str(broken))
    assert code != 0, out


class Prometheus:
    """A Prometheus server scraping one target every second, and its query API."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self.base_url = base_url

    async def api(self, path: str, **params: str) -> Any:
        response = await self._http.get(f"{self.base_url}/api/v1/{path}", params=params)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        data = await self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    async def by(self, expr: str, label: str) -> dict[str, float]:
        """An instant vector's values, keyed by one label."""
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in await self.query(expr)}


@contextlib.asynccontextmanager
async def prometheus(tmp_path: Path, target: str) -> AsyncIterator[Prometheus]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES}\n"
        "scrape_configs:\n  - job_name: tenaz\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    process = await asyncio.create_subprocess_exec(
        program("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as http:

            async def ready() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get(f"{base_url}/-/ready")).status_code == 200
                return False

            async with asyncio.timeout(DEADLINE):
                await eventually(ready)
            yield Prometheus(http, base_url)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        async with asyncio.timeout(DEADLINE):
            await process.wait()


async def destination_ids(database_url: str) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT name, id FROM tenaz_destinations")
        return {name: str(id_) for name, id_ in await cur.fetchall()}


async def test_prometheus_reads_what_tenaz_delivered(database_url: str, tmp_path: Path) -> None:
    steady = FakeMeta(access_tokens={"111": "steady-token"})
    flaky = FakeMeta(access_tokens={"222": "flaky-token"})
    flaky.fail_next(1, Failure.http_503())
    async with FakeMetaServer(steady) as steady_meta, FakeMetaServer(flaky) as flaky_meta:
        settings = Settings(
            database_url=database_url,
            secret_key=generate_key(),
            allowed_platform_urls=(
                BaseUrl.parse(steady_meta.base_url),
                BaseUrl.parse(flaky_meta.base_url),
            ),
        )
        async with open_pool(database_url, settings) as pool:
            api_key = (await keys.create_key(pool, workspace="acme", scope=ADMIN)).secret
        grpc_port, metrics_address = free_port(), f"127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENAZ_")} | {
            **process_env(settings),
            "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{grpc_port}",
            "TENAZ_DASHBOARD_ADDRESS": "",
            "TENAZ_METRICS_ADDRESS": metrics_address,
            "TENAZ_METRICS_INTERVAL": "1s",
            "TENAZ_RETRY_INTERVAL": "1s",
            "TENAZ_LOG_LEVEL": "WARNING",
        }
        tenaz = await start_tenaz(env, "run", stdout=asyncio.subprocess.DEVNULL)
        try:
            async with (
                prometheus(tmp_path, metrics_address) as prom,
                TenazClient(f"127.0.0.1:{grpc_port}", api_key, timeout=10) as client,
            ):
                await deliver_and_check(client, prom, steady_meta, flaky_meta, database_url)
        finally:
            with contextlib.suppress(ProcessLookupError):
                tenaz.send_signal(signal.SIGINT)
            async with asyncio.timeout(DEADLINE):
                _, err = await tenaz.communicate()
            assert tenaz.returncode == 0, err.decode()


async def deliver_and_check(
    client: TenazClient,
    prom: Prometheus,
    steady_meta: FakeMetaServer,
    flaky_meta: FakeMetaServer,
    database_url: str,
) -> None:
    async def serving() -> bool:
        with contextlib.suppress(TenazError):
            await client.list_destinations()
            return True
        return False

    async with asyncio.timeout(DEADLINE):
        await eventually(serving)
    await client.create_meta_destination(
        "steady", pixel_id="111", access_token="steady-token", base_url=steady_meta.base_url
    )
    await client.create_meta_destination(
        "flaky", pixel_id="222", access_token="flaky-token", base_url=flaky_meta.base_url
    )
    ids = await destination_ids(database_url)
    steady, flaky = ids["steady"], ids["flaky"]
    await client.submit_events(
        make_event(event_id=f"order-{i}", event_name="Purchase", email=f"b{i}@example.com")
        for i in range(EVENTS)
    )
    with pytest.raises(TenazError):
        await client.submit_events(
            [make_event(event_id="no-name", event_name="")] * REFUSED,
        )

    succeeded = 'sum(tenaz_delivery_attempts_total{outcome="succeeded"})'

    async def delivered_and_scraped() -> bool:
        values = await prom.by(succeeded, "")
        return values.get("") == 2 * EVENTS

    async with asyncio.timeout(DEADLINE):
        await eventually(delivered_and_scraped)
    assert steady_meta.fake.total_events_received == EVENTS
    assert flaky_meta.fake.total_events_received == EVENTS

    assert await prom.by("tenaz_submitted_events_total", "code") == {
        "OK": EVENTS,
        "INVALID_ARGUMENT": REFUSED,
    }
    assert await prom.by("sum by (edge) (tenaz_submit_calls_total)", "edge") == {"grpc": 2}
    attempts = "sum by (destination, outcome) (tenaz_delivery_attempts_total)"
    by_attempt = {
        (r["metric"]["destination"], r["metric"]["outcome"]): float(r["value"][1])
        for r in await prom.query(attempts)
    }
    assert by_attempt == {
        (steady, "succeeded"): EVENTS,
        (flaky, "external_problem"): EVENTS,
        (flaky, "succeeded"): EVENTS,
    }
    entered = await prom.by("sum by (status) (tenaz_deliveries_entered_total)", "status")
    assert entered == {
        "PENDING": 2 * EVENTS,
        "SENDING": 2 * EVENTS,
        "WAITING_RETRY": EVENTS,
        "RESENDING": EVENTS,
        "SUCCEEDED": 2 * EVENTS,
    }
    # One request of twenty events to the steady Meta; the refused one and the retry to the
    # flaky one.
    requests = await prom.by("tenaz_platform_request_duration_seconds_count", "destination")
    assert requests == {steady: 1, flaky: 2}
    retries = await prom.by("tenaz_retry_lateness_seconds_count", "platform")
    assert retries == {"meta": 1}

    async def gauges_settled() -> bool:
        leader = await prom.by("tenaz_database_gauges_leader", "")
        waiting = await prom.query("tenaz_deliveries_unfinished")
        return leader.get("") == 1 and not waiting

    async with asyncio.timeout(DEADLINE):
        await eventually(gauges_settled)
    assert await prom.by("tenaz_destination_needs_action", "destination") == {
        steady: 0,
        flaky: 0,
    }

    for expr in dashboard_expressions():
        await prom.query(expr)  # the query API refuses one that does not parse

    async def rules_evaluated() -> bool:
        groups = (await prom.api("rules"))["groups"]
        return bool(groups) and all(r["health"] != "unknown" for r in groups[0]["rules"])

    async with asyncio.timeout(DEADLINE):
        await eventually(rules_evaluated)
    [group] = (await prom.api("rules"))["groups"]
    assert {r["name"]: r["health"] for r in group["rules"]} == {
        r["name"]: "ok" for r in group["rules"]
    }
