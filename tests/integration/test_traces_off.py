"""With no OTLP endpoint configured, Tenaz sets up no tracing: a submission delivered after a
retry exports nothing to a collector that is listening, and writes no trace context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.tracing import OFF
from tests.collector import Collector
from tests.support import fire_due_retries, run_jobs


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """A collector, and every OTEL_* variable but the endpoint pointing at it."""
    with Collector() as running:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "tenaz")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector=1")
        yield running


async def test_without_an_endpoint_nothing_is_set_up_exported_or_stored(
    collector: Collector,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    assert runtime.tracing is OFF
    fake_meta.fake.fail_next(1, Failure.http_500())
    response = await client.submit_events(
        [
            make_event(
                event_id=f"order-{n}",
                event_name="Purchase",
                event_time=clock.now() - dt.timedelta(minutes=1),
                email="maria@example.com",
            )
            for n in range(2)
        ]
    )
    await run_jobs(runtime)
    clock.advance(runtime.settings.retry_interval)
    assert await fire_due_retries(runtime) == 1
    for result in response.results:
        [delivery] = (await client.get_event(result.id)).deliveries
        assert delivery.status == events_pb2.DELIVERY_STATUS_SUCCEEDED
        assert delivery.attempt_count == 2
    await runtime.tracing.flush()

    assert collector.requests == []
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT trace_context, count(*) FROM tenaz_events GROUP BY 1")
        assert await cur.fetchall() == [("", 2)]
