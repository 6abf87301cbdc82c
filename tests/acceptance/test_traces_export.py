"""`tenaz serve` as an operator runs it with OTEL_* variables: its spans reach the collector
by the time it has stopped, under the service name the environment gives."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from collections.abc import Iterator

import pytest
from tenaz.client import TenazClient, make_event

from jobs.settings import Settings
from tests.collector import Collector
from tests.support import free_port, process_env, start_tenaz

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Long enough for a cold Python start with grpc loaded, on a busy CI machine.
START_TIMEOUT = 30.0


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


async def test_a_stopped_server_has_exported_its_submission_spans(
    settings: Settings, api_key: str, meta: str, collector: Collector
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TENAZ_", "OTEL_"))},
        **process_env(settings),
        "TENAZ_LISTEN_ADDRESS": address,
        "TENAZ_DASHBOARD_ADDRESS": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": "tenaz-edge",
        # Far longer than the test: only the stop can have exported the spans.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    process = await start_tenaz(env, "serve", stdout=asyncio.subprocess.DEVNULL)
    assert process.stderr is not None
    async with asyncio.timeout(START_TIMEOUT):
        while b"tenaz.started" not in (line := await process.stderr.readline()):
            assert line, "tenaz serve ended before it started"
        drain = asyncio.create_task(process.stderr.read())
        async with TenazClient(address, api_key, timeout=10) as client:
            await client.submit_event(
                make_event(
                    event_id="order-1",
                    event_name="Purchase",
                    event_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                    email="maria@example.com",
                )
            )
        assert collector.requests == []
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0, (await drain).decode()

    assert collector.service_names() == {"tenaz-edge"}
    assert [span.name for span in collector.spans()] == ["tenaz.v1.EventService/SubmitEvent"]
