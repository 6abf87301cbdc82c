"""Tenaz's spans, made with the OpenTelemetry SDK and exported over OTLP/HTTP (protobuf) to
the operator's collector. Imported only when traces are on (see jobs/tracing.py).

The standard OTEL_* variables hold: the endpoint, timeout and service name through Settings;
the SDK reads the rest itself (OTEL_EXPORTER_OTLP_HEADERS, _COMPRESSION, _CERTIFICATE,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*, span limits). No global tracer
provider is set: the spans are Tenaz's alone.

The exporter's requests do not go through the egress policy (jobs/egress.py). That policy
keeps tenants, who name their destinations' URLs, from aiming Tenaz at the operator's own
network; the collector is named by the operator, in the environment of the operator's
processes, never by a tenant, and is usually on that very network. They still have a total
deadline: an export, retries included, ends within the OTLP timeout (10 s by default,
jobs/settings.py), on the SDK's own thread, so a slow or absent collector delays spans,
never deliveries; when its queue is full, spans are dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from jobs.settings import Settings
from jobs.tracing import AttemptTrace, HasDuplicate, SubmissionTrace, Tracing

# Links an attempt span carries at most, one per distinct submission: the SDK's default
# limit (OTEL_SPAN_LINK_COUNT_LIMIT). A batch of 1,000 single-event submissions links the
# first 128; `tenaz.submissions` counts them all.
MAX_LINKS: Final = 128
EVENT_SERVICE: Final = "tenaz.v1.EventService"
FLUSH_TIMEOUT_MS: Final = 30_000

_PROPAGATOR: Final = TraceContextTextMapPropagator()
_ROOT: Final = otel_context.Context()
# The attempt's platform and destination, for the spans of the requests made inside it.
_Attributes = tuple[tuple[str, str | int], ...]
_DESTINATION: contextvars.ContextVar[_Attributes] = contextvars.ContextVar(
    "tenaz_destination", default=()
)


def traceparent(span: trace.Span) -> str:
    """The W3C traceparent of `span`, or '' if it is not sampled (nothing would link to it)."""
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parse_traceparent(value: str) -> trace.SpanContext | None:
    """The span context a stored or received traceparent names, or None if it names none."""
    carried = trace.get_current_span(_PROPAGATOR.extract({"traceparent": value}))
    context = carried.get_span_context()
    return context if context.is_valid else None


def _failed(span: trace.Span, error_type: str) -> None:
    # The type alone: an exception's text may hold what a caller sent.
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR))


class OtelSubmission(SubmissionTrace):
    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self.context = traceparent(span)

    def closed(self, error: type[BaseException] | None) -> None:
        if error is None:
            self._span.set_attribute("rpc.grpc.status_code", 0)
        else:
            _failed(self._span, error.__name__)
        self._span.end()

    def record(self, results: Sequence[HasDuplicate]) -> None:
        new = sum(not result.duplicate for result in results)
        self._span.set_attribute("tenaz.events", len(results))
        self._span.set_attribute("tenaz.events.new", new)


class OtelAttempt(AttemptTrace):
    def __init__(self, span: trace.Span, destination: Mapping[str, str | int]) -> None:
        self._span = span
        self._destination = destination
        self._tokens: list[
            tuple[contextvars.Token[otel_context.Context], contextvars.Token[_Attributes]]
        ] = []

    def opened(self) -> None:
        # The attempt's requests are made inside the block: their spans are its children.
        self._tokens.append(
            (
                otel_context.attach(trace.set_span_in_context(self._span)),
                _DESTINATION.set(tuple(self._destination.items())),
            )
        )

    def closed(self, error: type[BaseException] | None) -> None:
        attached, destination = self._tokens.pop()
        _DESTINATION.reset(destination)
        otel_context.detach(attached)
        if error is not None:
            _failed(self._span, error.__name__)
        self._span.end()

    def record(self, tally: Mapping[str, int]) -> None:
        outcomes = {key.lower().replace(":", "_"): count for key, count in tally.items()}
        for outcome, count in outcomes.items():
            self._span.set_attribute(f"tenaz.deliveries.{outcome}", count)
        # One word when the whole batch went one way, the common case; else see the counts.
        [outcome] = outcomes if len(outcomes) == 1 else ["mixed"]
        self._span.set_attribute("tenaz.outcome", outcome)


class _SpanEndingStream(httpx.AsyncByteStream):
    """A response body that ends the request's span when it is closed, read or not."""

    def __init__(self, inner: httpx.AsyncByteStream, span: trace.Span) -> None:
        self._inner = inner
        self._span: trace.Span | None = span

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException as exc:
            if self._span is not None:
                _failed(self._span, type(exc).__name__)
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._span is not None:
                self._span.end()
                self._span = None


class TracedTransport(httpx.AsyncBaseTransport):
    """`inner`, making a client span of each request: where it went (scheme, host, port;
    never the path or query) and the HTTP status of the answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: trace.Tracer) -> None:
        self._inner = inner
        self._tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        span = self._tracer.start_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.scheme": url.scheme,
                "server.address": url.host,
                "server.port": url.port or (443 if url.scheme == "https" else 80),
                **dict(_DESTINATION.get()),
            },
        )
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            _failed(span, type(exc).__name__)
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            _failed(span, str(response.status_code))
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _SpanEndingStream(response.stream, span)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class OtelTracing(Tracing):
    enabled = True

    def __init__(self, settings: Settings) -> None:
        self._provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.service_name})
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(
                    endpoint=settings.traces_endpoint,
                    timeout=settings.traces_timeout.total_seconds(),
                )
            )
        )
        self._tracer = self._provider.get_tracer("tenaz")

    def submission(
        self,
        rpc: str,
        workspace_id: int,
        metadata: Callable[[], Iterable[tuple[str, Any]]] | None = None,
    ) -> OtelSubmission:
        parent = None
        if metadata is not None:
            carrier = {key: value for key, value in metadata() if isinstance(value, str)}
            if "traceparent" in carrier:
                parent = _PROPAGATOR.extract(carrier)
        span = self._tracer.start_span(
            f"{EVENT_SERVICE}/{rpc}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": EVENT_SERVICE,
                "rpc.method": rpc,
                "tenaz.workspace.id": workspace_id,
            },
        )
        return OtelSubmission(span)

    def attempt(
        self, platform: str, destination_id: int, batch: int, contexts: Iterable[str]
    ) -> OtelAttempt:
        submissions: set[str] = set()
        links: list[Link] = []
        for context in contexts:
            if not context or context in submissions:
                continue
            submissions.add(context)
            if len(links) < MAX_LINKS and (linked := parse_traceparent(context)) is not None:
                links.append(Link(linked))
        destination: dict[str, str | int] = {
            "tenaz.platform": platform,
            "tenaz.destination.id": destination_id,
        }
        span = self._tracer.start_span(
            "delivery.attempt",
            context=_ROOT,  # a trace of its own; the submissions are links
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                **destination,
                "tenaz.deliveries": batch,
                "tenaz.submissions": len(submissions),
            },
        )
        return OtelAttempt(span, destination)

    def wrap_transport(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return TracedTransport(transport, self._tracer)

    async def flush(self) -> None:
        await asyncio.to_thread(self._provider.force_flush, FLUSH_TIMEOUT_MS)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._provider.shutdown)
