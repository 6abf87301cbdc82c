"""Traces, against a real OTLP/HTTP collector on loopback: the spans of a submission over gRPC,
of each attempt to deliver it to a fake Meta over HTTP, and of each request, with the links
from attempts back to the submissions; and nothing at all when traces are off."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings, traces_endpoint
from tests.collector import Collector, value
from tests.support import fire_due_retries, run_jobs

EMAIL = "maria.silva@example.com"
TOKEN = "good-token"  # the fake Meta's access token (tests/conftest.py)
OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
)


def attributes(span: Span) -> dict[str, Any]:
    return {attribute.key: value(attribute.value) for attribute in span.attributes}


def named(spans: list[Span], name: str) -> list[Span]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time_unix_nano)


def names(span: Span) -> tuple[bytes, bytes, bool]:
    """What a traceparent naming `span` holds: its trace, itself, and sampled."""
    return span.trace_id, span.span_id, True


def named_by(traceparent: str) -> tuple[bytes, bytes, bool]:
    """The trace and span a W3C traceparent names, and whether it is sampled."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00"
    return bytes.fromhex(trace_id), bytes.fromhex(span_id), bool(int(flags, 16) & 1)


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def ids(traceparent: str) -> tuple[bytes, bytes]:
    return named_by(traceparent)[:2]


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


@pytest.fixture
def settings(settings: Settings, collector: Collector, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The tests' settings, with traces on as an operator turns them on."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    return dataclasses.replace(settings, traces_endpoint=traces_endpoint(os.environ))


async def destination_id_of(runtime: Runtime, name: str) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenaz_destinations WHERE name = %s", (name,))
        [(id_,)] = await cur.fetchall()
        return int(id_)


async def stored_trace_contexts(runtime: Runtime) -> dict[str, str]:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT event_id, trace_context FROM tenaz_events")
        return {row[0]: row[1] for row in await cur.fetchall()}


async def test_a_delivery_retried_once_is_traced_from_its_submission_to_each_request(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    collector: Collector,
) -> None:
    destination_id = await destination_id_of(runtime, meta)
    fake_meta.fake.fail_next(1, Failure.http_500())
    response = await client.submit_event(
        make_event(
            event_id="order-1",
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=1),
            email=EMAIL,
        )
    )
    await run_jobs(runtime)
    clock.advance(runtime.settings.retry_interval)
    assert await fire_due_retries(runtime) == 1
    [delivery] = (await client.get_event(response.event.id)).deliveries
    assert delivery.status == events_pb2.DELIVERY_STATUS_SUCCEEDED

    await runtime.tracing.flush()

    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    assert collector.service_names() == {"tenaz"}
    spans = collector.spans()
    [submit] = named(spans, "tenaz.v1.EventService/SubmitEvent")
    assert submit.kind == Span.SPAN_KIND_SERVER
    assert submit.parent_span_id == b""
    assert attributes(submit) == {
        "rpc.system": "grpc",
        "rpc.service": "tenaz.v1.EventService",
        "rpc.method": "SubmitEvent",
        "rpc.grpc.status_code": 0,
        "tenaz.workspace.id": attributes(submit)["tenaz.workspace.id"],
        "tenaz.events": 1,
        "tenaz.events.new": 1,
    }
    # What the worker read back to link to: the submission span's own context.
    stored = await stored_trace_contexts(runtime)
    assert {event_id: named_by(c) for event_id, c in stored.items()} == {"order-1": names(submit)}

    first, second = named(spans, "delivery.attempt")
    for attempt in (first, second):
        assert attempt.kind == Span.SPAN_KIND_CONSUMER
        assert attempt.parent_span_id == b""
        assert attempt.trace_id != submit.trace_id
        assert [(link.trace_id, link.span_id) for link in attempt.links] == [
            (submit.trace_id, submit.span_id)
        ]
    assert first.trace_id != second.trace_id
    common = {
        "tenaz.platform": "meta",
        "tenaz.destination.id": destination_id,
        "tenaz.deliveries": 1,
        "tenaz.submissions": 1,
    }
    assert attributes(first) == {
        **common,
        "tenaz.outcome": "waiting_retry",
        "tenaz.deliveries.waiting_retry": 1,
    }
    assert attributes(second) == {
        **common,
        "tenaz.outcome": "succeeded",
        "tenaz.deliveries.succeeded": 1,
    }

    requests = named(spans, "POST")
    assert len(requests) == 2
    for attempt, request, status in zip((first, second), requests, (500, 200), strict=True):
        assert request.kind == Span.SPAN_KIND_CLIENT
        assert (request.trace_id, request.parent_span_id) == (attempt.trace_id, attempt.span_id)
        assert attributes(request) == {
            "http.request.method": "POST",
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": int(fake_meta.base_url.rsplit(":", 1)[1].strip("/")),
            "tenaz.platform": "meta",
            "tenaz.destination.id": destination_id,
            "http.response.status_code": status,
            **({"error.type": "500"} if status == 500 else {}),
        }
    assert {s.name for s in spans} == {
        "tenaz.v1.EventService/SubmitEvent",
        "delivery.attempt",
        "POST",
    }

    exported = b"".join(collector.raw)
    for secret in (EMAIL.encode(), TOKEN.encode(), b"order-1", b"/events"):
        assert secret not in exported


async def test_an_attempt_links_to_every_submission_of_its_batch(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
    api_key: str,
    collector: Collector,
) -> None:
    """Single events sent at once share a transaction; each keeps its own call's context."""
    callers = {name: traceparent(0xA0 + n, 0xB0 + n) for n, name in enumerate("wxyz")}

    def metadata(name: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {api_key}"), ("traceparent", callers[name]))

    def event(event_id: str) -> events_pb2.Event:
        return make_event(
            event_id=event_id,
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=1),
            email=EMAIL,
        )

    await asyncio.gather(
        *(
            client.events.SubmitEvent(
                events_pb2.SubmitEventRequest(event=event(f"single-{name}")),
                metadata=metadata(name),
            )
            for name in "wxy"
        ),
        client.events.SubmitEvents(
            events_pb2.SubmitEventsRequest(events=[event("batch-1"), event("batch-2")]),
            metadata=metadata("z"),
        ),
    )
    await run_jobs(runtime)
    await runtime.tracing.flush()

    spans = collector.spans()
    submissions = {
        s.trace_id: s
        for s in spans
        if s.name.startswith("tenaz.v1.EventService/SubmitEvent")  # and SubmitEvents
    }
    # Each submission span is its caller's child, in its caller's trace.
    assert sorted((s.trace_id, s.parent_span_id) for s in submissions.values()) == sorted(
        ids(parent) for parent in callers.values()
    )
    stored = await stored_trace_contexts(runtime)
    for event_id, context in stored.items():
        caller = callers[event_id.removeprefix("single-")] if "single" in event_id else callers["z"]
        submission = submissions[ids(caller)[0]]
        assert named_by(context) == names(submission)
    assert len(stored) == 5

    [attempt] = named(spans, "delivery.attempt")
    assert sorted((link.trace_id, link.span_id) for link in attempt.links) == sorted(
        (s.trace_id, s.span_id) for s in submissions.values()
    )
    assert attributes(attempt)["tenaz.deliveries"] == 5
    assert attributes(attempt)["tenaz.submissions"] == 4
    assert attributes(attempt)["tenaz.outcome"] == "succeeded"


async def test_a_refused_submission_is_an_error_span_and_stores_nothing(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, collector: Collector
) -> None:
    with pytest.raises(TenazError, match="INVALID_ARGUMENT"):
        await client.submit_event(
            make_event(
                event_id="order-1",
                event_name="Purchase",
                event_time=clock.now() - dt.timedelta(minutes=1),
                email=EMAIL,
                value=10.0,
                currency="ZZZ",
            )
        )
    await runtime.tracing.flush()

    [span] = collector.spans()
    assert span.name == "tenaz.v1.EventService/SubmitEvent"
    assert span.status.code == span.status.STATUS_CODE_ERROR
    assert span.status.message == ""
    found = attributes(span)
    assert found["error.type"] == "InvalidArgument"
    assert "rpc.grpc.status_code" not in found and "tenaz.events" not in found
    assert b"ZZZ" not in b"".join(collector.raw)
    assert await stored_trace_contexts(runtime) == {}
